"""A reference model in one command: the quality-aware SFace PFE head on real LFW faces, calibrated and
exported (SavedModel with image and JPEG-bytes signatures, ONNX, frozen graph).

  python -m scripts.build_reference_model --lfw_dir ../shared/data/lfw --sface SFACE.onnx --output_dir reference

LFW is aligned to 112x112 and SFace's outputs are cached with --copies degraded copies of every image (the
quality-aware cache of scripts/lfw_sface_pfe.py, reused when it is there). The head is the quality-aware head
(lfw_sface_pfe.QUALITY_AWARE_HEAD: SFace's map averaged over positions, the quality ranking loss) and trains
for --steps steps of 32 x 4 on the identities of people.txt's folds 1-9 (at least 2 images each); P(same | MLS)
and the MLS thresholds at FAR 1e-3 and 1e-2 are fitted on the 600 pairs.txt pairs of fold 10, whose people the
head never saw. OUTPUT_DIR/model holds the checkpoint, its record and calibration.json; OUTPUT_DIR/export the folder
--saved_model takes. The script ends with the command that verifies two photos with it.
"""
import argparse
import os
import time

import numpy as np
import tensorflow.compat.v1 as tf

from pfe_estimator.data import feature_cache
from pfe_estimator.evaluation import calibration
from pfe_estimator.evaluation import identity_folds
from pfe_estimator.evaluation import metrics
from pfe_estimator.evaluation import protocols
from pfe_estimator.inference import export
from pfe_estimator.inference import predict
from pfe_estimator.storage import model_config
from pfe_estimator.storage import outputs
from scripts import lfw_sface_pfe

CALIBRATION_FOLD = 9  # people.txt's tenth fold: never trained on


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    lfw_sface_pfe.protocol_arguments(parser, steps=400)
    parser.add_argument("--output_dir", default="reference")
    parser.add_argument("--copies", type=int, default=lfw_sface_pfe.QUALITY_AWARE_COPIES,
                        help="degraded copies of every training image")
    args = lfw_sface_pfe.head_settings(parser.parse_args(), quality_aware=True)
    tf.logging.set_verbosity(tf.logging.ERROR)
    start = time.time()
    model_dir, export_dir = os.path.join(args.output_dir, "model"), os.path.join(args.output_dir, "export")
    outputs.check_run_paths({"output_dir": args.output_dir}, {"lfw_dir": args.lfw_dir, "sface": args.sface,
                                                             "work_dir": args.work_dir})
    records, clean_cache, manifest = lfw_sface_pfe.aligned_cache(
        os.path.join(args.lfw_dir, "images"), os.path.join(args.lfw_dir, "ldmark_lfw_mtcnncaffe.txt"), "lfw", args)
    training_cache = lfw_sface_pfe.quality_aware_cache(records, args, args.copies)
    pairs = protocols.read_lfw_pairs(os.path.join(args.lfw_dir, "pairs.txt"))
    people_folds = protocols.read_people_folds(os.path.join(args.lfw_dir, "people.txt"))
    labels = identity_folds.fold_training_labels(pairs, people_folds, manifest,
                                                  args.identity_share)[CALIBRATION_FOLD]
    backbone = lfw_sface_pfe.sface_backbone(args)
    model_config.write_training_record(model_dir, {
        "model": "pfe", "template": manifest.get("template"), "backbone": backbone.name, "image_size": [112, 112],
        "embedding_size": backbone.embedding_size, "pretrained_ckpt": None, "head_input": args.head_input,
        "backbone_precision": {"used": args.backbone_precision, "why": args.precision_reason},
        "recipe": lfw_sface_pfe.head_recipe(args).as_record(),
        "onnx_sha256": outputs.file_digest(args.sface), "trained_on": "LFW people.txt folds 1-9, %d identities, "
        "%d degraded copies per image" % (len(labels), args.copies)})
    estimator = lfw_sface_pfe.train_fold(lfw_sface_pfe.head_cache(training_cache, args), model_dir, labels, args)

    # calibration on the pairs of fold 10, whose people the head never saw
    names, features, mu = feature_cache.read_cache_arrays(lfw_sface_pfe.head_cache(clean_cache, args))
    first, second = protocols.pair_indices(names, pairs)
    chosen = pairs.fold == CALIBRATION_FOLD
    faces = np.union1d(first[chosen], second[chosen])
    row = {face: i for i, face in enumerate(faces)}
    face_mu, face_sigma_sq = predict.cached_embeddings(estimator, features[faces], mu[faces], 256)
    a, b = [np.array([row[i] for i in side[chosen]]) for side in (first, second)]
    scores = metrics.mls_pair_scores(face_mu[a], face_sigma_sq[a], face_mu[b], face_sigma_sq[b])
    fitted = calibration.fit_verification_calibration(scores, pairs.same[chosen],
                                                      list(calibration.MODEL_CALIBRATION_FARS))
    fitted["source"] = "LFW pairs.txt fold %d (%d pairs, people not trained on)" % (CALIBRATION_FOLD + 1,
                                                                                   chosen.sum())
    calibration.save_model_calibration(model_dir, fitted)
    record = model_config.read(model_dir)
    # the export computes in fp32, so that it runs anywhere (as main.py's --mode=export)
    _, problem = export.export_pfe(model_dir, export_dir, lfw_sface_pfe.sface_backbone(args, precision="fp32"),
                                   (112, 112), overwrite=False,
                                   record={"template": record["template"], "recipe": record["recipe"],
                                           "calibration": fitted})
    size = sum(os.path.getsize(os.path.join(export_dir, name)) for name in os.listdir(export_dir)
               if os.path.isfile(os.path.join(export_dir, name)))
    print("reference model: %d identities, %d steps; calibrated on %d pairs of unseen people (MLS AUC %.4f)" % (
        len(labels), args.steps, chosen.sum(), metrics.roc_auc(scores, pairs.same[chosen])))
    print("export: %s (%.1f MB of files beside variables/%s) in %.0f s" % (
        export_dir, size / 1e6, "; " + problem if problem else "", time.time() - start))
    print("verify two photos:\n  python main.py --mode=verify --saved_model=%s --image_a=A.jpg --image_b=B.jpg "
          "--align=detect --detector_model=YUNET.onnx" % export_dir)


if __name__ == "__main__":
    lfw_sface_pfe.run_script(main)

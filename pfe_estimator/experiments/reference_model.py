"""A reference model (protocol 'reference_model'): one head on real LFW faces, calibrated on people it never
saw, exported (SavedModel with image and JPEG-bytes signatures, ONNX, frozen graph).

LFW is aligned to 112x112 and SFace's outputs are cached with head.copies degraded copies of every image (the
generator's kinds). The head (the quality-aware head by default) trains on the identities of people.txt's
folds other than config.calibration_fold (at least 2 images each); P(same | MLS) and the MLS thresholds at
FAR 1e-3 and 1e-2 are fitted on that fold's pairs.txt pairs. OUTPUT_DIR/model holds the checkpoint, its
record and calibration.json; OUTPUT_DIR/export the folder --saved_model takes.
"""
import os

import numpy as np

from pfe_estimator import errors
from pfe_estimator.data import feature_cache
from pfe_estimator.evaluation import calibration
from pfe_estimator.evaluation import identity_folds
from pfe_estimator.evaluation import metrics
from pfe_estimator.evaluation import protocols
from pfe_estimator.experiments import fold_heads
from pfe_estimator.experiments import lfw_data
from pfe_estimator.faces import kinds
from pfe_estimator.inference import export
from pfe_estimator.storage import model_config


def run(context, report_dir):
    """Trains, calibrates and exports the reference model into inputs.output_dir; returns its report."""
    del report_dir  # the model and export are the outputs; the report says where they are
    config, inputs, pairs = context.config, context.inputs, context.pairs
    if not inputs.output_dir:
        raise errors.UserError("the reference_model protocol needs --output_dir (the model and its export go there)")
    head, fold = config.head, config.calibration_fold
    model_dir, export_dir = os.path.join(inputs.output_dir, "model"), os.path.join(inputs.output_dir, "export")
    training_cache = lfw_data.head_cache(lfw_data.cache(context.records, context.sface, inputs.work_dir, head.copies,
                                                        kinds.GENERATOR_KINDS,
                                                        head.train_severities or kinds.SEVERITIES),
                                         head.input, context.sface)
    labels = identity_folds.fold_training_labels(pairs, context.people, context.records.manifest,
                                                 head.identity_share)[fold]
    fold_heads.train(context.sface, head, training_cache, labels, model_dir)

    # calibration on the pairs of one fold, whose people the head never saw
    clean_cache = lfw_data.head_cache(lfw_data.cache(context.records, context.sface, inputs.work_dir), head.input,
                                      context.sface)
    names, features, mu = feature_cache.read_cache_arrays(clean_cache)
    first, second = protocols.pair_indices(names, pairs)
    chosen = pairs.fold == fold
    faces = np.union1d(first[chosen], second[chosen])
    row = {face: i for i, face in enumerate(faces)}
    face_mu, face_sigma_sq = fold_heads.sigma_sq(model_dir, features[faces], mu[faces])
    a, b = [np.array([row[i] for i in side[chosen]]) for side in (first, second)]
    scores = metrics.mls_pair_scores(face_mu[a], face_sigma_sq[a], face_mu[b], face_sigma_sq[b])
    fitted = calibration.fit_verification_calibration(scores, pairs.same[chosen],
                                                      list(calibration.MODEL_CALIBRATION_FARS))
    fitted["source"] = "LFW pairs.txt fold %d (%d pairs, people not trained on)" % (fold + 1, chosen.sum())
    calibration.save_model_calibration(model_dir, fitted)
    record = model_config.read(model_dir)
    # the export computes in fp32, so that it runs anywhere (as main.py's --mode=export)
    _, problem = export.export_pfe(model_dir, export_dir, context.sface.backbone(head.input, precision="fp32"),
                                   lfw_data.IMAGE_SIZE, record={"template": record["template"],
                                                                "recipe": record["recipe"], "calibration": fitted})
    size = sum(os.path.getsize(os.path.join(export_dir, name)) for name in os.listdir(export_dir)
               if os.path.isfile(os.path.join(export_dir, name)))
    return {"identities": len(labels), "steps": head.steps, "calibration_pairs": int(chosen.sum()),
            "calibration_mls_auc": metrics.roc_auc(scores, pairs.same[chosen]), "model_dir": model_dir,
            "export_dir": export_dir, "export_megabytes": size / 1e6, "onnx_problem": problem}


def summary(result):
    return ("reference model: %d identities, %d steps; calibrated on %d pairs of unseen people (MLS AUC %.4f)\n"
            "export: %s (%.1f MB of files beside variables/%s)\n"
            "verify two photos:\n  python main.py --mode=verify --saved_model=%s --image_a=A.jpg --image_b=B.jpg "
            "--align=detect --detector_model=YUNET.onnx" % (
                result["identities"], result["steps"], result["calibration_pairs"], result["calibration_mls_auc"],
                result["export_dir"], result["export_megabytes"],
                "; " + result["onnx_problem"] if result["onnx_problem"] else "", result["export_dir"]))

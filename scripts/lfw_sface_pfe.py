"""The real result: PFE on a frozen SFace backbone, LFW cross-validated by identity.

  python scripts/lfw_sface_pfe.py --lfw_dir ../shared/data/lfw \
      --sface ../shared/models/sface/face_recognition_sface_2021dec_int8bq.onnx --work_dir runs/lfw_sface

1. LFW aligned to the 112x112 template (data_prep.make_tfrecords), cached once through SFace with mirrored
   copies (feature_cache).
2. For each of the 10 folds of people.txt: the head trains on the identities of the other 9 folds (those
   with at least 2 images), then gives the MLS scores of the fold's 600 pairs.txt pairs. Training and test
   identities are asserted disjoint. Every MLS score thus comes from a head that never saw its identities;
   the standard 10-fold protocol (threshold chosen on the other folds' scores) then runs on them as on
   cosine. A rerun reuses the alignment, the cache and finished folds.
3. Reports 10-fold accuracy for cosine (SFace alone) and MLS, TAR@FAR, the risk-controlled curve, and the
   mean sigma^2 of fold-1 test faces under increasing Gaussian blur and downscale-upscale.
Writes work_dir/report/report.json, PNG plots and prints a summary.
"""
import argparse
import os
import sys
import time

import cv2
import numpy as np
import tensorflow.compat.v1 as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from data_prep import alignment  # noqa: E402  pylint: disable=wrong-import-position
from data_prep import make_tfrecords  # noqa: E402  pylint: disable=wrong-import-position
from pfe_estimator import atomic_files  # noqa: E402  pylint: disable=wrong-import-position
from pfe_estimator import evaluation  # noqa: E402  pylint: disable=wrong-import-position
from pfe_estimator import feature_cache  # noqa: E402  pylint: disable=wrong-import-position
from pfe_estimator import model_fn  # noqa: E402  pylint: disable=wrong-import-position
from pfe_estimator import plots  # noqa: E402  pylint: disable=wrong-import-position
from pfe_estimator import predict  # noqa: E402  pylint: disable=wrong-import-position
from pfe_estimator import report  # noqa: E402  pylint: disable=wrong-import-position
from pfe_estimator import runtime  # noqa: E402  pylint: disable=wrong-import-position

BLUR_SIGMAS = (0, 1, 2, 3, 4)
DOWNSCALE_FACTORS = (1, 2, 3, 4, 6)


def read_people_folds(path):
    """people.txt: a count of folds, then per fold a count and that many `name images` lines.

    Returns:
      list of sets of names.
    """
    with open(path) as f:
        lines = [line.split() for line in f if line.strip()]
    folds, position = [], 1
    for _ in range(int(lines[0][0])):
        count = int(lines[position][0])
        folds.append({fields[0] for fields in lines[position + 1:position + 1 + count]})
        position += 1 + count
    return folds


def degrade(image_rgb, kind, level):
    """Gaussian blur of sigma `level`, or downscale by `level` and back up (bilinear)."""
    if (kind == "blur" and level == 0) or (kind == "downscale" and level == 1):
        return image_rgb
    if kind == "blur":
        return cv2.GaussianBlur(image_rgb, (0, 0), level)
    height, width = image_rgb.shape[:2]
    small = cv2.resize(image_rgb, (max(1, width // level), max(1, height // level)), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def train_fold(cache_dir, model_dir, labels, args):
    model = model_fn.pfe_model_fn_builder(
        backbone="onnx:" + args.sface, embedding_size=128, num_classes_per_batch=args.classes_per_batch,
        images_per_class=args.images_per_class, learning_rate_values=[args.learning_rate, args.learning_rate / 10],
        learning_rate_boundaries=[int(args.steps * 2 / 3)], momentum=0.9, weight_decay=5e-4,
        pretrained_checkpoint=None, wrap_optimizer=runtime.optimizer_wrapper("cpu"), log_every_n_steps=100)
    estimator = runtime.build_estimator(model, "cpu", model_dir, save_checkpoints_steps=args.steps,
                                        log_step_count_steps=100, random_seed=0)
    estimator.train(feature_cache.cache_input_fn_builder(cache_dir, args.classes_per_batch, args.images_per_class,
                                                         include_labels=labels), max_steps=args.steps)
    return estimator


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lfw_dir", required=True, help="folder with images/, the landmark file, pairs.txt, people.txt")
    parser.add_argument("--sface", required=True, help="SFace .onnx (scripts/fetch_models.py fetches it)")
    parser.add_argument("--work_dir", default="runs/lfw_sface")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--classes_per_batch", type=int, default=32)
    parser.add_argument("--images_per_class", type=int, default=4)
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--degraded_faces", type=int, default=300)
    args = parser.parse_args()
    tf.logging.set_verbosity(tf.logging.WARN)
    start = time.time()
    records = os.path.join(args.work_dir, "lfw_112x112")
    cache_dir = os.path.join(args.work_dir, "lfw_112x112_sface_cache")
    report_dir = os.path.join(args.work_dir, "report")
    for folder in (args.work_dir, report_dir):
        if not os.path.isdir(folder):
            os.makedirs(folder)

    root, identities = make_tfrecords.list_identities(os.path.join(args.lfw_dir, "images"))
    landmarks = alignment.read_landmark_file(os.path.join(args.lfw_dir, "ldmark_lfw_mtcnncaffe.txt"))
    settings = make_tfrecords.Settings("112x112", 95, (250, 250), "skip", None, 0.6)
    manifest = make_tfrecords.make_tfrecords(root, identities, landmarks, records, settings, os.cpu_count() or 1,
                                             2000, 1)
    if not os.path.exists(os.path.join(cache_dir, "manifest.json")):
        feature_cache.build_cache(records, cache_dir, "onnx:" + args.sface, batch_size=64)
    print("data ready in %.0f s: %d images of %d identities" % (time.time() - start, manifest["num_images"],
                                                               manifest["num_identities"]))

    pairs = evaluation.read_lfw_pairs(os.path.join(args.lfw_dir, "pairs.txt"))
    people_folds = read_people_folds(os.path.join(args.lfw_dir, "people.txt"))
    label_of = {i["name"]: i["label"] for i in manifest["identities"]}
    images_of = {i["name"]: i["images"] for i in manifest["identities"]}
    names, cached, cached_mu = feature_cache.read_cache_arrays(cache_dir)
    first, second = evaluation.pair_indices(names, pairs)
    cosine = evaluation.cosine_pair_scores(cached_mu[first], cached_mu[second])
    person = lambda name: name.rsplit("_", 1)[0]  # noqa: E731

    mls = np.zeros(len(pairs.same))
    uncertainty = np.zeros(len(pairs.same))
    fold_sigma_sq = {}
    for k in range(10):
        test_people = {person(n) for n in np.concatenate([pairs.first[pairs.fold == k], pairs.second[pairs.fold == k]])}
        train_people = set().union(*[people_folds[j] for j in range(10) if j != k])
        assert not test_people & train_people, "fold %d: training and test identities overlap" % k
        assert test_people <= people_folds[k], "fold %d: pairs.txt fold is not drawn from people.txt fold" % k
        labels = [label_of[p] for p in train_people if images_of.get(p, 0) >= 2]
        fold_start = time.time()
        # a rerun resumes: a fold whose checkpoint already reached --steps is not trained again
        estimator = train_fold(cache_dir, os.path.join(args.work_dir, "fold_%d" % k), labels, args)
        if k == 0:
            fold_one_estimator = estimator  # judges the degraded fold-1 faces below
        mu, sigma_sq = predict.cached_features(estimator, cached, cached_mu, batch_size=256)
        test = pairs.fold == k
        test_faces = np.union1d(first[test], second[test])
        mls[test] = evaluation.mls_pair_scores(mu[first[test]], sigma_sq[first[test]], mu[second[test]],
                                               sigma_sq[second[test]])
        uncertainty[test] = evaluation.pair_uncertainty(sigma_sq[first[test]], sigma_sq[second[test]])
        fold_sigma_sq[k] = sigma_sq[test_faces].mean(axis=1)
        print("fold %d: %d training identities, test faces mean sigma^2 %.3e (%.0f s)" % (
            k + 1, len(labels), fold_sigma_sq[k].mean(), time.time() - fold_start))

    # Every MLS score comes from the head that never saw its identities; the 10-fold protocol then picks
    # each fold's threshold on the other folds' (equally held-out) scores, as for cosine.
    protocols = {"cosine": evaluation.kfold_accuracy(cosine, pairs.same, pairs.fold),
                 "mls": evaluation.kfold_accuracy(mls, pairs.same, pairs.fold)}

    result = {"protocol": "10 folds of people.txt: head trained on the identities of 9 folds (>= 2 images), "
                          "tested on the 600 pairs.txt pairs of the held-out fold",
              "steps_per_fold": args.steps, "batch": [args.classes_per_batch, args.images_per_class]}
    risk = {"reject_fractions": report.REJECT_FRACTIONS}
    for name, scores in (("cosine", cosine), ("mls", mls)):
        result[name] = evaluation.verification_report(scores, pairs.same, protocols[name], report.LFW_FARS)
        risk[name] = evaluation.risk_controlled_accuracy(scores, pairs.same, protocols[name]["pair_threshold"],
                                                         uncertainty, report.REJECT_FRACTIONS).tolist()
    result["risk_controlled_accuracy"] = risk

    # mean sigma^2 of fold-1 test faces as the images degrade (fold-1 head, never trained on them)
    fold_one_people = {person(n) for n in np.concatenate([pairs.first[pairs.fold == 0], pairs.second[pairs.fold == 0]])}
    wanted = sorted({n for n in np.concatenate([pairs.first, pairs.second]) if person(n) in fold_one_people})
    wanted = set(wanted[:args.degraded_faces])
    face_names, jpegs = predict.read_tfrecord_faces(records, wanted)
    faces = [predict.decode_rgb(j) for j in jpegs]
    degradation = {}
    for kind, levels in (("blur", BLUR_SIGMAS), ("downscale", DOWNSCALE_FACTORS)):
        degradation[kind] = {"levels": list(levels), "mean_sigma_sq": []}
        for level in levels:
            images = (predict.network_input(degrade(face, kind, level), (112, 112)) for face in faces)
            _, sigma_sq = predict.estimator_features(fold_one_estimator, images, (112, 112), batch_size=64)
            degradation[kind]["mean_sigma_sq"].append(float(sigma_sq.mean()))
    result["degradation"] = dict(degradation, faces=len(faces))
    result["seconds"] = time.time() - start
    atomic_files.write_json(os.path.join(report_dir, "report.json"), {"lfw_sface_pfe": result})

    plots.curves(100 * np.array(report.REJECT_FRACTIONS), {n: 100 * np.array(risk[n]) for n in ("cosine", "mls")},
                 os.path.join(report_dir, "lfw_risk_controlled.png"), "LFW, SFace + PFE head (10-fold by identity)",
                 "most uncertain pairs rejected (%)", "accuracy on kept pairs (%)")
    plots.roc({"cosine": evaluation.roc_curve(cosine, pairs.same), "mls": evaluation.roc_curve(mls, pairs.same)},
              os.path.join(report_dir, "lfw_roc.png"), "LFW ROC, SFace: cosine vs MLS")
    plots.histogram(np.concatenate([fold_sigma_sq[k] for k in range(10)]),
                    os.path.join(report_dir, "lfw_sigma_sq_histogram.png"), "LFW test faces: mean sigma^2",
                    "mean sigma^2")
    for kind in ("blur", "downscale"):
        plots.curves(degradation[kind]["levels"], {"mean sigma^2": degradation[kind]["mean_sigma_sq"]},
                     os.path.join(report_dir, "degradation_%s.png" % kind), "Uncertainty under %s" % kind,
                     "Gaussian sigma (px)" if kind == "blur" else "downscale factor", "mean sigma^2")

    print("LFW 10-fold by identity, SFace backbone, PFE head %d steps of %dx%d per fold" % (
        args.steps, args.classes_per_batch, args.images_per_class))
    for name in ("cosine", "mls"):
        print("  %-6s %.2f +- %.2f %%  AUC %.5f  TAR@1e-3 %.4f" % (
            name, 100 * result[name]["accuracy_mean"], 100 * result[name]["accuracy_std"], result[name]["auc"],
            result[name]["tar_at_far"]["0.001"]))
    print("  risk-controlled (reject 0/10/20/30/40/50%%): cosine %s | MLS %s" % (
        " ".join("%.2f" % (100 * v) for v in risk["cosine"][::2]), " ".join("%.2f" % (100 * v) for v in risk["mls"][::2])))
    for kind in ("blur", "downscale"):
        print("  mean sigma^2 vs %s %s: %s" % (kind, degradation[kind]["levels"],
                                              " ".join("%.3e" % v for v in degradation[kind]["mean_sigma_sq"])))
    print("report: %s (%.0f s)" % (os.path.join(report_dir, "report.json"), time.time() - start))


if __name__ == "__main__":
    main()

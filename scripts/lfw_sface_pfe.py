"""The real result: PFE on a frozen SFace backbone, LFW cross-validated by identity.

  python -m scripts.lfw_sface_pfe --lfw_dir ../shared/data/lfw \
      --sface ../shared/models/sface/face_recognition_sface_2021dec_int8bq.onnx --work_dir runs/lfw_sface

1. LFW aligned to the 112x112 template (data_prep.make_tfrecords), cached once through SFace with mirrored
   copies (feature_cache).
2. For each of the 10 folds of people.txt: the head trains on the identities of the other 9 folds (those
   with at least 2 images), then gives the MLS scores of the fold's 600 pairs.txt pairs. Training and test
   identities are asserted disjoint. Every MLS score thus comes from a head that never saw its identities;
   the standard 10-fold protocol (threshold chosen on the other folds' scores) then runs on them as on
   cosine. A rerun reuses the alignment, the cache and finished folds.
3. Reports 10-fold accuracy for cosine (SFace alone) and MLS, TAR@FAR, the risk-controlled curve, the
   calibrated P(same | MLS), and the mean sigma^2 of fold-1 test faces under each degradation of
   pfe_estimator/faces/degradations.py at severities 0..4.
4. With --cross_quality: cross-quality LFW (data_prep/make_cross_quality_lfw.py: one side of every pair
   degraded by one kind at one severity, before alignment), scored by the same fold heads: cosine vs MLS
   overall, per kind and per severity, rejecting the 20 % most uncertain pairs vs 20 % at random, Spearman
   between each face's mean sigma^2 and its severity, and the calibration.
Writes work_dir/report/report.json, PNG plots and prints a summary.
"""
import argparse
import functools
import os
import time

import numpy as np
import tensorflow.compat.v1 as tf
from pfe_estimator.faces import network_input
from pfe_estimator.data import embedding_files
from pfe_estimator.faces import alignment
from pfe_estimator.faces import degradations
from pfe_estimator.faces import kinds
from pfe_estimator.experiments import cross_quality_photos
from pfe_estimator.data import record_writer
from pfe_estimator.storage import outputs
from pfe_estimator.storage import atomic_files
from pfe_estimator.evaluation import metrics
from pfe_estimator.evaluation import protocols
from pfe_estimator.evaluation import calibration
from pfe_estimator.evaluation import cross_quality
from pfe_estimator.evaluation import identity_folds
from pfe_estimator.inference import cache_builder
from pfe_estimator.inference import precision_check
from pfe_estimator.data import feature_cache
from pfe_estimator.data import manifest as manifests
from pfe_estimator.model import backbones
from pfe_estimator.evaluation import plots
from pfe_estimator.faces import image_io
from pfe_estimator.inference import predict
from pfe_estimator.evaluation import report
from pfe_estimator.training import devices
from pfe_estimator.training import estimators
from pfe_estimator.training import recipe as recipes
from pfe_estimator import errors
from pfe_estimator.modes import command_line

SEVERITIES = (0,) + degradations.SEVERITIES


def degrade_aligned(face_rgb, kind, severity):
    """A degradation of an aligned 112x112 crop (severity 0: unchanged); occlusion centred on the left eye."""
    if severity == 0:
        return face_rgb
    return degradations.degrade(face_rgb, kind, severity, alignment.template("112x112")[1])


def aligned_cache(image_root, landmark_file, name, args):
    """Aligns a folder of LFW-style photos to 112x112 TFRecords under --work_dir and caches SFace's outputs
    (both reused on a rerun), SFace in --backbone_precision (auto resolved here, on the first records);
    returns (records folder, cache folder, manifest)."""
    records = os.path.join(args.work_dir, name + "_112x112")
    root, identities = record_writer.list_identities(image_root)
    settings = record_writer.CropSettings("112x112", 95, (250, 250), "skip", None, 0.6)
    try:
        manifest = record_writer.write_records(root, identities, alignment.read_landmark_file(landmark_file),
                                                 records, settings, os.cpu_count() or 1, 2000, 1)
    except outputs.MadeFromOtherInputsError as error:
        raise errors.UserError("--work_dir=%s holds %s, aligned from other photos, landmarks or settings (changed: "
                               "%s); give a new --work_dir (the caches and heads beside it were made from those "
                               "faces)" % (args.work_dir, records, error.changes))
    resolve_precision(args, records)
    cache_dir = records + "_sface%s_cache" % precision_tag(args)
    if not manifests.exists(cache_dir):
        cache_builder.build_cache(records, cache_dir, sface_backbone(args, "flattened"), batch_size=64)
    return records, cache_dir, manifest


def quality_aware_cache(records, args, copies):
    """The cache of every image and `copies` degraded copies (random kind and severity of the training
    degradations, each copy named after them), reused on a rerun."""
    cache_dir = os.path.join(args.work_dir, "lfw_112x112_%dcopies_sface%s_cache" % (copies, precision_tag(args)))
    if not manifests.exists(cache_dir):
        points = alignment.template("112x112")[1]
        draw = kinds.random_degradation(kinds.GENERATOR_KINDS, kinds.SEVERITIES)
        cache_builder.build_cache(records, cache_dir, sface_backbone(args, "flattened"), batch_size=64,
                                  degraded_copies=copies, degrade=lambda face, rng: draw(face, points, rng),
                                  degradation=kinds.copies_description(kinds.GENERATOR_KINDS, kinds.SEVERITIES))
    return cache_dir


def resolve_precision(args, records):
    """--backbone_precision=auto becomes SFace's precision here (inference.precision_check, on the first
    faces of `records`), said once."""
    if args.backbone_precision != "auto":
        args.precision_reason = getattr(args, "precision_reason", "--backbone_precision=" + args.backbone_precision)
        return
    device = "gpu" if tf.config.experimental.list_physical_devices("GPU") else "cpu"

    def faces():
        return precision_check.decodable_faces(predict.read_tfrecord_faces(records, limit=16)[1], (112, 112))

    args.backbone_precision, why = precision_check.auto_precision(device, sface_backbone(args, "flattened"), faces)
    args.precision_reason = "auto: " + why
    print("SFace precision: %s (%s)" % (args.backbone_precision, args.precision_reason))


def precision_tag(args):
    """'' for fp32 (the caches' names before auto existed), '_bf16' for bf16: caches of two precisions never mix."""
    return "" if args.backbone_precision in ("fp32", "auto") else "_" + args.backbone_precision


REPORT_KIND = "lfw_protocol_report"
# The head's arguments, the released PFE head's values (steps: each script's own; what folder names are told
# apart from) and their tags in folder names.
HEAD_DEFAULTS = {"num_classes_per_batch": 32, "images_per_class": 4, "learning_rate": 1e-3,
                 "weight_decay": recipes.Recipe().weight_decay, "head_input": "flattened",
                 "quality_ranking_weight": recipes.Recipe().quality_ranking_weight,
                 "quality_ranking_margin": recipes.Recipe().quality_ranking_margin, "identity_share": 1.0}
HEAD_TAGS = {"num_classes_per_batch": "p", "head_input": "", "identity_share": "id", "images_per_class": "k",
             "learning_rate": "lr", "quality_ranking_margin": "rm", "quality_ranking_weight": "rk", "steps": "s",
             "weight_decay": "wd"}  # in the order folder names give them (their earlier names' alphabetical order)
# The quality-aware head: what sets a head trained on degraded copies apart from the released one, chosen on
# the held-out degradation protocols (docs/results.md, "Making the head generalise").
QUALITY_AWARE_HEAD = {"head_input": "pooled", "quality_ranking_weight": 100.0}
QUALITY_AWARE_COPIES = 2


def identity_share(text):
    """--identity_share's value: a share in (0, 1]."""
    try:
        share = float(text)
    except ValueError:
        share = 0.0
    if not 0.0 < share <= 1.0:
        raise argparse.ArgumentTypeError("%s: give a share of the training identities in (0, 1], e.g. 0.5" % text)
    return share


def protocol_arguments(parser, steps):
    """The arguments of every LFW SFace script: the data, the model file, the work folder and the head."""
    parser.add_argument("--lfw_dir", required=True,
                        help="folder with images/, the landmark file, pairs.txt, people.txt")
    parser.add_argument("--sface", required=True, help="SFace .onnx (scripts/fetch_models.py fetches it)")
    parser.add_argument("--work_dir", default="runs/lfw_sface", help="aligned records, caches and heads (a rerun "
                        "reuses them)")
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--num_classes_per_batch", type=int, default=HEAD_DEFAULTS["num_classes_per_batch"])
    parser.add_argument("--images_per_class", type=int, default=HEAD_DEFAULTS["images_per_class"])
    parser.add_argument("--learning_rate", type=float, default=HEAD_DEFAULTS["learning_rate"])
    parser.add_argument("--weight_decay", type=float, default=HEAD_DEFAULTS["weight_decay"])
    parser.add_argument("--head_input", choices=backbones.HEAD_INPUTS, default=None,
                        help="the head reads SFace's conv map flattened or averaged over its positions (default: "
                        "flattened for heads on clean faces, pooled for heads on degraded copies)")
    parser.add_argument("--quality_ranking_weight", type=float, default=None,
                        help="heads trained on degraded copies: main.py's flag, the ranking loss's weight "
                        "(default %g; heads on clean faces have no copies to rank)"
                        % QUALITY_AWARE_HEAD["quality_ranking_weight"])
    parser.add_argument("--quality_ranking_margin", type=float, default=HEAD_DEFAULTS["quality_ranking_margin"])
    parser.add_argument("--identity_share", type=identity_share, default=HEAD_DEFAULTS["identity_share"],
                        help="the share of each fold's training identities a head trains on, drawn per fold "
                        "(0.25: a quarter of them; default all)")
    parser.add_argument("--backbone_precision", choices=["auto", "bf16", "fp32"], default="auto",
                        help="SFace's arithmetic, as main.py's flag (its caches are kept apart by precision)")
    parser.set_defaults(head_defaults=dict(HEAD_DEFAULTS, steps=steps))


def head_settings(args, quality_aware):
    """The arguments of one family of heads: --head_input and --quality_ranking_weight as given, else the
    quality-aware head's (QUALITY_AWARE_HEAD) for heads on degraded copies and the released head's for heads on
    clean faces, which never rank (their caches hold no copies). A copy: args itself is left as parsed."""
    family = dict(HEAD_DEFAULTS, **QUALITY_AWARE_HEAD) if quality_aware else HEAD_DEFAULTS
    settings = argparse.Namespace(**vars(args))
    for name in ("head_input", "quality_ranking_weight", "quality_ranking_margin"):
        if getattr(args, name) is None or name.startswith("quality_ranking") and not quality_aware:
            setattr(settings, name, family[name])
    return settings


def report_folder(args, name):
    """WORK_DIR/name, the script's report folder, created and marked as such (outputs.claim_directory): a
    folder there that is not a report of these scripts is refused, not written into."""
    folder = os.path.join(args.work_dir, name)
    outputs.claim_directory(folder, REPORT_KIND, "work_dir")
    return folder


def run_script(main):
    """Runs an LFW script's main() as every entry point runs (modes/command_line.py): a user error is one
    `error:` line, Ctrl-C says what --work_dir keeps."""
    command_line.run_script(main, lambda: "--work_dir keeps the records, caches and heads it finished; rerun the "
                                          "same command to reuse them")


def sface_backbone(args, head_input=None, precision=None):
    """The frozen SFace of the script's heads: its conv map flattened or pooled as --head_input (or
    head_input) says, in --backbone_precision once resolved (fp32 before), or in `precision`."""
    options = {}
    if (head_input or args.head_input) != "flattened":
        options["head_input"] = head_input or args.head_input
    if (precision or args.backbone_precision) not in ("fp32", "auto"):
        options["precision"] = precision or args.backbone_precision
    return backbones.Backbone("onnx:" + args.sface, 128, options or None)


def pooled_channels(args):
    """C of SFace's conv map for --head_input=pooled (the width of the pooled features), else None."""
    return None if args.head_input == "flattened" else _map_channels(args.sface)


@functools.lru_cache(maxsize=None)
def _map_channels(sface):
    """C of the conv map the model's head input is made from (imported once per file and run)."""
    with tf.Graph().as_default():
        _, features = backbones.frozen_backbone(tf.placeholder(tf.float32, [None, 112, 112, 3]), backbones.Backbone(
            "onnx:" + sface, 128, {"head_input": "pooled"}))
    return int(features.shape[-1])


def head_cache(cache_dir, args):
    """The cache the heads read: cache_dir, or for --head_input=pooled its features averaged over SFace's
    map positions (derived once beside it, no SFace run)."""
    channels = pooled_channels(args)
    if channels is None:
        return cache_dir
    pooled_dir = cache_dir + "_pooled"
    feature_cache.write_subset(cache_dir, pooled_dir, lambda filename: True, "features averaged over positions",
                               pooled_channels=channels)
    return pooled_dir


def head_suffix(args):
    """What sets a run's heads apart from the script's defaults, in their folder names ('' at the
    defaults in fp32, e.g. '_pooled_s1600_bf16'), so that a rerun with another head or SFace precision
    never resumes these."""
    defaults = getattr(args, "head_defaults", {})
    return "".join("_%s%s" % (HEAD_TAGS[name], getattr(args, name)) for name in HEAD_TAGS
                   if name in defaults and getattr(args, name) != defaults[name]) + precision_tag(args)


def head_recipe(args):
    """The heads' recipe. The protocol's published schedule drops the rate at int(2/3 of the steps) (266 of
    400), where the recipe's default rounds (267): the figures in docs/results.md were measured with this."""
    return recipes.Recipe(num_classes_per_batch=args.num_classes_per_batch,
                          images_per_class=args.images_per_class, max_steps=args.steps,
                          learning_rates=(args.learning_rate, args.learning_rate / 10),
                          learning_rate_boundaries=(args.steps * 2 // 3,), weight_decay=args.weight_decay,
                          quality_ranking_weight=args.quality_ranking_weight,
                          quality_ranking_margin=args.quality_ranking_margin)


def train_fold(cache_dir, model_dir, labels, args):
    estimator = estimators.pfe_estimator(sface_backbone(args), model_dir, head_recipe(args),
                                         devices.Runtime(save_checkpoints_steps=args.steps, random_seed=0))
    estimator.train(feature_cache.cache_input_fn_builder(
        cache_dir, args.num_classes_per_batch, args.images_per_class, include_labels=labels,
        quality_ranks=args.quality_ranking_weight > 0), max_steps=args.steps)
    return estimator


def fold_heads_protocol(args, training_cache, suffix, fold_labels, pairs, cached, cached_mu, first, second):
    """Trains (or, on a rerun, reuses) one head per fold on its training identities in training_cache and
    scores that fold's pairs from the clean cached features.

    Returns:
      (MLS [P], pair uncertainty [P], {fold: (estimator, sigma_sq of every clean image)},
       {fold: mean sigma^2 of its test faces}).
    """
    mls, uncertainty = np.zeros(len(pairs.same)), np.zeros(len(pairs.same))
    fold_heads, fold_sigma_sq = {}, {}
    for k, labels in enumerate(fold_labels):
        fold_start = time.time()
        # a rerun resumes: a fold whose checkpoint already reached --steps is not trained again
        estimator = train_fold(training_cache, os.path.join(args.work_dir, "fold_%d%s%s" % (k, suffix,
                                                                                            head_suffix(args))),
                               labels, args)
        mu, sigma_sq = predict.cached_embeddings(estimator, cached, cached_mu, batch_size=256)
        fold_heads[k] = (estimator, sigma_sq)
        test = pairs.fold == k
        test_faces = np.union1d(first[test], second[test])
        mls[test] = metrics.mls_pair_scores(mu[first[test]], sigma_sq[first[test]], mu[second[test]],
                                               sigma_sq[second[test]])
        uncertainty[test] = metrics.pair_uncertainty(sigma_sq[first[test]], sigma_sq[second[test]])
        fold_sigma_sq[k] = sigma_sq[test_faces].mean(axis=1)
        print("fold %d%s: %d training identities, test faces mean sigma^2 %.3e (%.0f s)" % (
            k + 1, suffix, len(labels), fold_sigma_sq[k].mean(), time.time() - fold_start))
    return mls, uncertainty, fold_heads, fold_sigma_sq


def cross_quality_section(args, pairs, names, clean_mu, fold_heads, report_dir, suffix=""):
    """Cross-quality LFW scored by the fold heads: every pair's degraded side from the degraded cache, its
    clean side from the clean one; each fold's pairs judged by the head that never saw their identities."""
    folder = os.path.join(args.work_dir, "cross_quality")
    rows = cross_quality_photos.make_cross_quality(args.lfw_dir, folder, args.seed)
    _, cache_dir, _ = aligned_cache(os.path.join(folder, "images"), os.path.join(folder, "landmarks.txt"),
                                    "cross_quality", args)
    degraded_names, degraded_features, degraded_mu = feature_cache.read_cache_arrays(head_cache(cache_dir, args))
    row_of = {name: i for i, name in enumerate(degraded_names)}
    index = {name: i for i, name in enumerate(names)}
    degraded = np.array([row_of[embedding_files.image_name(r["file"])] for r in rows])
    clean = np.array([index[(pairs.second, pairs.first)[r["side"]][r["pair"]]] for r in rows])
    mu_d, mu_c = np.empty((len(rows), clean_mu.shape[1])), clean_mu[clean]
    sigma_d, sigma_c = np.empty_like(mu_d), np.empty_like(mu_d)
    for k in range(10):
        test = pairs.fold == k
        estimator, clean_sigma_sq = fold_heads[k]
        mu_d[test], sigma_d[test] = predict.cached_embeddings(estimator, degraded_features[degraded[test]],
                                                              degraded_mu[degraded[test]], batch_size=256)
        sigma_c[test] = clean_sigma_sq[clean[test]]
    return cross_quality.section({"mu_clean": mu_c, "sigma_clean": sigma_c, "mu_degraded": mu_d,
                                  "sigma_degraded": sigma_d}, pairs.same, pairs.fold,
                                 np.array([r["kind"] for r in rows]), np.array([r["severity"] for r in rows]),
                                 degradations.LEVELS, args.seed, report_dir, suffix)


def quality_aware_section(args, records, clean_cache, fold_labels, pairs, first, second, report_dir):
    """Heads trained on a cache holding degraded copies of every training image (same identities, same
    folds), judged on standard LFW and, with --cross_quality, on cross-quality LFW; `args` are the
    quality-aware heads' (head_settings)."""
    training_cache = quality_aware_cache(records, args, args.quality_aware_copies)
    names, cached, cached_mu = feature_cache.read_cache_arrays(head_cache(clean_cache, args))
    mls, uncertainty, fold_heads, _ = fold_heads_protocol(args, head_cache(training_cache, args),
                                                          "_qa%d" % args.quality_aware_copies, fold_labels, pairs,
                                                          cached, cached_mu, first, second)
    protocol = metrics.kfold_accuracy(mls, pairs.same, pairs.fold)
    section = {"degraded_copies": args.quality_aware_copies, "head_input": args.head_input,
               "quality_ranking": {"weight": args.quality_ranking_weight, "margin": args.quality_ranking_margin},
               "mls": metrics.verification_report(mls, pairs.same, protocol, report.LFW_FARS),
               "risk_controlled_accuracy": metrics.risk_controlled_accuracy(
                   mls, pairs.same, protocol["pair_threshold"], uncertainty, report.REJECT_FRACTIONS).tolist()}
    if args.cross_quality:
        section["cross_quality"] = cross_quality_section(args, pairs, names, cached_mu, fold_heads, report_dir,
                                                         "_quality_aware")
    return section


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    protocol_arguments(parser, steps=600)
    parser.add_argument("--degraded_faces", type=int, default=300)
    parser.add_argument("--cross_quality", action="store_true", help="also run the cross-quality LFW protocol")
    parser.add_argument("--seed", type=int, default=0, help="seed of the cross-quality draws")
    parser.add_argument("--quality_aware_copies", type=int, default=0,
                        help="also train quality-aware heads on a cache with this many degraded copies per image "
                        "(%d: the measured choice)" % QUALITY_AWARE_COPIES)
    parsed = parser.parse_args()
    outputs.check_run_paths({"work_dir": parsed.work_dir}, {"lfw_dir": parsed.lfw_dir, "sface": parsed.sface})
    tf.logging.set_verbosity(tf.logging.WARN)
    start = time.time()
    report_dir = report_folder(parsed, "report")
    records, cache_dir, manifest = aligned_cache(os.path.join(parsed.lfw_dir, "images"), os.path.join(
        parsed.lfw_dir, "ldmark_lfw_mtcnncaffe.txt"), "lfw", parsed)  # SFace's precision resolved for both families
    args = head_settings(parsed, quality_aware=False)
    print("data ready in %.0f s: %d images of %d identities" % (time.time() - start, manifest["num_images"],
                                                               manifest["num_identities"]))

    pairs = protocols.read_lfw_pairs(os.path.join(args.lfw_dir, "pairs.txt"))
    people_folds = protocols.read_people_folds(os.path.join(args.lfw_dir, "people.txt"))
    names, cached, cached_mu = feature_cache.read_cache_arrays(head_cache(cache_dir, args))
    first, second = protocols.pair_indices(names, pairs)
    cosine = metrics.cosine_pair_scores(cached_mu[first], cached_mu[second])
    fold_labels = identity_folds.fold_training_labels(pairs, people_folds, manifest, args.identity_share)
    mls, uncertainty, fold_heads, fold_sigma_sq = fold_heads_protocol(args, head_cache(cache_dir, args), "",
                                                                      fold_labels, pairs,
                                                                      cached, cached_mu, first, second)

    # Every MLS score comes from the head that never saw its identities; the 10-fold protocol then picks
    # each fold's threshold on the other folds' (equally held-out) scores, as for cosine.
    protocol = {"cosine": metrics.kfold_accuracy(cosine, pairs.same, pairs.fold),
                 "mls": metrics.kfold_accuracy(mls, pairs.same, pairs.fold)}

    result = {"protocol": "10 folds of people.txt: head trained on the identities of 9 folds (>= 2 images), "
                          "tested on the 600 pairs.txt pairs of the held-out fold",
              "steps_per_fold": args.steps, "batch": [args.num_classes_per_batch, args.images_per_class],
              "identity_share": args.identity_share,
              "sface_precision": {"used": args.backbone_precision, "why": args.precision_reason}}
    risk = {"reject_fractions": report.REJECT_FRACTIONS}
    for name, scores in (("cosine", cosine), ("mls", mls)):
        result[name] = metrics.verification_report(scores, pairs.same, protocol[name], report.LFW_FARS)
        risk[name] = metrics.risk_controlled_accuracy(scores, pairs.same, protocol[name]["pair_threshold"],
                                                         uncertainty, report.REJECT_FRACTIONS).tolist()
    result["risk_controlled_accuracy"] = risk

    # mean sigma^2 of fold-1 test faces as the images degrade (fold-1 head, never trained on them)
    fold_one_people = {protocols.person_of(n) for n in np.concatenate([pairs.first[pairs.fold == 0],
                                                             pairs.second[pairs.fold == 0]])}
    wanted = sorted({n for n in np.concatenate([pairs.first, pairs.second])
                     if protocols.person_of(n) in fold_one_people})
    wanted = set(wanted[:args.degraded_faces])
    face_names, jpegs = predict.read_tfrecord_faces(records, wanted)
    faces = [image_io.decode_rgb(j) for j in jpegs]
    degradation = {}
    for kind in degradations.KINDS:
        degradation[kind] = {"severities": list(SEVERITIES), "mean_sigma_sq": []}
        for severity in SEVERITIES:
            images = (network_input.network_input(degrade_aligned(face, kind, severity), (112, 112)) for face in faces)
            _, sigma_sq = predict.estimator_embeddings(fold_heads[0][0], images, (112, 112), batch_size=64)
            degradation[kind]["mean_sigma_sq"].append(float(sigma_sq.mean()))
    result["degradation"] = dict(degradation, faces=len(faces))
    calibrated = calibration.calibration_report(mls, pairs.same, pairs.fold, fars=report.LFW_FARS)
    del calibrated["probabilities"]
    result["calibration"] = calibrated
    if args.cross_quality:
        result["cross_quality"] = cross_quality_section(args, pairs, names, cached_mu, fold_heads, report_dir)
    result["templates"] = identity_folds.templates_section(names, cached_mu, {k: fold_heads[k][1] for k in fold_heads},
                                                           people_folds, report_dir)
    if args.quality_aware_copies:
        result["quality_aware"] = quality_aware_section(head_settings(parsed, quality_aware=True), records, cache_dir,
                                                        fold_labels, pairs, first, second, report_dir)
    result["seconds"] = time.time() - start
    atomic_files.write_json(os.path.join(report_dir, "report.json"), {"lfw_sface_pfe": result})

    plots.curves(100 * np.array(report.REJECT_FRACTIONS), {n: 100 * np.array(risk[n]) for n in ("cosine", "mls")},
                 os.path.join(report_dir, "lfw_risk_controlled.png"), "LFW, SFace + PFE head (10-fold by identity)",
                 "most uncertain pairs rejected (%)", "accuracy on kept pairs (%)")
    plots.roc({"cosine": metrics.roc_curve(cosine, pairs.same), "mls": metrics.roc_curve(mls, pairs.same)},
              os.path.join(report_dir, "lfw_roc.png"), "LFW ROC, SFace: cosine vs MLS")
    plots.histogram(np.concatenate([fold_sigma_sq[k] for k in range(10)]),
                    os.path.join(report_dir, "lfw_sigma_sq_histogram.png"), "LFW test faces: mean sigma^2",
                    "mean sigma^2")
    plots.curves(list(SEVERITIES), {kind: degradation[kind]["mean_sigma_sq"] for kind in degradations.KINDS},
                 os.path.join(report_dir, "degradation_sigma_sq.png"), "Uncertainty of fold-1 test faces",
                 "severity (0 = clean)", "mean sigma^2")
    print("LFW 10-fold by identity, SFace backbone, PFE head %d steps of %dx%d per fold" % (
        args.steps, args.num_classes_per_batch, args.images_per_class))
    for name in ("cosine", "mls"):
        print("  %-6s %.2f +- %.2f %%  AUC %.5f  TAR@1e-3 %.4f" % (
            name, 100 * result[name]["accuracy_mean"], 100 * result[name]["accuracy_std"], result[name]["auc"],
            result[name]["tar_at_far"]["0.001"]))
    print("  risk-controlled (reject 0/10/20/30/40/50%%): cosine %s | MLS %s" % (
        " ".join("%.2f" % (100 * v) for v in risk["cosine"][::2]),
        " ".join("%.2f" % (100 * v) for v in risk["mls"][::2])))
    for kind in degradations.KINDS:
        print("  mean sigma^2 vs %s severity 0..4: %s"
              % (kind, " ".join("%.3e" % v for v in degradation[kind]["mean_sigma_sq"])))
    print("  calibrated P(same | MLS): ECE %.4f, Brier %.4f" % (result["calibration"]["ece"],
                                                                result["calibration"]["brier"]))
    templates = result["templates"]
    print("LFW templates: %d identities x 2 templates, %d pairs; TAR at FAR %s" % (
        templates["identities"], templates["pairs"], "/".join(str(f) for f in identity_folds.TEMPLATE_FARS)))
    for fusion in ("paper", "released"):
        for name in ("cosine", "fused_cosine", "mls"):
            print("  %-8s %-12s %s" % (fusion, name, " ".join(
                "%.4f" % templates[fusion][name]["tar_at_far"][str(f)] for f in identity_folds.TEMPLATE_FARS)))
    if args.cross_quality:
        print(cross_quality.summary(result["cross_quality"]))
    if args.quality_aware_copies:
        part = result["quality_aware"]
        print("Quality-aware heads (%d degraded copies per training image, %s input, ranking weight %g): LFW MLS "
              "%.2f +- %.2f %%" % (args.quality_aware_copies, part["head_input"], part["quality_ranking"]["weight"],
                                  100 * part["mls"]["accuracy_mean"], 100 * part["mls"]["accuracy_std"]))
        if "cross_quality" in part:
            print(cross_quality.summary(part["cross_quality"]))
    print("report: %s (%.0f s)" % (os.path.join(report_dir, "report.json"), time.time() - start))


if __name__ == "__main__":
    run_script(main)

"""Uncertainty on degradations the head never saw: leave-one-kind-out and unseen severities on real LFW.

  python -m scripts.held_out_quality --lfw_dir ../shared/data/lfw --sface SFACE.onnx --work_dir runs/lfw_sface \
      [--protocols leave_one_kind_out,unseen_severities] [--held_out tiny,defocus] [--copies 2] [--steps 400]

The heads are the quality-aware head (lfw_sface_pfe.QUALITY_AWARE_HEAD: SFace's map averaged over positions,
the quality ranking loss at weight 100, 2 copies), the other configurations as flags (--head_input flattened
--quality_ranking_weight 0 --copies 1 is the released head on one copy).

The kinds (KINDS): the four the quality-aware head trains on by default (faces/degradations.py), six a camera
produces (faces/camera_degradations.py) and a defocused lens in low light written in numpy alone
(faces/lens_degradations.py). LFW is aligned to 112x112 and SFace's outputs cached once (the clean cache of
scripts/lfw_sface_pfe.py, reused); folds are people.txt's, identity-disjoint, as in that script.

leave_one_kind_out: a training cache holds every image and `--copies` degraded copies of it, each of a kind
drawn among all KINDS at severity 1..4 (named after its kind and severity). For each held-out kind, a subset
without that kind's copies trains one head per fold on the other nine folds' identities; the fold's
pairs.txt pairs are scored with one side degraded by the held-out kind (side and severity drawn per pair,
seeded) and the other clean.
unseen_severities: copies of every kind at severities 1-2 only; test pairs of every kind at severities 3-4.

--train_severities draws the training copies from a mix (2,3,4,4: a repeat weights its severity).

Report (WORK_DIR/held_out_report/PROTOCOL_TAG.json, written as each protocol ends, and PNGs; TAG names what
differs from the released head on one copy, whatever the defaults: copies `_c2`, severities `_t2344`, the kinds
held out `_defocus+motion_blur`, the head's arguments `_pooled_rk100.0`): per (kind, severity) cell and pooled,
the AUC and TAR at FAR 1e-2 of cosine, MLS and the normalised-cosine baseline (evaluation/cells.py), the
differences from cosine with subject-bootstrap 95 % intervals, Spearman(face mean sigma^2, severity) on the
test faces, the issue's targets, each met or missed, and the room cosine's pooled AUC leaves for the gain
target (`auc_headroom`).
"""
import argparse
import os
import shutil
import time

import numpy as np
import tensorflow.compat.v1 as tf

from pfe_estimator.data import feature_cache
from pfe_estimator.data import manifest as manifests
from pfe_estimator.evaluation import held_out
from pfe_estimator.evaluation import identity_folds
from pfe_estimator.evaluation import metrics
from pfe_estimator.evaluation import protocols
from pfe_estimator.faces import alignment
from pfe_estimator.faces import image_io
from pfe_estimator.faces import kinds
from pfe_estimator.faces import network_input
from pfe_estimator.inference import cache_builder
from pfe_estimator.inference import predict
from pfe_estimator.storage import atomic_files
from pfe_estimator.storage import outputs
from scripts import lfw_sface_pfe

KINDS = kinds.KINDS
PROTOCOLS = held_out.PROTOCOLS
TEMPLATE = "112x112"


def training_severities(args, name):
    """The severities `name`'s training copies are drawn from (uniformly: a repeat weights its severity):
    --train_severities, or the protocol's. Raises ValueError naming the flag when a mix reaches a severity
    unseen_severities tests on."""
    if not args.train_severities:
        return PROTOCOLS[name]["train"]
    try:
        chosen = tuple(int(s) for s in args.train_severities.split(","))
    except ValueError:
        chosen = ()
    if not chosen or not set(chosen) <= {1, 2, 3, 4}:
        raise ValueError("--train_severities=%s: give severities 1-4 separated by commas, e.g. 1,2,3,4,4"
                         % args.train_severities)
    tested = set(chosen) & set(PROTOCOLS[name]["test"])
    if name == "unseen_severities" and tested:
        raise ValueError("--train_severities=%s holds %s, which unseen_severities tests on: train it on 1-2 only"
                         % (args.train_severities, ",".join(map(str, sorted(tested)))))
    return chosen


def severity_tag(args, name):
    """'' at the protocol's training severities, else e.g. '_t2344': in the names of heads and reports."""
    severities = training_severities(args, name)
    return "_t" + "".join(map(str, severities)) if severities != PROTOCOLS[name]["train"] else ""


def training_tag(args, name):
    """What sets a protocol's training apart from its defaults ('' at one copy and the protocol's severities)."""
    return ("_c%d" % args.copies if args.copies != 1 else "") + severity_tag(args, name)


def report_tag(args, name):
    """A report's name after its protocol: the head's and the training's tags, and the kinds held out when
    they are not all of KINDS, so that two runs never write one report."""
    held_out_kinds = "_" + "+".join(sorted(args.held_out.split(","))) if (
        name == "leave_one_kind_out" and args.held_out) else ""
    return training_tag(args, name) + held_out_kinds + lfw_sface_pfe.head_suffix(args)


def training_degradation(severities):
    """degrade(face, rng) -> (crop, 'kind-severity') for cache_builder: a kind among all KINDS, a severity
    among `severities`."""
    draw = kinds.random_degradation(KINDS, severities)
    return lambda face, rng: draw(face, alignment.template(TEMPLATE)[1], rng)


def copy_kind(filename):
    """The kind a cached copy was degraded by (None for an original image)."""
    return feature_cache.copy_quality(filename)[0]


def degraded_test_outputs(path, runner, records, pairs, side, kind, severity, seed):
    """SFace's (features, mu) of every pair's degraded side, kept in `path` (.npz) for reruns."""
    if os.path.exists(path):
        with np.load(path) as saved:
            return saved["features"], saved["mu"]
    names = np.where(side == 0, pairs.first, pairs.second)
    found, jpegs = predict.read_tfrecord_faces(records, set(names.tolist()))
    jpeg_of = dict(zip(found, jpegs))
    points = alignment.template(TEMPLATE)[1]
    faces = (network_input.network_input(kinds.degrade(image_io.decode_rgb(jpeg_of[name]), k, int(s), points,
                                                       np.random.RandomState([seed, index])), (112, 112))
             for index, (name, k, s) in enumerate(zip(names, kind, severity)))
    features, mu = runner.run(faces, 64)
    with atomic_files.writing(path) as temporary, open(temporary, "wb") as f:
        np.savez(f, features=features.astype(np.float16), mu=mu)
    return features.astype(np.float16), mu


def score_pairs(heads, clean, degraded, pairs, side):
    """Cosine, MLS and pair uncertainty of every pair, each fold scored by its own head, and each face's
    mean sigma^2 (clean side, degraded side)."""
    clean_features, clean_mu, first, second = clean
    degraded_features, degraded_mu = degraded
    clean_index = np.where(side == 0, second, first)
    mu_c, mu_d = clean_mu[clean_index], clean_mu[clean_index].copy()
    sigma_c, sigma_d = np.ones_like(mu_d), np.ones_like(mu_d)  # folds not run keep these; the report skips them
    for k, estimator in heads.items():
        test = pairs.fold == k
        _, sigma_c[test] = predict.cached_embeddings(estimator, clean_features[clean_index[test]], mu_c[test], 256)
        mu_d[test], sigma_d[test] = predict.cached_embeddings(estimator, degraded_features[test].astype(np.float32),
                                                              degraded_mu[test], 256)
    return {"cosine": metrics.cosine_pair_scores(mu_c, mu_d), "mls": metrics.mls_pair_scores(mu_c, sigma_c, mu_d,
                                                                                              sigma_d),
            "uncertainty": metrics.pair_uncertainty(sigma_c, sigma_d), "face_sigma_sq": (sigma_c.mean(axis=1),
                                                                                       sigma_d.mean(axis=1))}


def train_heads(args, cache_dir, name, fold_labels, folds):
    """One head per fold on its training identities of cache_dir (reused on a rerun)."""
    heads = {}
    for k in folds:
        start = time.time()
        model_dir = os.path.join(args.work_dir, "held_out", "%s%s_fold_%d" % (name, lfw_sface_pfe.head_suffix(args), k))
        heads[k] = lfw_sface_pfe.train_fold(cache_dir, model_dir, fold_labels[k], args)
        print("  %s fold %d trained (%.0f s)" % (name, k + 1, time.time() - start))
    return heads


def run_protocol(args, name, context):
    records, clean, fold_labels, pairs, runner, report_dir = context
    channels = lfw_sface_pfe.pooled_channels(args)
    severities = dict(PROTOCOLS[name], train=training_severities(args, name))
    trained_on = "%dcopies_s%s_sface%s" % (args.copies, "".join(map(str, severities["train"])),
                                           lfw_sface_pfe.precision_tag(args))
    training_cache = os.path.join(args.work_dir, "held_out", "train_%s_cache" % trained_on)
    if not manifests.exists(training_cache):
        cache_builder.build_cache(records, training_cache, lfw_sface_pfe.sface_backbone(args, "flattened"),
                                  batch_size=64,
                                  degraded_copies=args.copies, degrade=training_degradation(severities["train"]),
                                  degradation=kinds.copies_description(KINDS, severities["train"]))
    folds = [int(k) for k in args.folds.split(",")]
    folds_mask = np.isin(pairs.fold, folds)
    held_out_kinds = args.held_out.split(",") if args.held_out else list(KINDS)
    runs = [(kind, [kind]) for kind in held_out_kinds] if name == "leave_one_kind_out" else [("all", list(KINDS))]
    all_scores, all_kind, all_severity = [], [], []
    for run_name, test_kinds in runs:
        start = time.time()
        excluded = set(test_kinds) if name == "leave_one_kind_out" else set()
        subset = training_cache
        if excluded:
            subset = os.path.join(args.work_dir, "held_out", "train_without_%s_%s_cache%s" % (
                run_name, trained_on, "_pooled" if channels else ""))
            feature_cache.write_subset(training_cache, subset, lambda filename: copy_kind(filename) not in excluded,
                                       "without copies of %s" % ",".join(sorted(excluded)), pooled_channels=channels)
        else:
            subset = lfw_sface_pfe.head_cache(training_cache, args)
        heads = train_heads(args, subset, "%s_%s_%dc%s" % (name, run_name, args.copies, severity_tag(args, name)),
                            fold_labels, folds)
        if excluded:
            shutil.rmtree(subset)  # 2.6 GB per kind at one copy; a rerun remakes it in a minute, the heads are kept
        side, kind, severity = held_out.test_draws(pairs, test_kinds, severities["test"], args.seed)
        degraded = degraded_test_outputs(
            os.path.join(args.work_dir, "held_out", "test_%s_%s%s.npz" % (name, run_name,
                                                                          lfw_sface_pfe.precision_tag(args))),
            runner, records, pairs,
            side, kind, severity, args.seed)
        if channels:
            degraded = feature_cache.pooled(degraded[0], channels), degraded[1]
        scores = score_pairs(heads, clean, degraded, pairs, side)
        all_scores.append(scores)
        all_kind.append(kind)
        all_severity.append(severity)
        print("  %s %s: %.0f s" % (name, run_name, time.time() - start))
    scores = {key: np.concatenate([s[key] for s in all_scores]) for key in ("cosine", "mls", "uncertainty")}
    scores["face_sigma_sq"] = tuple(np.concatenate([s["face_sigma_sq"][i] for s in all_scores]) for i in (0, 1))
    repeated = protocols.LfwPairs(*(np.concatenate([getattr(pairs, f)] * len(runs)) for f in pairs._fields))
    report = held_out.protocol_report(scores, repeated, np.concatenate(all_kind), np.concatenate(all_severity),
                             np.concatenate([folds_mask] * len(runs)))
    report.update(held_out=held_out_kinds if name == "leave_one_kind_out" else None, folds=folds, copies=args.copies,
                  train_severities=list(severities["train"]), test_severities=list(severities["test"]),
                  steps=args.steps, identity_share=args.identity_share, head_input=args.head_input,
                  weight_decay=args.weight_decay,
                  quality_ranking={"weight": args.quality_ranking_weight, "margin": args.quality_ranking_margin},
                  sface_precision={"used": args.backbone_precision, "why": args.precision_reason})
    held_out.plot_cells(report, os.path.join(report_dir, "%s%s_auc_by_cell.png" % (name, report_tag(args, name))),
               "%s: AUC gain over cosine" % name)
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    lfw_sface_pfe.protocol_arguments(parser, steps=400)
    parser.add_argument("--protocols", default=",".join(PROTOCOLS))
    parser.add_argument("--held_out", default=None, help="leave_one_kind_out: the kinds held out in turn "
                        "(default: all of %s)" % ",".join(KINDS))
    parser.add_argument("--folds", default="0,1,2,3,4,5,6,7,8,9", help="the people.txt folds to run (0-based)")
    parser.add_argument("--copies", type=int, default=lfw_sface_pfe.QUALITY_AWARE_COPIES,
                        help="degraded copies of every training image")
    parser.add_argument("--train_severities", default=None, help="the severities training copies are drawn "
                        "from, uniformly (a repeat weights one: 1,2,3,4,4); default: the protocol's, 1,2,3,4 for "
                        "leave_one_kind_out, 1,2 for unseen_severities")
    parser.add_argument("--seed", type=int, default=0)
    args = lfw_sface_pfe.head_settings(parser.parse_args(), quality_aware=True)
    unknown = set(args.held_out.split(",")) - set(KINDS) if args.held_out else set()
    if unknown:
        parser.error("--held_out: %s is not one of %s" % (",".join(sorted(unknown)), ",".join(KINDS)))
    for name in args.protocols.split(","):
        if name not in PROTOCOLS:
            parser.error("--protocols: %s is not one of %s" % (name, ",".join(PROTOCOLS)))
        try:
            training_severities(args, name)
        except ValueError as error:
            parser.error(str(error))
    outputs.check_run_paths({"work_dir": args.work_dir}, {"lfw_dir": args.lfw_dir, "sface": args.sface})
    tf.logging.set_verbosity(tf.logging.ERROR)
    start = time.time()
    report_dir = lfw_sface_pfe.report_folder(args, "held_out_report")
    records, cache_dir, manifest = lfw_sface_pfe.aligned_cache(
        os.path.join(args.lfw_dir, "images"), os.path.join(args.lfw_dir, "ldmark_lfw_mtcnncaffe.txt"), "lfw", args)
    pairs = protocols.read_lfw_pairs(os.path.join(args.lfw_dir, "pairs.txt"))
    people_folds = protocols.read_people_folds(os.path.join(args.lfw_dir, "people.txt"))
    fold_labels = identity_folds.fold_training_labels(pairs, people_folds, manifest, args.identity_share)
    names, clean_features, clean_mu = feature_cache.read_cache_arrays(lfw_sface_pfe.head_cache(cache_dir, args))
    first, second = protocols.pair_indices(names, pairs)
    with cache_builder.BackboneRunner(lfw_sface_pfe.sface_backbone(args, "flattened"), (112, 112)) as runner:
        context = (records, (clean_features, clean_mu, first, second), fold_labels, pairs, runner, report_dir)
        for name in args.protocols.split(","):
            protocol_start = time.time()
            result = run_protocol(args, name, context)
            result["seconds"] = time.time() - protocol_start
            path = os.path.join(report_dir, "%s%s.json" % (name, report_tag(args, name)))
            atomic_files.write_json(path, {name: result})
            print(held_out.summary(name, result))
            print("report: %s (%.0f s)" % (path, result["seconds"]))
    print("held_out_quality: %.0f s" % (time.time() - start))


if __name__ == "__main__":
    lfw_sface_pfe.run_script(main)

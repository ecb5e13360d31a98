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
from pfe_estimator.evaluation import cells
from pfe_estimator.evaluation import metrics
from pfe_estimator.evaluation import plots
from pfe_estimator.evaluation import protocols
from pfe_estimator.faces import alignment
from pfe_estimator.faces import camera_degradations
from pfe_estimator.faces import degradations
from pfe_estimator.faces import image_io
from pfe_estimator.faces import lens_degradations
from pfe_estimator.faces import network_input
from pfe_estimator.inference import cache_builder
from pfe_estimator.inference import predict
from pfe_estimator.storage import atomic_files
from pfe_estimator.storage import outputs
from scripts import lfw_sface_pfe

KINDS = degradations.KINDS + camera_degradations.KINDS + lens_degradations.KINDS
LEVELS = dict(degradations.LEVELS, **camera_degradations.LEVELS, **lens_degradations.LEVELS)  # in KINDS' order
PROTOCOLS = {"leave_one_kind_out": {"train": (1, 2, 3, 4), "test": (1, 2, 3, 4)},
             "unseen_severities": {"train": (1, 2), "test": (3, 4)}}
TEMPLATE = "112x112"
# The targets on the held-out protocols.
TARGET_SPEARMAN = 0.75
TARGET_POOLED_AUC_GAIN = 0.03


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
    held_out = "_" + "+".join(sorted(args.held_out.split(","))) if (
        name == "leave_one_kind_out" and args.held_out) else ""
    return training_tag(args, name) + held_out + lfw_sface_pfe.head_suffix(args)


def auc_headroom(report):
    """How much room cosine's pooled AUC leaves (1 - AUC) and the share of it MLS and the normalised
    baseline close: a gain target larger than the room cannot be met on these pairs."""
    pooled = report["pooled"]
    room = 1.0 - pooled["cosine"]["auc"]
    return {"cosine_gap_to_1": room, "gain_target_reachable": room >= TARGET_POOLED_AUC_GAIN,
            "share_closed": {score: pooled["difference"][score]["auc"]["difference"] / room if room > 0 else None
                             for score in ("mls", "normalised_cosine")}}


def degrade_any(face_rgb, kind, severity, rng):
    """A degradation of an aligned 112x112 crop by any of KINDS."""
    points = alignment.template(TEMPLATE)[1]
    if kind in degradations.KINDS:
        return degradations.degrade(face_rgb, kind, severity, points, rng.randint(5))
    module = camera_degradations if kind in camera_degradations.KINDS else lens_degradations
    return module.degrade(face_rgb, kind, severity, points, rng)


def training_degradation(severities):
    """degrade(face, rng) -> (crop, 'kind-severity') for cache_builder: a kind among all KINDS, a severity
    among `severities`."""
    def degrade(face, rng):
        kind, severity = KINDS[rng.randint(len(KINDS))], int(severities[rng.randint(len(severities))])
        return degrade_any(face, kind, severity, rng), "%s-%d" % (kind, severity)
    return degrade


def copy_kind(filename):
    """The kind a cached copy was degraded by (None for an original image)."""
    return feature_cache.copy_quality(filename)[0]


def test_draws(pairs, kinds, severities, seed):
    """Per pair: the degraded side (0 first, 1 second), kind and severity, seeded. ([P], [P] str, [P])."""
    rng = np.random.RandomState(seed)
    side = rng.randint(2, size=len(pairs.same))
    kind = np.array([kinds[i] for i in rng.randint(len(kinds), size=len(pairs.same))])
    severity = np.array(severities)[rng.randint(len(severities), size=len(pairs.same))]
    return side, kind, severity


def degraded_test_outputs(path, runner, records, pairs, side, kind, severity, seed):
    """SFace's (features, mu) of every pair's degraded side, kept in `path` (.npz) for reruns."""
    if os.path.exists(path):
        with np.load(path) as saved:
            return saved["features"], saved["mu"]
    names = np.where(side == 0, pairs.first, pairs.second)
    found, jpegs = predict.read_tfrecord_faces(records, set(names.tolist()))
    jpeg_of = dict(zip(found, jpegs))
    faces = (network_input.network_input(degrade_any(image_io.decode_rgb(jpeg_of[name]), k, int(s),
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


def protocol_report(scores, pairs, kind, severity, folds_mask):
    """The cells report of one protocol's pairs (the folds run), the normalised baseline fitted by fold."""
    same, fold = pairs.same[folds_mask], pairs.fold[folds_mask]
    cosine, mls, uncertainty = (scores[n][folds_mask] for n in ("cosine", "mls", "uncertainty"))
    normalised = cells.normalised_cosine(cosine, uncertainty, same, fold)
    labels = np.array(["%s-%d" % (k, s) for k, s in zip(kind[folds_mask], severity[folds_mask])])
    subjects = np.array([lfw_sface_pfe.person_of(n) for n in pairs.first[folds_mask]])
    scored = {"cosine": cosine, "mls": mls, "normalised_cosine": normalised}
    report = cells.cell_report(scored, same, labels, subjects)
    report["kinds"] = cells.cell_report(scored, same, kind[folds_mask], subjects)["cells"]  # each kind's severities
    clean_sigma, degraded_sigma = (part[folds_mask] for part in scores["face_sigma_sq"])
    face_severity = np.concatenate([np.zeros(len(clean_sigma)), severity[folds_mask]])
    face_sigma = np.concatenate([clean_sigma, degraded_sigma])
    face_kind = np.concatenate([kind[folds_mask], kind[folds_mask]])
    report["spearman_sigma_sq_severity"] = {"all": metrics.spearman_correlation(face_sigma, face_severity)}
    for name in sorted(set(kind[folds_mask].tolist())):
        chosen = face_kind == name
        report["spearman_sigma_sq_severity"][name] = metrics.spearman_correlation(face_sigma[chosen],
                                                                                  face_severity[chosen])
    pooled = report["pooled"]["difference"]["mls"]["auc"]
    report["targets"] = {
        "spearman_at_least_%.2f" % TARGET_SPEARMAN: report["spearman_sigma_sq_severity"]["all"] >= TARGET_SPEARMAN,
        "pooled_auc_gain_at_least_%.2f" % TARGET_POOLED_AUC_GAIN: pooled["difference"] >= TARGET_POOLED_AUC_GAIN,
        "no_cell_significantly_below_cosine": not cells.significantly_below(report, "mls")}
    report["cells_significantly_below_cosine"] = cells.significantly_below(report, "mls")
    report["auc_headroom"] = auc_headroom(report)
    return report


def plot_cells(report, path, title):
    """The AUC difference from cosine of MLS and of the normalised baseline per cell, with intervals."""
    names = sorted(report["cells"]) + ["pooled"]
    parts = [report["cells"][n] for n in names[:-1]] + [report["pooled"]]
    series = {}
    for score in ("mls", "normalised_cosine"):
        series[score] = [(p["difference"][score]["auc"]["difference"], *p["difference"][score]["auc"]["interval"])
                         if "difference" in p else (np.nan, np.nan, np.nan) for p in parts]
    plots.interval_bars(names, series, path, title, "AUC difference from cosine (95 % subject-bootstrap interval)")


def run_protocol(args, name, context):
    records, clean, fold_labels, pairs, runner, report_dir = context
    channels = lfw_sface_pfe.pooled_channels(args)
    severities = dict(PROTOCOLS[name], train=training_severities(args, name))
    trained_on = "%dcopies_s%s_sface%s" % (args.copies, "".join(map(str, severities["train"])),
                                           lfw_sface_pfe.precision_tag(args))
    training_cache = os.path.join(args.work_dir, "held_out", "train_%s_cache" % trained_on)
    if not os.path.exists(os.path.join(training_cache, "manifest.json")):
        cache_builder.build_cache(records, training_cache, lfw_sface_pfe.sface_backbone(args, "flattened"),
                                  batch_size=64,
                                  degraded_copies=args.copies, degrade=training_degradation(severities["train"]),
                                  degradation=degradations.copies_description(LEVELS, severities["train"]))
    folds = [int(k) for k in args.folds.split(",")]
    folds_mask = np.isin(pairs.fold, folds)
    held_out = args.held_out.split(",") if args.held_out else list(KINDS)
    runs = [(kind, [kind]) for kind in held_out] if name == "leave_one_kind_out" else [("all", list(KINDS))]
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
        side, kind, severity = test_draws(pairs, test_kinds, severities["test"], args.seed)
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
    report = protocol_report(scores, repeated, np.concatenate(all_kind), np.concatenate(all_severity),
                             np.concatenate([folds_mask] * len(runs)))
    report.update(held_out=held_out if name == "leave_one_kind_out" else None, folds=folds, copies=args.copies,
                  train_severities=list(severities["train"]), test_severities=list(severities["test"]),
                  steps=args.steps, identity_share=args.identity_share, head_input=args.head_input,
                  weight_decay=args.weight_decay,
                  quality_ranking={"weight": args.quality_ranking_weight, "margin": args.quality_ranking_margin},
                  sface_precision={"used": args.backbone_precision, "why": args.precision_reason})
    plot_cells(report, os.path.join(report_dir, "%s%s_auc_by_cell.png" % (name, report_tag(args, name))),
               "%s: AUC gain over cosine" % name)
    return report


def summary(name, report):
    pooled = report["pooled"]
    lines = ["%s (%d pairs, folds %s): AUC cosine %.4f, MLS %.4f, normalised cosine %.4f" % (
        name, pooled["pairs"], ",".join(str(k + 1) for k in report["folds"]), pooled["cosine"]["auc"],
        pooled["mls"]["auc"], pooled["normalised_cosine"]["auc"])]
    for score in ("mls", "normalised_cosine"):
        part = pooled["difference"][score]["auc"]
        lines.append("  pooled AUC %s - cosine: %+.4f [%+.4f, %+.4f]" % (score, part["difference"], *part["interval"]))
    ahead = sum(1 for p in report["cells"].values() if "difference" in p
                and p["difference"]["mls"]["auc"]["difference"] > 0)
    lines.append("  cells: MLS ahead of cosine in %d of %d; significantly below in %s" % (
        ahead, len(report["cells"]), ", ".join(report["cells_significantly_below_cosine"]) or "none"))
    lines.append("  by kind, AUC MLS - cosine: " + ", ".join(
        "%s %+.4f" % (k, p["difference"]["mls"]["auc"]["difference"])
        for k, p in sorted(report["kinds"].items()) if "difference" in p))
    lines.append("  Spearman(face sigma^2, severity): " + ", ".join(
        "%s %.3f" % item for item in sorted(report["spearman_sigma_sq_severity"].items())))
    room = report["auc_headroom"]
    lines.append("  cosine leaves %.4f AUC to 1 (MLS closes %.0f %% of it)%s" % (
        room["cosine_gap_to_1"], 100 * (room["share_closed"]["mls"] or 0),
        "" if room["gain_target_reachable"] else ": a pooled gain of %.2f cannot be reached on these pairs"
        % TARGET_POOLED_AUC_GAIN))
    lines.append("  targets: " + ", ".join("%s %s" % (k, "met" if v else "MISSED")
                                          for k, v in sorted(report["targets"].items())))
    return "\n".join(lines)


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
    people_folds = lfw_sface_pfe.read_people_folds(os.path.join(args.lfw_dir, "people.txt"))
    fold_labels = lfw_sface_pfe.fold_training_labels(pairs, people_folds, manifest, args.identity_share)
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
            print(summary(name, result))
            print("report: %s (%.0f s)" % (path, result["seconds"]))
    print("held_out_quality: %.0f s" % (time.time() - start))


if __name__ == "__main__":
    lfw_sface_pfe.run_script(main)

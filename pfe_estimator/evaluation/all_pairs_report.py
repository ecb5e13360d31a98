"""The all-pairs protocol's report (experiments/all_pairs_protocol.py gathers the scored pairs): TAR at low
FMR, the shipped decisions' FMR and FNMR per quality stratum with the targets, the pooled FNMR at FMR 1e-3
and what the quality-aware score closes of cosine's, TAR differences inside each cell, sigma^2 as a
face-image quality score by EDC, and standard LFW's 10-fold accuracy of the quality-aware score.
"""
import os

import numpy as np

from pfe_estimator.evaluation import all_pairs
from pfe_estimator.evaluation import metrics
from pfe_estimator.evaluation import plots
from pfe_estimator.faces import kinds
from pfe_estimator.model import verification

SCORES = ("quality", "mls", "cosine")  # the quality-aware P(same), MLS, cosine
CELLS = ("clean",) + tuple("%s-%d" % (kind, severity) for kind in kinds.KINDS for severity in kinds.SEVERITIES)
NOMINAL_FMR = 1e-3
MIN_CELL_IMPOSTORS = 100000
TARGET_FMR_RATIO = 2.0
TARGET_FMR_SPREAD = 4.0
TARGET_FNMR_CLOSED = 0.25
EDC_LIMITS = (0.2, 0.3)


def cell_codes(labels):
    """int8 [N] codes of cell labels ('clean', 'blur-3', ...): their index in CELLS."""
    return np.array([CELLS.index(label) for label in labels], np.int8)


def lfw_pairs(pairs, fold, names, rows, clean, fitted):
    """pairs.txt's fold `fold` scored with the fold's head and shipped calibration: {'same', 'fold',
    'cosine', 'quality' (the logit of the shipped P(same), which ranks as it does)} [P]."""
    position = {name: i for i, name in enumerate(np.asarray(names)[rows])}
    chosen = pairs.fold == fold
    a = np.array([position[n] for n in pairs.first[chosen]])
    b = np.array([position[n] for n in pairs.second[chosen]])
    values = verification.pair_values(clean.mu[a], clean.sigma[a], clean.mu[b], clean.sigma[b])
    quality = verification.logit(values, fitted["scores"]["quality"]["features"], fitted["scores"]["quality"]["model"])
    return {"same": pairs.same[chosen], "fold": pairs.fold[chosen], "cosine": values["cosine"], "quality": quality}


def _gathered(folds):
    keys = [key for key in folds[0] if key not in ("fold", "calibration", "quality_measures")]
    gathered = {key: np.concatenate([fold[key] for fold in folds]) for key in keys}
    gathered["quality_measures"] = {name: np.concatenate([fold["quality_measures"][name] for fold in folds])
                                    for name in folds[0]["quality_measures"]}
    return gathered


def shipped_rates(data, cross, edges):
    """Each score's shipped decisions: rates pooled over cross-quality pairs, on clean pairs, per cell and per
    quintile of the worse face's sigma^2 (cross-quality pairs)."""
    result = {}
    quintile = np.searchsorted(edges, data["worse_sigma"], side="right")
    for score in SCORES:
        accept, same = data["accept_" + score], data["same"]
        part = {"pooled_cross_quality": all_pairs.rates(accept[cross], same[cross]),
                "clean": all_pairs.rates(accept[~cross], same[~cross]), "cells": {}, "quintiles": {}}
        for code in np.unique(data["cell"][cross]):
            chosen = data["cell"] == code
            part["cells"][CELLS[code]] = all_pairs.rates(accept[chosen], same[chosen])
        for q in range(5):
            chosen = cross & (quintile == q)
            part["quintiles"]["q%d" % (q + 1)] = all_pairs.rates(accept[chosen], same[chosen])
        result[score] = part
    return result


def fmr_targets(shipped):
    """Per score: the largest achieved FMR over the nominal in the cells with at least MIN_CELL_IMPOSTORS
    impostors, the spread (largest over smallest), and whether the quality-aware score meets the targets."""
    result = {}
    for score, part in shipped.items():
        fmrs = [cell["fmr"] for cell in part["cells"].values()
                if cell["impostors"] >= MIN_CELL_IMPOSTORS and cell["fmr"] is not None]
        largest, smallest = (max(fmrs), min(fmrs)) if fmrs else (None, None)
        result[score] = {"cells": len(fmrs), "largest_over_nominal": largest / NOMINAL_FMR if fmrs else None,
                         "spread": largest / smallest if fmrs and smallest > 0 else None}
    quality = result["quality"]
    result["met"] = {
        "fmr_at_most_%gx_nominal_in_every_cell" % TARGET_FMR_RATIO:
            quality["largest_over_nominal"] is not None and quality["largest_over_nominal"] <= TARGET_FMR_RATIO,
        "fmr_spread_at_most_%gx" % TARGET_FMR_SPREAD:
            quality["spread"] is not None and quality["spread"] <= TARGET_FMR_SPREAD}
    return result


def fnmr_at_fmr(data, cross, weights):
    """Pooled over cross-quality pairs: each score's FNMR at the threshold that gives FMR 1e-3 on them, and
    the share of cosine's FNMR the quality-aware score closes, with its subject-bootstrap interval
    (genuine pairs' people drawn with replacement, thresholds fixed)."""
    same = data["same"][cross]
    result, accepted = {}, {}
    for score in SCORES:
        scores = data[score][cross]
        tar, threshold = metrics.tar_at_far(scores[same], scores[~same], [NOMINAL_FMR])
        result[score] = {"fnmr": float(1 - tar[0]), "threshold": float(threshold[0])}
        accepted[score] = scores[same] >= threshold[0]
    subjects = data["subject"][cross][same]
    gained = all_pairs.bootstrap_difference(accepted["quality"], accepted["cosine"], subjects, weights)
    cosine_fnmr = result["cosine"]["fnmr"]
    result["closed_of_cosine"] = {"share": gained["difference"] / cosine_fnmr if cosine_fnmr else None,
                                  "interval": [v / cosine_fnmr for v in gained["interval"]] if cosine_fnmr else None}
    result["met"] = {"closes_%g_of_cosine_fnmr_with_interval_above_0" % TARGET_FNMR_CLOSED:
                     bool(cosine_fnmr and gained["difference"] / cosine_fnmr >= TARGET_FNMR_CLOSED
                          and gained["interval"][0] > 0)}
    return result


def inside_cells(data, weights):
    """In each cell (thresholds from the cell's own impostors at FMR 1e-3): TAR of the quality-aware score
    minus cosine's, with its subject-bootstrap interval; and the cells where it is significantly below."""
    result = {}
    for code in np.unique(data["cell"]):
        chosen = data["cell"] == code
        same = data["same"][chosen]
        if same.all() or not same.any() or (~same).sum() * NOMINAL_FMR < 1:
            continue
        accepted = {}
        for score in ("quality", "cosine"):
            scores = data[score][chosen]
            threshold = metrics.tar_at_far(scores[same], scores[~same], [NOMINAL_FMR])[1][0]
            accepted[score] = scores[same] >= threshold
        result[CELLS[code]] = all_pairs.bootstrap_difference(accepted["quality"], accepted["cosine"],
                                                             data["subject"][chosen][same], weights)
    below = sorted(cell for cell, part in result.items() if part["interval"][1] < 0)
    return {"cells": result, "significantly_below": below, "met": {"never_significantly_below_cosine": not below}}


def edc_section(data):
    """sigma^2 as a face-image quality score (EDC, FNMR at SFace cosine's threshold for FMR 1e-3 over every
    impostor pair), against the free baselines, on every genuine pair."""
    same = data["same"]
    threshold = metrics.tar_at_far(data["cosine"][same], data["cosine"][~same], [NOMINAL_FMR])[1][0]
    genuine = data["cosine"][same]
    result = {"threshold": float(threshold), "genuine_pairs": int(same.sum()),
              "measures": {name: all_pairs.edc_report(genuine, quality, threshold, EDC_LIMITS)
                           for name, quality in data["quality_measures"].items()}}
    ours = result["measures"]["sigma_sq_quality_aware"]["pauc_normalised"]
    baselines = ("embedding_norm", "sharpness", "random")
    result["met"] = {"quality_aware_sigma_sq_below_every_free_baseline_at_%s" % limit: all(
        ours[str(limit)] < result["measures"][name]["pauc_normalised"][str(limit)] for name in baselines)
        for limit in EDC_LIMITS}
    return result


def tar_section(data, cross):
    """BLUFR's verification rates: TAR at FMR 1e-3 and 1e-4, pooled over cross-quality pairs, on clean
    pairs and per cell, thresholds from each group's own impostors."""
    result = {}
    for score in SCORES:
        part = {"pooled_cross_quality": all_pairs.tar_at_fmr(data[score][cross], data["same"][cross]),
                "clean": all_pairs.tar_at_fmr(data[score][~cross], data["same"][~cross]), "cells": {}}
        for code in np.unique(data["cell"][cross]):
            chosen = data["cell"] == code
            part["cells"][CELLS[code]] = all_pairs.tar_at_fmr(data[score][chosen], data["same"][chosen])
        result[score] = part
    return result


def protocol_report(name, folds, lfw, pairs, report_dir):
    """The report of one held-out protocol's folds, and its PNGs (FMR per stratum, EDC) in report_dir."""
    del pairs
    data = _gathered(folds)
    cross = data["cell"] != CELLS.index("clean")
    weights = all_pairs.subject_weights(data["subject"][data["same"]])
    edges = all_pairs.quintile_edges(data["worse_sigma"][cross])
    shipped = shipped_rates(data, cross, edges)
    lfw_scores = {key: np.concatenate([part[key] for part in lfw]) for key in lfw[0]}
    report = {"pairs": int(len(data["same"])), "genuine": int(data["same"].sum()),
              "cross_quality_pairs": int(cross.sum()), "folds": sorted({fold["fold"] for fold in folds}),
              "calibrations": [{"fold": fold["fold"], "qualities": fold["calibration"]["qualities"],
                                "pairs": fold["calibration"]["pairs"],
                                "impostors": fold["calibration"]["scores"]["quality"]["impostors"],
                                "weights": fold["calibration"]["scores"]["quality"]["model"]["weights"]}
                               for fold in folds],
              "tar_at_fmr": tar_section(data, cross), "shipped_at_far_0.001": shipped,
              "worse_sigma_sq_quintile_edges": edges.tolist(), "fmr_targets": fmr_targets(shipped),
              "fnmr_at_fmr_0.001": fnmr_at_fmr(data, cross, weights), "inside_cells": inside_cells(data, weights),
              "edc": edc_section(data),
              "lfw_accuracy": {score: metrics.kfold_accuracy(lfw_scores[score], lfw_scores["same"],
                                                             lfw_scores["fold"])["mean"]
                               for score in ("cosine", "quality")}}
    _plots(name, report, report_dir)
    return report


def _plots(name, report, report_dir):
    shipped = report["shipped_at_far_0.001"]
    strata = sorted(shipped["quality"]["cells"]) + ["q%d" % q for q in range(1, 6)]
    series = {score: [(shipped[score]["cells"].get(s) or shipped[score]["quintiles"].get(s) or {}).get("fmr")
                      for s in strata] for score in SCORES}
    plots.rates_by_stratum(strata, series, NOMINAL_FMR, os.path.join(report_dir, "%s_fmr_by_stratum.png" % name),
                           "%s: false matches at the shipped threshold for FMR 1e-3" % name)
    measures = report["edc"]["measures"]
    plots.curves_xy({measure: (part["curve"]["discard"], part["curve"]["fnmr"]) for measure, part in measures.items()},
                    os.path.join(report_dir, "%s_edc.png" % name), "%s: error versus discard (FNMR at FMR 1e-3)" % name,
                    "fraction of genuine pairs discarded (lowest pair quality first)", "FNMR")


def summary(name, report):
    """The report as text."""
    lines = ["%s: %d pairs (%d genuine), %d cross-quality" % (name, report["pairs"], report["genuine"],
                                                              report["cross_quality_pairs"])]
    for score in SCORES:
        part = report["tar_at_fmr"][score]["pooled_cross_quality"]["tar_at_fmr"]
        ship = report["shipped_at_far_0.001"][score]["pooled_cross_quality"]
        target = report["fmr_targets"][score]
        lines.append("  %-8s TAR@FMR 1e-3 %s 1e-4 %s | shipped FMR %.2e FNMR %.4f | cells: worst FMR %sx nominal, "
                     "spread %sx" % (score, _shown(part["0.001"]), _shown(part["0.0001"]), ship["fmr"], ship["fnmr"],
                                     _shown(target["largest_over_nominal"], "%.2f"), _shown(target["spread"], "%.2f")))
    fnmr = report["fnmr_at_fmr_0.001"]
    lines.append("  pooled FNMR at FMR 1e-3: cosine %.4f, MLS %.4f, quality %.4f; closes %s of cosine's (%s)" % (
        fnmr["cosine"]["fnmr"], fnmr["mls"]["fnmr"], fnmr["quality"]["fnmr"],
        _shown(fnmr["closed_of_cosine"]["share"], "%.2f"),
        "..".join(_shown(v, "%+.2f") for v in fnmr["closed_of_cosine"]["interval"] or [])))
    lines.append("  inside cells, TAR quality - cosine significantly below in: %s" % (
        ", ".join(report["inside_cells"]["significantly_below"]) or "none"))
    lines.append("  EDC pAUC at 20 % / 30 % (normalised): " + ", ".join(
        "%s %s/%s" % (measure, _shown(part["pauc_normalised"]["0.2"], "%.3f"),
                      _shown(part["pauc_normalised"]["0.3"], "%.3f"))
        for measure, part in report["edc"]["measures"].items()))
    lines.append("  standard LFW accuracy: cosine %.2f %%, quality %.2f %%" % (
        100 * report["lfw_accuracy"]["cosine"], 100 * report["lfw_accuracy"]["quality"]))
    met = dict(report["fmr_targets"]["met"], **report["fnmr_at_fmr_0.001"]["met"])
    met.update(report["inside_cells"]["met"])
    met.update(report["edc"]["met"])
    lines.append("  targets: " + ", ".join("%s %s" % (k, "met" if v else "MISSED") for k, v in sorted(met.items())))
    return "\n".join(lines)


def _shown(value, form="%.4f"):
    return "-" if value is None else form % value

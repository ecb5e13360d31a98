"""The all-pairs protocol's report (experiments/protocols/all_pairs.py gathers the scored pairs): every score of a
model's calibration (model/calibration.py) deciding as shipped, from two sources of thresholds: the labelled
calibration fold ('calibration') and a gallery of one photo per person of that fold ('gallery').

For each source, score and FAR: the decision's FMR and FNMR pooled, on clean pairs, per (kind, severity) cell and
per quintile of the worse face's sigma^2, with subject-bootstrap intervals, and per fold; TAR inside each cell against
cosine's at its own threshold from the same source, with intervals; the targets; and, for the sources' ranking, TAR
at low FMR (BLUFR), the pooled FNMR at FMR 1e-3 and the share of cosine's it closes, sigma^2 as a face-image quality
score by EDC with intervals, and LFW's 10-fold accuracy.

The targets, each at a FAR (its nominal FMR), for the FAR's decisions of one score:
  safe             FMR at most TARGET_FMR_RATIO x nominal in every cell and every quintile (groups of at least
                   MIN_GROUP_IMPOSTORS impostors)
  not wasteful     FMR at least nominal / TARGET_STRICTNESS in every cell where cosine can still recognise faces
                   (its TAR at FMR 1e-3 inside the cell, its own threshold there, at least RECOGNISABLE_TAR)
  no harm          TAR never significantly below cosine's (at cosine's own threshold from the same source) inside
                   any cell: the bootstrap interval of the difference is not wholly below 0
  gain             pooled over cross-quality pairs, the FNMR at FMR 1e-3 (each score's margin at its own threshold
                   there) closes at least TARGET_FNMR_CLOSED of cosine's
  LFW              standard LFW accuracy of the score's margin not below cosine's
"""
import collections
import os

import numpy as np

from pfe_estimator.evaluation import all_pairs
from pfe_estimator.evaluation import metrics
from pfe_estimator.evaluation import plots
from pfe_estimator.faces import kinds
from pfe_estimator.model import verification

SOURCES = ("calibration", "gallery")
CELLS = ("clean",) + tuple("%s-%d" % (kind, severity) for kind in kinds.KINDS for severity in kinds.SEVERITIES)
RANKING_FMR = 1e-3  # the FMR of the pooled FNMR, TAR inside cells (cosine's recognisability) and EDC
MIN_GROUP_IMPOSTORS = 100000
TARGET_FMR_RATIO = 2.0
TARGET_STRICTNESS = 10.0
RECOGNISABLE_TAR = 0.5
TARGET_FNMR_CLOSED = 0.25
EDC_LIMITS = (0.2, 0.3)


def cell_codes(labels):
    """int8 [N] codes of cell labels ('clean', 'blur-3', ...): their index in CELLS."""
    return np.array([CELLS.index(label) for label in labels], np.int8)


def decisions(values, calibrations):
    """Every score's decisions of scored pairs under each source's calibration: {source: {score: {'margin':
    float32 [P] (Calibration.ranking), 'accept': {far: bool [P]}}}} (a FAR a calibration does not decide at is
    left out).

    Args:
      values: model.verification.pair_values of the pairs; calibrations: {source: model.calibration.Calibration}.
    """
    result = {}
    for source, calibrated in calibrations.items():
        result[source] = {}
        for score in calibrated.scores:
            result[source][score] = {
                "accept": {far: calibrated.decide(values, far, score).accept for far in calibrated.decided_fars(score)},
                "margin": calibrated.ranking(values, score).astype(np.float32)}
    return result


def lfw_pairs(pairs, fold, names, rows, gaussians, calibrated):
    """pairs.txt's fold `fold` scored with the fold's head and calibration: {'same', 'fold', and each score's
    ranking (Calibration.ranking)} [P].

    Args:
      names: every image's name [N]; rows: the fold's images [n]; gaussians: (mu [n, D], sigma^2 [n, D]) of them.
    """
    mu, sigma = gaussians
    position = {name: i for i, name in enumerate(np.asarray(names)[rows])}
    chosen = pairs.fold == fold
    a = np.array([position[n] for n in pairs.first[chosen]])
    b = np.array([position[n] for n in pairs.second[chosen]])
    values = verification.pair_values(mu[a], sigma[a], mu[b], sigma[b])
    margins = {score: calibrated.ranking(values, score) for score in calibrated.scores}
    return dict({"same": pairs.same[chosen], "fold": pairs.fold[chosen]}, **margins)


def gathered(folds):
    """The folds' (or any parts') scored pairs as one set of arrays [P] (decisions nested as decisions() gives
    them, quality measures [genuine P]); the scalars of a fold (fold, calibration_fold, calibrations) are left.
    Each array is moved, not copied: it leaves its fold as it is gathered, so that the pairs are held once."""
    plain = [key for key in folds[0] if key not in ("fold", "calibration_fold", "calibrations", "quality_measures",
                                                     "decisions")]
    data = {key: _moved(folds, (key,)) for key in plain}
    data["quality_measures"] = {name: _moved(folds, ("quality_measures", name))
                                for name in list(folds[0]["quality_measures"])}
    data["decisions"] = {}
    for source, scores in folds[0]["decisions"].items():
        data["decisions"][source] = {}
        for score, part in scores.items():
            decided = [far for far in part["accept"]
                       if all(far in fold["decisions"][source][score]["accept"] for fold in folds)]
            data["decisions"][source][score] = {
                "margin": _moved(folds, ("decisions", source, score, "margin")),
                "accept": {far: _moved(folds, ("decisions", source, score, "accept", far)) for far in decided}}
    return data


def _moved(parts, path):
    """np.concatenate of the arrays at `path` (keys, outermost first) of every part, each removed from its part."""
    arrays = []
    for part in parts:
        for key in path[:-1]:
            part = part[key]
        arrays.append(part.pop(path[-1]))
    gathered = np.concatenate(arrays)
    del arrays[:]
    return gathered


class Stratum(collections.namedtuple("Stratum", ["impostors", "genuine"])):
    """A group of pairs as the rows of its impostor pairs and of its genuine pairs (int arrays)."""
    __slots__ = ()

    @classmethod
    def of(cls, chosen, same):
        return cls(np.flatnonzero(chosen & ~same), np.flatnonzero(chosen & same))


def groups(data, cross, edges):
    """({group name: Stratum} of the strata the decisions are reported by: pooled cross-quality pairs, clean pairs,
    each cell present and each quintile of the worse face's sigma^2 (cross-quality pairs, edges from
    all_pairs.quintile_edges); {fold: {'cross_quality', 'clean': Stratum}})."""
    same = data["same"]
    quintile = np.searchsorted(edges, data["worse_sigma"], side="right")
    strata = {"pooled_cross_quality": Stratum.of(cross, same), "clean": Stratum.of(~cross, same)}
    for code in np.unique(data["cell"][cross]):
        strata["cell " + CELLS[code]] = Stratum.of(data["cell"] == code, same)
    for q in range(5):
        strata["quintile q%d" % (q + 1)] = Stratum.of(cross & (quintile == q), same)
    folds = {}
    for k in np.unique(data["test_fold"]):
        in_fold = data["test_fold"] == k
        folds[str(int(k))] = {"cross_quality": Stratum.of(cross & in_fold, same),
                              "clean": Stratum.of(~cross & in_fold, same)}
    return strata, folds


def decision_rates(accept, data, strata, folds, weights):
    """The rates of one decision per stratum, with subject-bootstrap intervals of its FMR and FNMR, and per fold:
    {stratum: all_pairs.rates + 'fmr_interval', 'fnmr_interval'}, 'folds': {fold: {'cross_quality', 'clean'}}."""
    subject = data["subject"]
    result = {}
    for name, stratum in strata.items():
        impostors, genuine = accept[stratum.impostors], accept[stratum.genuine]
        part = all_pairs.rates(impostors, genuine)
        part["fmr_interval"] = all_pairs.bootstrap_rate(impostors, subject[stratum.impostors], weights)[
            "interval"] if len(impostors) else None
        part["fnmr_interval"] = all_pairs.bootstrap_rate(~genuine, subject[stratum.genuine], weights)[
            "interval"] if len(genuine) else None
        result[name] = part
    result["folds"] = {k: {group: all_pairs.rates(accept[stratum.impostors], accept[stratum.genuine])
                           for group, stratum in parts.items()} for k, parts in folds.items()}
    return result


def inside_cells(accept, cosine_accept, data, strata, weights):
    """In each cell: TAR of a decision minus cosine's decision from the same calibration (fixed thresholds), with
    its subject-bootstrap interval; and the cells where it is significantly below."""
    result = {}
    for name, stratum in strata.items():
        genuine = stratum.genuine
        if name.startswith("cell ") and len(genuine):
            result[name[len("cell "):]] = all_pairs.bootstrap_difference(accept[genuine], cosine_accept[genuine],
                                                                         data["subject"][genuine], weights)
    below = sorted(cell for cell, part in result.items() if part["interval"][1] < 0)
    return {"cells": result, "significantly_below": below}


def recognisable_cells(data):
    """The cells where cosine can still recognise faces: its TAR at RANKING_FMR inside the cell (thresholds from
    the cell's own impostors) at least RECOGNISABLE_TAR; {cell: that TAR} of every cell with enough impostors."""
    result = {}
    for code in np.unique(data["cell"]):
        chosen = data["cell"] == code
        same = data["same"][chosen]
        if same.any() and (~same).sum() * RANKING_FMR >= 1:
            scores = data["cosine"][chosen]
            result[CELLS[code]] = float(metrics.tar_at_far(scores[same], scores[~same], [RANKING_FMR])[0][0])
    return result


def targets(rates, harm, far, recognisable):
    """Whether one decision at `far` is safe, not wasteful and does no harm (see the module doc)."""
    strata = {name: part for name, part in rates.items() if name.startswith(("cell ", "quintile "))
              and part["impostors"] >= MIN_GROUP_IMPOSTORS}
    ratios = {name: part["fmr"] / far for name, part in strata.items()}
    worst = max(ratios, key=ratios.get) if ratios else None
    judged = {name: ratios["cell " + name] for name, tar in recognisable.items()
              if tar >= RECOGNISABLE_TAR and "cell " + name in ratios}
    strictest = min(judged, key=judged.get) if judged else None
    spread = max(ratios.values()) / min(ratios.values()) if ratios and min(ratios.values()) > 0 else None
    return {"safe": {"largest_over_nominal": ratios.get(worst), "where": worst,
                     "met": worst is not None and ratios[worst] <= TARGET_FMR_RATIO},
            "not_wasteful": {"smallest_over_nominal": judged.get(strictest), "where": strictest,
                             "cells_judged": len(judged),
                             "met": strictest is not None and judged[strictest] >= 1.0 / TARGET_STRICTNESS},
            "no_harm": {"significantly_below_cosine_in": harm["significantly_below"],
                        "met": not harm["significantly_below"]},
            "spread": spread}


def fnmr_at_fmr(data, cross, weights, source):
    """Pooled over cross-quality pairs: each score's FNMR at the threshold (on its margin) that gives FMR
    RANKING_FMR on them, and the share of cosine's FNMR each closes, with its subject-bootstrap interval
    (genuine pairs' people drawn with replacement, thresholds fixed)."""
    same = data["same"][cross]
    subjects = data["subject"][cross][same]
    result, accepted = {}, {}
    for score, part in data["decisions"][source].items():
        margins = part["margin"][cross]
        tar, threshold = metrics.tar_at_far(margins[same], margins[~same], [RANKING_FMR])
        result[score] = {"fnmr": float(1 - tar[0])}
        accepted[score] = margins[same] >= threshold[0]
    cosine_fnmr = result["cosine"]["fnmr"]
    for score in result:
        gained = all_pairs.bootstrap_difference(accepted[score], accepted["cosine"], subjects, weights)
        result[score]["closed_of_cosine"] = gained["difference"] / cosine_fnmr if cosine_fnmr else None
        result[score]["closed_interval"] = [v / cosine_fnmr for v in gained["interval"]] if cosine_fnmr else None
        result[score]["met"] = bool(cosine_fnmr and result[score]["closed_of_cosine"] >= TARGET_FNMR_CLOSED)
    return result


def tar_section(data, cross, source):
    """BLUFR's verification rates of each score's margin: TAR at FMR 1e-3 and 1e-4 pooled over cross-quality
    pairs, on clean pairs and per cell, thresholds from each group's own impostors."""
    result = {}
    for score, part in data["decisions"][source].items():
        margin = part["margin"]
        result[score] = {"pooled_cross_quality": all_pairs.tar_at_fmr(margin[cross], data["same"][cross]),
                         "clean": all_pairs.tar_at_fmr(margin[~cross], data["same"][~cross]), "cells": {}}
        for code in np.unique(data["cell"][cross]):
            chosen = data["cell"] == code
            result[score]["cells"][CELLS[code]] = all_pairs.tar_at_fmr(margin[chosen], data["same"][chosen])
    return result


def edc_section(data, weights):
    """sigma^2 as a face-image quality score (EDC, FNMR at SFace cosine's threshold for FMR RANKING_FMR over every
    impostor pair), against the free baselines, on every genuine pair, with subject-bootstrap intervals of each
    pAUC and of sigma^2's difference from each baseline: a baseline is beaten where that interval is below 0."""
    same = data["same"]
    threshold = metrics.tar_at_far(data["cosine"][same], data["cosine"][~same], [RANKING_FMR])[1][0]
    genuine = data["cosine"][same]
    result = {"threshold": float(threshold), "genuine_pairs": int(same.sum()),
              "measures": {name: all_pairs.edc_report(genuine, quality, threshold, EDC_LIMITS)
                           for name, quality in data["quality_measures"].items()}}
    intervals = all_pairs.edc_intervals(genuine, data["quality_measures"], threshold, data["subject"][same], weights,
                                        EDC_LIMITS)
    for name, part in result["measures"].items():
        part["pauc_normalised_interval"] = intervals["pauc"][name]
    ours = intervals["difference"]["sigma_sq_quality_aware"]
    result["sigma_sq_minus_baseline"] = {name: ours[name] for name in ("embedding_norm", "sharpness", "random")}
    result["met"] = {"quality_aware_sigma_sq_below_every_free_baseline_at_%s" % limit: all(
        ours[name][str(limit)] is not None and ours[name][str(limit)][1] < 0
        for name in ("embedding_norm", "sharpness", "random")) for limit in EDC_LIMITS}
    return result


def scheme_report(name, folds, lfw, report_dir):
    """The report of one held-out scheme's folds, and its PNGs (FMR per stratum, EDC) in report_dir.

    Args:
      folds: per test fold and run: {'same', 'cell', 'subject', 'test_fold', 'worse_sigma', 'cosine' [P],
        'decisions': decisions(), 'quality_measures': {measure: [genuine P]}, 'calibrations': {source:
        Calibration}, 'fold', 'calibration_fold'}.
      lfw: per fold, lfw_pairs().
    """
    data = gathered(folds)
    cross = data["cell"] != CELLS.index("clean")
    weights = all_pairs.subject_weights(data["subject"])
    edges = all_pairs.quintile_edges(data["worse_sigma"][cross])
    strata, folds_of_pairs = groups(data, cross, edges)
    strata["cell clean"] = strata["clean"]
    recognisable = recognisable_cells(data)
    lfw_scores = {key: np.concatenate([part[key] for part in lfw]) for key in lfw[0]}
    lfw_accuracy = {score: metrics.kfold_accuracy(lfw_scores[score], lfw_scores["same"], lfw_scores["fold"])["mean"]
                    for score in lfw_scores if score not in ("same", "fold")}
    report = {"pairs": int(len(data["same"])), "genuine": int(data["same"].sum()),
              "cross_quality_pairs": int(cross.sum()), "folds": sorted({int(fold["fold"]) for fold in folds}),
              "worse_sigma_sq_quintile_edges": edges.tolist(), "cosine_tar_inside_cells": recognisable,
              "calibrations": [{"fold": int(fold["fold"]), "calibration_fold": int(fold["calibration_fold"]),
                                "sources": {source: calibrated.as_json()
                                            for source, calibrated in fold["calibrations"].items()}}
                               for fold in folds],
              "decisions": {}, "lfw_accuracy": lfw_accuracy, "edc": edc_section(data, weights)}
    for source, scores in data["decisions"].items():
        report["decisions"][source] = {"tar_at_fmr": tar_section(data, cross, source),
                                       "fnmr_at_fmr_0.001": fnmr_at_fmr(data, cross, weights, source), "scores": {}}
        for score, part in scores.items():
            report["decisions"][source]["scores"][score] = {}
            for far, accept in part["accept"].items():
                rates = decision_rates(accept, data, strata, folds_of_pairs, weights)
                harm = inside_cells(accept, scores["cosine"]["accept"][far], data, strata, weights)
                report["decisions"][source]["scores"][score][str(far)] = dict(
                    rates=rates, inside_cells=harm, targets=targets(rates, harm, far, recognisable))
    _plots(name, report, report_dir)
    return report


def _plots(name, report, report_dir):
    for source, part in report["decisions"].items():
        far = min((far for fars in part["scores"].values() for far in fars), key=float, default=None)
        scores = {score: fars[far] for score, fars in part["scores"].items() if far in fars}
        if not scores:
            continue
        strata = sorted(name for name in scores["cosine"]["rates"] if name.startswith(("cell ", "quintile ")))
        plots.rates_by_stratum([s.split(" ", 1)[1] for s in strata],
                               {score: [decided["rates"][s]["fmr"] for s in strata] for score, decided in
                                scores.items()}, float(far),
                               os.path.join(report_dir, "%s_%s_fmr_by_stratum.png" % (name, source)),
                               "%s, thresholds from the %s: false matches at FAR %s" % (name, source, far))
    measures = report["edc"]["measures"]
    plots.curves_xy({measure: (part["curve"]["discard"], part["curve"]["fnmr"]) for measure, part in measures.items()},
                    os.path.join(report_dir, "%s_edc.png" % name), "%s: error versus discard (FNMR at FMR 1e-3)" % name,
                    "fraction of genuine pairs discarded (lowest pair quality first)", "FNMR")


def summary(name, report):
    """The report as text: per source and score at the first FAR, the targets and the headline rates."""
    lines = ["%s: %d pairs (%d genuine), %d cross-quality, folds %s" % (
        name, report["pairs"], report["genuine"], report["cross_quality_pairs"],
        ",".join(str(k + 1) for k in report["folds"]))]
    for source, part in report["decisions"].items():
        lines.append("  thresholds from the %s:" % source)
        for score, fars in part["scores"].items():
            for far, decided in sorted(fars.items()):
                goal, pooled = decided["targets"], decided["rates"]["pooled_cross_quality"]
                gain = part["fnmr_at_fmr_0.001"].get(score, {})
                lines.append("    %-18s FAR %-6s FMR %s FNMR %s | worst %sx (%s) %s | strictest %sx %s | harm %s | "
                             "closes %s" % (
                                 score, far, _shown(pooled["fmr"], "%.2e"), _shown(pooled["fnmr"]),
                                 _shown(goal["safe"]["largest_over_nominal"], "%.2f"), goal["safe"]["where"],
                                 _met(goal["safe"]["met"]), _shown(goal["not_wasteful"]["smallest_over_nominal"],
                                                                  "%.2f"), _met(goal["not_wasteful"]["met"]),
                                 ",".join(goal["no_harm"]["significantly_below_cosine_in"]) or "none",
                                 _shown(gain.get("closed_of_cosine"), "%.2f") if far == str(RANKING_FMR) else "-"))
    lines.append("  LFW accuracy: " + ", ".join("%s %.2f %%" % (score, 100 * value)
                                                for score, value in sorted(report["lfw_accuracy"].items())))
    lines.append("  EDC pAUC at 20 % / 30 % (normalised): " + ", ".join(
        "%s %s/%s" % (measure, _shown(part["pauc_normalised"]["0.2"], "%.3f"),
                      _shown(part["pauc_normalised"]["0.3"], "%.3f"))
        for measure, part in report["edc"]["measures"].items()))
    return "\n".join(lines)


def _met(value):
    return "met" if value else "MISSED"


def _shown(value, form="%.4f"):
    return "-" if value is None else form % value

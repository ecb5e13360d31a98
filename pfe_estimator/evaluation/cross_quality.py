"""Cross-quality LFW, scored: one side of every pairs.txt pair degraded by one kind of the generator
(faces/degradations.py) at one severity, each fold judged by the head that never saw its people.

Accuracy of each pair at its fold's threshold (the 10-fold protocol), overall, per kind, per severity and
per (kind, severity); rejecting the most uncertain pairs against rejecting as many at random; Spearman
between each face's mean sigma^2 and its severity; calibrated P(same) of cosine, MLS and MLS with the pair's
uncertainty. From numbers in, a report section and PNGs out.
"""
import os

import numpy as np

from pfe_estimator.evaluation import reliability
from pfe_estimator.evaluation import metrics
from pfe_estimator.evaluation import plots
from pfe_estimator.evaluation import report

RISK_REJECTED = 0.2
RANDOM_REJECTIONS = 200


def subset_report(cosine, mls, same, thresholds, subset):
    """Accuracy (each pair at its fold's threshold), AUC and TAR@FAR=1e-2 of cosine and MLS on a subset;
    AUC and TAR are None where the subset lacks genuine or impostor pairs (tiny runs)."""
    result = {"pairs": int(subset.sum())}
    part_same = same[subset]
    both_kinds = part_same.any() and not part_same.all()
    for name, scores in (("cosine", cosine), ("mls", mls)):
        part = scores[subset]
        accuracy = float(np.mean((part >= thresholds[name][subset]) == part_same)) if len(part) else None
        result[name] = {"accuracy": accuracy,
                        "auc": metrics.roc_auc(part, part_same) if both_kinds else None,
                        "tar_at_far_0.01": float(metrics.tar_at_far(part[part_same], part[~part_same], [1e-2])[0][0])
                        if both_kinds else None}
    return result


def section(scored, same, fold, kinds, severity, levels, seed, report_dir, suffix=""):
    """The cross-quality section of a report, and its PNGs in report_dir.

    Args:
      scored: {'mu_clean', 'sigma_clean', 'mu_degraded', 'sigma_degraded'}: float [P, D] of every pair's
        clean and degraded side.
      same: bool [P]; fold: int [P]; kinds: str [P]; severity: int [P] of the degraded side.
      levels: {kind: its four levels} (the generator's, recorded in the report).
      seed: of the degradation draws, and of the random rejections.
      suffix: of the PNG names (e.g. '_quality_aware').
    """
    mu_c, sigma_c, mu_d, sigma_d = (scored[key] for key in ("mu_clean", "sigma_clean", "mu_degraded",
                                                            "sigma_degraded"))
    count = len(same)
    cosine = metrics.cosine_pair_scores(mu_c, mu_d)
    mls = metrics.mls_pair_scores(mu_c, sigma_c, mu_d, sigma_d)
    uncertainty = metrics.pair_uncertainty(sigma_c, sigma_d)
    protocol = {"cosine": metrics.kfold_accuracy(cosine, same, fold), "mls": metrics.kfold_accuracy(mls, same, fold)}
    thresholds = {name: fitted["pair_threshold"] for name, fitted in protocol.items()}
    kind_names = list(levels)
    result = {"pairs": count, "seed": seed, "levels": {k: list(v) for k, v in levels.items()}}
    for name, scores in (("cosine", cosine), ("mls", mls)):
        result[name] = metrics.verification_report(scores, same, protocol[name], report.LFW_FARS)
    result["by_kind"] = {kind: subset_report(cosine, mls, same, thresholds, kinds == kind) for kind in kind_names}
    result["by_severity"] = {str(level): subset_report(cosine, mls, same, thresholds, severity == level)
                             for level in range(1, 5)}
    result["by_kind_and_severity"] = {
        "%s_%d" % (kind, level): subset_report(cosine, mls, same, thresholds, (kinds == kind) & (severity == level))
        for kind in kind_names for level in range(1, 5)}
    # rejecting the most uncertain pairs against rejecting as many at random
    kept = np.argsort(uncertainty, kind="mergesort")[:int(round(count * (1 - RISK_REJECTED)))]
    rng = np.random.RandomState(seed)
    random_kept = [rng.permutation(count)[:len(kept)] for _ in range(RANDOM_REJECTIONS)]
    result["risk_controlled_accuracy"] = {"reject_fractions": report.REJECT_FRACTIONS}
    for name, scores in (("cosine", cosine), ("mls", mls)):
        result["risk_controlled_accuracy"][name] = metrics.risk_controlled_accuracy(
            scores, same, thresholds[name], uncertainty, report.REJECT_FRACTIONS).tolist()
    result["reject_20_percent"] = {}
    for name, scores in (("cosine", cosine), ("mls", mls)):
        correct = (scores >= thresholds[name]) == same
        result["reject_20_percent"][name] = {
            "none": float(correct.mean()), "most_uncertain": float(correct[kept].mean()),
            "random": float(np.mean([correct[r].mean() for r in random_kept]))}
    # each face's mean sigma^2 against its severity (clean sides: 0)
    face_sigma = np.concatenate([sigma_c.mean(axis=1), sigma_d.mean(axis=1)])
    face_severity = np.concatenate([np.zeros(count), severity])
    face_kind = np.concatenate([kinds, kinds])
    result["spearman_sigma_sq_severity"] = {"all": metrics.spearman_correlation(face_sigma, face_severity)}
    result["mean_sigma_sq"] = {"clean": float(sigma_c.mean())}
    for kind in kind_names:
        chosen = face_kind == kind
        result["spearman_sigma_sq_severity"][kind] = metrics.spearman_correlation(face_sigma[chosen],
                                                                                  face_severity[chosen])
        result["mean_sigma_sq"][kind] = [float(sigma_d[(kinds == kind) & (severity == level)].mean())
                                         for level in range(1, 5)]
    calibrations = {}
    for name, inputs in (("mls", (mls, None)), ("mls_and_uncertainty", (mls, uncertainty)), ("cosine", (cosine, None))):
        calibrations[name] = reliability.calibration_report(inputs[0], same, fold, inputs[1], report.LFW_FARS)
        del calibrations[name]["probabilities"]
    result["calibration"] = calibrations
    _plots(result, kind_names, report_dir, suffix)
    return result


def _plots(result, kind_names, report_dir, suffix):
    by_severity = result["by_kind_and_severity"]
    plots.curves([1, 2, 3, 4],
                 dict(("%s %s" % (score, kind),
                       [100 * np.float64(by_severity["%s_%d" % (kind, level)][score]["accuracy"])
                        for level in range(1, 5)])
                      for kind in kind_names for score in ("cosine", "mls")),
                 os.path.join(report_dir, "cross_quality_accuracy%s.png" % suffix),
                 "Cross-quality LFW: accuracy by severity", "severity of the degraded side", "accuracy (%)")
    risk = result["risk_controlled_accuracy"]
    plots.curves(100 * np.array(risk["reject_fractions"]), {n: 100 * np.array(risk[n]) for n in ("cosine", "mls")},
                 os.path.join(report_dir, "cross_quality_risk_controlled%s.png" % suffix),
                 "Cross-quality LFW: rejecting uncertain pairs", "most uncertain pairs rejected (%)",
                 "accuracy on kept pairs (%)")
    calibrations = result["calibration"]
    plots.reliability({name: tuple(calibrations[name]["reliability"][key] for key in ("predicted", "observed", "count"))
                       for name in calibrations}, os.path.join(report_dir, "cross_quality_reliability%s.png" % suffix),
                      "Cross-quality LFW: reliability of P(same)")


def summary(section):
    """The cross-quality tables as text."""
    lines = ["Cross-quality LFW (%d pairs, one side degraded): cosine %.2f %%, MLS %.2f %% (10-fold)" % (
        section["pairs"], 100 * section["cosine"]["accuracy_mean"], 100 * section["mls"]["accuracy_mean"])]
    for group in ("by_kind", "by_severity"):
        for key, part in sorted(section[group].items()):
            if part["pairs"]:
                lines.append("  %-10s cosine %.2f  MLS %.2f  (AUC %s / %s)" % (
                    key, 100 * part["cosine"]["accuracy"], 100 * part["mls"]["accuracy"],
                    *("%.4f" % part[n]["auc"] if part[n]["auc"] is not None else "-" for n in ("cosine", "mls"))))
    lines.append("  risk-controlled (reject 0/10/20/30/40/50%%): cosine %s | MLS %s" % tuple(
        " ".join("%.2f" % (100 * v) for v in section["risk_controlled_accuracy"][n][::2]) for n in ("cosine", "mls")))
    for name, part in section["reject_20_percent"].items():
        lines.append("  reject 20 %% (%s): none %.2f, most uncertain %.2f, random %.2f" % (
            name, 100 * part["none"], 100 * part["most_uncertain"], 100 * part["random"]))
    lines.append("  Spearman(mean sigma^2, severity): " + ", ".join(
        "%s %.3f" % kv for kv in sorted(section["spearman_sigma_sq_severity"].items())))
    for name, part in section["calibration"].items():
        lines.append("  calibration %-20s ECE %.4f  Brier %.4f  held-out FAR %s" % (
            name, part["ece"], part["brier"], " ".join("%.4f@%s" % (part["far_achieved"][f], f)
                                                       for f in sorted(part["far_achieved"]))))
    return "\n".join(lines)

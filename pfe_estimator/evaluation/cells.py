"""Where a score ranks better, not only where it thresholds better.

Pairs are grouped into cells (for instance one kind and severity of degradation on one side). In each cell
and pooled over all of them: the AUC and the TAR at FAR 1e-2 of every score, each computed inside the cell
(no threshold carried over from other cells), and every score's difference from the baseline (cosine)
with a subject-bootstrap 95 % interval: subjects are drawn with replacement and each drawn subject brings
all its pairs, so the interval reflects that pairs of one person are not independent.

`normalised_cosine` is the baseline that uses sigma^2 only to put cosine on one scale across qualities:
P(same) from a logistic fit on (cosine, log pair uncertainty, their product), fitted on the other folds.
What MLS gains beyond it is what it adds beyond normalisation.
"""
import numpy as np

from pfe_estimator.evaluation import reliability
from pfe_estimator.evaluation import metrics

CELL_FAR = 1e-2
BOOTSTRAP_REPLICATES = 1000
INTERVAL = (2.5, 97.5)


def normalised_cosine(cosine, uncertainty, same, fold):
    """P(same | cosine, pair uncertainty) of every pair, fitted on the other folds only. float64 [P].

    Args:
      cosine: float [P]; uncertainty: float [P] > 0 (metrics.pair_uncertainty); same: bool [P]; fold: int [P].
    """
    log_uncertainty = np.log(np.asarray(uncertainty, np.float64))
    inputs = np.stack([cosine, log_uncertainty, cosine * log_uncertainty], axis=1)
    return reliability.cross_fitted_probabilities(inputs, same, fold)


def ranking(scores, same):
    """{'auc', 'tar_at_far_0.01'} of scores inside one group of pairs, or None without both kinds of pair."""
    if same.all() or not same.any():
        return None
    tar = metrics.tar_at_far(scores[same], scores[~same], [CELL_FAR])[0][0]
    return {"auc": metrics.roc_auc(scores, same), "tar_at_far_0.01": float(tar)}


def subject_bootstrap(subjects, replicates, seed):
    """Pair multiplicities of `replicates` subject-bootstrap draws: int [replicates, P]; a pair counts as
    often as its subject was drawn."""
    _, subject_index = np.unique(subjects, return_inverse=True)
    count = subject_index.max() + 1
    rng = np.random.RandomState(seed)
    draws = np.stack([np.bincount(rng.randint(count, size=count), minlength=count) for _ in range(replicates)])
    return draws[:, subject_index]


def _weighted(scores, same, weights):
    chosen = np.repeat(np.arange(len(scores)), weights)
    return ranking(scores[chosen], same[chosen])


def group_report(scores, same, weights, baseline):
    """Ranking figures of every score on one group of pairs, and each score's difference from the baseline
    with its bootstrap interval.

    Args:
      scores: {name: float [P]}; same: bool [P]; weights: int [R, P] bootstrap multiplicities.
      baseline: the name differences are taken from.
    """
    report = {"pairs": int(len(same)), "genuine": int(same.sum())}
    for name, values in scores.items():
        report[name] = ranking(values, same)
    if report[baseline] is None:
        return report
    replicates = []
    for row in weights:
        if row.sum() == 0:
            continue
        figures = {name: _weighted(values, same, row) for name, values in scores.items()}
        if all(figure is not None for figure in figures.values()):
            replicates.append(figures)
    report["difference"] = {}
    for name in scores:
        if name == baseline:
            continue
        part = {}
        for figure in ("auc", "tar_at_far_0.01"):
            draws = np.array([r[name][figure] - r[baseline][figure] for r in replicates])
            low, high = np.percentile(draws, INTERVAL) if len(draws) else (float("nan"), float("nan"))
            part[figure] = {"difference": report[name][figure] - report[baseline][figure],
                            "interval": [float(low), float(high)], "replicates": int(len(draws))}
        report["difference"][name] = part
    return report


def cell_report(scores, same, cells, subjects, baseline="cosine", replicates=BOOTSTRAP_REPLICATES, seed=0):
    """Per-cell and pooled ranking figures with subject-bootstrap intervals of the differences.

    Args:
      scores: {name: float [P]} (cosine, MLS, the normalised baseline...).
      same: bool [P]; cells: str [P], each pair's cell; subjects: [P], each pair's subject (e.g. the identity
        of its first image).
      baseline: the score differences are taken from.

    Returns:
      {'pooled': group report, 'cells': {cell: group report}, 'replicates', 'far'}; a cell's report lacks
      'difference' when it holds only one kind of pair.
    """
    same, cells = np.asarray(same, bool), np.asarray(cells)
    weights = subject_bootstrap(np.asarray(subjects), replicates, seed)
    result = {"pooled": group_report(scores, same, weights, baseline), "cells": {}, "replicates": replicates,
              "far": CELL_FAR, "baseline": baseline}
    for cell in sorted(set(cells.tolist())):
        chosen = cells == cell
        result["cells"][cell] = group_report({name: values[chosen] for name, values in scores.items()}, same[chosen],
                                             weights[:, chosen], baseline)
    return result


def significantly_below(report, name, figure="auc"):
    """The cells where `name`'s difference from the baseline has its whole interval below 0."""
    return sorted(cell for cell, part in report["cells"].items()
                  if "difference" in part and part["difference"][name][figure]["interval"][1] < 0)

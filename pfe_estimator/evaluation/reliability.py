"""How reliable a probability of the same person is, measured on folds: P(same | score[, uncertainty]) by
logistic regression cross-fitted over the folds (every pair's probability from a fit on the other folds), its
reliability (ECE, Brier, reliability bins) and thresholds at a FAR that hold on held-out folds. (A model's own
calibration, which decides, is model/calibration.py's.)"""
import numpy as np

from pfe_estimator.evaluation import metrics
from pfe_estimator.model import calibration
from pfe_estimator.model import verification


CALIBRATION_BINS = 10


def logistic_probability(model, inputs):
    """P(same) of float [M, F] inputs under a model.calibration.fit_logistic model. float64 [M]."""
    return verification.sigmoid(calibration.logistic_logit(model, inputs))


def cross_fitted_logits(inputs, same, fold):
    """The logit of P(same) of every pair from a logistic fit on the OTHER folds only (what ranks pairs:
    the probabilities of nearly separable folds saturate and tie). float64 [N]."""
    inputs = np.asarray(inputs, np.float64).reshape(len(same), -1)
    logits = np.empty(len(same))
    for k in np.unique(fold):
        test = fold == k
        logits[test] = calibration.logistic_logit(calibration.fit_logistic(inputs[~test], same[~test]), inputs[test])
    return logits


def cross_fitted_probabilities(inputs, same, fold):
    """P(same) of every pair from a logistic fit on the OTHER folds only. float64 [N]."""
    return verification.sigmoid(cross_fitted_logits(inputs, same, fold))


def reliability_bins(probabilities, same, bins=CALIBRATION_BINS):
    """Equal-width bins of predicted P(same): (mean prediction [B], observed frequency [B], count [B]);
    empty bins hold NaN and count 0."""
    index = np.minimum((probabilities * bins).astype(int), bins - 1)
    counts = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore"):
        predicted = np.bincount(index, probabilities, minlength=bins) / counts
        observed = np.bincount(index, same.astype(np.float64), minlength=bins) / counts
    return predicted, observed, counts


def expected_calibration_error(probabilities, same, bins=CALIBRATION_BINS):
    """sum over bins of |bin| / N * |mean predicted - observed frequency|."""
    predicted, observed, counts = reliability_bins(probabilities, same, bins)
    filled = counts > 0
    return float(np.sum(counts[filled] / float(len(same)) * np.abs(predicted[filled] - observed[filled])))


def brier_score(probabilities, same):
    return float(np.mean((probabilities - same.astype(np.float64)) ** 2))


def held_out_far(values, same, fold, fars):
    """For each FAR: thresholds fitted on the impostors of 9 folds (the k-th highest value, as
    tar_at_far), and the false accept rate each gives on the held-out fold's impostors, averaged over the
    folds that hold impostors.

    Returns:
      (mean threshold [len(fars)], mean achieved FAR [len(fars)]).
    """
    thresholds, achieved = [], []
    for k in np.unique(fold):
        test = fold == k
        _, fold_thresholds = metrics.tar_at_far(values[~test & same], values[~test & ~same], fars)
        thresholds.append(fold_thresholds)
        held_out_impostors = values[test & ~same]
        if len(held_out_impostors):
            achieved.append([np.mean(held_out_impostors >= t) for t in fold_thresholds])
    return np.mean(thresholds, axis=0), np.mean(achieved, axis=0)


def calibration_report(scores, same, fold, uncertainty=None, fars=(1e-3, 1e-2)):
    """P(same identity | score) by logistic regression, cross-fitted over the folds: every pair's
    probability and every threshold come from folds it is not in.

    Args:
      scores: float [N] (MLS); uncertainty: optional float [N], a second input (the pair's sigma^2).
      same: bool [N]; fold: int [N].

    Returns:
      dict: method, ece, brier, threshold_at_far {str(far)} (on P(same)), far_achieved {str(far)} (held-out),
      reliability {predicted, observed, count} and, for the caller, probabilities [N] (not JSON); None when
      some fold's complement lacks genuine or impostor pairs (e.g. a single fold).
    """
    for k in np.unique(fold):
        if same[fold != k].all() or not same[fold != k].any():
            return None
    inputs = scores[:, None] if uncertainty is None else np.stack([scores, np.log(uncertainty)], axis=1)
    probabilities = cross_fitted_probabilities(inputs, same, fold)
    thresholds, achieved = held_out_far(probabilities, same, fold, fars)
    predicted, observed, counts = reliability_bins(probabilities, same)
    return {"method": "logistic regression on the score%s, cross-fitted over %d folds" % (
                "" if uncertainty is None else " and log pair uncertainty", len(np.unique(fold))),
            "ece": expected_calibration_error(probabilities, same), "brier": brier_score(probabilities, same),
            "threshold_at_far": {str(far): float(t) for far, t in zip(fars, thresholds)},
            "far_achieved": {str(far): float(a) for far, a in zip(fars, achieved)},
            "reliability": {"predicted": predicted.tolist(), "observed": observed.tolist(), "count": counts.tolist()},
            "probabilities": probabilities}

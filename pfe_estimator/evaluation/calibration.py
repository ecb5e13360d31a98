"""Calibrated verification: P(same | score[, uncertainty]) by cross-fitted logistic regression, its
reliability (ECE, Brier) and thresholds at a FAR that hold on held-out folds."""
import json
import os

import numpy as np

from pfe_estimator import errors
from pfe_estimator.evaluation import metrics
from pfe_estimator.storage import atomic_files


CALIBRATION_BINS = 10
# A model folder's calibration (--mode=train --calibration_pairs), read by --mode=verify.
MODEL_CALIBRATION_NAME = "calibration.json"
MODEL_CALIBRATION_FARS = (1e-3, 1e-2)


def fit_logistic(inputs, same, l2=1e-4, iterations=100):
    """Logistic regression P(same) = sigmoid([standardised inputs, 1] @ weights) by Newton's method.

    Args:
      inputs: float [N, F] (e.g. the MLS score, and optionally the pair's log uncertainty).
      same: bool [N].
      l2: ridge on the standardised weights (not the bias), for separable folds.

    Returns:
      the model as a JSON-able dict {'mean' [F], 'scale' [F], 'weights' [F + 1]} (see logistic_probability).
    """
    inputs = np.asarray(inputs, np.float64).reshape(len(same), -1)
    mean, scale = inputs.mean(axis=0), inputs.std(axis=0) + 1e-12
    design = np.hstack([(inputs - mean) / scale, np.ones((len(inputs), 1))])
    targets = np.asarray(same, np.float64)
    weights = np.zeros(design.shape[1])
    ridge = np.diag([l2] * (design.shape[1] - 1) + [0.0])
    for _ in range(iterations):
        probabilities = 1.0 / (1.0 + np.exp(-design @ weights))
        gradient = design.T @ (probabilities - targets) + ridge @ weights
        curvature = probabilities * (1 - probabilities)
        hessian = design.T @ (design * curvature[:, None]) + ridge + 1e-9 * np.eye(len(weights))
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-10:
            break
    return {"mean": mean.tolist(), "scale": scale.tolist(), "weights": weights.tolist()}


def logistic_probability(model, inputs):
    """P(same) of float [M, F] inputs under a fit_logistic model. float64 [M]."""
    mean = np.asarray(model["mean"])
    design = np.hstack([(np.asarray(inputs, np.float64).reshape(-1, len(mean)) - mean) / np.asarray(model["scale"]),
                        np.ones((len(inputs), 1))])
    return 1.0 / (1.0 + np.exp(-design @ np.asarray(model["weights"])))


def cross_fitted_probabilities(inputs, same, fold):
    """P(same) of every pair from a logistic fit on the OTHER folds only. float64 [N]."""
    inputs = np.asarray(inputs, np.float64).reshape(len(same), -1)
    probabilities = np.empty(len(same))
    for k in np.unique(fold):
        test = fold == k
        probabilities[test] = logistic_probability(fit_logistic(inputs[~test], same[~test]), inputs[test])
    return probabilities


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


def fit_verification_calibration(scores, same, fars):
    """The calibration a model folder keeps (calibration.json): P(same | MLS) fitted on all the given
    pairs, and the MLS thresholds that accept the fraction `far` of their impostors.

    Returns:
      JSON-able dict: method, pairs, model (fit_logistic), mls_threshold_at_far {str(far): threshold}.
    """
    _, thresholds = metrics.tar_at_far(scores[same], scores[~same], fars)
    return {"method": "logistic regression on the MLS score", "pairs": int(len(scores)),
            "model": fit_logistic(scores[:, None], same),
            "mls_threshold_at_far": {str(far): float(t) for far, t in zip(fars, thresholds)}}


def save_model_calibration(model_dir, fitted):
    """Keeps fit_verification_calibration's result with the model; returns the file's path."""
    path = os.path.join(model_dir, MODEL_CALIBRATION_NAME)
    atomic_files.write_json(path, fitted)
    return path


def read_model_calibration(model_dir):
    """The model folder's calibration, or None when it has none."""
    path = os.path.join(model_dir, MODEL_CALIBRATION_NAME)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except ValueError as error:
        raise errors.UserError("%s: not valid JSON (%s); train again with --calibration_pairs" % (path, error))


def verification_decision(fitted, score, far):
    """(P(same), MLS threshold at `far`) of an MLS score under a model's calibration.

    Raises:
      UserError: the calibration holds no threshold at `far`.
    """
    probability = float(logistic_probability(fitted["model"], [[score]])[0])
    threshold = fitted["mls_threshold_at_far"].get(str(far))
    if threshold is None:
        raise errors.UserError("--far=%s: the calibration has thresholds at FAR %s only" % (
            far, ", ".join(sorted(fitted["mls_threshold_at_far"]))))
    return probability, threshold

"""Calibrated verification: P(same | score[, uncertainty]) by cross-fitted logistic regression, its
reliability (ECE, Brier) and thresholds at a FAR that hold on held-out folds; and the calibration a model
keeps: P(same) of each score of model/verification.py (the quality-aware score the default decision) with
thresholds at FARs that rest on enough impostor pairs."""
import json
import os

import numpy as np

from pfe_estimator import errors
from pfe_estimator.evaluation import metrics
from pfe_estimator.model import verification
from pfe_estimator.storage import atomic_files


CALIBRATION_BINS = 10
# A model folder's calibration (--mode=train --calibration_pairs, --mode=calibrate), read by verify, eval and
# export; the FARs it always keeps a threshold at, and the false accepts a threshold must rest on (10 / FAR
# impostor pairs at least).
MODEL_CALIBRATION_NAME = "calibration.json"
MODEL_CALIBRATION_FARS = (1e-3, 1e-2)
MIN_FALSE_ACCEPTS = 10


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
        probabilities = verification.sigmoid(design @ weights)
        gradient = design.T @ (probabilities - targets) + ridge @ weights
        curvature = probabilities * (1 - probabilities)
        hessian = design.T @ (design * curvature[:, None]) + ridge + 1e-9 * np.eye(len(weights))
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-10:
            break
    return {"mean": mean.tolist(), "scale": scale.tolist(), "weights": weights.tolist()}


def logistic_logit(model, inputs):
    """The logit of P(same) of float [M, F] inputs under a fit_logistic model. float64 [M]."""
    mean = np.asarray(model["mean"])
    design = np.hstack([(np.asarray(inputs, np.float64).reshape(-1, len(mean)) - mean) / np.asarray(model["scale"]),
                        np.ones((len(inputs), 1))])
    return design @ np.asarray(model["weights"])


def logistic_probability(model, inputs):
    """P(same) of float [M, F] inputs under a fit_logistic model. float64 [M]."""
    return verification.sigmoid(logistic_logit(model, inputs))


def cross_fitted_logits(inputs, same, fold):
    """The logit of P(same) of every pair from a logistic fit on the OTHER folds only (what ranks pairs:
    the probabilities of nearly separable folds saturate and tie). float64 [N]."""
    inputs = np.asarray(inputs, np.float64).reshape(len(same), -1)
    logits = np.empty(len(same))
    for k in np.unique(fold):
        test = fold == k
        logits[test] = logistic_logit(fit_logistic(inputs[~test], same[~test]), inputs[test])
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


def fit_score(values, same, names, fars):
    """One score's calibration: P(same) = the logistic of the features `names` (model.verification) fitted on
    these pairs, and the P(same) threshold at each FAR (the k-th highest impostor probability, as
    metrics.tar_at_far), with the number of impostor pairs it rests on.

    Args:
      values: model.verification.pair_values' dict of float [P] arrays; same: bool [P].
    """
    model = fit_logistic(np.stack(verification.features(values, names), axis=1), same)
    probability = verification.probability(values, names, model)
    _, thresholds = metrics.tar_at_far(probability[same], probability[~same], fars)
    return {"features": list(names), "model": model, "impostors": int((~same).sum()),
            "genuine": int(same.sum()), "threshold_at_far": {str(far): float(t) for far, t in zip(fars, thresholds)}}


def fit_model_calibration(values, same, fars, source, qualities):
    """The calibration a model keeps (model folder's calibration.json, the export's pfe_export.json and its
    serving_verify signature): every score of model.verification.SCORES fitted on the same pairs, the
    quality-aware score the default decision.

    Args:
      values: pair_values of the calibration pairs; same: bool [P]; fars: the FARs thresholds are kept at.
      source: where the pairs came from; qualities: what qualities they span (e.g. their degraded copies).
    """
    fars = sorted(set(float(far) for far in fars))
    return {"version": verification.CALIBRATION_VERSION, "default_score": "quality", "fars": fars,
            "pairs": int(len(same)), "source": source, "qualities": qualities,
            "scores": {name: fit_score(values, same, verification.SCORE_FEATURES[name], fars)
                       for name in verification.SCORES}}


def impostors_needed(far):
    """The impostor pairs a threshold at `far` must rest on: MIN_FALSE_ACCEPTS / far."""
    return int(np.ceil(MIN_FALSE_ACCEPTS / far - 1e-9))


def accepts(calibrated, score, values, far):
    """(P(same) [N], the threshold, accept bool [N], the impostors it rests on) of pairs under a model's
    calibration, for `score` (model.verification.SCORES) at `far`, however few impostors it rests on.

    Raises:
      UserError: the calibration keeps no threshold at `far`.
    """
    fitted = calibrated["scores"][score]
    threshold = fitted["threshold_at_far"].get(str(far))
    if threshold is None:
        raise errors.UserError("--far=%s: the calibration keeps thresholds at FAR %s only; refit it with "
                               "--mode=calibrate --far=%s" % (far, ", ".join(map(str, calibrated["fars"])), far))
    probability = verification.probability(values, fitted["features"], fitted["model"])
    return probability, threshold, probability >= threshold, fitted["impostors"]


def decision(calibrated, score, values, far):
    """accepts(), refused when the threshold rests on fewer impostor pairs than a FAR of `far` needs.

    Raises:
      UserError: no threshold at `far`, or one resting on fewer than impostors_needed(far) impostors.
    """
    fitted = calibrated["scores"][score]
    if str(far) in fitted["threshold_at_far"] and fitted["impostors"] < impostors_needed(far):
        raise errors.UserError("--far=%s: the calibration's threshold rests on %d impostor pairs, a FAR of %s needs "
                               "at least %d; refit it on more pairs (--mode=calibrate)" % (
                                   far, fitted["impostors"], far, impostors_needed(far)))
    return accepts(calibrated, score, values, far)


def save_model_calibration(folder, fitted):
    """Keeps a model's calibration as folder/calibration.json; an earlier one is kept beside it as
    calibration.previous-N.json (N counting up), never lost. Returns (the file, the earlier one's new name or None)."""
    path = os.path.join(folder, MODEL_CALIBRATION_NAME)
    kept = atomic_files.keep_previous(path)
    atomic_files.write_json(path, fitted)
    return path, kept


def read_model_calibration(folder):
    """The model folder's calibration in this version's form, or None when it has none."""
    path = os.path.join(folder, MODEL_CALIBRATION_NAME)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return verification.as_current(json.load(f))
    except (ValueError, KeyError, TypeError) as error:
        raise errors.UserError("%s: not a calibration this version reads (%s); fit another with --mode=calibrate"
                               % (path, error))

"""A model's calibration: one value that is fitted on scored pairs, kept beside the model it was fitted for, and
decides for that model alone. Verify, eval, the pair-scores CSV, the export's pfe_export.json and the constants
of its serving_verify signature all read it through this module.

  calibrated = calibration.fit(values, same, fars, model, population)   # values: verification.pair_values
  calibrated.decide(values, far)       -> Decision(statistic, threshold, accept), each [N]
  calibrated.probability(values)       -> P(same) [N] at the calibration's prior (None without a logistic)
  calibration.save(folder, calibrated); calibration.read(folder)

Every score decides the same way: accept when its statistic reaches its threshold at the FAR, a monotone
piecewise-linear function of q, the worse face's log mean sigma^2, with KNOTS knots (constant for one global
threshold):
  quality_thresholds  cosine against a threshold that follows the impostors' cosines as quality falls (Fair Score
                      Normalization's thresholds per group, Terhoerst et al. 2020, the group a quantile bin of q):
                      per bin the threshold that accepts FAR of its impostors, made monotone in q; where that is
                      above cosine's own global threshold, cosine's is kept as long as it accepts at most
                      SAFE_FMR_RATIO x FAR of the bin's impostors (so it rejects no pair cosine accepts), and the
                      threshold that accepts just that many where cosine's would accept more
  monotone_logistic   the logit of P(same) = sigmoid(w . standardised features + b), verification's quality
                      features, fitted with cosine's weight kept positive at every pair uncertainty the
                      calibration covers (and the uncertainty clamped to that range): monotone in cosine
  logistic_or_cosine  accept when the monotone logistic accepts or cosine does, each at its own threshold for the
                      FAR: one statistic, max(logit, g(cosine)) against the logistic's threshold, with g the
                      monotone map of cosine's impostor quantiles onto the logit's (cosine's threshold at a FAR
                      maps to the logistic's); it rejects no pair cosine accepts and ranks as the logistic where
                      cosine rejects
  logistic            the same logistic fitted freely (the score shipped before; not monotone for bad photos)
  mls, cosine         the score itself against one threshold
A threshold rests on distinct impostor pairs, at least MIN_FALSE_ACCEPTS / FAR of them (each bin of q its own);
a FAR without them decides nothing. P(same) is the monotone logistic's, at the prior of the calibration pairs (their
share of same-person pairs); the likelihood ratio does not depend on it.

The value records the exact model it was fitted for (storage/model_config.py model_identity) and the pairs it was
fitted on (its population, and the calibrate command that refits it); asked to decide for another model it refuses,
giving that command.
"""
import collections
import json
import math
import os

import numpy as np

from pfe_estimator import errors
from pfe_estimator.model import verification
from pfe_estimator.storage import atomic_files

VERSION = 3
NAME = "calibration.json"
FARS = (1e-3, 1e-2)  # always calibrated (and --far when calibrating)
MIN_FALSE_ACCEPTS = 10  # a threshold at FAR rests on at least MIN_FALSE_ACCEPTS / FAR distinct impostor pairs
KNOTS = 16  # of every threshold function (the export's graph holds [FARs, KNOTS] constants)
MONOTONE_SLOPE_SHARE = 0.05  # the smallest cosine slope the monotone logistic keeps: this share of cosine's alone
SAFE_FMR_RATIO = 1.5  # quality_thresholds keeps cosine's threshold in a bin of q where its FMR is at most this x FAR


class Spec(collections.namedtuple("Spec", ["statistic", "logistic", "by_quality"])):
    """How a score decides: its statistic ('cosine', 'mls' or 'logit'), its logistic ('free', 'monotone' or None)
    and whether its threshold follows the quality q."""
    __slots__ = ()


SCORES = collections.OrderedDict([
    ("logistic_or_cosine", Spec("union", "monotone", False)),
    ("quality_thresholds", Spec("cosine", None, True)),
    ("monotone_logistic", Spec("logit", "monotone", False)),
    ("logistic", Spec("logit", "free", False)),
    ("mls", Spec("mls", None, False)),
    ("cosine", Spec("cosine", None, False))])
DEFAULT_SCORE = "quality_thresholds"  # chosen by measurement: the only score safe in every cell of both all-pairs
# schemes (docs/results.md, all pairs); logistic_or_cosine let 21x nominal through at severities it was not fitted on
PROBABILITY_SCORE = "monotone_logistic"  # whose logistic gives P(same)


class Decision(collections.namedtuple("Decision", ["statistic", "threshold", "accept"])):
    """A score's decision on N pairs: its statistic [N], the threshold each pair faced [N], accept bool [N]."""
    __slots__ = ()

    def margin(self):
        """statistic - threshold [N]: what ranks pairs as the decision does (>= 0 accepts)."""
        return self.statistic - self.threshold


def needed(far):
    """The distinct impostor pairs a threshold at `far` must rest on."""
    return int(math.ceil(MIN_FALSE_ACCEPTS / far - 1e-9))


def impostor_thresholds(impostors, fars):
    """The thresholds that accept a share `far` of these impostor scores, for each of `fars`: the k-th highest,
    k = round(far n) (just above the highest when k = 0). [len(fars)]"""
    descending = np.sort(np.asarray(impostors))[::-1]
    thresholds = []
    for far in fars:
        accepted = int(round(far * len(descending)))
        thresholds.append(float(descending[0] + 1e-8 if accepted == 0 else descending[accepted - 1]))
    return thresholds


def impostor_threshold(impostors, far):
    """impostor_thresholds at one FAR."""
    return impostor_thresholds(impostors, [far])[0]


def quality(values, math_module=np):
    """q [N]: the worse face's log mean sigma^2 (what quality thresholds follow)."""
    return verification.features(values, ("log_worse_uncertainty",), math_module)[0]


def interpolate(q, knots, levels, math_module=np):
    """The piecewise-linear function through (knots [K], levels [K]) at q [N], constant beyond the end knots.
    Knots strictly increase. One formula for numpy and the graph: levels[0] + sum of each segment's rise times
    how far q has crossed it."""
    value = levels[0] + 0.0 * q
    for index in range(len(knots) - 1):
        crossed = math_module.minimum(math_module.maximum((q - knots[index]) / (knots[index + 1] - knots[index]),
                                                          0.0), 1.0)
        value = value + (levels[index + 1] - levels[index]) * crossed
    return value


# ---- fitting ----

def fit_logistic(inputs, same, offset=None, l2=1e-4, iterations=100):
    """Logistic regression P(same) = sigmoid(offset + [standardised inputs, 1] @ weights) by Newton's method.

    Args:
      inputs: float [N, F]; same: bool [N]; offset: float [N] added to the logit, or None.
      l2: ridge on the standardised weights (not the bias), for separable pairs.

    Returns:
      {'mean' [F], 'scale' [F], 'weights' [F + 1]}: JSON-able (logistic_logit reads it).
    """
    inputs = np.asarray(inputs, np.float64).reshape(len(same), -1)
    mean, scale = inputs.mean(axis=0), inputs.std(axis=0) + 1e-12
    design = np.hstack([(inputs - mean) / scale, np.ones((len(inputs), 1))])
    targets = np.asarray(same, np.float64)
    offset = np.zeros(len(inputs)) if offset is None else np.asarray(offset, np.float64)
    weights = np.zeros(design.shape[1])
    ridge = np.diag([l2] * (design.shape[1] - 1) + [0.0])
    for _ in range(iterations):
        probabilities = verification.sigmoid(offset + design @ weights)
        gradient = design.T @ (probabilities - targets) + ridge @ weights
        curvature = probabilities * (1 - probabilities)
        hessian = design.T @ (design * curvature[:, None]) + ridge + 1e-9 * np.eye(len(weights))
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-10:
            break
    return {"mean": mean.tolist(), "scale": scale.tolist(), "weights": weights.tolist()}


def logistic_logit(model, inputs):
    """The logit of a fit_logistic model at float [M, F] inputs (without an offset). float64 [M]."""
    mean = np.asarray(model["mean"])
    design = np.hstack([(np.asarray(inputs, np.float64).reshape(-1, len(mean)) - mean) / np.asarray(model["scale"]),
                        np.ones((len(inputs), 1))])
    return design @ np.asarray(model["weights"])


def _raw(model):
    """(coefficients [F] on the raw inputs, bias) of a fit_logistic model."""
    weights, mean, scale = (np.asarray(model[key], np.float64) for key in ("weights", "mean", "scale"))
    raw = weights[:-1] / scale
    return raw, weights[-1] - float(raw @ mean)


def _standardised(raw, bias, mean, scale):
    """A fit_logistic model over inputs of this mean and scale with raw coefficients and bias."""
    weights = np.asarray(raw) * scale
    return {"mean": list(map(float, mean)), "scale": list(map(float, scale)),
            "weights": list(map(float, weights)) + [float(bias + np.asarray(raw) @ mean)]}


def cosine_slopes(model, uncertainty):
    """d logit / d cosine of a logistic over verification.QUALITY_FEATURES at pair uncertainties u [M]."""
    raw, _ = _raw(model)
    return raw[0] + raw[2] * np.asarray(uncertainty, np.float64)


def _monotone(values, same, free, uncertainty_range, smallest_slope):
    """The logistic over QUALITY_FEATURES with its cosine slope at least `smallest_slope` over uncertainty_range:
    `free` when it already is; else refitted with the slope fixed at the violating end of the range
    (logit = smallest_slope * cosine + b cosine (u - end) + c u + d v + bias, an offset and three inputs)."""
    slopes = cosine_slopes(free, uncertainty_range)
    if slopes.min() >= smallest_slope:
        return free
    cosine, pair, _, worse = verification.features(values, verification.QUALITY_FEATURES)
    end = uncertainty_range[int(np.argmin(slopes))]
    constrained = fit_logistic(np.stack([cosine * (pair - end), pair, worse], axis=1), same,
                               offset=smallest_slope * cosine)
    raw, bias = _raw(constrained)  # on cosine (u - end), u, v
    coefficients = [smallest_slope - raw[0] * end, raw[1], raw[0], raw[2]]  # on cosine, u, cosine u, v
    return _standardised(coefficients, bias, np.asarray(free["mean"]), np.asarray(free["scale"]))


def _isotonic(levels, weights, increasing):
    """The weighted least-squares monotone fit of levels [B] (pool adjacent violators)."""
    if not increasing:
        return -_isotonic(-levels, weights, True)
    blocks = []  # [level, weight, count]
    for level, weight in zip(levels, weights):
        blocks.append([float(level), float(weight), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            later, earlier = blocks.pop(), blocks.pop()
            total = earlier[1] + later[1]
            blocks.append([(earlier[0] * earlier[1] + later[0] * later[1]) / total, total, earlier[2] + later[2]])
    return np.concatenate([[level] * count for level, _, count in blocks])


def _monotone_levels(levels, weights):
    """(the better weighted monotone fit of levels [B], whether it increases): the data choose the direction."""
    fits = [_isotonic(levels, weights, increasing) for increasing in (True, False)]
    misfit = [float(np.sum(weights * (fit - levels) ** 2)) for fit in fits]
    best = int(np.argmin(misfit))
    return fits[best], best == 0


def _padded(knots, levels):
    """KNOTS knots: extra ones beyond the last, at the last level (the same function)."""
    knots, levels = list(map(float, knots)), list(map(float, levels))
    while len(knots) < KNOTS:
        knots.append(knots[-1] + 1.0)
        levels.append(levels[-1])
    return knots, levels


def _global(threshold, impostors, far):
    knots, levels = _padded([0.0], [threshold])
    return {"knots": knots, "levels": levels, "impostors": int(impostors), "needs": needed(far)}


def _by_quality(statistic, q, far, ceiling):
    """A threshold function of q at `far` from impostor statistics [I] and their q [I]: quantile bins of q, each
    resting on needed(far) impostors or more; per bin the threshold at `far` and at SAFE_FMR_RATIO x far, each made
    monotone in q (in the direction the first fits best); then min(at far, max(ceiling, at the safe ratio)): the
    bin's own threshold where it is below `ceiling` (cosine's global threshold), else `ceiling` where that accepts
    at most SAFE_FMR_RATIO x far of the bin's impostors, else the threshold that accepts just that many."""
    bins = min(KNOTS, len(statistic) // needed(far))
    if bins < 2 or np.ptp(q) <= 0:
        return _global(min(impostor_threshold(statistic, far), ceiling), len(statistic), far)
    parts = np.array_split(np.argsort(q, kind="mergesort"), bins)
    centres = np.array([np.median(q[part]) for part in parts])
    levels = np.array([impostor_thresholds(statistic[part], [far, SAFE_FMR_RATIO * far]) for part in parts])
    counts = np.array([len(part) for part in parts], np.float64)
    keep = np.concatenate([[True], np.diff(centres) > 0])  # bins of equal q (ties) become one knot
    if keep.sum() < 2:
        return _global(min(impostor_threshold(statistic, far), ceiling), len(statistic), far)
    nominal, increasing = _monotone_levels(levels[:, 0], counts)
    bound = _isotonic(levels[:, 1], counts, increasing)
    fitted = np.minimum(nominal, np.maximum(ceiling, bound))
    knots, levels = _padded(centres[keep], fitted[keep])
    return {"knots": knots, "levels": levels, "impostors": int(counts.min()), "needs": needed(far)}


def _unsupported(impostors, far):
    return {"knots": None, "levels": None, "impostors": int(impostors), "needs": needed(far)}


def fit(values, same, fars, model, population, earlier=None, require_decision=True):
    """The Calibration of a model on distinct scored pairs.

    Args:
      values: verification.pair_values' dict of float [P] arrays; same: bool [P], or None for a gallery (every
        pair an impostor: the logistics then come from `earlier`, thresholds from these pairs).
      fars: the FARs thresholds are fitted at (each in (0, 1)).
      model: the model identity (storage.model_config.model_identity).
      population: {'name': where the pairs come from, 'qualities': what qualities they span, 'refit': {flag:
        value} of the calibrate command that fits them again}.
      earlier: the model's calibration a gallery keeps P(same) and the logistics' weights from, or None.
      require_decision: refuse pairs too few for any FAR (an experiment's tiny folds fit anyway, deciding nothing).

    Raises:
      UserError: non-finite values; no FAR with enough distinct impostors (require_decision); labelled pairs on
        which a higher cosine does not mean more likely the same person (inverted labels), or without genuine
        pairs.
    """
    values = {key: np.asarray(value, np.float64) for key, value in values.items()}
    count = len(values["cosine"])
    bad = ~np.all([np.isfinite(value) for value in values.values()], axis=0)
    if count and bad.any():
        raise errors.UserError("%s: %d of %d calibration pairs have a non-finite score or sigma^2; recompute their "
                               "embeddings" % (population["name"], int(bad.sum()), count))
    labelled = same is not None
    same = np.zeros(count, bool) if same is None else np.asarray(same, bool)
    logistics = _logistics(values, same, population["name"]) if labelled else _kept_logistics(earlier, model)
    impostors = int((~same).sum())
    fars = sorted(set(float(far) for far in fars))
    if require_decision and not [far for far in fars if impostors >= needed(far)]:
        raise errors.UserError("%s: %d distinct impostor pairs; a threshold at FAR %s needs at least %d: give more "
                               "pairs or people" % (population["name"], impostors, fars[-1], needed(fars[-1])))
    q, thresholded = quality(values), {}  # each score's statistic its thresholds are the impostor quantiles of
    scores = collections.OrderedDict()
    for name, spec in SCORES.items():
        if spec.logistic and spec.logistic not in logistics:
            continue
        fitted = dict(logistics[spec.logistic]) if spec.logistic else {}
        if spec.statistic == "union":
            thresholded[name] = _statistic(SCORES["monotone_logistic"], fitted, values)
            fitted["cosine_map"] = _cosine_map(values["cosine"][~same], thresholded[name][~same], fars)
        else:
            thresholded[name] = _statistic(spec, fitted, values)
        scores[name] = fitted
    ceiling = {far: impostor_threshold(thresholded["cosine"][~same], far) for far in fars if impostors >= needed(far)}
    for name, fitted in scores.items():
        fitted["thresholds"] = {}
        for far in fars:
            impostor_statistic = thresholded[name][~same]
            if impostors < needed(far):
                fitted["thresholds"][str(far)] = _unsupported(impostors, far)
            elif SCORES[name].by_quality:
                fitted["thresholds"][str(far)] = _by_quality(impostor_statistic, q[~same], far, ceiling[far])
            else:
                fitted["thresholds"][str(far)] = _global(impostor_threshold(impostor_statistic, far), impostors, far)
    genuine = int(same.sum()) if labelled else None
    prior = genuine / float(count) if labelled else (earlier.prior if earlier and logistics else None)
    return Calibration(VERSION, dict(model), dict(population, pairs=count, genuine=genuine, impostors=impostors),
                       DEFAULT_SCORE, fars, prior, scores)


def _logistics(values, same, where):
    """{'free', 'monotone'}: the logistic over the quality features, fitted freely and kept monotone in cosine."""
    genuine = int(same.sum())
    if genuine < MIN_FALSE_ACCEPTS:
        raise errors.UserError("%s: %d same-person pairs; P(same) needs at least %d (or calibrate on a gallery, "
                               "whose thresholds need none)" % (where, genuine, MIN_FALSE_ACCEPTS))
    alone = fit_logistic(values["cosine"][:, None], same)
    slope = _raw(alone)[0][0]
    if not slope > 0:
        raise errors.UserError("%s: a higher cosine means a different person on these pairs (mean cosine %.3f "
                               "same-person, %.3f different): are the same/different labels inverted?" % (
                                   where, values["cosine"][same].mean(), values["cosine"][~same].mean()))
    free = fit_logistic(np.stack(verification.features(values, verification.QUALITY_FEATURES), axis=1), same)
    pair = verification.features(values, ("log_pair_uncertainty",))[0]
    covered = [float(pair.min()), float(pair.max())]
    monotone = _monotone(values, same, free, covered, MONOTONE_SLOPE_SHARE * slope)
    return {"free": {"model": free}, "monotone": {"model": monotone, "uncertainty_range": covered}}


def _kept_logistics(earlier, model):
    """A gallery's logistics: the earlier calibration's, when it is of this model."""
    if earlier is None or not earlier.fitted_for(model):
        return {}
    return {SCORES[name].logistic: {key: value for key, value in fitted.items()
                                    if key in ("model", "uncertainty_range")}
            for name, fitted in earlier.scores.items() if SCORES[name].logistic}


def _statistic(spec, fitted, values, math_module=np):
    """A score's statistic [N] of pair values (the logit with the monotone logistic's uncertainty clamped; for
    the union, max(logit, g(cosine)))."""
    if spec.statistic in ("cosine", "mls"):
        return values[spec.statistic]
    logit = verification.logit(values, verification.QUALITY_FEATURES, fitted["model"], math_module,
                               fitted.get("uncertainty_range"))
    if spec.statistic == "logit":
        return logit
    mapped = interpolate(values["cosine"], fitted["cosine_map"]["knots"], fitted["cosine_map"]["levels"], math_module)
    return math_module.maximum(logit, mapped)


def _cosine_map(impostor_cosines, impostor_logits, fars):
    """The monotone map g of cosine onto the logit scale through (cosine's threshold, the logit's threshold) at
    KNOTS FARs: geometric from 0.5 down to the rarest that rests on MIN_FALSE_ACCEPTS impostors, each of `fars`
    among them (so that at each, g(cosine) reaches the logistic's threshold exactly where cosine reaches its
    own). {'knots' [KNOTS] strictly increasing cosines, 'levels' [KNOTS] non-decreasing logits}."""
    rarest = max(MIN_FALSE_ACCEPTS / float(len(impostor_cosines)), 1e-9)
    grid = list(np.geomspace(0.5, min(rarest, 0.5), KNOTS))
    for far in fars:
        if far >= rarest:
            grid[int(np.argmin(np.abs(np.log(np.array(grid)) - np.log(far))))] = far
    grid = sorted(set(grid), reverse=True)
    knots = impostor_thresholds(impostor_cosines, grid)
    levels = impostor_thresholds(impostor_logits, grid)
    for index in range(1, len(knots)):  # ties of cosine's quantiles: knots must strictly increase
        knots[index] = max(knots[index], knots[index - 1] + 1e-7)
    knots, levels = _padded(knots, levels)
    return {"knots": knots, "levels": levels}


def distinct(first, second, same, where):
    """The rows of the first occurrence of each unordered pair of names (a pair listed twice counts once).

    Raises:
      UserError: a pair listed twice with different labels, naming it.
    """
    seen = {}
    rows = []
    for row, (a, b, label) in enumerate(zip(first, second, same)):
        key = (a, b) if a <= b else (b, a)
        if key in seen:
            if same[seen[key]] != label:
                raise errors.UserError("%s: the pair %s, %s is listed as the same person and as different people; "
                                       "correct one line" % (where, a, b))
            continue
        seen[key] = row
        rows.append(row)
    return np.array(rows, np.int64)


# ---- the value ----

class Calibration(collections.namedtuple("Calibration", ["version", "model", "population", "default_score", "fars",
                                                         "prior", "scores"])):
    """A model's calibration (see the module doc).

    Fields:
      version: VERSION.
      model: the identity of the model it was fitted for (model_config.model_identity).
      population: {'name', 'qualities', 'refit', 'pairs', 'genuine' (None for a gallery), 'impostors'}: where
        its pairs come from and how many distinct ones.
      default_score: the score that decides unless --score says otherwise (a key of scores).
      fars: sorted FARs it was fitted at.
      prior: the share of same-person pairs P(same) assumes (None without a logistic).
      scores: {score: {'model', 'uncertainty_range' (logistics), 'thresholds': {str(far): {'knots' [KNOTS],
        'levels' [KNOTS] (None when unsupported), 'impostors': the fewest distinct impostors a knot rests on,
        'needs': needed(far)}}}}.
    """
    __slots__ = ()

    def with_default(self, score):
        """The calibration deciding with `score` (None: its own default).

        Raises:
          UserError: a score it does not hold (a gallery without a labelled calibration has no logistic).
        """
        if score is None:
            return self
        if score not in self.scores:
            raise errors.UserError("--score=%s: this calibration holds %s (a gallery's has no logistic unless the "
                                   "model was calibrated on labelled pairs first)" % (score, ", ".join(self.scores)))
        return self._replace(default_score=score)

    def supported(self, far, score=None):
        return self.scores[score or self.default_score]["thresholds"].get(str(far), {}).get("levels") is not None

    def rests_on(self, far, score=None):
        """The fewest distinct impostor pairs `score`'s threshold at `far` rests on (each bin of q its own)."""
        return self.scores[score or self.default_score]["thresholds"][str(float(far))]["impostors"]

    def decided_fars(self, score=None):
        """The FARs this calibration decides at (those whose thresholds rest on enough impostors)."""
        return [far for far in self.fars if self.supported(far, score)]

    def undecided(self, score=None):
        """{str(far): why} of the FARs fitted without enough distinct impostors."""
        return {str(far): "rests on %d distinct impostor pairs, needs %d" % (part["impostors"], part["needs"])
                for far, part in ((far, self.scores[score or self.default_score]["thresholds"][str(far)])
                                  for far in self.fars) if part["levels"] is None}

    def check_far(self, far, score=None):
        """Raises a one-line UserError unless this calibration decides at `far`."""
        score = score or self.default_score
        part = self.scores[score]["thresholds"].get(str(float(far)))
        if part is None:
            raise errors.UserError("--far=%s: the calibration keeps thresholds at FAR %s only; refit it with "
                                   "--mode=calibrate --far=%s" % (far, ", ".join(map(str, self.fars)), far))
        if part["levels"] is None:
            raise errors.UserError("--far=%s: the calibration's threshold rests on %d distinct impostor pairs, a FAR "
                                   "of %s needs at least %d; refit it on more pairs or people (--mode=calibrate)"
                                   % (far, part["impostors"], far, part["needs"]))

    def decide(self, values, far, score=None):
        """The Decision of `score` (default: the calibration's) at `far` on pair values [N].

        Raises:
          UserError: no threshold at `far`, or one resting on too few impostors (check_far).
        """
        score = score or self.default_score
        self.check_far(far, score)
        fitted, spec = self.scores[score], SCORES[score]
        part = fitted["thresholds"][str(float(far))]
        statistic = _statistic(spec, fitted, {k: np.asarray(v, np.float64) for k, v in values.items()})
        threshold = interpolate(quality(values), np.array(part["knots"]), np.array(part["levels"]))
        return Decision(statistic, threshold, statistic >= threshold)

    def ranking(self, values, score=None):
        """What ranks pairs as a score decides [N]: its margin at the first FAR it decides at (the statistic
        itself where it decides at none)."""
        score = score or self.default_score
        decided = self.decided_fars(score)
        if decided:
            return self.decide(values, decided[0], score).margin()
        return _statistic(SCORES[score], self.scores[score], {k: np.asarray(v, np.float64) for k, v in values.items()})

    def probability(self, values):
        """P(same) [N] by the monotone logistic at the calibration's prior, or None when it has no logistic."""
        if PROBABILITY_SCORE not in self.scores:
            return None
        fitted = self.scores[PROBABILITY_SCORE]
        return verification.sigmoid(_statistic(SCORES[PROBABILITY_SCORE], fitted, values))

    def likelihood_ratio(self, probability):
        """P(face pair | same) / P(face pair | different) from P(same) at the calibration's prior."""
        odds = np.asarray(probability, np.float64) / np.maximum(1.0 - np.asarray(probability, np.float64), 1e-300)
        return odds * (1.0 - self.prior) / self.prior

    def fitted_for(self, model):
        """Whether this calibration was fitted for the model of this identity."""
        return all(self.model.get(key) == model.get(key) for key in ("checkpoint_sha256", "backbone_sha256"))

    def check_model(self, model, where, target):
        """Raises a one-line UserError, giving the command that recalibrates, unless fitted for `model`.

        Args:
          where: the calibration's file; target: the flag that names the model (--model_dir=... or --saved_model=...).
        """
        if self.fitted_for(model):
            return
        changed = "backbone" if self.model.get("checkpoint_sha256") == model.get("checkpoint_sha256") else "checkpoint"
        raise errors.UserError("%s was fitted for %s (%s %s), this model is %s (%s %s): its thresholds do not hold "
                               "for another model; recalibrate: %s" % (
                                   where, self.model.get("checkpoint"), changed,
                                   _short(self.model.get(changed + "_sha256")), model.get("checkpoint"), changed,
                                   _short(model.get(changed + "_sha256")), self.refit_command(target)))

    def refit_command(self, target):
        """The command that fits this calibration again on the same pairs, for the model `target` names (or on
        pairs of the user's choice, when the pairs came from elsewhere, e.g. an experiment)."""
        refit = self.population.get("refit") or {}
        if not refit:
            return "python main.py --mode=calibrate %s with --pairs_csv=PAIRS.csv, --calibration_pairs=PAIRS.txt " \
                   "--lfw_dir=LFW or --gallery_dir=PEOPLE" % target
        return " ".join(["python main.py --mode=calibrate", target] + [
            "--%s=%s" % (flag, value) for flag, value in sorted(refit.items())])

    def describe(self):
        """One line: where the thresholds come from."""
        population = self.population
        return "thresholds from %s (%d distinct pairs, %d impostors; %s)" % (
            population["name"], population["pairs"], population["impostors"], population["qualities"])

    def as_json(self):
        return {"version": self.version, "model": self.model, "population": self.population,
                "default_score": self.default_score, "fars": self.fars, "prior": self.prior, "scores": self.scores}

    def graph_constants(self):
        """What serving_verify decides with, float32 arrays by name (the SavedModel's calibration/ constants):
        'decision/knots', 'decision/levels' [len(fars), KNOTS] (a FAR without a threshold never accepts), its
        logistic's 'decision/mean', 'decision/scale', 'decision/weights' (and 'decision/uncertainty_range'),
        and P(same)'s logistic under 'p_same/'."""
        fitted = self.scores[self.default_score]
        constants = {"decision/knots": [], "decision/levels": []}
        for far in self.fars:
            part = fitted["thresholds"][str(far)]
            knots, levels = (part["knots"], part["levels"]) if part["levels"] is not None else _padded([0.0], [1e30])
            constants["decision/knots"].append(knots)
            constants["decision/levels"].append(levels)
        for prefix, source in (("decision/", fitted if SCORES[self.default_score].logistic else None),
                               ("p_same/", self.scores.get(PROBABILITY_SCORE))):
            if source:
                constants.update({prefix + key: source["model"][key] for key in ("mean", "scale", "weights")})
                if "uncertainty_range" in source:
                    constants[prefix + "uncertainty_range"] = source["uncertainty_range"]
        if "cosine_map" in fitted:
            constants["decision/map_knots"] = fitted["cosine_map"]["knots"]
            constants["decision/map_levels"] = fitted["cosine_map"]["levels"]
        return {name: np.asarray(value, np.float32) for name, value in constants.items()}


def _short(digest):
    return (digest or "none")[:12]


def decide_in_graph(values, constants, statistic, math_module):
    """serving_verify's decisions: (P(same) [N] or None, {far index: accept bool [N]}) from tensors of pair values
    and the graph constants of Calibration.graph_constants (as tensors), the decision's statistic its spec's."""
    def logit(prefix):
        model = {key: constants[prefix + key] for key in ("mean", "scale", "weights")}
        return verification.logit(values, verification.QUALITY_FEATURES, model, math_module,
                                  constants.get(prefix + "uncertainty_range"))
    if statistic in ("cosine", "mls"):
        measured = values[statistic]
    else:
        measured = logit("decision/")
    if statistic == "union":
        knots, levels = constants["decision/map_knots"], constants["decision/map_levels"]
        measured = math_module.maximum(measured, interpolate(values["cosine"], [knots[k] for k in range(KNOTS)],
                                                             [levels[k] for k in range(KNOTS)], math_module))
    q = quality(values, math_module)
    knots, levels = constants["decision/knots"], constants["decision/levels"]
    accepts = {index: measured >= interpolate(q, [knots[index, k] for k in range(KNOTS)],
                                              [levels[index, k] for k in range(KNOTS)], math_module)
               for index in range(int(knots.shape[0]))}
    probability = verification.sigmoid(logit("p_same/"), math_module) if "p_same/weights" in constants else None
    return probability, accepts


# ---- keeping it ----

def save(folder, calibrated):
    """Keeps a calibration as folder/calibration.json; the earlier one is kept as calibration.previous-N.json (N
    counting up), and a full disk or Ctrl-C at any moment leaves it in place (atomic_files.write_json_keeping_previous).
    Returns (the file, the earlier one's copy or None)."""
    path = os.path.join(folder, NAME)
    return path, atomic_files.write_json_keeping_previous(path, calibrated.as_json())


def read(folder, where=None):
    """The model folder's Calibration, or None when it has none."""
    path = os.path.join(folder, NAME)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            stored = json.load(f)
    except (ValueError, UnicodeDecodeError) as error:
        raise errors.UserError("%s: not valid JSON (%s); restore it or fit another with --mode=calibrate" % (
            path, errors.first_line(error)))
    return from_json(stored, where or path)


def from_json(stored, where):
    """A stored calibration as a Calibration, checked whole.

    Raises:
      UserError: one line naming `where` and the first thing wrong: another version, a missing or malformed part,
        a non-finite number, a logistic whose cosine weight is not positive, thresholds that are not a function.
    """
    if not isinstance(stored, dict):
        raise errors.UserError("%s: not a calibration (a JSON object is expected); fit one with --mode=calibrate"
                               % where)
    if stored.get("version") != VERSION:
        raise errors.UserError("%s: a calibration of version %s, this version reads %d (and ties it to its model); "
                               "fit a new one with --mode=calibrate" % (where, stored.get("version"), VERSION))
    try:
        calibrated = Calibration(**{field: stored[field] for field in Calibration._fields})
        problem = _problem(calibrated)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
        problem = "%s %s is missing or malformed" % (type(error).__name__, errors.first_line(error))
    if problem:
        raise errors.UserError("%s: not a usable calibration (%s); restore it or fit another with --mode=calibrate"
                               % (where, problem))
    return calibrated._replace(fars=[float(far) for far in calibrated.fars])


def _problem(calibrated):
    """What is wrong with a stored calibration, or None."""
    if not isinstance(calibrated.model, dict) or not calibrated.model.get("checkpoint_sha256"):
        return "it names no model it was fitted for"
    if not calibrated.scores or calibrated.default_score not in calibrated.scores:
        return "default score %s is not among its scores" % calibrated.default_score
    fars = [float(far) for far in calibrated.fars]
    if not fars or not all(0 < far < 1 for far in fars):
        return "FARs %s are not in (0, 1)" % calibrated.fars
    for name, fitted in calibrated.scores.items():
        if name not in SCORES:
            return "unknown score %s" % name
        problem = _logistic_problem(name, fitted) if SCORES[name].logistic else None
        if SCORES[name].statistic == "union":
            problem = problem or _map_problem(name, fitted)
        for far in fars:
            problem = problem or _threshold_problem(name, far, fitted["thresholds"][str(far)])
        if problem:
            return problem
    if calibrated.prior is not None and not 0 < calibrated.prior < 1:
        return "prior %s is not in (0, 1)" % calibrated.prior
    return None


def _logistic_problem(name, fitted):
    model = fitted["model"]
    features = len(verification.QUALITY_FEATURES)
    arrays = [np.asarray(model[key], np.float64) for key in ("mean", "scale", "weights")]
    if [len(a) for a in arrays] != [features, features, features + 1]:
        return "%s: %d means, %d scales and %d weights for %d features" % (name, len(arrays[0]), len(arrays[1]),
                                                                           len(arrays[2]), features)
    if not all(np.isfinite(a).all() for a in arrays) or not (arrays[1] > 0).all():
        return "%s: a weight, mean or scale that is not finite, or a scale <= 0" % name
    covered = fitted.get("uncertainty_range")
    if SCORES[name].logistic == "monotone" and not (
            covered and len(covered) == 2 and np.isfinite(covered).all() and covered[0] <= covered[1]
            and cosine_slopes(model, covered).min() > 0):
        return "%s: its cosine weight is not positive over the uncertainty range it covers" % name
    return None


def _map_problem(name, fitted):
    mapping = fitted.get("cosine_map") or {}
    knots, levels = (np.asarray(mapping.get(key, []), np.float64) for key in ("knots", "levels"))
    if knots.shape != (KNOTS,) or levels.shape != (KNOTS,) or not (np.isfinite(knots).all() and
                                                                   np.isfinite(levels).all()):
        return "%s: its cosine map needs %d finite knots and levels" % (name, KNOTS)
    if not ((np.diff(knots) > 0).all() and (np.diff(levels) >= 0).all()):
        return "%s: its cosine map is not increasing" % name
    return None


def _threshold_problem(name, far, part):
    if part["levels"] is None:
        return None if part["impostors"] < needed(far) else "%s at FAR %s: no threshold" % (name, far)
    knots, levels = np.asarray(part["knots"], np.float64), np.asarray(part["levels"], np.float64)
    if knots.shape != (KNOTS,) or levels.shape != (KNOTS,):
        return "%s at FAR %s: %d knots and %d levels, expected %d" % (name, far, knots.size, levels.size, KNOTS)
    if not (np.isfinite(knots).all() and np.isfinite(levels).all() and (np.diff(knots) > 0).all()):
        return "%s at FAR %s: knots that do not strictly increase, or a non-finite level" % (name, far)
    if part["impostors"] < needed(far):
        return "%s at FAR %s rests on %d impostors, needs %d" % (name, far, part["impostors"], needed(far))
    return None

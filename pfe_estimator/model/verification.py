"""The verification score of two probabilistic faces, written once for numpy and for the graph.

A pair (mu_a, sigma_a^2), (mu_b, sigma_b^2) gives named features:
  cosine                         mu_a . mu_b (mu is L2-normalised)
  mls                            -sum_d [(mu_a - mu_b)^2 / (s_a + s_b) + log(s_a + s_b)]
  log_pair_uncertainty           log(mean sigma_a^2 + mean sigma_b^2), the pair's uncertainty
  cosine_x_log_pair_uncertainty  their product: how far cosine's scale moves with the uncertainty
  log_worse_uncertainty          log max(mean sigma_a^2, mean sigma_b^2), the worse face's
and a score is P(same) = sigmoid(w . standardised features + b) by a logistic fitted on calibration pairs
(evaluation/calibration.py fits it; the export's serving_verify signature computes it in the graph). The
same code runs on numpy arrays (math=numpy) and on tensors (math=tf.math), so the two never drift apart.
"""
import numpy as np

# The quality-aware score's features (evaluation/calibration.py fits P(same) on them).
QUALITY_FEATURES = ("cosine", "log_pair_uncertainty", "cosine_x_log_pair_uncertainty", "log_worse_uncertainty")
SCORE_FEATURES = {"quality": QUALITY_FEATURES, "mls": ("mls",), "cosine": ("cosine",)}
SCORES = tuple(SCORE_FEATURES)
# The stored form of a model's calibration (evaluation/calibration.py fit_model_calibration writes it).
CALIBRATION_VERSION = 2


def pair_values(mu_a, sigma_a, mu_b, sigma_b, math=np):
    """The per-pair values the features come from: {'cosine', 'mls', 'mean_sigma_a', 'mean_sigma_b'} [N].

    Args:
      mu_a, mu_b: float [N, D] L2-normalised; sigma_a, sigma_b: float [N, D] > 0.
      math: numpy, or tensorflow's tf.math for graph tensors.
    """
    total = sigma_a + sigma_b
    return {"cosine": _sum(mu_a * mu_b, math), "mls": -_sum((mu_a - mu_b) ** 2 / total + math.log(total), math),
            "mean_sigma_a": _mean(sigma_a, math), "mean_sigma_b": _mean(sigma_b, math)}


def _sum(values, math):
    return values.sum(axis=1) if math is np else math.reduce_sum(values, axis=1)


def _mean(values, math):
    return values.mean(axis=1) if math is np else math.reduce_mean(values, axis=1)


def features(values, names, math=np):
    """[feature [N] for each of `names`] from pair_values' dict."""
    def pair():
        return math.log(values["mean_sigma_a"] + values["mean_sigma_b"])
    known = {"cosine": lambda: values["cosine"], "mls": lambda: values["mls"], "log_pair_uncertainty": pair,
             "cosine_x_log_pair_uncertainty": lambda: values["cosine"] * pair(),
             "log_worse_uncertainty": lambda: math.log(math.maximum(values["mean_sigma_a"], values["mean_sigma_b"]))}
    return [known[name]() for name in names]


def logit(values, names, model, math=np):
    """log(P(same) / P(different)) [N] under a fitted logistic {'mean', 'scale', 'weights'} (weights: one per
    feature, then the bias) of the features `names`: what ranks pairs (P(same) itself saturates at 0 and 1 in
    floating point when the calibration pairs are nearly separable, tying the pairs it is surest of)."""
    mean, scale, weights = model["mean"], model["scale"], model["weights"]
    value = weights[len(names)]
    for index, feature in enumerate(features(values, names, math)):
        value = value + weights[index] * (feature - mean[index]) / scale[index]
    return value


def probability(values, names, model, math=np):
    """P(same) [N] = sigmoid(logit(...))."""
    return sigmoid(logit(values, names, model, math), math)


def sigmoid(value, math=np):
    """1 / (1 + exp(-value)), without overflow for large |value|."""
    return 0.5 * (1.0 + np.tanh(0.5 * value)) if math is np else math.sigmoid(value)


def from_earlier_version(fitted):
    """A calibration.json written before the quality-aware score (P(same | MLS) and MLS thresholds) in this
    version's form: its one score, 'mls', with each MLS threshold as the P(same) it gives."""
    values = {"mls": np.array([fitted["mls_threshold_at_far"][far] for far in sorted(fitted["mls_threshold_at_far"])])}
    thresholds = probability(values, ("mls",), fitted["model"])
    fars = sorted(fitted["mls_threshold_at_far"])
    return {"version": CALIBRATION_VERSION, "default_score": "mls", "fars": [float(f) for f in fars],
            "pairs": fitted["pairs"], "source": fitted.get("source"), "qualities": "as given (an earlier version)",
            "scores": {"mls": {"features": ["mls"], "model": fitted["model"], "genuine": None,
                               "impostors": fitted["pairs"] // 2,
                               "threshold_at_far": {far: float(t) for far, t in zip(fars, thresholds)}}}}


def as_current(fitted):
    """A stored calibration in this version's form (None stays None)."""
    if fitted is None or fitted.get("version") == CALIBRATION_VERSION:
        return fitted
    return from_earlier_version(fitted)

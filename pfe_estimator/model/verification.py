"""The verification score of two probabilistic faces, written once for numpy and for the graph.

A pair (mu_a, sigma_a^2), (mu_b, sigma_b^2) gives named features:
  cosine                         mu_a . mu_b (mu is L2-normalised)
  mls                            -sum_d [(mu_a - mu_b)^2 / (s_a + s_b) + log(s_a + s_b)]
  log_pair_uncertainty           log(mean sigma_a^2 + mean sigma_b^2), the pair's uncertainty
  cosine_x_log_pair_uncertainty  their product: how far cosine's scale moves with the uncertainty
  log_worse_uncertainty          log max(mean sigma_a^2, mean sigma_b^2), the worse face's
and P(same) = sigmoid(w . standardised features + b) by a logistic fitted on calibration pairs (model/calibration.py
fits it and decides with it; the export's serving_verify signature computes it in the graph). The same code runs on
numpy arrays (math=numpy) and on tensors (math=tf.math), so the two never drift apart.
"""
import numpy as np

# The quality-aware logistic's features (model/calibration.py fits P(same) on them).
QUALITY_FEATURES = ("cosine", "log_pair_uncertainty", "cosine_x_log_pair_uncertainty", "log_worse_uncertainty")


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


def features(values, names, math=np, uncertainty_range=None):
    """[feature [N] for each of `names`] from pair_values' dict; with uncertainty_range (low, high), the pair's
    log uncertainty is clamped to it (a logistic fitted there is not extrapolated beyond it)."""
    def pair():
        uncertainty = math.log(values["mean_sigma_a"] + values["mean_sigma_b"])
        if uncertainty_range is None:
            return uncertainty
        return math.minimum(math.maximum(uncertainty, uncertainty_range[0]), uncertainty_range[1])
    known = {"cosine": lambda: values["cosine"], "mls": lambda: values["mls"], "log_pair_uncertainty": pair,
             "cosine_x_log_pair_uncertainty": lambda: values["cosine"] * pair(),
             "log_worse_uncertainty": lambda: math.log(math.maximum(values["mean_sigma_a"], values["mean_sigma_b"]))}
    return [known[name]() for name in names]


def logit(values, names, model, math=np, uncertainty_range=None):
    """log(P(same) / P(different)) [N] under a fitted logistic {'mean', 'scale', 'weights'} (weights: one per
    feature, then the bias) of the features `names` (uncertainty_range: see features): what ranks pairs (P(same)
    itself saturates at 0 and 1 in floating point when the calibration pairs are nearly separable)."""
    mean, scale, weights = model["mean"], model["scale"], model["weights"]
    value = weights[len(names)]
    for index, feature in enumerate(features(values, names, math, uncertainty_range)):
        value = value + weights[index] * (feature - mean[index]) / scale[index]
    return value


def probability(values, names, model, math=np):
    """P(same) [N] = sigmoid(logit(...))."""
    return sigmoid(logit(values, names, model, math), math)


def sigmoid(value, math=np):
    """1 / (1 + exp(-value)), without overflow for large |value|."""
    return 0.5 * (1.0 + np.tanh(0.5 * value)) if math is np else math.sigmoid(value)

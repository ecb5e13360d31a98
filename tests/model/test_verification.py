"""The verification score is written once: numpy and the graph give the same features and P(same)."""
import numpy as np
import tensorflow.compat.v1 as tf

from pfe_estimator.evaluation import metrics
from pfe_estimator.model import verification


def gaussians(seed, count=64, dims=16):
    rng = np.random.RandomState(seed)
    mu = rng.normal(size=(2, count, dims))
    mu /= np.linalg.norm(mu, axis=2, keepdims=True)
    sigma = np.exp(rng.normal(-6.0, 0.5, size=(2, count, dims)))
    return mu[0], sigma[0], mu[1], sigma[1]


def test_numpy_and_the_graph_give_the_same_pair_values_and_probabilities():
    mu_a, sigma_a, mu_b, sigma_b = gaussians(0)
    values = verification.pair_values(mu_a, sigma_a, mu_b, sigma_b)
    np.testing.assert_allclose(values["cosine"], metrics.cosine_pair_scores(mu_a, mu_b), rtol=1e-12)
    np.testing.assert_allclose(values["mls"], metrics.mls_pair_scores(mu_a, sigma_a, mu_b, sigma_b), rtol=1e-10)
    model = {"mean": [0.1, -8.0, -0.8, -6.2], "scale": [0.3, 0.4, 0.2, 0.5], "weights": [2.0, -0.5, 1.0, -0.7, 0.3]}
    expected = verification.probability(values, verification.QUALITY_FEATURES, model)
    with tf.Graph().as_default(), tf.Session() as session:
        tensors = verification.pair_values(*(tf.constant(a, tf.float32) for a in (mu_a, sigma_a, mu_b, sigma_b)),
                                           math=tf.math)
        graph_model = {name: tf.constant(value, tf.float32) for name, value in model.items()}
        got = session.run(verification.probability(tensors, verification.QUALITY_FEATURES, graph_model,
                                                   math=tf.math))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    logit = np.log(expected / (1 - expected))  # the features by hand: cosine, log pair, product, log worse
    pair = np.log(sigma_a.mean(axis=1) + sigma_b.mean(axis=1))
    worse = np.log(np.maximum(sigma_a.mean(axis=1), sigma_b.mean(axis=1)))
    by_hand = model["weights"][4] + sum(w * (f - m) / s for w, f, m, s in zip(
        model["weights"], (values["cosine"], pair, values["cosine"] * pair, worse), model["mean"], model["scale"]))
    np.testing.assert_allclose(logit, by_hand, rtol=1e-9)

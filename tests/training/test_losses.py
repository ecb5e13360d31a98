"""MLS losses against a direct numpy transcription of the definition."""
import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from pfe_estimator.training import losses
from tests import numpy_reference


def _run(tensor):
    with tf.Session() as session:
        return session.run(tensor)


def _random_batch(rng, batch_size, dims):
    mu = rng.normal(size=(batch_size, dims)).astype(np.float32)
    mu /= np.linalg.norm(mu, axis=1, keepdims=True)
    log_sigma_sq = rng.normal(-3.0, 1.0, size=(batch_size, dims)).astype(np.float32)
    return mu, log_sigma_sq


def test_pair_indices_enumerate_every_genuine_pair_once():
    first, second = losses.pk_pair_indices(num_classes=3, images_per_class=4)
    pairs = set(zip(first.tolist(), second.tolist()))
    expected = {(i, j) for i in range(12) for j in range(i + 1, 12) if i // 4 == j // 4}
    assert pairs == expected and len(first) == 3 * 4 * 3 // 2
    assert first.dtype == second.dtype == np.int32  # static int32 gather indices, as the NPU takes them


@pytest.mark.parametrize("num_classes,images_per_class", [(4, 2), (3, 4), (8, 3)])
def test_pk_mls_loss_matches_definition(num_classes, images_per_class):
    rng = np.random.RandomState(num_classes * 10 + images_per_class)
    mu, log_sigma_sq = _random_batch(rng, num_classes * images_per_class, 16)
    labels = np.repeat(np.arange(num_classes), images_per_class)
    with tf.Graph().as_default():
        loss = _run(losses.pk_mls_loss(tf.constant(mu), tf.constant(log_sigma_sq), num_classes,
                                                   images_per_class))
    assert loss == pytest.approx(numpy_reference.mls_loss_by_definition(labels, mu, log_sigma_sq), rel=1e-5)


def test_general_loss_matches_definition_for_arbitrary_labels():
    rng = np.random.RandomState(7)
    mu, log_sigma_sq = _random_batch(rng, 20, 8)
    labels = rng.randint(0, 6, size=20)
    with tf.Graph().as_default():
        loss = _run(losses.mls_loss(tf.constant(labels), tf.constant(mu), tf.constant(log_sigma_sq)))
    assert loss == pytest.approx(numpy_reference.mls_loss_by_definition(labels, mu, log_sigma_sq), rel=1e-5)


def test_general_loss_is_zero_without_genuine_pairs():
    rng = np.random.RandomState(1)
    mu, log_sigma_sq = _random_batch(rng, 5, 4)
    with tf.Graph().as_default():
        loss = _run(losses.mls_loss(tf.constant(np.arange(5)), tf.constant(mu), tf.constant(log_sigma_sq)))
    assert loss == 0.0


def test_static_and_general_losses_agree_with_gradients():
    rng = np.random.RandomState(3)
    mu, log_sigma_sq = _random_batch(rng, 12, 8)
    labels = np.repeat(np.arange(4), 3)
    with tf.Graph().as_default():
        log_sigma_sq_t = tf.constant(log_sigma_sq)
        static = losses.pk_mls_loss(tf.constant(mu), log_sigma_sq_t, 4, 3)
        general = losses.mls_loss(tf.constant(labels), tf.constant(mu), log_sigma_sq_t)
        grads = tf.gradients([static], [log_sigma_sq_t]) + tf.gradients([general], [log_sigma_sq_t])
        static_value, general_value, grad_static, grad_general = _run([static, general] + grads)
    assert static_value == pytest.approx(general_value, rel=1e-5)
    np.testing.assert_allclose(grad_static, grad_general, rtol=1e-4, atol=1e-7)


def test_loss_rejects_one_image_per_class():
    with tf.Graph().as_default(), pytest.raises(ValueError) as error:
        losses.pk_mls_loss(tf.zeros([4, 3]), tf.zeros([4, 3]), 4, 1)
    assert str(error.value) == "the MLS loss needs at least 2 images per class, got 1"


@pytest.mark.parametrize("options,scale,margin", [({}, 30.0, 0.35), ({"scale": 10.0, "margin": 0.2}, 10.0, 0.2)])
def test_am_softmax_loss_matches_its_definition(options, scale, margin):
    """With the defaults, CosFace's s = 30 and m = 0.35."""
    rng = np.random.RandomState(5)
    embeddings = rng.normal(size=(6, 4)).astype(np.float32)
    labels = np.array([0, 2, 1, 2, 0, 1])
    with tf.Graph().as_default():
        loss, cosine = losses.am_softmax_loss(tf.constant(embeddings), tf.constant(labels), 3, **options)
        weights = [v for v in tf.global_variables() if v.name == "Logits/weights:0"]
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            loss_value, cosine_value, weight_value = session.run([loss, cosine, weights[0]])
    expected_cosine = (embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)) @ \
        (weight_value / np.linalg.norm(weight_value, axis=0, keepdims=True))
    np.testing.assert_allclose(cosine_value, expected_cosine, rtol=1e-5, atol=1e-6)
    logits = scale * (expected_cosine - margin * np.eye(3)[labels])
    logits -= logits.max(axis=1, keepdims=True)
    expected = -np.mean(logits[np.arange(6), labels] - np.log(np.exp(logits).sum(axis=1)))
    assert loss_value == pytest.approx(expected, rel=1e-5)


def _ranking_loss_by_definition(log_sigma_sq, severity, source, margin):
    mean = log_sigma_sq.mean(axis=1)
    hinges = [max(0.0, margin * (severity[i] - severity[j]) - (mean[i] - mean[j]))
              for i in range(len(mean)) for j in range(len(mean))
              if source[i] == source[j] and severity[i] > severity[j]]
    return np.mean(hinges) if hinges else 0.0


def test_quality_ranking_loss_matches_definition():
    rng = np.random.RandomState(5)
    _, log_sigma_sq = _random_batch(rng, 16, 8)
    severity, source = rng.randint(0, 5, size=16), rng.randint(0, 4, size=16).astype(np.int64)
    with tf.Graph().as_default():
        loss = _run(losses.quality_ranking_loss(tf.constant(log_sigma_sq), tf.constant(severity),
                                                tf.constant(source), 0.5))
    assert loss > 0 and loss == pytest.approx(_ranking_loss_by_definition(log_sigma_sq, severity, source, 0.5),
                                              rel=1e-5)


def test_quality_ranking_loss_raises_a_copys_uncertainty_over_its_source_only():
    """Images of other sources or of equal severity are never compared; a descent step raises the worse
    image's log sigma^2 and lowers the better one's while the margin is not met."""
    log_sigma_sq = np.zeros((4, 3), np.float32)
    with tf.Graph().as_default():
        values = tf.constant(log_sigma_sq)
        unrelated = losses.quality_ranking_loss(values, tf.constant([0, 2, 1, 1]), tf.constant([0, 1, 2, 2], tf.int64),
                                                0.1)
        ranked = losses.quality_ranking_loss(values, tf.constant([0, 3, 1, 1]), tf.constant([7, 7, 8, 9], tf.int64),
                                             0.1)
        loss, gradient = _run([unrelated, tf.gradients(ranked, values)[0]])
    assert loss == 0.0
    assert (gradient[1] < 0).all() and (gradient[0] > 0).all() and (gradient[2:] == 0).all()

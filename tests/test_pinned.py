"""Published constants pinned by value, and behaviours a plausible bug would break without any other test
failing: head training must lower the MLS loss, sigma^2 must answer noise, training and serving must
standardise alike, the LFW threshold must come from the other nine folds."""
import cv2
import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from pfe_estimator.faces import network_input

from pfe_estimator.faces import alignment
from pfe_estimator.evaluation import metrics
from pfe_estimator.faces import image_io
from pfe_estimator.data import pk_sampling
from pfe_estimator.training import losses
from pfe_estimator.training import pfe_model
from pfe_estimator.model import uncertainty_head

# SphereFace / PFE 96x112 template (x, y): the released align_dataset.py's ref_pts * 112 + (48, 56).
SPHEREFACE_POINTS = [[30.2946, 51.6963], [65.5318, 51.5014], [48.0252, 71.7366], [33.5493, 92.3655],
                     [62.7299, 92.2041]]


def test_templates_are_the_published_points():
    (size, points) = alignment.template("112x96")
    assert size == (112, 96)
    np.testing.assert_array_equal(points, SPHEREFACE_POINTS)
    (size, points) = alignment.template("112x112")
    assert size == (112, 112)
    np.testing.assert_array_equal(points, np.array(SPHEREFACE_POINTS) + [8.0, 0.0])  # x shifted 8 px
    np.testing.assert_array_equal(alignment.template("56x48")[1], np.array(SPHEREFACE_POINTS) / 2)


def test_a_fresh_head_starts_at_the_released_scale_and_shift():
    with tf.Graph().as_default():
        uncertainty_head.uncertainty_head(tf.zeros([2, 8]), 4, training=False)
        variables = {v.op.name: v for v in tf.global_variables()}
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            alpha, gamma = session.run([variables["UncertaintyModule/scale_and_shift/alpha"],
                                        variables["UncertaintyModule/scale_and_shift/gamma"]])
    assert alpha == np.float32(1e-4) and gamma == np.float32(-7.0)  # released names: alpha scales, gamma shifts


def test_standardisation_is_pinned_and_training_and_serving_agree(tmp_path):
    pixels = np.array([[[0, 127, 255], [128, 1, 254]]], np.uint8)
    assert image_io.standardize(pixels).dtype == np.float32
    np.testing.assert_array_equal(image_io.standardize(pixels),
                                  [[[-127.5 / 128, -0.5 / 128, 127.5 / 128], [0.5 / 128, -126.5 / 128, 126.5 / 128]]])
    rng = np.random.RandomState(0)
    face = cv2.GaussianBlur(rng.randint(0, 256, (112, 96, 3)).astype(np.uint8), (0, 0), 2)
    jpeg = cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
    path = str(tmp_path / "face.jpg")
    open(path, "wb").write(jpeg)
    serving = network_input.load_network_input(path, (112, 96))
    with tf.Graph().as_default(), tf.Session() as session:
        training = session.run(pk_sampling.decode_face(tf.constant(jpeg), (112, 96)))
    np.testing.assert_array_equal(training, serving)  # same IDCT (TensorFlow's default one differs)
    decoded = image_io.read_rgb(path)
    np.testing.assert_array_equal(serving, (decoded.astype(np.float32) - 127.5) / 128.0)


def head_training_run(steps, noise_fraction=0.0):
    """Trains the head alone on a fixed P x K batch of synthetic features; returns the MLS loss before and
    after, and the mean sigma^2 of clean and noisy samples."""
    rng = np.random.RandomState(0)
    classes, per_class, dims, width = 8, 4, 16, 32
    centres = rng.randn(classes, width)
    features = np.repeat(centres, per_class, axis=0) + 0.1 * rng.randn(classes * per_class, width)
    noisy = rng.uniform(size=len(features)) < noise_fraction
    features[noisy] += 3.0 * rng.randn(int(noisy.sum()), width)  # "bad images": features far from their centre
    projection = rng.randn(width, dims)
    mu = features @ projection
    mu /= np.linalg.norm(mu, axis=1, keepdims=True)
    with tf.Graph().as_default():
        tf.set_random_seed(0)
        mu_t, log_sigma_sq = pfe_model.head_outputs(tf.constant(mu, tf.float32), tf.constant(features, tf.float32),
                                                   training=True)
        loss = losses.pk_mls_loss(mu_t, log_sigma_sq, classes, per_class)
        optimizer = tf.train.MomentumOptimizer(1e-2, 0.9)
        train = tf.group(optimizer.minimize(loss), *tf.get_collection(tf.GraphKeys.UPDATE_OPS))
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            before = session.run(loss)
            for _ in range(steps):
                session.run(train)
            after, sigma_sq = session.run([loss, tf.exp(log_sigma_sq)])
    return before, after, sigma_sq.mean(axis=1), noisy


def test_head_training_lowers_the_mls_loss_and_sigma_sq_answers_noise():
    before, after, sigma_sq, noisy = head_training_run(300, noise_fraction=0.25)
    assert after < before - 1.0
    assert sigma_sq[noisy].mean() > 1.5 * sigma_sq[~noisy].mean()


def test_the_lfw_threshold_comes_from_the_other_nine_folds():
    """Fold 0 alone would choose a threshold of 0.9 (its genuine pairs score 0.9-1.0, its impostors 0.85);
    the other folds' scores put it at 0.5, which accepts fold 0's impostors: accuracy 0.5 there."""
    fold = np.repeat(np.arange(10), 4)
    scores = np.tile([0.6, 0.7, 0.2, 0.3], 10).astype(np.float64)
    same = np.tile([True, True, False, False], 10)
    scores[:4] = [0.9, 1.0, 0.85, 0.85]
    result = metrics.kfold_accuracy(scores, same, fold)
    assert result["thresholds"][0] < 0.85 and result["accuracies"][0] == 0.5
    own_threshold, own_accuracy = metrics.best_threshold(scores[:4], same[:4])
    assert own_threshold > 0.85 and own_accuracy == 1.0  # what a leak of the test fold would report


def test_training_decodes_a_grayscale_jpeg_to_three_equal_channels():
    gray = np.tile(np.arange(0, 240, 10, dtype=np.uint8), (16, 1))[:, :20]
    jpeg = cv2.imencode(".jpg", gray)[1].tobytes()
    with tf.Graph().as_default(), tf.Session() as session:
        image = session.run(pk_sampling.decode_face(tf.constant(jpeg), (16, 20)))
    assert image.shape == (16, 20, 3)
    np.testing.assert_array_equal(image[..., 0], image[..., 1])
    np.testing.assert_array_equal(image[..., 0], image[..., 2])


def test_every_decoded_layout_becomes_8_bit_rgb():
    bgr = np.array([[[10, 20, 30], [0, 128, 255]]], np.uint8)
    rgb = bgr[:, :, ::-1]
    np.testing.assert_array_equal(image_io.to_rgb_uint8(bgr), rgb)
    np.testing.assert_array_equal(image_io.to_rgb_uint8(np.dstack([bgr, np.full((1, 2), 7, np.uint8)])), rgb)
    gray = np.array([[0, 200]], np.uint8)
    for layout in (gray, gray[:, :, None]):
        np.testing.assert_array_equal(image_io.to_rgb_uint8(layout), np.repeat(gray[:, :, None], 3, axis=2))
    np.testing.assert_array_equal(image_io.to_rgb_uint8((bgr.astype(np.uint16) * 257)), rgb)
    np.testing.assert_array_equal(image_io.to_rgb_uint8(np.array([[1000, 300]], np.uint16)),
                                  np.repeat(np.array([[4, 1]], np.uint8)[:, :, None], 3, axis=2))  # /257, rounded
    np.testing.assert_array_equal(image_io.to_rgb_uint8(np.array([[0.0, 0.5, 1.0]], np.float32)),
                                  np.repeat(np.array([[0, 127, 255]], np.uint8)[:, :, None], 3, axis=2))
    np.testing.assert_array_equal(image_io.to_rgb_uint8(np.array([[-5.0, 100.0, 300.0]])),
                                  np.repeat(np.array([[0, 100, 255]], np.uint8)[:, :, None], 3, axis=2))
    with pytest.raises(image_io.ImageError) as error:
        image_io.to_rgb_uint8(np.zeros((2, 2, 2), np.uint8), "x.tif")
    assert str(error.value) == "x.tif: unsupported image layout (2, 2, 2) uint8" and error.value.kind == \
        "unsupported_layout"
    with pytest.raises(image_io.ImageError) as error:
        image_io.to_rgb_uint8(np.zeros((2, 2, 5), np.uint8))
    assert str(error.value) == "<array>: unsupported image layout (2, 2, 5) uint8"
    np.testing.assert_array_equal(image_io.to_rgb_uint8(np.array([[0.5, 1.5]], np.float32)),  # max > 1: 0..255 scale
                                  np.repeat(np.array([[0, 1]], np.uint8)[:, :, None], 3, axis=2))

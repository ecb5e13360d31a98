"""The network under the released names, the frozen backbone, and what one training step changes."""
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from pfe_estimator.inference import export
from pfe_estimator.model import backbones
from pfe_estimator.training import pfe_model
from pfe_estimator.inference import predict
from pfe_estimator.faces import network_input
from pfe_estimator.model import sphere_net
from tests import numpy_reference
from tests.conftest import TINY, tiny_backbone, tiny_estimator, tiny_recipe, tiny_synthetic_input_fn


def _build_network(backbone, image_size, embedding_size, training=False):
    images = tf.placeholder(tf.float32, [None, image_size[0], image_size[1], 3])
    return images, pfe_model.pfe_outputs(images, backbones.Backbone(backbone, embedding_size), training)


@pytest.mark.parametrize("backbone", sphere_net.backbone_names())
def test_variables_carry_the_released_names_and_shapes(backbone):
    with tf.Graph().as_default():
        _build_network(backbone, (112, 96), 512)
        variables = {v.op.name: v.shape.as_list() for v in pfe_model.network_variables()}
    expected = numpy_reference.released_variable_names(sphere_net.RESIDUAL_UNITS_PER_STAGE[backbone])
    assert sorted(variables) == sorted(expected)
    assert variables["SphereNet/conv1/Conv/weights"] == [3, 3, 3, 64]
    assert variables["SphereNet/conv4/Conv/p_re_lu/alpha"] == [1, 1, 512]
    assert variables["SphereNet/Bottleneck/weights"] == [21504, 512]
    assert variables["UncertaintyModule/fc1/weights"] == [21504, 512]
    assert variables["UncertaintyModule/scale_and_shift/alpha"] == []


def _write_released_checkpoint(directory, residual_units, image_size, embedding_size, seed=0):
    """Writes random weights under the released names with plain tf.Variables (no project code)."""
    rng = np.random.RandomState(seed)
    height, width = sphere_net.conv_output_size(image_size)
    feature_size = height * width * 512
    values = {}
    for name in numpy_reference.released_variable_names(residual_units):
        leaf = name.split("/")[-1]
        if leaf == "weights" and "/conv" in name:
            in_channels = 3 if name.startswith("SphereNet/conv1/Conv/") else None
            if in_channels is None:
                stage = int(name.split("/")[1][-1])
                width_out = sphere_net.STAGE_WIDTHS[stage - 1]
                in_channels = sphere_net.STAGE_WIDTHS[stage - 2] if name.endswith("/Conv/weights") else width_out
            out = sphere_net.STAGE_WIDTHS[int(name.split("/")[1][-1]) - 1]
            value = rng.normal(0, np.sqrt(2.0 / (9 * in_channels)), size=(3, 3, in_channels, out))
        elif leaf == "weights":
            rows = embedding_size if "fc_log_sigma_sq" in name else feature_size
            value = rng.normal(0, 1.0 / np.sqrt(rows), size=(rows, embedding_size))
        elif leaf == "alpha" and "p_re_lu" in name:
            value = rng.uniform(0, 0.3, size=(1, 1, sphere_net.STAGE_WIDTHS[int(name.split("/")[1][-1]) - 1]))
        elif leaf == "biases":
            value = rng.normal(0, 0.1, size=(sphere_net.STAGE_WIDTHS[int(name.split("/")[1][-1]) - 1],))
        elif leaf == "moving_variance":
            value = rng.uniform(0.5, 2.0, size=(embedding_size,))
        elif leaf in ("beta", "moving_mean"):
            value = rng.normal(0, 0.2, size=(embedding_size,))
        elif leaf == "gamma" and "BatchNorm" in name:
            value = rng.uniform(0.5, 1.5, size=(embedding_size,))
        elif name.endswith("scale_and_shift/alpha"):
            value = np.array(0.3)
        else:  # scale_and_shift/gamma, the shift
            value = np.array(-5.0)
        values[name] = value.astype(np.float32)
    with tf.Graph().as_default():
        variables = [tf.Variable(value, name=name) for name, value in values.items()]
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            tf.train.Saver(variables).save(session, os.path.join(directory, "ckpt"), global_step=3000)
    return values


def test_released_checkpoint_restores_and_matches_numpy(tmp_path):
    """A checkpoint under the released names (no global step, no slots) predicts and exports unchanged."""
    units = sphere_net.RESIDUAL_UNITS_PER_STAGE[TINY["backbone"]]
    released = str(tmp_path / "released")
    weights = _write_released_checkpoint(released, units, TINY["image_size"], TINY["embedding_size"])
    images = np.random.RandomState(1).uniform(-1, 1, size=(5,) + TINY["image_size"] + (3,)).astype(np.float32)
    expected_mu, expected_sigma_sq = numpy_reference.pfe_forward(images, weights, units)

    export_dir = str(tmp_path / "export")
    export.export_pfe(released, export_dir, tiny_backbone(), TINY["image_size"])
    with tf.Graph().as_default(), tf.Session() as session:
        signature = tf.saved_model.loader.load(session, [tf.saved_model.SERVING], export_dir).signature_def[
            "serving_default"]
        mu, sigma_sq = session.run([signature.outputs["mu"].name, signature.outputs["sigma_sq"].name],
                                   {signature.inputs["images"].name: images})
    np.testing.assert_allclose(mu, expected_mu, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(sigma_sq, expected_sigma_sq, rtol=1e-4)

def test_missing_backbone_variable_is_a_one_line_error(tmp_path):
    with tf.Graph().as_default():
        variable = tf.Variable(np.zeros((3, 3, 3, 64), np.float32), name="SphereNet/conv1/Conv/weights")
        with tf.Session() as session:
            session.run(variable.initializer)
            tf.train.Saver([variable]).save(session, str(tmp_path / "partial"))
    estimator = tiny_estimator(str(tmp_path / "model"), pretrained_checkpoint=str(tmp_path / "partial"))
    with pytest.raises(ValueError) as error:
        estimator.train(tiny_synthetic_input_fn(), max_steps=1)
    message = str(error.value)
    assert "\n" not in message and "checkpoint has no variable SphereNet/conv1/Conv/biases" in message


def test_training_changes_only_the_head(tmp_path):
    """Gradients reach only UncertaintyModule; the restored backbone is bit-identical after training."""
    units = sphere_net.RESIDUAL_UNITS_PER_STAGE[TINY["backbone"]]
    pretrained = str(tmp_path / "pretrained")
    weights = _write_released_checkpoint(pretrained, units, TINY["image_size"], TINY["embedding_size"], seed=5)
    estimator = tiny_estimator(str(tmp_path / "model"), pretrained_checkpoint=pretrained)
    estimator.train(tiny_synthetic_input_fn(), max_steps=3)

    names = estimator.get_variable_names()
    for name, value in weights.items():
        if name.startswith("SphereNet/"):
            np.testing.assert_array_equal(estimator.get_variable_value(name), value, err_msg=name)
    head_weights = "UncertaintyModule/fc1/weights"
    assert head_weights + "/Momentum" in names
    assert not [n for n in names if n.startswith("SphereNet/") and n.endswith("Momentum")]
    assert np.any(estimator.get_variable_value("UncertaintyModule/fc1/BatchNorm/moving_mean") != 0)
    assert estimator.get_variable_value("global_step") == 3

    with tf.Graph().as_default():
        features, _ = tf.data.make_one_shot_iterator(tiny_synthetic_input_fn()()).get_next()
        mu, log_sigma_sq = pfe_model.pfe_outputs(features["images"], tiny_backbone(), True)
        loss = tf.reduce_sum(log_sigma_sq) + tf.reduce_sum(mu)
        backbone = tf.global_variables("SphereNet/")
        head = tf.trainable_variables("UncertaintyModule/")
        assert backbone and not [v for v in backbone if v in tf.trainable_variables()]
        assert all(g is None for g in tf.gradients(loss, backbone))
        assert all(g is not None for g in tf.gradients(loss, head))


def test_predict_reads_image_files_of_a_released_checkpoint(tmp_path):
    """predict: PNG/JPEG files -> mu, sigma^2 equal to the numpy reference; a bad file is skipped."""
    import cv2  # pylint: disable=import-outside-toplevel
    from pfe_estimator.faces import image_io  # pylint: disable=import-outside-toplevel
    units = sphere_net.RESIDUAL_UNITS_PER_STAGE[TINY["backbone"]]
    released = str(tmp_path / "released")
    weights = _write_released_checkpoint(released, units, TINY["image_size"], TINY["embedding_size"], seed=2)
    rng = np.random.RandomState(4)
    paths, images = [], []
    for index in range(5):
        image = rng.randint(0, 256, size=TINY["image_size"] + (3,)).astype(np.uint8)
        path = str(tmp_path / ("face_%d.png" % index))
        cv2.imwrite(path, image[:, :, ::-1])
        paths.append(path)
        images.append(image_io.standardize(image))
    broken = str(tmp_path / "broken.jpg")
    with open(broken, "wb") as f:
        f.write(b"not an image")
    estimator = tiny_estimator(str(tmp_path / "model"))
    kept, skipped = [], []
    load_face = lambda path: network_input.load_network_input(path, TINY["image_size"])  # noqa: E731
    inputs = network_input.readable_images(paths[:2] + [broken] + paths[2:], load_face, kept, skipped)
    mu, sigma_sq = predict.estimator_embeddings(estimator, inputs, TINY["image_size"], batch_size=2,
                                                checkpoint_path=released)
    assert kept == paths and [s[0] for s in skipped] == [broken]
    expected_mu, expected_sigma_sq = numpy_reference.pfe_forward(np.stack(images), weights, units)
    np.testing.assert_allclose(mu, expected_mu, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(sigma_sq, expected_sigma_sq, rtol=1e-4)


def test_the_quality_ranking_loss_is_added_to_training_with_its_weight():
    """estimators.pfe_model_fn adds weight x the batch's ranking loss to the training loss (linear in the
    weight, 0 without it) and EVAL's loss stays MLS + weight decay."""
    from pfe_estimator.training import estimators  # pylint: disable=import-outside-toplevel
    rng = np.random.RandomState(0)
    mu = rng.normal(size=(8, TINY["embedding_size"])).astype(np.float32)
    batch = {"features": rng.normal(size=(8, 32)).astype(np.float32),
             "mu": mu / np.linalg.norm(mu, axis=1, keepdims=True),
             "severity": np.array([0, 2, 0, 1, 0, 4, 3, 0], np.int32),
             "source": np.array([5, 5, 6, 6, 7, 7, 8, 8], np.int64)}
    labels = np.repeat(np.arange(2), 4).astype(np.int32)

    def loss(weight, mode=tf.estimator.ModeKeys.TRAIN):
        with tf.Graph().as_default():
            tf.set_random_seed(0)
            model_fn = estimators.pfe_model_fn(tiny_backbone(), tiny_recipe()._replace(
                num_classes_per_batch=2, images_per_class=4, quality_ranking_weight=weight,
                quality_ranking_margin=0.5))
            spec = model_fn({key: tf.constant(value) for key, value in batch.items()}, tf.constant(labels), mode)
            with tf.Session() as session:
                session.run(tf.global_variables_initializer())
                return session.run(spec.loss)

    plain, ranked = loss(0.0), loss(10.0)
    assert ranked > plain
    assert loss(20.0) - plain == pytest.approx(2 * (ranked - plain), rel=1e-4)
    assert loss(10.0, tf.estimator.ModeKeys.EVAL) == loss(0.0, tf.estimator.ModeKeys.EVAL)  # moving statistics

"""The ONNX importer: every supported op against onnxruntime on small generated models, SFace parity on
real aligned LFW faces."""
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from pfe_estimator.model import onnx_import
from tests.conftest import lfw_subset_records, shared_path

RNG = np.random.RandomState(0)


def _constant(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def _model(nodes, initializers, output_shape=None, input_shape=(2, 3, 8, 8)):
    graph = helper.make_graph(
        nodes, "test", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(input_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, output_shape)], initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    return model


def _compare(model, tmp_path, input_shape=(2, 3, 8, 8), rtol=1e-5, atol=1e-5):
    path = str(tmp_path / "model.onnx")
    onnx.save(model, path)
    x = RNG.uniform(-1, 1, size=input_shape).astype(np.float32)
    expected = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    with tf.Graph().as_default(), tf.Session() as session:
        graph = onnx_import.OnnxGraph(path)
        value = graph.build(tf.constant(np.transpose(x, [0, 2, 3, 1])), ["y"])["y"]
        result = session.run(tf.convert_to_tensor(onnx_import._nchw(value)))  # pylint: disable=protected-access
    assert result.shape == expected.shape
    np.testing.assert_allclose(result, expected, rtol=rtol, atol=atol)


def _conv_weights(out_channels, in_per_group, kernel=3):
    return RNG.normal(0, 0.3, size=(out_channels, in_per_group, kernel, kernel)).astype(np.float32)


CONV_CASES = {
    "plain_bias_pads_strides": (dict(pads=[1, 0, 2, 1], strides=[2, 1]), 4, 1, True),
    "dilations": (dict(pads=[2, 2, 2, 2], dilations=[2, 2]), 5, 1, False),
    "depthwise_multiplier": (dict(pads=[1, 1, 1, 1], group=3), 6, 3, True),
    "auto_pad_same": (dict(auto_pad="SAME_UPPER", strides=[2, 2]), 4, 1, False),
}


@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv(case, tmp_path):
    attributes, out_channels, group, bias = CONV_CASES[case]
    initializers = [_constant("w", _conv_weights(out_channels, 3 // group))]
    inputs = ["x", "w"]
    if bias:
        initializers.append(_constant("b", RNG.normal(size=out_channels).astype(np.float32)))
        inputs.append("b")
    node = helper.make_node("Conv", inputs, ["y"], kernel_shape=[3, 3], **attributes)
    _compare(_model([node], initializers), tmp_path)


def test_grouped_conv(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], kernel_shape=[1, 1]),
             helper.make_node("Conv", ["a", "w2"], ["y"], kernel_shape=[3, 3], group=2, pads=[1, 1, 1, 1])]
    _compare(_model(nodes, [_constant("w1", _conv_weights(4, 3, 1)), _constant("w2", _conv_weights(6, 2))]), tmp_path)


def test_batch_norm_prelu_activations_and_arithmetic(tmp_path):
    channels = [3]
    nodes = [
        helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["bn"], epsilon=1e-3),
        helper.make_node("PRelu", ["bn", "slope"], ["pr"]),
        helper.make_node("LeakyRelu", ["pr"], ["lr"], alpha=0.2),
        helper.make_node("Sigmoid", ["lr"], ["sg"]),
        helper.make_node("Relu", ["bn"], ["rl"]),
        helper.make_node("Add", ["sg", "rl"], ["s1"]),
        helper.make_node("Sub", ["s1", "per_channel"], ["s2"]),
        helper.make_node("Mul", ["s2", "scalar"], ["s3"]),
        helper.make_node("Div", ["s3", "per_channel_positive"], ["s4"]),
        helper.make_node("Dropout", ["s4"], ["d"]),
        helper.make_node("Identity", ["d"], ["y"]),
    ]
    initializers = [_constant("scale", RNG.uniform(0.5, 1.5, channels).astype(np.float32)),
                    _constant("bias", RNG.normal(size=channels).astype(np.float32)),
                    _constant("mean", RNG.normal(size=channels).astype(np.float32)),
                    _constant("var", RNG.uniform(0.5, 2, channels).astype(np.float32)),
                    _constant("slope", RNG.uniform(0, 0.5, (3, 1, 1)).astype(np.float32)),
                    _constant("per_channel", RNG.normal(size=(3, 1, 1)).astype(np.float32)),
                    _constant("per_channel_positive", RNG.uniform(1, 2, (3, 1, 1)).astype(np.float32)),
                    _constant("scalar", np.array([0.7], np.float32))]
    _compare(_model(nodes, initializers), tmp_path)


def test_pools_pads_and_channel_concat(tmp_path):
    nodes = [
        helper.make_node("MaxPool", ["x"], ["mp"], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1]),
        helper.make_node("AveragePool", ["x"], ["ap0"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=0),
        helper.make_node("AveragePool", ["x"], ["ap1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=1),
        helper.make_node("Pad", ["x", "pads"], ["pc"], mode="constant"),
        helper.make_node("Pad", ["x", "pads"], ["pr"], mode="reflect"),
        helper.make_node("Pad", ["x", "pads"], ["pe"], mode="edge"),
        helper.make_node("Concat", ["pc", "pr", "pe"], ["padded"], axis=1),
        helper.make_node("MaxPool", ["padded"], ["pooled"], kernel_shape=[3, 3], strides=[1, 1]),
        helper.make_node("Concat", ["mp", "ap0", "ap1", "pooled"], ["y"], axis=1),
    ]
    pads = np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)
    _compare(_model(nodes, [_constant("pads", pads)]), tmp_path)


def test_global_pool_flatten_gemm_matmul(tmp_path):
    nodes = [
        helper.make_node("GlobalAveragePool", ["x"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["flat_gap"]),
        helper.make_node("Flatten", ["x"], ["flat"]),
        helper.make_node("Gemm", ["flat", "gw", "gb"], ["g"], transB=1, alpha=0.5, beta=2.0),
        helper.make_node("MatMul", ["flat_gap", "mw"], ["m"]),
        helper.make_node("Concat", ["g", "m"], ["y"], axis=1),
    ]
    initializers = [_constant("gw", RNG.normal(size=(5, 192)).astype(np.float32)),
                    _constant("gb", RNG.normal(size=5).astype(np.float32)),
                    _constant("mw", RNG.normal(size=(3, 4)).astype(np.float32))]
    _compare(_model(nodes, initializers), tmp_path)


def test_reshape_transpose_constant_and_spatial_concat(tmp_path):
    nodes = [
        helper.make_node("Constant", [], ["shape"], value=numpy_helper.from_array(np.array([0, 3, -1], np.int64))),
        helper.make_node("Reshape", ["x", "shape"], ["r"]),
        helper.make_node("Transpose", ["r"], ["t"], perm=[0, 2, 1]),
        helper.make_node("Concat", ["x", "x"], ["c"], axis=2),
        helper.make_node("Flatten", ["c"], ["cf"]),
        helper.make_node("Flatten", ["t"], ["tf"]),
        helper.make_node("Concat", ["tf", "cf"], ["y"], axis=1),
    ]
    _compare(_model(nodes, []), tmp_path)


@pytest.mark.parametrize("kind", ["per_tensor", "per_axis", "blocked"])
def test_dequantize_linear_weights(kind, tmp_path):
    quantized = RNG.randint(-100, 100, size=(4, 27)).astype(np.int8)
    if kind == "per_tensor":
        scale, attributes = np.array(0.02, np.float32), {}
    elif kind == "per_axis":
        scale, attributes = RNG.uniform(0.01, 0.03, size=4).astype(np.float32), {"axis": 0}
    else:
        scale, attributes = RNG.uniform(0.01, 0.03, size=(4, 3)).astype(np.float32), {"axis": 1, "block_size": 9}
    zero = RNG.randint(-5, 5, size=scale.shape).astype(np.int8)
    nodes = [helper.make_node("DequantizeLinear", ["q", "s", "z"], ["wd"], **attributes),
             helper.make_node("Reshape", ["wd", "wshape"], ["w"]),
             helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])]
    initializers = [_constant("q", quantized), _constant("s", scale), _constant("z", zero),
                    _constant("wshape", np.array([4, 3, 3, 3], np.int64))]
    _compare(_model(nodes, initializers), tmp_path)


def test_unsupported_op_is_a_one_line_error(tmp_path):
    node = helper.make_node("Softmax", ["x"], ["y"], name="classifier_softmax")
    path = str(tmp_path / "model.onnx")
    onnx.save(_model([node], []), path)
    with tf.Graph().as_default(), pytest.raises(ValueError) as error:
        onnx_import.OnnxGraph(path).build(tf.zeros([1, 8, 8, 3]), ["y"])
    assert "unsupported ONNX op Softmax in node classifier_softmax" in str(error.value)
    assert "\n" not in str(error.value)


def test_sface_matches_onnxruntime_on_real_aligned_lfw_faces(tmp_path):
    from pfe_estimator.data import tfrecord_schema  # pylint: disable=import-outside-toplevel
    from pfe_estimator.faces import image_io  # pylint: disable=import-outside-toplevel
    model_path = shared_path("models", "sface", "face_recognition_sface_2021dec_int8bq.onnx")
    records, _, _ = lfw_subset_records(tmp_path, "112x112")
    images = np.stack([image_io.decode_rgb(jpeg) for shard in sorted(os.listdir(records)) if shard.endswith(".tfrecord")
                       for record in tfrecord_schema.read_identities(os.path.join(records, shard))
                       for jpeg in record["encoded"][:2]]).astype(np.float32)
    model = onnx.load(model_path)
    initializers = {i.name for i in model.graph.initializer}
    unused_inputs = {i.name: np.zeros([d.dim_value for d in i.type.tensor_type.shape.dim], np.float32)
                     for i in model.graph.input if i.name not in initializers and i.name != "data"}
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    expected = np.concatenate([session.run(None, dict(unused_inputs, data=image[None].transpose(0, 3, 1, 2)))[0]
                               for image in images])
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    with tf.Graph().as_default(), tf.Session() as tf_session:
        standardised = tf.placeholder(tf.float32, [None, 112, 112, 3])
        mu, features = onnx_import.onnx_backbone(standardised, model_path)
        _, pooled = onnx_import.onnx_backbone(standardised, model_path, head_input="pooled")
        mu_value, feature_value, pooled_value = tf_session.run([mu, features, pooled],
                                                               {standardised: (images - 127.5) / 128.0})
    assert len(images) == 20 and feature_value.shape == (20, 1024 * 7 * 7)
    np.testing.assert_allclose(mu_value, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    # --head_input=pooled: the [C, H, W] map averaged over its positions, as feature_cache.pooled does
    np.testing.assert_allclose(pooled_value, feature_value.reshape(20, 1024, 49).mean(axis=2), rtol=1e-5, atol=1e-5)

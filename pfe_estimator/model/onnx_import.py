"""Imports a frozen ONNX face-recognition model into the TensorFlow graph as a backbone.

The `onnx` package parses the model; weights become constants (DequantizeLinear and Reshape on weights are
folded in numpy at import time); ops are rebuilt with tf.compat.v1 ops. Activations that ONNX keeps as NCHW
run as NHWC here (TensorFlow's CPU convolutions need it): every value carries its layout, and a value is
transposed back to ONNX's NCHW only where an op depends on the axis order (Flatten, Reshape, Transpose,
MatMul/Gemm inputs, a Concat that is not on channels).

Supported ops: Conv (groups, depthwise, pads, auto_pad, strides, dilations), BatchNormalization, PRelu,
Relu, LeakyRelu, Sigmoid, Add, Sub, Mul, Div, Flatten, Gemm, MatMul, Reshape, Transpose, Concat, Pad,
MaxPool, AveragePool, GlobalAveragePool, Dropout, Identity, Constant, DequantizeLinear (per tensor, per
axis, blocked). Anything else is a one-line ValueError naming the op and the node.
"""
import collections

import numpy as np
import tensorflow.compat.v1 as tf

from pfe_estimator import errors
from pfe_estimator.model import compute_precision

NCHW_TO_NHWC = [0, 2, 3, 1]
NHWC_TO_NCHW = [0, 3, 1, 2]


class Value(collections.namedtuple("Value", ["tensor", "nhwc"])):
    """A graph value: a tf.Tensor (nhwc=True: a 4-D NCHW value stored as NHWC) or a numpy constant."""


def _attributes(node):
    from onnx import helper  # pylint: disable=import-outside-toplevel
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _is_constant(value):
    return isinstance(value.tensor, np.ndarray)


def _nchw(value):
    """The value in ONNX's own axis order (tensor or numpy)."""
    if value.nhwc:
        return tf.transpose(value.tensor, NHWC_TO_NCHW)
    return value.tensor


def _nhwc(value):
    """A 4-D value as NHWC tensor."""
    if value.nhwc:
        return value.tensor
    return tf.transpose(tf.convert_to_tensor(value.tensor, tf.float32), NCHW_TO_NHWC)


def _broadcast_constant_to_nhwc(constant, rank=4):
    """A numpy constant broadcastable against an NCHW tensor, made broadcastable against its NHWC form."""
    constant = np.asarray(constant, np.float32)
    if constant.ndim == 0:
        return constant
    constant = constant.reshape((1,) * (rank - constant.ndim) + constant.shape)
    return np.transpose(constant, NCHW_TO_NHWC)


def dequantize(quantized, scale, zero_point=None, axis=1, block_size=0):
    """numpy DequantizeLinear: (x - zero_point) * scale, per tensor, per axis, or in blocks along axis.

    Args:
      quantized: int8/uint8/int32 array.
      scale: float scalar, [x.shape[axis]] (per axis), or x's shape with dim `axis` = ceil(n / block_size).
      zero_point: same shape as scale, or None.
      axis: the quantisation axis (negative allowed).
      block_size: > 0 for blocked quantisation.

    Returns:
      float32 array of x's shape.
    """
    x = quantized.astype(np.float32)
    scale = np.asarray(scale, np.float32)
    zero = np.zeros_like(scale) if zero_point is None else np.asarray(zero_point).astype(np.float32)
    axis = axis % max(1, x.ndim)
    if scale.ndim == 0 or scale.size == 1 and block_size == 0:
        return (x - zero.reshape(())) * scale.reshape(())
    if block_size > 0:
        scale = np.repeat(scale, block_size, axis=axis).take(np.arange(x.shape[axis]), axis=axis)
        zero = np.repeat(zero, block_size, axis=axis).take(np.arange(x.shape[axis]), axis=axis)
        return (x - zero) * scale
    shape = [1] * x.ndim
    shape[axis] = -1
    return (x - zero.reshape(shape)) * scale.reshape(shape)


class OnnxGraph(object):
    """A parsed ONNX model ready to be rebuilt in TensorFlow."""

    def __init__(self, path):
        import onnx  # pylint: disable=import-outside-toplevel
        from onnx import numpy_helper  # pylint: disable=import-outside-toplevel
        try:
            self.model = onnx.load(path)
        except Exception as error:  # pylint: disable=broad-except
            raise errors.UserError("%s: cannot read the ONNX model (%s)" % (path, error))
        self.path = path
        graph = self.model.graph
        self.initializers = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        self.nodes = list(graph.node)
        consumed = {name for node in self.nodes for name in node.input}
        inputs = [i for i in graph.input if i.name not in self.initializers and i.name in consumed]
        if len(inputs) != 1:
            raise errors.UserError("%s: expected one image input, found %s" % (path, [i.name for i in inputs]))
        self.input_name = inputs[0].name
        self.input_shape = [d.dim_value or None for d in inputs[0].type.tensor_type.shape.dim]
        if len(self.input_shape) != 4 or self.input_shape[1] != 3:
            raise errors.UserError("%s: input %s has shape %s, expected N x 3 x H x W" % (path, self.input_name,
                                                                                    self.input_shape))
        self.output_name = graph.output[0].name

    @property
    def image_size(self):
        """(H, W) the model expects."""
        return self.input_shape[2], self.input_shape[3]

    def default_feature_node(self):
        """The input of the last Flatten or Gemm node: the head's input by default."""
        for node in reversed(self.nodes):
            if node.op_type in ("Flatten", "Gemm"):
                return node.input[0]
        raise errors.UserError("%s: no Flatten or Gemm node; give --feature_node" % self.path)

    def unflattened(self, name):
        """The input of the Flatten node whose output is `name` (the conv map it flattens), else name."""
        for node in self.nodes:
            if node.op_type == "Flatten" and node.output[0] == name:
                return node.input[0]
        return name

    def simplified(self, wanted):
        """(initializers, nodes) computing the same `wanted` values with fewer ops: every node of constants
        (DequantizeLinear and Reshape of weights, Constant) computed once into an initializer, and every
        BatchNormalization that alone reads a Conv's output folded into that Conv's weights and bias (the same
        function, to float rounding: features within 1e-5 of the unfolded graph's)."""
        constants = dict(self.initializers)
        nodes = []
        for node in self.nodes:
            inputs = [name for name in node.input if name]
            if node.op_type in FOLDED_CONSTANTS and all(name in constants for name in inputs):
                value = constant_value(node, [constants[name] for name in inputs])
                if value is not None:
                    constants[node.output[0]] = value
                    continue
            nodes.append(node)
        return constants, _batch_norms_folded(nodes, constants, set(wanted) | {self.output_name})

    def build(self, images_nchw_as_nhwc, wanted):
        """Rebuilds the graph (simplified) on an NHWC image tensor; returns {name: Value} for the `wanted` names.

        Args:
          images_nchw_as_nhwc: float32 [N, H, W, 3], the model's own input values (already in its
            normalisation and channel order), NHWC.
          wanted: value names to return.
        """
        initializers, nodes = self.simplified(wanted)
        values = {name: Value(array, False) for name, array in initializers.items()}
        values[self.input_name] = Value(images_nchw_as_nhwc, True)
        missing = set(wanted)
        for node in nodes:
            if not missing:
                break
            converter = CONVERTERS.get(node.op_type)
            if converter is None:
                raise errors.UserError("%s: unsupported ONNX op %s in node %s" % (self.path, node.op_type,
                                                                            node.name or node.output[0]))
            inputs = [values[name] if name else None for name in node.input]
            with tf.name_scope(_scope_name(node)):
                outputs = converter(inputs, _attributes(node), node)
            for name, value in zip(node.output, outputs):
                values[name] = value
                missing.discard(name)
        if missing:
            raise errors.UserError("%s: no value named %s in the graph" % (self.path, ", ".join(sorted(missing))))
        return {name: values[name] for name in wanted}


FOLDED_CONSTANTS = ("DequantizeLinear", "Reshape", "Constant")  # computed once when their inputs are all constants


def _batch_norms_folded(nodes, constants, kept):
    """`nodes` with each Conv -> BatchNormalization pair whose Conv output only that BatchNormalization reads (and
    no one asks for: `kept`) made one Conv writing the BatchNormalization's output, with weights W * g / sqrt(v + e)
    per output channel and bias (b - m) g / sqrt(v + e) + beta (new constants added to `constants`)."""
    from onnx import helper  # pylint: disable=import-outside-toplevel
    readers = collections.Counter(name for node in nodes for name in node.input)
    producer = {node.output[0]: node for node in nodes if node.op_type == "Conv"}
    folded, replaced = [], {}  # the nodes kept; {id of a Conv: the Conv with its BatchNormalization folded in}
    for node in nodes:
        source = producer.get(node.input[0]) if node.op_type == "BatchNormalization" else None
        if source is None or readers[node.input[0]] != 1 or node.input[0] in kept or source.input[1] not in constants \
                or not all(name in constants for name in node.input[1:5]):
            folded.append(node)
            continue
        scale, offset, mean, variance = [np.asarray(constants[name], np.float64) for name in node.input[1:5]]
        multiplier = scale / np.sqrt(variance + _attributes(node).get("epsilon", 1e-5))
        weights = np.asarray(constants[source.input[1]], np.float64)
        bias = np.asarray(constants[source.input[2]], np.float64) if len(source.input) > 2 and source.input[2] \
            else np.zeros(len(weights))
        names = (node.output[0] + "/folded_weights", node.output[0] + "/folded_bias")
        constants[names[0]] = (weights * multiplier.reshape((-1,) + (1,) * (weights.ndim - 1))).astype(np.float32)
        constants[names[1]] = ((bias - mean) * multiplier + offset).astype(np.float32)
        conv = helper.make_node("Conv", [source.input[0], names[0], names[1]], [node.output[0]],
                                name=source.name or node.output[0])
        conv.attribute.extend(source.attribute)
        replaced[id(source)] = conv  # the Conv comes before its BatchNormalization, which is dropped
    return [replaced.get(id(node), node) for node in folded]


def constant_value(node, arrays):
    """The numpy value of a node whose inputs are all constants (a DequantizeLinear or Reshape of weights, a
    Constant), as the importer folds it; None when its converter computes a tensor instead."""
    value = CONVERTERS[node.op_type]([Value(array, False) for array in arrays], _attributes(node), node)[0].tensor
    return value if isinstance(value, np.ndarray) else None


def _scope_name(node):
    name = (node.name or node.output[0] or node.op_type)
    return "".join(c if c.isalnum() or c in "_-." else "_" for c in name).lstrip("_-.") or node.op_type


# ---------------------------------------------------------------- converters: (inputs, attrs, node) -> [Value]


def _conv(inputs, attrs, node):
    x = _nhwc(inputs[0])
    weights = inputs[1].tensor
    if not isinstance(weights, np.ndarray):
        raise errors.UserError("Conv %s: weights must be constant" % node.name)
    out_channels, in_per_group, kernel_h, kernel_w = weights.shape
    group = attrs.get("group", 1)
    strides = attrs.get("strides", [1, 1])
    dilations = attrs.get("dilations", [1, 1])
    pads = attrs.get("pads", [0, 0, 0, 0])
    auto_pad = attrs.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    padding = "VALID"
    # TensorFlow's SAME equals ONNX's symmetric (k - 1) / 2 padding at stride 1 with an odd kernel: no Pad op.
    same_at_stride_one = (list(strides) == [1, 1] and kernel_h % 2 == 1 and kernel_w % 2 == 1 and list(pads) == [
        dilations[0] * (kernel_h - 1) // 2, dilations[1] * (kernel_w - 1) // 2] * 2)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        if auto_pad == "SAME_LOWER" and (kernel_h % 2 == 0 or kernel_w % 2 == 0):
            raise errors.UserError("Conv %s: auto_pad SAME_LOWER with an even kernel is not supported" % node.name)
        padding = "SAME"
    elif same_at_stride_one and any(pads):
        padding = "SAME"
    elif any(pads):
        x = tf.pad(x, [[0, 0], [pads[0], pads[2]], [pads[1], pads[3]], [0, 0]])
    kernel = np.transpose(weights, [2, 3, 1, 0]).astype(np.float32)  # [kh, kw, in/group, out]
    bias = np.asarray(inputs[2].tensor, np.float32) if len(inputs) > 2 and inputs[2] is not None else None
    in_channels = in_per_group * group
    if group == 1:
        y = compute_precision.conv2d(x, kernel, bias, strides=[1] + list(strides) + [1], padding=padding,
                                     dilations=[1] + list(dilations) + [1])
    elif group == in_channels and out_channels % group == 0:
        multiplier = out_channels // group
        depthwise = kernel.reshape(kernel_h, kernel_w, group, multiplier)
        y = compute_precision.depthwise_conv2d(x, depthwise, bias, strides=[1] + list(strides) + [1],
                                               padding=padding, rate=list(dilations))
    else:
        per_group_out = out_channels // group
        parts = tf.split(x, group, axis=3)
        y = tf.concat([compute_precision.conv2d(part, kernel[:, :, :, g * per_group_out:(g + 1) * per_group_out],
                                                strides=[1] + list(strides) + [1], padding=padding,
                                                dilations=[1] + list(dilations) + [1])
                       for g, part in enumerate(parts)], axis=3)
        if bias is not None:
            y = tf.nn.bias_add(y, bias)
    return [Value(y, True)]


def _batch_norm(inputs, attrs, node):
    scale, bias, mean, variance = [np.asarray(v.tensor, np.float32) for v in inputs[1:5]]
    multiplier = scale / np.sqrt(variance + attrs.get("epsilon", 1e-5))
    offset = bias - mean * multiplier
    x = inputs[0]
    if x.nhwc or len(x.tensor.shape) == 2:
        return [Value(x.tensor * multiplier + offset, x.nhwc)]
    rank = len(x.tensor.shape)
    shape = [1, -1] + [1] * (rank - 2)
    return [Value(x.tensor * multiplier.reshape(shape) + offset.reshape(shape), False)]


def _binary(function):
    def convert(inputs, attrs, node):  # pylint: disable=unused-argument
        a, b = inputs
        if _is_constant(a) and _is_constant(b):
            return [Value(function(a.tensor, b.tensor), False)]
        if a.nhwc or b.nhwc:
            a_tensor = _broadcast_constant_to_nhwc(a.tensor) if _is_constant(a) else _nhwc(a)
            b_tensor = _broadcast_constant_to_nhwc(b.tensor) if _is_constant(b) else _nhwc(b)
            return [Value(function(a_tensor, b_tensor), True)]
        return [Value(function(a.tensor, b.tensor), False)]
    return convert


def _unary(function):
    def convert(inputs, attrs, node):  # pylint: disable=unused-argument
        return [Value(function(inputs[0].tensor, attrs), inputs[0].nhwc)]
    return convert


def _prelu(inputs, attrs, node):
    x, slope = inputs
    slope_value = np.asarray(slope.tensor, np.float32)
    if x.nhwc:
        slope_value = _broadcast_constant_to_nhwc(slope_value)
    # Two passes instead of where's three, bit for bit the same: for a slope <= 1 (negative ones too) the larger of
    # x and slope x is x where x > 0 and slope x elsewhere; for a slope >= 1, the smaller.
    if np.all(slope_value <= 1):
        return [Value(tf.maximum(x.tensor, slope_value * x.tensor), x.nhwc)]
    if np.all(slope_value >= 1):
        return [Value(tf.minimum(x.tensor, slope_value * x.tensor), x.nhwc)]
    return [Value(tf.where(x.tensor > 0, x.tensor, x.tensor * slope_value), x.nhwc)]


def _flatten(inputs, attrs, node):
    x = _nchw(inputs[0])
    axis = attrs.get("axis", 1)
    shape = x.shape.as_list() if hasattr(x, "shape") and not isinstance(x, np.ndarray) else list(x.shape)
    outer = [-1] if axis == 1 else [int(np.prod(shape[:axis]))]
    return [Value(tf.reshape(x, outer + [int(np.prod(shape[axis:]))]), False)]


def _gemm(inputs, attrs, node):
    a = _nchw(inputs[0])
    b = inputs[1].tensor if _is_constant(inputs[1]) else _nchw(inputs[1])
    if attrs.get("transA", 0):
        a = tf.transpose(a)
    if attrs.get("transB", 0):
        b = np.transpose(b) if isinstance(b, np.ndarray) else tf.transpose(b)
    b = np.asarray(b, np.float32) if isinstance(b, np.ndarray) else b
    y = compute_precision.matmul(a, b) * attrs.get("alpha", 1.0)
    if len(inputs) > 2 and inputs[2] is not None:
        y = y + attrs.get("beta", 1.0) * np.asarray(inputs[2].tensor, np.float32)
    return [Value(y, False)]


def _matmul(inputs, attrs, node):  # pylint: disable=unused-argument
    a, b = [v.tensor if _is_constant(v) else _nchw(v) for v in inputs]
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return [Value(np.matmul(a, b), False)]
    return [Value(compute_precision.matmul(tf.convert_to_tensor(a, tf.float32), tf.convert_to_tensor(b, tf.float32)),
                  False)]


def _reshape(inputs, attrs, node):  # pylint: disable=unused-argument
    shape = [int(s) for s in np.asarray(inputs[1].tensor)]
    if _is_constant(inputs[0]):
        source = inputs[0].tensor
        return [Value(source.reshape([source.shape[i] if s == 0 else s for i, s in enumerate(shape)]), False)]
    x = _nchw(inputs[0])
    current = x.shape.as_list()
    target = [current[i] if s == 0 else s for i, s in enumerate(shape)]
    target = [-1 if s is None else s for s in target]
    return [Value(tf.reshape(x, target), False)]


def _transpose(inputs, attrs, node):  # pylint: disable=unused-argument
    if _is_constant(inputs[0]):
        return [Value(np.transpose(inputs[0].tensor, attrs.get("perm")), False)]
    return [Value(tf.transpose(_nchw(inputs[0]), attrs.get("perm")), False)]


def _concat(inputs, attrs, node):  # pylint: disable=unused-argument
    axis = attrs["axis"]
    if all(_is_constant(v) for v in inputs):
        return [Value(np.concatenate([v.tensor for v in inputs], axis=axis), False)]
    rank = max(len(v.tensor.shape) for v in inputs)
    if rank == 4 and axis % 4 == 1:
        return [Value(tf.concat([_nhwc(v) for v in inputs], axis=3), True)]
    return [Value(tf.concat([_nchw(v) for v in inputs], axis=axis), False)]


def _pad(inputs, attrs, node):
    pads = attrs.get("pads")
    if pads is None:
        pads = [int(p) for p in np.asarray(inputs[1].tensor)]
    value = attrs.get("value", 0.0)
    if len(inputs) > 2 and inputs[2] is not None:
        value = float(np.asarray(inputs[2].tensor).reshape(()))
    mode = attrs.get("mode", b"constant")
    mode = (mode.decode() if isinstance(mode, bytes) else mode).upper()
    rank = len(pads) // 2
    pairs = [[pads[i], pads[i + rank]] for i in range(rank)]
    x = inputs[0]
    if x.nhwc:
        pairs = [pairs[i] for i in NCHW_TO_NHWC]
    tf_mode = {"CONSTANT": "CONSTANT", "REFLECT": "REFLECT", "EDGE": "SYMMETRIC"}[mode]
    if mode == "EDGE" and any(max(p) > 1 for p in pairs):
        raise errors.UserError("Pad %s: edge padding wider than 1 is not supported" % node.name)
    return [Value(tf.pad(x.tensor, pairs, mode=tf_mode, constant_values=value), x.nhwc)]


def _pool(kind):
    def convert(inputs, attrs, node):
        if attrs.get("ceil_mode", 0):
            raise errors.UserError("%s %s: ceil_mode=1 is not supported" % (node.op_type, node.name))
        x = _nhwc(inputs[0])
        kernel = attrs["kernel_shape"]
        strides = attrs.get("strides", [1, 1])
        pads = attrs.get("pads", [0, 0, 0, 0])
        window = [1] + list(kernel) + [1]
        step = [1] + list(strides) + [1]
        paddings = [[0, 0], [pads[0], pads[2]], [pads[1], pads[3]], [0, 0]]
        if kind == "max":
            if any(pads):
                x = tf.pad(x, paddings, constant_values=-np.inf)
            return [Value(tf.nn.max_pool(x, window, step, "VALID"), True)]
        if not any(pads):
            return [Value(tf.nn.avg_pool(x, window, step, "VALID"), True)]
        summed = tf.nn.avg_pool(tf.pad(x, paddings), window, step, "VALID")
        if attrs.get("count_include_pad", 0):
            return [Value(summed, True)]
        ones = tf.pad(tf.ones_like(x[:1, :, :, :1]), paddings)
        return [Value(summed / tf.nn.avg_pool(ones, window, step, "VALID"), True)]
    return convert


def _global_average_pool(inputs, attrs, node):  # pylint: disable=unused-argument
    return [Value(tf.reduce_mean(_nhwc(inputs[0]), axis=[1, 2], keepdims=True), True)]


def _passthrough(inputs, attrs, node):  # pylint: disable=unused-argument
    return [inputs[0]]


def _constant(inputs, attrs, node):  # pylint: disable=unused-argument
    from onnx import numpy_helper  # pylint: disable=import-outside-toplevel
    if "value" in attrs:
        return [Value(numpy_helper.to_array(attrs["value"]), False)]
    for key in ("value_float", "value_int"):
        if key in attrs:
            return [Value(np.array(attrs[key]), False)]
    for key in ("value_floats", "value_ints"):
        if key in attrs:
            return [Value(np.array(attrs[key]), False)]
    raise errors.UserError("Constant %s: unsupported value attribute %s" % (node.name, sorted(attrs)))


def _dequantize_linear(inputs, attrs, node):
    axis = attrs.get("axis", 1)
    block_size = attrs.get("block_size", 0)
    zero = inputs[2] if len(inputs) > 2 else None
    if all(_is_constant(v) for v in inputs if v is not None):
        return [Value(dequantize(inputs[0].tensor, inputs[1].tensor, None if zero is None else zero.tensor,
                                 axis, block_size), False)]
    if block_size:
        raise errors.UserError("DequantizeLinear %s: blocked quantisation of a computed tensor is not supported"
                               % node.name)
    x = tf.cast(_nchw(inputs[0]), tf.float32)
    scale = np.asarray(inputs[1].tensor, np.float32)
    zero_value = np.zeros_like(scale) if zero is None else np.asarray(zero.tensor, np.float32)
    if scale.size > 1:
        shape = [1] * len(x.shape)
        shape[axis] = -1
        scale, zero_value = scale.reshape(shape), zero_value.reshape(shape)
    return [Value((x - zero_value) * scale, False)]


CONVERTERS = {
    "Conv": _conv,
    "BatchNormalization": _batch_norm,
    "PRelu": _prelu,
    "Relu": _unary(lambda x, a: tf.nn.relu(x)),
    "LeakyRelu": _unary(lambda x, a: tf.nn.leaky_relu(x, alpha=a.get("alpha", 0.01))),
    "Sigmoid": _unary(lambda x, a: tf.sigmoid(x)),
    "Add": _binary(lambda a, b: a + b),
    "Sub": _binary(lambda a, b: a - b),
    "Mul": _binary(lambda a, b: a * b),
    "Div": _binary(lambda a, b: a / b),
    "Flatten": _flatten,
    "Gemm": _gemm,
    "MatMul": _matmul,
    "Reshape": _reshape,
    "Transpose": _transpose,
    "Concat": _concat,
    "Pad": _pad,
    "MaxPool": _pool("max"),
    "AveragePool": _pool("average"),
    "GlobalAveragePool": _global_average_pool,
    "Dropout": _passthrough,
    "Identity": _passthrough,
    "Constant": _constant,
    "DequantizeLinear": _dequantize_linear,
}


def onnx_backbone(images, model_path, embedding_node=None, feature_node=None, input_scale=128.0,
                  input_offset=127.5, input_channels="rgb", head_input="flattened"):
    """A frozen ONNX face model as the PFE backbone.

    Args:
      images: float32 [N, H, W, 3] RGB standardised as (x - 127.5) / 128 (the pipeline's input).
      model_path: the .onnx file.
      embedding_node: value whose L2-normalised rows are mu (default: the graph output).
      feature_node: value flattened as the head's input (default: the input of the last Flatten or Gemm).
      input_scale, input_offset: the model's input is images * input_scale + input_offset (default: back to
        0..255 pixels, as OpenCV Zoo's SFace expects; its graph normalises itself).
      input_channels: 'rgb' or 'bgr', the model's channel order.
      head_input: 'flattened' (features = the feature node's value flattened) or 'pooled' (its [N, C, H, W]
        map, or the map a Flatten node made it from, averaged over H and W: F = C).

    Returns:
      (mu float32 [N, D], features float32 [N, F]); no variables are created.
    """
    graph = OnnxGraph(model_path)
    if tuple(images.shape[1:3].as_list()) != tuple(graph.image_size):
        raise errors.UserError("%s expects %dx%d images, got %dx%d (set --image_size=%d,%d and align with the matching "
                         "template)" % ((model_path,) + tuple(graph.image_size) + tuple(images.shape[1:3].as_list()) +
                                        tuple(graph.image_size)))
    with tf.name_scope("OnnxBackbone"):
        model_input = images * input_scale + input_offset
        if input_channels == "bgr":
            model_input = tf.reverse(model_input, axis=[3])
        embedding_name = embedding_node or graph.output_name
        feature_name = feature_node or graph.default_feature_node()
        if head_input == "pooled":
            feature_name = graph.unflattened(feature_name)
        values = graph.build(model_input, [embedding_name, feature_name])
        embedding = _nchw(values[embedding_name])
        embedding = tf.reshape(embedding, [-1, int(np.prod(embedding.shape.as_list()[1:]))])
        features = _nchw(values[feature_name])
        if head_input == "pooled":
            if features.shape.ndims != 4:
                raise errors.UserError("--head_input=pooled needs a conv map [N, C, H, W] at the feature node %s of "
                                       "%s, which is %s; give --feature_node" % (feature_name, model_path,
                                                                                  features.shape))
            features = tf.reduce_mean(features, axis=[2, 3])
        features = tf.reshape(features, [-1, int(np.prod(features.shape.as_list()[1:]))])
        return tf.nn.l2_normalize(embedding, axis=1), features

"""Reduced-precision arithmetic for the frozen backbone (bfloat16 convolutions and products).

Inside `backbone_precision("bf16")` the backbone's convolutions and matrix products cast their operands to
bfloat16 and their results back to float32; everything else (PReLU, batch norm, pooling, the head, the
MLS loss, the optimiser) stays float32. Variables stay float32, so checkpoints are unchanged. On CPUs
with AVX512_BF16 / AMX, oneDNN runs dense convolutions faster (SphereNet-20: 1.7x on this project's 2-core
machine); a model made of depthwise and small ops gains little op by op (SFace: 1.1x), more when XLA fuses the
casts and small ops around the convolutions (SFace in the cache path: inference/backbone_runtimes.py).
"""
import contextlib
import functools

import tensorflow.compat.v1 as tf

from pfe_estimator import errors

PRECISIONS = {"fp32": tf.float32, "bf16": tf.bfloat16}
_ACTIVE = [tf.float32]


@contextlib.contextmanager
def backbone_precision(name):
    """Makes conv2d/depthwise_conv2d/matmul below compute in PRECISIONS[name] while graphs are built."""
    check_name(name)
    _ACTIVE.append(PRECISIONS[name])
    try:
        yield
    finally:
        _ACTIVE.pop()


def check_name(name):
    if name not in PRECISIONS:
        raise errors.UserError("--backbone_precision=%s: expected one of %s" % (name, ", ".join(sorted(PRECISIONS))))


def _computed(function, a, b, bias=None, **kwargs):
    """function(a, b) (+ bias, a numpy [C] or None) in the active precision, returned as float32: the bias is
    added before the cast back, where oneDNN fuses it into the convolution."""
    dtype = _ACTIVE[-1]
    if dtype == tf.float32:
        result = function(a, b, **kwargs)
        return result if bias is None else tf.nn.bias_add(result, bias)
    result = function(tf.cast(a, dtype), tf.cast(b, dtype), **kwargs)
    if bias is not None:
        result = tf.nn.bias_add(result, tf.cast(bias, dtype))
    return tf.cast(result, tf.float32)


def conv2d(inputs, kernel, bias=None, **kwargs):
    """tf.nn.conv2d (+ bias) in the active precision; float32 result."""
    return _computed(tf.nn.conv2d, inputs, kernel, bias, **kwargs)


def depthwise_conv2d(inputs, kernel, bias=None, **kwargs):
    """tf.nn.depthwise_conv2d (+ bias) in the active precision; float32 result."""
    return _computed(tf.nn.depthwise_conv2d, inputs, kernel, bias, **kwargs)


def matmul(a, b, **kwargs):
    """tf.matmul in the active precision; float32 result."""
    return _computed(tf.matmul, a, b, None, **kwargs)


@functools.lru_cache(maxsize=None)
def unsupported_reason(name):
    """None when this TensorFlow runs the backbone's ops in `name` on its CPU, else a one-line reason.

    TF 1.15 without oneDNN, for one, has no bfloat16 Conv2D kernel for CPUs.
    """
    check_name(name)
    dtype = PRECISIONS[name]
    if dtype == tf.float32:
        return None
    with tf.Graph().as_default():
        try:
            x = tf.ones([1, 4, 4, 2], dtype)
            probe = [tf.nn.conv2d(x, tf.ones([3, 3, 2, 2], dtype), [1, 1, 1, 1], "SAME"),
                     tf.nn.depthwise_conv2d(x, tf.ones([3, 3, 2, 1], dtype), [1, 1, 1, 1], "SAME"),
                     tf.matmul(tf.ones([2, 2], dtype), tf.ones([2, 2], dtype))]
            with tf.Session(config=tf.ConfigProto(device_count={"GPU": 0})) as session:
                session.run(probe)
        except (TypeError, tf.errors.NotFoundError, tf.errors.InvalidArgumentError,
                tf.errors.UnimplementedError) as error:
            return ("--backbone_precision=%s: TensorFlow %s has no %s kernel for these ops on this CPU (%s); "
                    "use --backbone_precision=fp32" % (name, tf.VERSION, name, str(error).splitlines()[0]))
    return None

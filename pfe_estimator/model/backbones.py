"""The frozen backbone: a SphereNet (checkpoint-restored variables) or an imported ONNX model (constants)."""
import collections

import tensorflow.compat.v1 as tf

from pfe_estimator import errors
from pfe_estimator.model import compute_precision
from pfe_estimator.model import onnx_import
from pfe_estimator.model import sphere_net

ONNX_PREFIX = "onnx:"
# What the uncertainty head reads: the last conv map flattened (the released PFE) or averaged over positions.
HEAD_INPUTS = ("flattened", "pooled")


class Backbone(collections.namedtuple("Backbone", ["name", "embedding_size", "options"])):
    """The frozen face network as one value, from the flags to the model_fn, the exporter and the cache.

    name: 'sphere4' ... 'sphere64', or 'onnx:PATH'.
    embedding_size: D of a SphereNet (an ONNX model brings its own).
    options: None, or a dict of `precision` ('fp32' when absent, or 'bf16': see compute_precision),
      `head_input` ('flattened' when absent, or 'pooled': the conv map averaged over its positions) and,
      for ONNX, keyword arguments of `onnx_import.onnx_backbone` (embedding_node, feature_node,
      input_scale, input_offset, input_channels).
    """
    __slots__ = ()

    def __new__(cls, name, embedding_size=512, options=None):
        return super(Backbone, cls).__new__(cls, name, embedding_size, options)


def is_onnx(backbone):
    return backbone.startswith(ONNX_PREFIX)


def check_backbone_name(backbone):
    """Raises ValueError for a name that is neither a SphereNet depth nor onnx:PATH."""
    if not is_onnx(backbone) and backbone not in sphere_net.RESIDUAL_UNITS_PER_STAGE:
        raise errors.UserError("--backbone=%s: expected one of %s or onnx:PATH"
                         % (backbone, ", ".join(sphere_net.backbone_names())))


def variable_scope(backbone):
    """The scope of the backbone's variables, restored from --pretrained_ckpt; None for ONNX (constants)."""
    return None if is_onnx(backbone) else sphere_net.SCOPE


def embedding_norm(mu):
    """The norm [N] of the embedding that mu [N, D] was L2-normalised from (MagFace's quality measure): every
    backbone's mu is tf.nn.l2_normalize's output, embedding * rsqrt(max(sum embedding^2, eps)), a Mul whose
    first input is the embedding."""
    if mu.op.type != "Mul":
        raise ValueError("mu is not tf.nn.l2_normalize's output (%s)" % mu.op.type)
    return tf.norm(mu.op.inputs[0], axis=1)


def frozen_backbone(images, backbone):
    """Builds the backbone in inference mode with non-trainable weights.

    Args:
      images: float32 [N, H, W, 3] RGB standardised as (x - 127.5) / 128.
      backbone: a Backbone.

    Returns:
      (mu float32 [N, D] L2-normalised, features float32 [N, F] the head's input).
    """
    check_backbone_name(backbone.name)
    options = dict(backbone.options or {})
    with compute_precision.backbone_precision(options.pop("precision", "fp32")):
        if is_onnx(backbone.name):
            return onnx_import.onnx_backbone(images, backbone.name[len(ONNX_PREFIX):], **options)
        return sphere_net.sphere_net(images, backbone.name, backbone.embedding_size, training=False, trainable=False,
                                     head_input=options.get("head_input", "flattened"))

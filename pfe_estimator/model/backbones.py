"""The frozen backbone: a SphereNet (checkpoint-restored variables) or an imported ONNX model (constants)."""
from pfe_estimator.model import compute_precision
from pfe_estimator.model import onnx_import
from pfe_estimator.model import sphere_net

ONNX_PREFIX = "onnx:"


def is_onnx(backbone):
    return backbone.startswith(ONNX_PREFIX)


def check_backbone_name(backbone):
    """Raises ValueError for a name that is neither a SphereNet depth nor onnx:PATH."""
    if not is_onnx(backbone) and backbone not in sphere_net.RESIDUAL_UNITS_PER_STAGE:
        raise ValueError("--backbone=%s: expected one of %s or onnx:PATH" % (backbone, ", ".join(sphere_net.backbone_names())))


def variable_scope(backbone):
    """The scope of the backbone's variables, restored from --pretrained_ckpt; None for ONNX (constants)."""
    return None if is_onnx(backbone) else sphere_net.SCOPE


def frozen_backbone(images, backbone, embedding_size=512, options=None):
    """Builds the backbone in inference mode with non-trainable weights.

    Args:
      images: float32 [N, H, W, 3] RGB standardised as (x - 127.5) / 128.
      backbone: 'sphere4' ... 'sphere64', or 'onnx:PATH'.
      embedding_size: SphereNet's embedding width (an ONNX model has its own).
      options: `precision` ('fp32' when absent, or 'bf16': see compute_precision) and, for ONNX, keyword
        arguments of `onnx_import.onnx_backbone` (embedding_node, feature_node, input_scale, input_offset,
        input_channels).

    Returns:
      (mu float32 [N, D] L2-normalised, features float32 [N, F] the head's input).
    """
    check_backbone_name(backbone)
    options = dict(options or {})
    with compute_precision.backbone_precision(options.pop("precision", "fp32")):
        if is_onnx(backbone):
            return onnx_import.onnx_backbone(images, backbone[len(ONNX_PREFIX):], **options)
        return sphere_net.sphere_net(images, backbone, embedding_size, training=False, trainable=False)

"""--backbone_precision=auto: bf16 for the frozen backbone where the hardware and this TensorFlow have it
and its mu stays close to fp32 on one batch of the run's faces; fp32 elsewhere. Also the precision
benchmark's graph (both precisions on one set of weights)."""
import numpy as np
import tensorflow.compat.v1 as tf
from tensorflow.core.protobuf import rewriter_config_pb2

from pfe_estimator import errors
from pfe_estimator.data import pk_sampling
from pfe_estimator.model import backbones
from pfe_estimator.model import compute_precision
from pfe_estimator.storage import checkpoints

# The smallest cosine between a face's bf16 and fp32 mu that auto accepts, over the checked batch.
GUARD_COSINE = 0.999
# Linux /proc/cpuinfo flags of CPUs on which oneDNN computes bfloat16 convolutions natively.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def both_precisions(images, backbone):
    """mu of the backbone in fp32 and in bf16 on the same images, one set of weights for both.

    Args:
      images: float32 [N, H, W, 3] standardised.
      backbone: a Backbone; its own precision option is ignored.

    Returns:
      {'fp32': mu float32 [N, D], 'bf16': mu float32 [N, D]}.
    """
    options = dict(backbone.options or {})
    mu = {}
    with tf.variable_scope(tf.get_variable_scope(), reuse=tf.AUTO_REUSE):  # a SphereNet's one set of weights
        for name in ("fp32", "bf16"):
            options["precision"] = name
            mu[name] = backbones.frozen_backbone(images, backbone._replace(options=dict(options)))[0]
    return mu


def decodable_faces(jpegs, image_size):
    """The crops among `jpegs` that decode (as training decodes them: TensorFlow, no OpenCV) to image_size,
    standardised; the others are left out (the mode that reads them names them). float32 [N, H, W, 3]."""
    faces = []
    with tf.Graph().as_default(), tf.Session() as session:
        encoded = tf.placeholder(tf.string, [])
        face = pk_sampling.decode_face(encoded, image_size)
        for jpeg in jpegs:
            try:
                faces.append(session.run(face, {encoded: jpeg}))
            except tf.errors.OpError:
                continue
    return np.array([f for f in faces if f.shape == (image_size[0], image_size[1], 3)], np.float32)


def bf16_agreement(backbone, faces, checkpoint=None):
    """The smallest cosine between a face's fp32 and bf16 mu.

    Args:
      backbone: a Backbone.
      faces: float32 [N, H, W, 3] standardised faces.
      checkpoint: a SphereNet's weights (a prefix); None gives it seeded random weights (a run that
        trains from scratch). ONNX models carry their own.

    Returns:
      float, min over the N faces of cosine(mu_fp32, mu_bf16).
    """
    with tf.Graph().as_default():
        tf.set_random_seed(0)
        images = tf.constant(np.asarray(faces, np.float32))
        mu = both_precisions(images, backbone)
        # One run of a graph that holds its weights as constants: folding them first costs more than the run
        # (about 0.4 s of SFace's check; the smallest cosine measured the same to 6 digits).
        config = tf.ConfigProto()
        config.graph_options.rewrite_options.constant_folding = rewriter_config_pb2.RewriterConfig.OFF
        with tf.Session(config=config) as session:
            session.run(tf.global_variables_initializer())
            scope = backbones.variable_scope(backbone.name)
            if scope and checkpoint:
                checkpoints.restore_variables(session, checkpoint, tf.global_variables(scope + "/"))
            values = session.run(mu)
    return float(np.min(np.sum(values["fp32"] * values["bf16"], axis=1)))


def hardware_choice(device, cpu_flags, gpu_capabilities, tf_version):
    """What --backbone_precision=auto would use before checking the numbers: (precision, why).

    Args:
      device: 'cpu', 'gpu' or 'npu'.
      cpu_flags: set of the CPU's feature flags (Linux /proc/cpuinfo names: avx512_bf16, amx_bf16).
      gpu_capabilities: [(major, minor)] of the visible GPUs.
      tf_version: TensorFlow's version string.
    """
    if device == "npu":
        return "fp32", "the NPU computes in its --precision_mode"
    if int(tf_version.split(".")[0]) < 2:
        return "fp32", "TensorFlow %s has no oneDNN bfloat16 path" % tf_version
    if device == "gpu":
        if gpu_capabilities and min(gpu_capabilities) >= (8, 0):
            return "bf16", "the GPU has bfloat16 (compute capability %d.%d)" % min(gpu_capabilities)
        return "fp32", "no GPU with bfloat16 (compute capability 8.0 or later)"
    found = sorted(set(cpu_flags) & set(BF16_CPU_FLAGS))
    if not found:
        return "fp32", "this CPU has neither AVX512_BF16 nor AMX"
    return "bf16", "this CPU has %s" % "/".join(flag.upper() for flag in found)


def cpu_flags():
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none: the CPU then counts as
    lacking bfloat16)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def gpu_capabilities():
    """[(major, minor)] of the visible GPUs (empty on a TensorFlow without the device-details API, TF < 2.3)."""
    details = getattr(tf.config.experimental, "get_device_details", None)
    if details is None:
        return []
    return [tuple(details(gpu).get("compute_capability", (0, 0)))
            for gpu in tf.config.experimental.list_physical_devices("GPU")]


def auto_precision(device, backbone, faces, checkpoint=None):
    """--backbone_precision=auto: bf16 where the hardware has it and this TensorFlow its kernels, and the
    bf16 backbone's mu stays within cosine GUARD_COSINE of fp32 on `faces`; fp32 otherwise.

    Args:
      device: the run's --device.
      backbone: the run's Backbone.
      faces: callable() -> float32 [N, H, W, 3] standardised faces, called only when the check runs.
      checkpoint: a SphereNet's weights (see bf16_agreement).

    Returns:
      (precision, one line saying why).
    """
    choice, why = hardware_choice(device, cpu_flags(), gpu_capabilities(), tf.version.VERSION)
    if choice == "fp32":
        return choice, why
    reason = compute_precision.unsupported_reason("bf16")
    if reason:
        return "fp32", reason.split(" (", 1)[0].replace("--backbone_precision=bf16: ", "")
    batch = faces()
    try:
        agreement = bf16_agreement(backbone, batch, checkpoint)
    except (tf.errors.OpError, errors.UserError) as error:  # e.g. a damaged checkpoint: the mode reports it
        return "fp32", "%s, but the check could not read the backbone's weights (%s)" % (
            why, errors.first_line(getattr(error, "message", None) or str(error)))
    if agreement < GUARD_COSINE:
        return "fp32", "%s, but its bf16 mu is only within cosine %.5f of fp32 on %d faces (needs %s)" % (
            why, agreement, len(batch), GUARD_COSINE)
    return "bf16", "%s; bf16 mu within cosine %.5f of fp32 on %d faces" % (why, agreement, len(batch))

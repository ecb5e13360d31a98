"""SphereNet backbones (4/10/20/36/64 layers) under the released checkpoints' variable names.

Each of the four stages is a stride-2 3x3 conv with bias + PReLU, then residual units of two stride-1
3x3 convs without bias (each + PReLU) added to the stage's running shortcut. The flattened last conv
map feeds `Bottleneck` (fully connected 512, no bias, batch norm with center and no scale) whose L2
normalised output is the embedding mu.
"""
import tensorflow.compat.v1 as tf

from pfe_estimator import errors
from pfe_estimator.model import layers

SCOPE = "SphereNet"
STAGE_WIDTHS = (64, 128, 256, 512)
RESIDUAL_UNITS_PER_STAGE = {
    "sphere4": (0, 0, 0, 0),
    "sphere10": (0, 1, 2, 0),
    "sphere20": (1, 2, 4, 1),
    "sphere36": (2, 4, 8, 2),
    "sphere64": (3, 8, 16, 3),
}
BOTTLENECK_BATCH_NORM = dict(center=True, scale=False, decay=0.995, epsilon=1e-3)


def backbone_names():
    """The backbone names accepted by `sphere_net`, e.g. ['sphere10', 'sphere20', ...]."""
    return sorted(RESIDUAL_UNITS_PER_STAGE)


def _conv_stage(inputs, num_residual_units, width, scope, trainable):
    """One stage: stride-2 conv, then residual units; slim names its convs Conv, Conv_1, Conv_2, ...

    Args:
      inputs: float32 [N, H, W, C].

    Returns:
      float32 [N, ceil(H/2), ceil(W/2), width].
    """
    with tf.variable_scope(scope):
        net = layers.conv2d_prelu(inputs, width, stride=2, scope="Conv", use_bias=True,
                                  kernel_initializer=layers.xavier_initializer(), trainable=trainable)
        shortcut = net
        for unit in range(num_residual_units):
            for half in (1, 2):
                net = layers.conv2d_prelu(net, width, stride=1, scope="Conv_%d" % (2 * unit + half),
                                          use_bias=False,
                                          kernel_initializer=tf.truncated_normal_initializer(stddev=0.01),
                                          trainable=trainable)
            net = net + shortcut
            shortcut = net
        return net


def sphere_net(images, backbone="sphere64", embedding_size=512, training=False, trainable=True,
               reuse=None, head_input="flattened"):
    """Builds SphereNet.

    Args:
      images: float32 [N, H, W, 3], standardised as (x - 127.5) / 128. H and W must be static.
      backbone: one of `backbone_names()`.
      embedding_size: D, the width of `Bottleneck`.
      training: Python bool; batch norm of `Bottleneck` uses (and updates) batch statistics when True,
        its moving statistics otherwise (PFE keeps it False: the backbone is frozen).
      trainable: whether the backbone's variables join TRAINABLE_VARIABLES.
      reuse: passed to the `SphereNet` variable scope.
      head_input: 'flattened' or 'pooled': the features the head reads (below).

    Returns:
      (mu, features): mu float32 [N, D], L2-normalised; features, the uncertainty head's input: float32
      [N, H/16 * W/16 * 512], the flattened last conv map (21504 for 112x96), or for head_input='pooled'
      [N, 512], that map averaged over its positions.
    """
    if backbone not in RESIDUAL_UNITS_PER_STAGE:
        raise errors.UserError("unknown backbone %r: expected one of %s" % (backbone, ", ".join(backbone_names())))
    with tf.variable_scope(SCOPE, reuse=reuse):
        net = images
        for stage, (units, width) in enumerate(zip(RESIDUAL_UNITS_PER_STAGE[backbone], STAGE_WIDTHS)):
            net = _conv_stage(net, units, width, "conv%d" % (stage + 1), trainable)
        height, width, channels = [int(d) for d in net.shape[1:]]
        features = tf.reshape(net, [-1, height * width * channels])
        embedding = layers.fully_connected_batch_norm(
            features, embedding_size, "Bottleneck", layers.xavier_initializer(), training=training,
            trainable=trainable, **BOTTLENECK_BATCH_NORM)
        mu = tf.nn.l2_normalize(embedding, axis=1)
    if head_input == "pooled":
        features = tf.reduce_mean(net, axis=[1, 2])
    return mu, features


def conv_output_size(image_size):
    """(height, width) of the last conv map for an input of `image_size` (four 'SAME' stride-2 convs)."""
    height, width = image_size
    for _ in range(4):
        height, width = (height + 1) // 2, (width + 1) // 2
    return height, width

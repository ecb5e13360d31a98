"""The PFE uncertainty head: log(sigma^2) from the backbone's features, its last conv map flattened (the
released PFE, --head_input=flattened) or averaged over its positions (--head_input=pooled).

fc1 (no bias) + batch norm (center, scale) + ReLU -> fc_log_sigma_sq (no bias) + batch norm (neither
center nor scale) -> one scalar scale and one scalar shift shared by every dimension ->
log(1e-6 + exp(.)). The released checkpoints call the scale `scale_and_shift/alpha` (init 1e-4) and the
shift `scale_and_shift/gamma` (init -7.0); those names are kept.
"""
import tensorflow.compat.v1 as tf

from pfe_estimator.model import layers

SCOPE = "UncertaintyModule"
BATCH_NORM_DECAY = 0.995
BATCH_NORM_EPSILON = 1e-3
SCALE_INIT = 1e-4
SHIFT_INIT = -7.0
SIGMA_SQ_EPSILON = 1e-6


def _scale_and_shift(inputs):
    """scale * x + shift with two scalars shared by all dimensions. [N, D] -> [N, D]."""
    with tf.variable_scope("scale_and_shift"):
        scale = tf.get_variable("alpha", [], tf.float32, tf.constant_initializer(SCALE_INIT))
        shift = tf.get_variable("gamma", [], tf.float32, tf.constant_initializer(SHIFT_INIT))
    return scale * inputs + shift


def uncertainty_head(features, embedding_size, training):
    """Builds the head.

    Args:
      features: float32 [N, F], the backbone's features (its conv map flattened, or pooled: F = C).
      embedding_size: D, the embedding's dimension.
      training: Python bool; batch norm uses and updates batch statistics when True.

    Returns:
      log_sigma_sq: float32 [N, D].
    """
    with tf.variable_scope(SCOPE):
        net = layers.fully_connected_batch_norm(
            features, embedding_size, "fc1", layers.xavier_initializer(), center=True, scale=True,
            decay=BATCH_NORM_DECAY, epsilon=BATCH_NORM_EPSILON, training=training)
        net = tf.nn.relu(net)
        net = layers.fully_connected_batch_norm(
            net, embedding_size, "fc_log_sigma_sq", layers.xavier_initializer(), center=False, scale=False,
            decay=BATCH_NORM_DECAY, epsilon=BATCH_NORM_EPSILON, training=training)
        log_sigma_sq = _scale_and_shift(net)
        return tf.log(SIGMA_SQ_EPSILON + tf.exp(log_sigma_sq))

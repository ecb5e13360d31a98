"""Layers that create their variables under tf.contrib.slim's names.

The released PFE checkpoints were written by tf.contrib.slim, which TF 2.x no longer has. These
functions make exactly the variables slim made (scopes, names, shapes, initialisers) with plain
`tf.compat.v1` ops, so those checkpoints restore unchanged on TF 1.15 and on TF 2.15.
"""
import tensorflow.compat.v1 as tf

from pfe_estimator.model import compute_precision


def xavier_initializer():
    """slim.xavier_initializer(): Glorot uniform."""
    return tf.glorot_uniform_initializer()


def prelu(inputs, trainable=True):
    """Parametric ReLU: relu(x) + alpha * min(0, x), alpha per channel, initialised 0.

    Args:
      inputs: float32 [N, H, W, C].
      trainable: whether `p_re_lu/alpha` [1, 1, C] joins TRAINABLE_VARIABLES.

    Returns:
      float32 [N, H, W, C].
    """
    with tf.variable_scope("p_re_lu"):
        alpha = tf.get_variable("alpha", [1, 1, int(inputs.shape[-1])], dtype=tf.float32,
                                initializer=tf.zeros_initializer(), trainable=trainable)
    return tf.nn.relu(inputs) + alpha * tf.minimum(0.0, inputs)


def conv2d_prelu(inputs, num_outputs, stride, scope, use_bias, kernel_initializer, trainable=True):
    """`slim.conv2d(inputs, num_outputs, 3, stride, 'SAME', activation_fn=prelu)`.

    Args:
      inputs: float32 [N, H, W, C_in].
      num_outputs: C_out.
      stride: 1 or 2.
      scope: slim's layer scope, e.g. 'Conv' or 'Conv_3'; holds `weights` [3, 3, C_in, C_out],
        `biases` [C_out] when use_bias, and `p_re_lu/alpha` [1, 1, C_out].
      use_bias: add a bias (zeros-initialised).
      kernel_initializer: initialiser of `weights`.
      trainable: whether the variables join TRAINABLE_VARIABLES.

    Returns:
      float32 [N, ceil(H / stride), ceil(W / stride), C_out].
    """
    with tf.variable_scope(scope):
        weights = tf.get_variable("weights", [3, 3, int(inputs.shape[-1]), num_outputs], dtype=tf.float32,
                                  initializer=kernel_initializer, trainable=trainable)
        outputs = compute_precision.conv2d(inputs, weights, strides=[1, stride, stride, 1], padding="SAME")
        if use_bias:
            biases = tf.get_variable("biases", [num_outputs], dtype=tf.float32,
                                     initializer=tf.zeros_initializer(), trainable=trainable)
            outputs = tf.nn.bias_add(outputs, biases)
        return prelu(outputs, trainable=trainable)


def batch_norm(inputs, center, scale, decay, epsilon, training, trainable=True):
    """slim.batch_norm over the batch axis of a [N, D] tensor, in scope `BatchNorm`.

    In training the batch's own mean and (biased) variance normalise the input and the moving
    statistics are updated as moving = moving - (1 - decay) * (moving - batch) through ops added to
    UPDATE_OPS; otherwise the moving statistics are used.

    Args:
      inputs: float32 [N, D].
      center: create `beta` [D] (zeros) and add it.
      scale: create `gamma` [D] (ones) and multiply by it.
      decay: moving average decay.
      epsilon: added to the variance.
      training: Python bool.
      trainable: whether beta and gamma join TRAINABLE_VARIABLES (moving statistics never do).

    Returns:
      float32 [N, D].
    """
    depth = int(inputs.shape[-1])
    with tf.variable_scope("BatchNorm"):
        beta = gamma = None
        if center:
            beta = tf.get_variable("beta", [depth], tf.float32, tf.zeros_initializer(), trainable=trainable)
        if scale:
            gamma = tf.get_variable("gamma", [depth], tf.float32, tf.ones_initializer(), trainable=trainable)
        # MEAN aggregation: under a MirroredStrategy every replica's update is averaged.
        moving_mean = tf.get_variable("moving_mean", [depth], tf.float32, tf.zeros_initializer(),
                                      trainable=False, aggregation=tf.VariableAggregation.MEAN)
        moving_variance = tf.get_variable("moving_variance", [depth], tf.float32, tf.ones_initializer(),
                                          trainable=False, aggregation=tf.VariableAggregation.MEAN)
        if training:
            mean, variance = tf.nn.moments(inputs, axes=[0])
            for moving, batch_value in ((moving_mean, mean), (moving_variance, variance)):
                update = tf.assign_sub(moving, (1.0 - decay) * (moving - batch_value))
                tf.add_to_collection(tf.GraphKeys.UPDATE_OPS, update)
        else:
            mean, variance = moving_mean, moving_variance
        return tf.nn.batch_normalization(inputs, mean, variance, beta, gamma, epsilon)


def fully_connected_batch_norm(inputs, num_outputs, scope, kernel_initializer, center, scale, decay,
                               epsilon, training, trainable=True):
    """`slim.fully_connected(inputs, num_outputs, normalizer_fn=slim.batch_norm, activation_fn=None)`.

    slim drops the bias when a normalizer follows, so this is a bias-free product then batch norm.

    Args:
      inputs: float32 [N, F].
      num_outputs: D.
      scope: slim's layer scope ('Bottleneck', 'fc1', ...); holds `weights` [F, D] and `BatchNorm/...`.
      kernel_initializer: initialiser of `weights`.
      center, scale, decay, epsilon, training: see `batch_norm`.
      trainable: whether the weights and batch norm parameters join TRAINABLE_VARIABLES.

    Returns:
      float32 [N, D].
    """
    with tf.variable_scope(scope):
        weights = tf.get_variable("weights", [int(inputs.shape[-1]), num_outputs], dtype=tf.float32,
                                  initializer=kernel_initializer, trainable=trainable)
        outputs = compute_precision.matmul(inputs, weights)
        return batch_norm(outputs, center=center, scale=scale, decay=decay, epsilon=epsilon,
                          training=training, trainable=trainable)

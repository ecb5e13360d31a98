"""The training tail shared by PFE and pretraining: weight decay, learning-rate schedule, Momentum wrapped
for the device, batch-norm updates, the throughput log."""
import collections

import tensorflow.compat.v1 as tf

from pfe_estimator import errors
from pfe_estimator.training import hooks

class OptimizerConfig(collections.namedtuple("OptimizerConfig", [
        "learning_rate_values", "learning_rate_boundaries", "momentum", "wrap_optimizer"])):
    """How a model trains: piecewise-constant learning rates (one more value than boundaries, see
    learning_rate_schedule), Momentum's momentum, and wrap_optimizer: callable(optimizer) -> optimizer
    (devices.optimizer_wrapper: loss scaling, NPU allreduce, or identity)."""
    __slots__ = ()


def weight_decay_loss(weight_decay, variables):
    """weight_decay * sum(w^2) / 2 over the `weights` variables among `variables` (slim's l2_regularizer on
    every fully connected and convolution layer). float32 []."""
    weights = [v for v in variables if v.op.name.endswith("/weights")]
    if not weights or weight_decay == 0:
        return tf.constant(0.0)
    return weight_decay * tf.add_n([tf.nn.l2_loss(w) for w in weights])


def learning_rate_schedule(global_step, boundaries, values):
    """Piecewise-constant learning rate: values[i] until boundaries[i], then the next value. float32 []."""
    if len(values) != len(boundaries) + 1:
        raise errors.UserError("learning rate: %d values need %d boundaries, got %d"
                         % (len(values), len(values) - 1, len(boundaries)))
    if not boundaries:
        return tf.constant(float(values[0]))
    return tf.train.piecewise_constant(global_step, [int(b) for b in boundaries], [float(v) for v in values])


def training_spec(total_loss, logged_loss, variables, optimizer_config, images_per_step, log_every_n_steps,
                  steps_per_run):
    """The TRAIN EstimatorSpec minimising total_loss over `variables` with Momentum.

    Args:
      total_loss: float32 [] to minimise.
      logged_loss: float32 [] the step lines report.
      variables: the variables that train.
      optimizer_config: an OptimizerConfig.
      images_per_step, log_every_n_steps, steps_per_run: for hooks.ThroughputHook.
    """
    config = optimizer_config
    global_step = tf.train.get_or_create_global_step()
    learning_rate = learning_rate_schedule(global_step, config.learning_rate_boundaries, config.learning_rate_values)
    tf.summary.scalar("learning_rate", learning_rate)
    optimizer = config.wrap_optimizer(tf.train.MomentumOptimizer(learning_rate, config.momentum))
    minimize = optimizer.minimize(total_loss, global_step=global_step, var_list=variables)
    train_op = tf.group(minimize, *tf.get_collection(tf.GraphKeys.UPDATE_OPS))
    throughput = hooks.ThroughputHook(images_per_step, log_every_n_steps, logged_loss, steps_per_run)
    return tf.estimator.EstimatorSpec(tf.estimator.ModeKeys.TRAIN, loss=total_loss, train_op=train_op,
                                      training_hooks=[throughput])

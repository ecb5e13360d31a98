"""The training tail shared by PFE and pretraining: learning-rate schedule, Momentum wrapped for the
device, batch-norm updates, the throughput log."""
import collections

import tensorflow.compat.v1 as tf

from pfe_estimator import errors
from pfe_estimator.training import hooks

PAPER_BOUNDARY_FRACTION = 2.0 / 3.0  # sphere64_casia: the learning rate drops at step 2000 of 3000


class OptimizerConfig(collections.namedtuple("OptimizerConfig", [
        "learning_rate_values", "learning_rate_boundaries", "momentum", "wrap_optimizer"])):
    """How a model trains: piecewise-constant learning rates (one more value than boundaries, see
    learning_rate_schedule), Momentum's momentum, and wrap_optimizer: callable(optimizer) -> optimizer
    (devices.optimizer_wrapper: loss scaling, NPU allreduce, or identity)."""
    __slots__ = ()


def default_learning_rate_boundaries(max_steps, num_values=2):
    """The paper's schedule scaled to max_steps: with two learning rates, the drop at two thirds of the
    steps; with n, n - 1 drops evenly spaced up to two thirds. [int]."""
    return [int(round(PAPER_BOUNDARY_FRACTION * max_steps * i / (num_values - 1))) for i in range(1, num_values)]


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

"""Test double of `npu_bridge.npu_init`, with exactly the names pfe-estimator uses.

Signatures and checks follow the Ascend TF adapter: NPURunConfig subclasses RunConfig and takes
iterations_per_loop / precision_mode / enable_data_pre_proc / hcom_parallel / graph_run_mode;
NPUEstimator refuses a plain RunConfig and a missing JOB_ID; the loss-scale optimizer really scales the
loss and unscales the gradients. Every construction is recorded in RECORDED (and appended as a JSON line
to $NPU_DOUBLE_RECORD when set), so tests can assert what the project passed.
"""
import json
import os

import tensorflow.compat.v1 as tf

RECORDED = []


def _record(name, **arguments):
    entry = {"name": name, "arguments": arguments}
    RECORDED.append(entry)
    path = os.environ.get("NPU_DOUBLE_RECORD")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(entry, default=repr) + "\n")


class NPURunConfig(tf.estimator.RunConfig):
    def __init__(self, iterations_per_loop=1, profiling_config=None, model_dir=None, tf_random_seed=None,
                 save_summary_steps=0, save_checkpoints_steps=None, save_checkpoints_secs=None,
                 session_config=None, keep_checkpoint_max=5, keep_checkpoint_every_n_hours=10000,
                 log_step_count_steps=100, distribute=None, enable_data_pre_proc=True, precision_mode=None,
                 hcom_parallel=False, graph_run_mode=1):
        if session_config is not None and session_config.graph_options.rewrite_options.custom_optimizers:
            raise ValueError("NPURunConfig: session_config must not carry custom optimizers; NPUEstimator adds its own")
        if iterations_per_loop > 1 and not enable_data_pre_proc:
            raise ValueError("NPURunConfig: iterations_per_loop > 1 needs enable_data_pre_proc")
        _record("NPURunConfig", iterations_per_loop=iterations_per_loop, precision_mode=precision_mode,
                model_dir=model_dir, save_checkpoints_steps=save_checkpoints_steps,
                enable_data_pre_proc=enable_data_pre_proc, graph_run_mode=graph_run_mode)
        self.iterations_per_loop = iterations_per_loop
        self.precision_mode = precision_mode
        super(NPURunConfig, self).__init__(
            model_dir=model_dir, tf_random_seed=tf_random_seed, save_summary_steps=save_summary_steps,
            save_checkpoints_steps=save_checkpoints_steps, save_checkpoints_secs=save_checkpoints_secs,
            session_config=session_config, keep_checkpoint_max=keep_checkpoint_max,
            keep_checkpoint_every_n_hours=keep_checkpoint_every_n_hours, log_step_count_steps=log_step_count_steps)


class NPUEstimator(tf.estimator.Estimator):
    def __init__(self, model_fn, model_dir=None, config=None, params=None, job_start_file="",
                 warm_start_from=None):
        if not isinstance(config, NPURunConfig):
            raise ValueError("NPUEstimator: config must be an NPURunConfig")
        if "JOB_ID" not in os.environ and not job_start_file:
            raise ValueError("NPUEstimator: JOB_ID is not set")
        _record("NPUEstimator", model_dir=model_dir, rank_size=os.environ.get("RANK_SIZE", "1"))
        super(NPUEstimator, self).__init__(model_fn=model_fn, model_dir=model_dir, config=config,
                                           params=params, warm_start_from=warm_start_from)


class _WrappingOptimizer(tf.train.Optimizer):
    """Delegates to an inner optimizer; subclasses change the gradients."""

    def __init__(self, optimizer, name):
        super(_WrappingOptimizer, self).__init__(use_locking=False, name=name)
        self._optimizer = optimizer

    def compute_gradients(self, loss, var_list=None, **kwargs):
        return self._optimizer.compute_gradients(loss, var_list=var_list, **kwargs)

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        return self._optimizer.apply_gradients(grads_and_vars, global_step=global_step, name=name)


class NPUDistributedOptimizer(_WrappingOptimizer):
    """With one device (RANK_SIZE=1) allreduce is the identity, as on the real adapter."""

    def __init__(self, optimizer, name=None):
        _record("NPUDistributedOptimizer", inner=type(optimizer).__name__)
        super(NPUDistributedOptimizer, self).__init__(optimizer, name or "NPUDistributedOptimizer")


class FixedLossScaleManager(object):
    def __init__(self, loss_scale, enable_overflow_check=True):
        _record("FixedLossScaleManager", loss_scale=loss_scale)
        self.loss_scale = float(loss_scale)

    def get_loss_scale(self):
        return tf.constant(self.loss_scale)


class ExponentialUpdateLossScaleManager(object):
    def __init__(self, init_loss_scale, incr_every_n_steps, decr_every_n_nan_or_inf=2, incr_ratio=2,
                 decr_ratio=0.8):
        _record("ExponentialUpdateLossScaleManager", init_loss_scale=init_loss_scale,
                incr_every_n_steps=incr_every_n_steps, decr_every_n_nan_or_inf=decr_every_n_nan_or_inf,
                decr_ratio=decr_ratio)
        self.loss_scale = float(init_loss_scale)

    def get_loss_scale(self):
        return tf.constant(self.loss_scale)


class NPULossScaleOptimizer(_WrappingOptimizer):
    """Scales the loss before differentiation and unscales the gradients, like the adapter's."""

    def __init__(self, opt, loss_scale_manager, is_distributed=False):
        _record("NPULossScaleOptimizer", inner=type(opt).__name__, manager=type(loss_scale_manager).__name__,
                is_distributed=is_distributed)
        super(NPULossScaleOptimizer, self).__init__(opt, "NPULossScaleOptimizer")
        self._manager = loss_scale_manager

    def compute_gradients(self, loss, var_list=None, **kwargs):
        scale = self._manager.get_loss_scale()
        scaled = self._optimizer.compute_gradients(loss * scale, var_list=var_list, **kwargs)
        return [(None if grad is None else grad / scale, var) for grad, var in scaled]

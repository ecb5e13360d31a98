"""Test double of `npu_bridge.npu_init`, with exactly the names pfe-estimator uses, behaving like the adapter.

Signatures and checks follow the Ascend TF adapter (tf_adapter/python/npu_bridge/estimator/npu/...):
NPURunConfig subclasses RunConfig and takes iterations_per_loop / precision_mode / enable_data_pre_proc /
dump_config / profiling_config (typed DumpConfig / ProfilingConfig); NPUEstimator refuses a plain
RunConfig and an unset or empty JOB_ID; FixedLossScaleManager refuses a scale below 1;
ExponentialUpdateLossScaleManager keeps its scale and good/bad step counts in variables and updates them
as the adapter does; NPULossScaleOptimizer scales the loss, unscales the gradients and, on a step whose
scaled gradients overflow, applies nothing: neither the update nor the global-step increment. The NPU's
float16 overflow is emulated: a scaled gradient beyond float16's range (65504) counts as an overflow, so
a run starting at a loss scale of 2**32 skips its first steps as on the device. Every construction is
recorded in RECORDED (and appended as a JSON line to $NPU_DOUBLE_RECORD when set).
"""
import json
import os

import tensorflow.compat.v1 as tf

RECORDED = []
FLOAT16_MAX = 65504.0


def _record(name, **arguments):
    entry = {"name": name, "arguments": arguments}
    RECORDED.append(entry)
    path = os.environ.get("NPU_DOUBLE_RECORD")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(entry, default=repr) + "\n")


class DumpConfig(object):
    def __init__(self, enable_dump=False, dump_path=None, dump_step=None, dump_mode="output",
                 enable_dump_debug=False, dump_debug_mode="all"):
        self._enable_dump = enable_dump
        self._dump_path = dump_path
        self._dump_step = dump_step
        self._dump_mode = dump_mode
        self._enable_dump_debug = enable_dump_debug
        self._dump_debug_mode = dump_debug_mode


class ProfilingConfig(object):
    def __init__(self, enable_profiling=False, profiling_options=None):
        self._enable_profiling = enable_profiling
        self._profiling_options = profiling_options


class NPURunConfig(tf.estimator.RunConfig):
    def __init__(self, iterations_per_loop=1, profiling_config=None, model_dir=None, tf_random_seed=None,
                 save_summary_steps=0, save_checkpoints_steps=None, save_checkpoints_secs=None,
                 session_config=None, keep_checkpoint_max=5, keep_checkpoint_every_n_hours=10000,
                 log_step_count_steps=100, distribute=None, enable_data_pre_proc=True, precision_mode=None,
                 hcom_parallel=False, dump_config=None, graph_run_mode=1):
        if not isinstance(iterations_per_loop, int) or iterations_per_loop < 1:
            raise ValueError("iterations_per_loop must be a positive integer")
        if session_config is not None and session_config.graph_options.rewrite_options.custom_optimizers:
            raise ValueError("NPURunConfig: session_config must not carry custom optimizers; NPUEstimator adds its own")
        if iterations_per_loop > 1 and not enable_data_pre_proc:
            raise ValueError("NPURunConfig: iterations_per_loop > 1 needs enable_data_pre_proc")
        if dump_config is not None and not isinstance(dump_config, DumpConfig):
            raise ValueError("`dump_config` must be provided with type `DumpConfig`")
        if graph_run_mode > 1:
            raise ValueError('"graph_run_mode" value must be 0 or 1')
        _record("NPURunConfig", iterations_per_loop=iterations_per_loop, precision_mode=precision_mode,
                model_dir=model_dir, save_checkpoints_steps=save_checkpoints_steps,
                enable_data_pre_proc=enable_data_pre_proc, graph_run_mode=graph_run_mode,
                dump_config=None if dump_config is None else dict(vars(dump_config)),
                profiling_config=None if profiling_config is None else dict(vars(profiling_config)))
        self.iterations_per_loop = iterations_per_loop
        self.precision_mode = precision_mode
        self.dump_config = dump_config
        self.profiling_config = profiling_config
        super(NPURunConfig, self).__init__(
            model_dir=model_dir, tf_random_seed=tf_random_seed, save_summary_steps=save_summary_steps,
            save_checkpoints_steps=100 if save_checkpoints_steps is None and save_checkpoints_secs is None
            else save_checkpoints_steps, save_checkpoints_secs=save_checkpoints_secs,
            session_config=session_config, keep_checkpoint_max=keep_checkpoint_max,
            keep_checkpoint_every_n_hours=keep_checkpoint_every_n_hours, log_step_count_steps=log_step_count_steps)


class NPUEstimator(tf.estimator.Estimator):
    def __init__(self, model_fn, model_dir=None, config=None, params=None, job_start_file="",
                 warm_start_from=None):
        if not isinstance(config, NPURunConfig):
            raise ValueError("NPUEstimator: config must be an NPURunConfig")
        if not os.environ.get("JOB_ID") and not job_start_file:
            raise ValueError("NPUEstimator: JOB_ID is not set or empty")
        _record("NPUEstimator", model_dir=model_dir, rank_size=os.environ.get("RANK_SIZE", "1"),
                device_id=os.environ.get("ASCEND_DEVICE_ID"))
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
        if loss_scale < 1:
            raise ValueError("loss scale must be at least 1.")
        _record("FixedLossScaleManager", loss_scale=loss_scale)
        self._loss_scale = float(loss_scale)
        self._enable_overflow_check = enable_overflow_check

    def get_loss_scale(self):
        return tf.constant(self._loss_scale)

    def get_enable_overflow_check(self):
        return self._enable_overflow_check

    def update_loss_scale(self, finite_grads):
        del finite_grads
        return tf.no_op()


class ExponentialUpdateLossScaleManager(object):
    """The adapter's exponential update: x incr_ratio after incr_every_n_steps finite steps, x decr_ratio
    (not below 1) after decr_every_n_nan_or_inf overflowing ones; scale and counts are variables."""

    def __init__(self, init_loss_scale, incr_every_n_steps, decr_every_n_nan_or_inf=2, incr_ratio=2,
                 decr_ratio=0.8):
        _record("ExponentialUpdateLossScaleManager", init_loss_scale=init_loss_scale,
                incr_every_n_steps=incr_every_n_steps, decr_every_n_nan_or_inf=decr_every_n_nan_or_inf,
                decr_ratio=decr_ratio)
        self._init_loss_scale = float(init_loss_scale)
        self._incr_every_n_steps = incr_every_n_steps
        self._decr_every_n_nan_or_inf = decr_every_n_nan_or_inf
        self._incr_ratio = float(incr_ratio)
        self._decr_ratio = float(decr_ratio)
        self._variables = None

    def _state(self):
        if self._variables is None:
            with tf.variable_scope("loss_scale_manager", reuse=tf.AUTO_REUSE):
                self._variables = (
                    tf.get_variable("loss_scale", initializer=self._init_loss_scale, trainable=False),
                    tf.get_variable("good_steps", initializer=0, trainable=False),
                    tf.get_variable("bad_steps", initializer=0, trainable=False))
        return self._variables

    def get_loss_scale(self):
        return self._state()[0]

    def update_loss_scale(self, finite_grads):
        scale, good, bad = self._state()

        def finite():
            increase = good + 1 >= self._incr_every_n_steps
            return tf.cond(increase, lambda: tf.group(tf.assign(scale, scale * self._incr_ratio),
                                                      tf.assign(good, 0), tf.assign(bad, 0)),
                           lambda: tf.group(tf.assign_add(good, 1)))

        def overflow():
            decrease = bad + 1 >= self._decr_every_n_nan_or_inf
            return tf.cond(decrease, lambda: tf.group(tf.assign(scale, tf.maximum(1.0, scale * self._decr_ratio)),
                                                      tf.assign(good, 0), tf.assign(bad, 0)),
                           lambda: tf.group(tf.assign_add(bad, 1), tf.assign(good, 0)))

        return tf.cond(finite_grads, finite, overflow)


class NPULossScaleOptimizer(_WrappingOptimizer):
    """Scales the loss and unscales the gradients; skips the whole step (update and global step) when the
    scaled gradients overflow float16, and lets the manager update its scale, like the adapter's."""

    def __init__(self, opt, loss_scale_manager, is_distributed=False):
        _record("NPULossScaleOptimizer", inner=type(opt).__name__, manager=type(loss_scale_manager).__name__,
                is_distributed=is_distributed)
        super(NPULossScaleOptimizer, self).__init__(opt, "NPULossScaleOptimizer")
        self._manager = loss_scale_manager
        self._finite = None

    def compute_gradients(self, loss, var_list=None, **kwargs):
        scale = self._manager.get_loss_scale()
        scaled = self._optimizer.compute_gradients(loss * scale, var_list=var_list, **kwargs)
        grads = [grad for grad, _ in scaled if grad is not None]
        self._finite = tf.reduce_all(tf.stack([tf.reduce_all(tf.abs(grad) <= FLOAT16_MAX) for grad in grads]))
        return [(None if grad is None else grad / scale, var) for grad, var in scaled]

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        check = getattr(self._manager, "get_enable_overflow_check", lambda: True)()
        finite = self._finite if check and self._finite is not None else tf.constant(True)
        update = tf.cond(finite, lambda: tf.group(self._optimizer.apply_gradients(grads_and_vars, global_step, name)),
                         tf.no_op)
        return tf.group(update, self._manager.update_loss_scale(finite))

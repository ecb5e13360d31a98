"""Training hooks."""
import time

import tensorflow.compat.v1 as tf


class ThroughputHook(tf.estimator.SessionRunHook):
    """Logs steps/s and images/s, with the loss, every `every_n_steps` global steps.

    Rates come from global-step differences, so they stay right when one session run covers several
    steps (NPU iterations_per_loop > 1). The first interval, which includes graph start-up, is not
    logged as a rate.
    """

    def __init__(self, batch_size, every_n_steps, loss):
        self._batch_size = batch_size
        self._every_n_steps = max(1, every_n_steps)
        self._loss = loss
        self._last_step = None
        self._last_time = None

    def begin(self):
        self._global_step = tf.train.get_global_step()

    def before_run(self, run_context):
        return tf.estimator.SessionRunArgs([self._global_step, self._loss])

    def after_run(self, run_context, run_values):
        step, loss = run_values.results
        now = time.time()
        if self._last_step is None:
            self._last_step, self._last_time = step, now
            return
        if step - self._last_step >= self._every_n_steps:
            steps_per_sec = (step - self._last_step) / max(now - self._last_time, 1e-9)
            images_per_sec = steps_per_sec * self._batch_size
            tf.logging.info("step %d: loss = %.4f, %.3f steps/s, %.1f images/s",
                            step, loss, steps_per_sec, images_per_sec)
            self._last_step, self._last_time = step, now

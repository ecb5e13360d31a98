"""Training hooks."""
import time

import tensorflow.compat.v1 as tf


class ThroughputHook(tf.estimator.SessionRunHook):
    """Logs the loss, steps/s and images/s of the steps actually run, and a closing throughput line.

    Rates count session runs x steps_per_run (NPU iterations_per_loop), not global-step differences: on
    the NPU a step whose loss-scaled gradients overflow runs (its images are processed) but applies
    nothing and leaves the global step where it was, so global-step rates would under-report; the lines
    say how many steps were skipped that way. The first run, which includes graph start-up, is excluded.

    Lines (parsed by the ModelZoo scripts in test/):
      step N: loss = L, S steps/s, I images/s[, K step(s) skipped on loss-scale overflow]
      throughput: I images/s over S steps (A applied) in T s
    """

    def __init__(self, images_per_step, every_n_steps, loss, steps_per_run=1):
        self._images_per_step = images_per_step
        self._steps_per_run = steps_per_run
        self._every_n_runs = max(1, every_n_steps // steps_per_run)
        self._loss = loss

    def begin(self):
        self._global_step = tf.train.get_global_step()
        self._runs = 0
        self._first = None  # (time, global step) after the first run
        self._interval = None  # (time, global step, runs) at the start of the logging interval
        self._last = None  # (time, global step, loss) of the latest run
        self._logged_step = None

    def before_run(self, run_context):
        return tf.estimator.SessionRunArgs([self._global_step, self._loss])

    def after_run(self, run_context, run_values):
        step, loss = run_values.results
        now = time.time()
        self._runs += 1
        self._last = (now, step, loss)
        if self._first is None:
            self._first = self._interval = (now, step, self._runs)
            return
        start, start_step, start_runs = self._interval
        runs = self._runs - start_runs
        if runs >= self._every_n_runs:
            steps = runs * self._steps_per_run
            steps_per_sec = steps / max(now - start, 1e-9)
            skipped = steps - (step - start_step)
            tf.logging.info("step %d: loss = %.4f, %.3f steps/s, %.1f images/s%s", step, loss, steps_per_sec,
                            steps_per_sec * self._images_per_step,
                            ", %d step(s) skipped on loss-scale overflow" % skipped if skipped > 0 else "")
            self._interval = (now, step, self._runs)
            self._logged_step = step

    def end(self, session):
        if self._last is None:
            return
        last_time, step, loss = self._last
        if step != self._logged_step:
            tf.logging.info("step %d: loss = %.4f", step, loss)
        start, start_step, _ = self._first
        steps = (self._runs - 1) * self._steps_per_run
        seconds = last_time - start
        if steps > 0:
            tf.logging.info("throughput: %.1f images/s over %d steps (%d applied) in %.1f s",
                            steps * self._images_per_step / max(seconds, 1e-9), steps, step - start_step, seconds)

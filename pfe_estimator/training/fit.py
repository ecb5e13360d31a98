"""Training a model folder to its last step: the one way every head and backbone is trained, by main.py's
--mode=train and --mode=pretrain and by the experiments' fold heads alike.

The chief (runtime.rank 0) holds the folder's lock (storage/model_dir_lock.py), resumes only from an intact
checkpoint it can name (never silently from step 0), and writes the folder's record
(storage/model_config.py) before the first step: a resume that would train another network or on other
data is refused. Errors TensorFlow raises on the user's data or disk become one line naming them.
"""
import contextlib
import time

import tensorflow.compat.v1 as tf

from pfe_estimator import errors
from pfe_estimator.data import manifest as manifests
from pfe_estimator.storage import atomic_files
from pfe_estimator.storage import checkpoints
from pfe_estimator.storage import model_config
from pfe_estimator.storage import model_dir_lock


def check_steps(max_steps, runtime):
    """Raises a one-line UserError when the NPU's iterations_per_loop does not divide the steps."""
    if runtime.device == "npu" and (max_steps % runtime.iterations_per_loop or
                                    runtime.save_checkpoints_steps % runtime.iterations_per_loop):
        raise errors.UserError("--max_steps and --save_checkpoints_steps must be multiples of --iterations_per_loop")


def fit(estimator, input_fn, max_steps, model_dir, runtime, record, data_dir=None, mode="train"):
    """Estimator training to max_steps; multi-worker runs go through train_and_evaluate.

    Args:
      estimator: the Estimator on model_dir (training.estimators).
      input_fn: its training input_fn.
      max_steps: the global step to stop at.
      model_dir: the folder it trains.
      runtime: a devices.Runtime (device, rank, checkpoints).
      record: the folder's record (storage.model_config): the network, the recipe, what it trains on.
      data_dir: the TFRecords it reads (to name a damaged record), or None.
      mode: what holds the lock ('train', 'pretrain', a fold head's name), for a second run's refusal.

    Returns:
      the latest checkpoint.
    """
    check_steps(max_steps, runtime)
    chief = runtime.is_chief
    with model_dir_lock.locked(model_dir, mode) if chief else contextlib.nullcontext():
        if chief:
            resumed = checkpoints.recover_training_checkpoint(model_dir)
            if resumed:
                tf.logging.info("resuming from %s", resumed)
            for field, before, now in model_config.write_training_record(model_dir, record):
                tf.logging.info("recipe: %s %s -> %s (the record keeps the earlier recipe)", field, before, now)
        start = time.time()
        if runtime.multi_worker:
            # Multi-worker Estimator training runs through train_and_evaluate (the distribute coordinator);
            # evaluation happens only if TF_CONFIG names an evaluator task.
            tf.estimator.train_and_evaluate(estimator, tf.estimator.TrainSpec(input_fn, max_steps=max_steps),
                                            tf.estimator.EvalSpec(input_fn, steps=1, throttle_secs=10 ** 6))
        else:
            with training_errors_named(model_dir, data_dir):
                estimator.train(input_fn, max_steps=max_steps)
    latest = tf.train.latest_checkpoint(model_dir)
    tf.logging.info("training finished in %.1f s; latest checkpoint %s", time.time() - start, latest)
    return latest


@contextlib.contextmanager
def training_errors_named(model_dir, data_dir=None):
    """Turns the errors TensorFlow raises mid-training on the user's data or disk into one line: a damaged
    record or image (found by reading data_dir's shards again, naming the shard, record and identity), a
    disk that filled while writing a checkpoint. Anything else passes on unchanged."""
    try:
        yield
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as error:
        damage = data_dir and manifests.find_damage(data_dir, manifests.read(data_dir))
        if not damage:
            raise
        raise errors.UserError("%s; %s" % (damage, checkpoints.kept_checkpoint(model_dir))) from error
    except (tf.errors.OpError, OSError) as error:
        if not atomic_files.is_full_disk(error):
            raise
        reason = getattr(error, "strerror", None) or errors.first_line(getattr(error, "message", None) or error)
        raise errors.UserError("%s: writing failed, the disk is full (%s); %s" % (
            model_dir, reason, checkpoints.kept_checkpoint(model_dir))) from error

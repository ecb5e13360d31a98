"""--mode=train: the uncertainty head on the frozen backbone, from image TFRecords, a feature cache or
synthetic batches; --calibration_pairs then fits P(same | MLS) for --mode=verify."""
import contextlib
import time

import tensorflow.compat.v1 as tf

from pfe_estimator import errors
from pfe_estimator.data import feature_cache
from pfe_estimator.data import pk_sampling
from pfe_estimator.modes import models
from pfe_estimator.modes import settings as run_settings
from pfe_estimator.storage import checkpoints
from pfe_estimator.storage import model_config
from pfe_estimator.storage import model_dir_lock
from pfe_estimator.training import devices


def run(settings):
    if settings.calibration_pairs and not settings.lfw_dir:
        raise run_settings.FlagError("--calibration_pairs needs --lfw_dir (the aligned TFRecords or feature cache "
                                     "of its images)")
    recipe = run_settings.recipe(settings)
    record = run_settings.model_record(settings, training_data_template(settings), recipe)
    fit(settings, models.pfe_estimator(settings), input_fn(settings, recipe, recipe.quality_ranking_weight > 0),
        recipe.max_steps, record)
    if settings.calibration_pairs and run_settings.is_chief():
        from pfe_estimator.modes import calibrate  # pylint: disable=import-outside-toplevel  # OpenCV, only here
        calibrate.run(settings)


def training_data_template(settings):
    """The alignment template of the training data (None for synthetic batches)."""
    if settings.data == "synthetic" or not settings.data_dir:
        return None
    return pk_sampling.read_manifest(settings.data_dir).get("template")


def input_fn(settings, recipe, quality_ranks=False):
    """The training input_fn; each rank of a multi-device run draws its own P x K batches (seed + rank).
    quality_ranks: the batches say what the quality ranking loss compares (a cache with degraded copies only)."""
    seed = (settings.random_seed or 0) + devices.cluster_rank()[1]
    classes, per_class = recipe.num_classes_per_batch, recipe.images_per_class
    synthetic = settings.data == "synthetic"
    if quality_ranks and (synthetic or not settings.data_dir or
                          not feature_cache.has_degraded_copies(settings.data_dir)):
        raise run_settings.FlagError(
            "--quality_ranking_weight=%g needs --data_dir to be a feature cache with degraded copies "
            "(--mode=cache_features --cache_degraded_copies N); %s is not" % (
                recipe.quality_ranking_weight, "--data=synthetic" if synthetic else settings.data_dir))
    if synthetic:
        return pk_sampling.synthetic_input_fn_builder(classes, per_class, run_settings.image_size(settings), seed=seed)
    if not settings.data_dir:
        raise run_settings.FlagError("--data=tfrecord needs --data_dir (TFRecords from data_prep/make_tfrecords.py); "
                                     "use --data=synthetic for a smoke run")
    if feature_cache.is_cache(settings.data_dir):
        return feature_cache.cache_input_fn_builder(settings.data_dir, classes, per_class, seed=seed,
                                                    quality_ranks=quality_ranks)
    transform = None
    if recipe.degrade_probability > 0:
        from pfe_estimator.modes import images  # pylint: disable=import-outside-toplevel  # OpenCV, only when asked
        degrade = images.random_degradation(settings.data_dir)
        transform = pk_sampling.host_degradation(lambda face, rng: degrade(face, rng)[0], recipe.degrade_probability)
    return pk_sampling.tfrecord_input_fn_builder(settings.data_dir, classes, per_class,
                                                 run_settings.image_size(settings), seed=seed, transform=transform)


def fit(settings, estimator, train_input_fn, max_steps, record):
    """Estimator training to max_steps; multi-worker runs go through train_and_evaluate.

    The chief holds --model_dir's lock, resumes only from an intact checkpoint it can name (never
    silently from step 0) and writes the folder's record before the first step.
    """
    runtime = run_settings.runtime(settings)
    if settings.device == "npu" and (max_steps % settings.iterations_per_loop or
                                     settings.save_checkpoints_steps % settings.iterations_per_loop):
        raise run_settings.FlagError("--max_steps and --save_checkpoints_steps must be multiples of "
                                     "--iterations_per_loop")
    chief = run_settings.is_chief()
    with model_dir_lock.locked(settings.model_dir, settings.mode) if chief else contextlib.nullcontext():
        if chief:
            resumed = checkpoints.recover_training_checkpoint(settings.model_dir)
            if resumed:
                tf.logging.info("resuming from %s", resumed)
            for field, before, now in model_config.write_training_record(settings.model_dir, record):
                tf.logging.info("recipe: %s %s -> %s (the record keeps the earlier recipe)", field, before, now)
        start = time.time()
        if runtime.multi_worker:
            # Multi-worker Estimator training runs through train_and_evaluate (the distribute coordinator);
            # evaluation happens only if TF_CONFIG names an evaluator task.
            tf.estimator.train_and_evaluate(estimator, tf.estimator.TrainSpec(train_input_fn, max_steps=max_steps),
                                            tf.estimator.EvalSpec(train_input_fn, steps=1, throttle_secs=10 ** 6))
        else:
            with training_errors_named(settings):
                estimator.train(train_input_fn, max_steps=max_steps)
    tf.logging.info("training finished in %.1f s; latest checkpoint %s", time.time() - start,
                    tf.train.latest_checkpoint(settings.model_dir))


@contextlib.contextmanager
def training_errors_named(settings):
    """Turns the errors TensorFlow raises mid-training on the user's data or disk into one line: a damaged
    record or image (found by reading --data_dir's shards again, naming the shard, record and identity), a
    disk that filled while writing a checkpoint. Anything else passes on unchanged."""
    data_dir = settings.data_dir if settings.data == "tfrecord" else None
    try:
        yield
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as error:
        damage = data_dir and pk_sampling.find_damage(data_dir, pk_sampling.read_manifest(data_dir))
        if not damage:
            raise
        raise run_settings.FlagError("%s; %s" % (damage, checkpoints.kept_checkpoint(settings.model_dir))) from error
    except (tf.errors.ResourceExhaustedError, tf.errors.UnknownError, tf.errors.InternalError) as error:
        if not any(text in error.message for text in ("No space left", "File too large", "Disk quota")):
            raise
        kept = checkpoints.kept_checkpoint(settings.model_dir)
        raise run_settings.FlagError("%s: writing failed, the disk is full (%s); %s" % (
            settings.model_dir, errors.first_line(error.message), kept)) from error

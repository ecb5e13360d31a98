"""--mode=train: the uncertainty head on the frozen backbone, from image TFRecords, a feature cache or
synthetic batches; --calibration_pairs then fits the model's calibration (model/calibration.py) for the
checkpoint trained. Without it, a calibration the folder keeps for an earlier checkpoint is said to be stale
(verify, eval and export refuse it until it is refitted)."""
import tensorflow.compat.v1 as tf

from pfe_estimator import errors
from pfe_estimator.data import feature_cache
from pfe_estimator.data import manifest as manifests
from pfe_estimator.data import pk_sampling
from pfe_estimator.model import calibration
from pfe_estimator.modes import models
from pfe_estimator.modes import records
from pfe_estimator.training import fit

OUTPUTS = ("model_dir",)
MODEL = "pfe"
MODEL_DIR = "always"
SAVED_MODEL = False


def runs_backbone(config):
    """From images, yes; from a feature cache or a pretrained backbone's cached outputs, no."""
    return not (config.options.data == "tfrecord" and records.is_cache(config.paths.data_dir))


def check(config):
    if config.paths.calibration_pairs and not config.paths.lfw_dir:
        raise errors.UserError("--calibration_pairs needs --lfw_dir (the aligned TFRecords or feature cache of its "
                               "images)")
    if config.options.data == "tfrecord" and not config.paths.data_dir:
        raise errors.UserError("--data=tfrecord needs --data_dir (TFRecords from data_prep/make_tfrecords.py); use "
                               "--data=synthetic for a smoke run")
    fit.check_steps(config.recipe.max_steps, config.runtime)


def run(config):
    record = models.model_record(config, MODEL, training_data_template(config))
    fit.fit(models.pfe_estimator(config), input_fn(config, config.recipe.quality_ranking_weight > 0),
            config.recipe.max_steps, config.paths.model_dir, config.runtime, record, training_data_dir(config))
    if not config.runtime.is_chief:
        return
    if config.paths.calibration_pairs:
        from pfe_estimator.modes import calibrate  # pylint: disable=import-outside-toplevel  # OpenCV, only here
        calibrate.fit_calibration_pairs(config)
        return
    try:
        kept = calibration.read(config.paths.model_dir)
    except errors.UserError as error:
        tf.logging.warning("%s", error)
        return
    if kept is not None and not kept.fitted_for(models.identity(config)):
        tf.logging.warning("%s/%s was fitted for %s, not for the checkpoint trained now: verify, eval and export "
                           "refuse it; recalibrate: %s", config.paths.model_dir, calibration.NAME,
                           kept.model.get("checkpoint"), kept.refit_command(models.target(config)))


def training_data_dir(config):
    """The TFRecords training reads (None for synthetic batches)."""
    return config.paths.data_dir if config.options.data == "tfrecord" else None


def training_data_template(config):
    """The alignment template of the training data (None for synthetic batches)."""
    if not training_data_dir(config):
        return None
    return manifests.read(config.paths.data_dir).get("template")


def input_fn(config, quality_ranks=False):
    """The training input_fn; each rank of a multi-device run draws its own P x K batches (seed + rank).
    quality_ranks: the batches say what the quality ranking loss compares (a cache with degraded copies only)."""
    recipe, data_dir = config.recipe, training_data_dir(config)
    seed = config.runtime.random_seed + config.runtime.rank
    classes, per_class = recipe.num_classes_per_batch, recipe.images_per_class
    if quality_ranks and not (data_dir and feature_cache.has_degraded_copies(data_dir)):
        raise errors.UserError(
            "--quality_ranking_weight=%g needs --data_dir to be a feature cache with degraded copies "
            "(--mode=cache_features --cache_degraded_copies N); %s is not" % (
                recipe.quality_ranking_weight, data_dir or "--data=synthetic"))
    if not data_dir:
        return pk_sampling.synthetic_input_fn_builder(classes, per_class, config.image_size, seed=seed)
    if feature_cache.is_cache(data_dir):
        return feature_cache.cache_input_fn_builder(data_dir, classes, per_class, seed=seed,
                                                    quality_ranks=quality_ranks)
    transform = None
    if recipe.degrade_probability > 0:
        from pfe_estimator.modes import images  # pylint: disable=import-outside-toplevel  # OpenCV, only when asked
        degrade = images.random_degradation(data_dir)
        transform = pk_sampling.host_degradation(lambda face, rng: degrade(face, rng)[0], recipe.degrade_probability)
    return pk_sampling.tfrecord_input_fn_builder(data_dir, classes, per_class, config.image_size, seed=seed,
                                                 transform=transform)

"""--mode=train: the uncertainty head on the frozen backbone, from image TFRecords, a feature cache or
synthetic batches; --calibration_pairs then fits P(same | MLS) for --mode=verify."""
from pfe_estimator.data import feature_cache
from pfe_estimator.data import manifest as manifests
from pfe_estimator.data import pk_sampling
from pfe_estimator.modes import models
from pfe_estimator.modes import settings as run_settings
from pfe_estimator.training import devices
from pfe_estimator.training import fit


def run(settings):
    if settings.calibration_pairs and not settings.lfw_dir:
        raise run_settings.FlagError("--calibration_pairs needs --lfw_dir (the aligned TFRecords or feature cache "
                                     "of its images)")
    recipe = run_settings.recipe(settings)
    record = run_settings.model_record(settings, training_data_template(settings), recipe)
    runtime = run_settings.runtime(settings)
    fit.fit(models.pfe_estimator(settings), input_fn(settings, recipe, recipe.quality_ranking_weight > 0),
            recipe.max_steps, settings.model_dir, runtime, record, training_data_dir(settings))
    if settings.calibration_pairs and runtime.is_chief:
        from pfe_estimator.modes import calibrate  # pylint: disable=import-outside-toplevel  # OpenCV, only here
        calibrate.run(settings)


def training_data_dir(settings):
    """The TFRecords training reads (None for synthetic batches)."""
    return settings.data_dir if settings.data == "tfrecord" else None


def training_data_template(settings):
    """The alignment template of the training data (None for synthetic batches)."""
    if settings.data == "synthetic" or not settings.data_dir:
        return None
    return manifests.read(settings.data_dir).get("template")


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

"""--mode=cache_features: the frozen backbone's outputs (features and mu) of every image, and of seeded
degraded copies, so that the head trains without running the backbone."""
from pfe_estimator.inference import cache_builder
from pfe_estimator.modes import images
from pfe_estimator.modes import settings as run_settings


def run(settings):
    if not (settings.data_dir and settings.cache_dir):
        raise run_settings.FlagError("--mode=cache_features needs --data_dir (image TFRecords) and --cache_dir")
    backbone = run_settings.backbone(settings)
    degrade = degradation = None
    if settings.cache_degraded_copies:
        from pfe_estimator.faces import kinds  # pylint: disable=import-outside-toplevel  # OpenCV
        degrade = images.random_degradation(settings.data_dir)
        degradation = kinds.copies_description(kinds.GENERATOR_KINDS, kinds.SEVERITIES)
    manifest = cache_builder.build_cache(settings.data_dir, settings.cache_dir, backbone, settings.pretrained_ckpt,
                                         batch_size=settings.batch_size, features_dtype=settings.cache_dtype,
                                         overwrite=settings.overwrite, degraded_copies=settings.cache_degraded_copies,
                                         degrade=degrade, degradation=degradation)
    cache = manifest["cache"]
    print("cache_features: %d images of %d identities -> %s (features %d-d %s, mu %d-d, with mirrored copies)"
          % (manifest["num_images"], manifest["num_identities"], settings.cache_dir, cache["feature_size"],
             cache["features_dtype"], cache["embedding_size"]))

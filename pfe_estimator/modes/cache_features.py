"""--mode=cache_features: the frozen backbone's outputs (features and mu) of every image, and of seeded
degraded copies, so that the head trains without running the backbone."""
from pfe_estimator import errors
from pfe_estimator.inference import cache_builder
from pfe_estimator.modes import images

OUTPUTS = ("cache_dir",)
MODEL = "pfe"
MODEL_DIR = "given"
SAVED_MODEL = False


def runs_backbone(config):
    return True


def check(config):
    if not (config.paths.data_dir and config.paths.cache_dir):
        raise errors.UserError("--mode=cache_features needs --data_dir (image TFRecords) and --cache_dir")


def run(config):
    degrade = degradation = None
    copies = config.options.cache_degraded_copies
    if copies:
        from pfe_estimator.faces import kinds  # pylint: disable=import-outside-toplevel  # OpenCV
        degrade = images.random_degradation(config.paths.data_dir)
        degradation = kinds.copies_description(kinds.GENERATOR_KINDS, kinds.SEVERITIES)
    manifest = cache_builder.build_cache(config.paths.data_dir, config.paths.cache_dir, config.backbone,
                                         config.paths.pretrained_ckpt, batch_size=config.options.batch_size,
                                         features_dtype=config.options.cache_dtype,
                                         overwrite=config.options.overwrite, degraded_copies=copies,
                                         degrade=degrade, degradation=degradation)
    cache = manifest["cache"]
    print("cache_features: %d images of %d identities -> %s (features %d-d %s, mu %d-d, with mirrored copies%s)"
          % (manifest["num_images"], manifest["num_identities"], config.paths.cache_dir, cache["feature_size"],
             cache["features_dtype"], cache["embedding_size"],
             "; the backbone compiled with XLA" if manifest["fingerprint"].get("xla_batch") else ""))

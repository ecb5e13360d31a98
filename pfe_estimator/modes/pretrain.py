"""--mode=pretrain: the SphereNet backbone with AM-softmax on image TFRecords (its checkpoint is what
--pretrained_ckpt restores for PFE training)."""
from pfe_estimator import errors
from pfe_estimator.data import feature_cache
from pfe_estimator.data import manifest as manifests
from pfe_estimator.model import backbones
from pfe_estimator.modes import models
from pfe_estimator.modes import train
from pfe_estimator.training import estimators
from pfe_estimator.training import fit

OUTPUTS = ("model_dir",)
MODEL = "pretrain"
MODEL_DIR = "always"
SAVED_MODEL = False


def runs_backbone(config):
    return False  # the backbone trains here, in fp32


def check(config):
    if not config.paths.data_dir or feature_cache.is_cache(config.paths.data_dir):
        raise errors.UserError("--mode=pretrain needs --data_dir with image TFRecords")
    if backbones.is_onnx(config.backbone.name):
        raise errors.UserError("--mode=pretrain trains a SphereNet, not an ONNX model")
    fit.check_steps(config.recipe.max_steps, config.runtime)


def run(config):
    manifest = manifests.read(config.paths.data_dir)
    backbone = backbones.Backbone(config.backbone.name, config.backbone.embedding_size)
    estimator = estimators.pretrain_estimator(backbone, manifest["num_identities"], config.paths.model_dir,
                                              config.recipe, config.runtime)
    record = models.model_record(config, MODEL, manifest.get("template"))
    fit.fit(estimator, train.input_fn(config), config.recipe.max_steps, config.paths.model_dir, config.runtime,
            record, config.paths.data_dir, mode="pretrain")

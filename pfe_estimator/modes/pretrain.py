"""--mode=pretrain: the SphereNet backbone with AM-softmax on image TFRecords (its checkpoint is what
--pretrained_ckpt restores for PFE training)."""
from pfe_estimator.data import feature_cache
from pfe_estimator.data import manifest as manifests
from pfe_estimator.model import backbones
from pfe_estimator.modes import settings as run_settings
from pfe_estimator.modes import train
from pfe_estimator.training import estimators
from pfe_estimator.training import fit


def run(settings):
    if not settings.data_dir or feature_cache.is_cache(settings.data_dir):
        raise run_settings.FlagError("--mode=pretrain needs --data_dir with image TFRecords")
    if backbones.is_onnx(settings.backbone):
        raise run_settings.FlagError("--mode=pretrain trains a SphereNet, not an ONNX model")
    backbones.check_backbone_name(settings.backbone)
    recipe = run_settings.pretrain_recipe(settings)
    manifest = manifests.read(settings.data_dir)
    estimator = estimators.pretrain_estimator(backbones.Backbone(settings.backbone, settings.embedding_size),
                                              manifest["num_identities"], settings.model_dir, recipe,
                                              run_settings.runtime(settings))
    input_fn = train.input_fn(settings, recipe)  # P x K batches too
    record = run_settings.model_record(settings, manifest.get("template"), recipe)
    fit.fit(estimator, input_fn, recipe.max_steps, settings.model_dir, run_settings.runtime(settings), record,
            settings.data_dir, mode="pretrain")

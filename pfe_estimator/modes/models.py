"""The model a mode runs, from its RunConfig: the PFE Estimator on --model_dir (the head's recipe when
training, any batch size otherwise), the check that --model_dir's checkpoint fits the network, and the model
folder's record of a training run."""
from pfe_estimator.inference import export
from pfe_estimator.model import backbones
from pfe_estimator.storage import checkpoints
from pfe_estimator.storage import model_config
from pfe_estimator.storage import outputs
from pfe_estimator.training import estimators


def pfe_estimator(config):
    """The device's Estimator of the PFE model in --model_dir; training mode trains it with the config's recipe."""
    return estimators.pfe_estimator(config.backbone, config.paths.model_dir, config.recipe, config.runtime,
                                    config.paths.pretrained_ckpt)


def check_model_fits(config):
    """One line, before any image is read, when --model_dir's checkpoint does not fit the config's network."""
    export.check_checkpoint_fits(checkpoints.intact_checkpoint(config.paths.model_dir), config.backbone,
                                 config.image_size, config.paths.pretrained_ckpt)


def model_record(config, kind, template):
    """The model folder's record of this training run (storage.model_config): what predict, eval and export
    must repeat, the precision its backbone computed in, and the recipe it trains with."""
    record = {"model": kind, "template": template, "backbone": config.backbone.name,
              "image_size": list(config.image_size), "embedding_size": config.backbone.embedding_size,
              "pretrained_ckpt": checkpoints.absolute_prefix(config.paths.pretrained_ckpt),
              "head_input": config.options.head_input,
              "backbone_precision": dict(zip(("used", "why"), config.backbone_precision)),
              "recipe": config.recipe.as_record()}
    if backbones.is_onnx(config.backbone.name):
        record["onnx_sha256"] = outputs.file_digest(config.backbone.name[len(backbones.ONNX_PREFIX):])
        record.update({flag: getattr(config.options, flag) for flag in model_config.ONNX_OPTION_FLAGS.values()})
    return record

"""The model a mode runs, from its RunConfig: the PFE Estimator on --model_dir (the head's recipe when
training, any batch size otherwise), the check that --model_dir's checkpoint fits the network, the model
folder's record of a training run, the model's identity and its calibration (checked to be this model's)."""
import os

from pfe_estimator.inference import backbone_runtimes
from pfe_estimator.inference import export
from pfe_estimator.model import backbones
from pfe_estimator.model import calibration
from pfe_estimator.storage import checkpoints
from pfe_estimator.storage import model_config
from pfe_estimator.storage import outputs
from pfe_estimator.training import estimators


def pfe_estimator(config):
    """The device's Estimator of the PFE model in --model_dir; training mode trains it with the config's recipe
    (compiled with XLA under --xla). The other modes predict with it: an ONNX backbone in bf16 is then compiled
    with XLA as in the cache path (backbone_runtimes.uses_xla; 1.45x predict's faces/s here, docs/benchmarks.md)."""
    runtime = config.runtime
    if config.mode != "train" and backbone_runtimes.uses_xla(config.backbone):
        runtime = runtime._replace(xla=True)
    return estimators.pfe_estimator(config.backbone, config.paths.model_dir, config.recipe, runtime,
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


def identity(config):
    """The identity of the model the run computes with (model_config.model_identity): an export's, recorded when it
    was exported, else that of --model_dir's newest intact checkpoint."""
    if config.paths.saved_model:
        return config.record.get("model")
    return model_config.model_identity(checkpoints.intact_checkpoint(config.paths.model_dir), config.record,
                                       config.paths.pretrained_ckpt)


def target(config):
    """The flag that names the run's model, as a recalibrate command gives it."""
    if config.paths.saved_model:
        return "--saved_model=%s" % config.paths.saved_model
    return "--model_dir=%s" % config.paths.model_dir


def calibration_of(config):
    """The run's model's calibration deciding with --score (the export's, or the model folder's), or None.

    Raises:
      UserError: a calibration that cannot be used, or one fitted for another model (a resumed or retrained head),
        giving the command that recalibrates.
    """
    paths = config.paths
    if paths.saved_model:
        calibrated = export.read_calibration(paths.saved_model, config.record)
    else:
        calibrated = calibration.read(paths.model_dir) if os.path.isdir(paths.model_dir) else None
        if calibrated is not None:
            calibrated.check_model(identity(config), os.path.join(paths.model_dir, calibration.NAME), target(config))
    return calibrated.with_default(config.options.score) if calibrated is not None else None

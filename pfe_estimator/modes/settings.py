"""One frozen Settings value per run, built once from the flags and the records the run continues.

`from_flags` reads main.py's flags (modes.flag_definitions), then the records that say what made the run's
inputs: the model folder's pfe_config.json (storage.model_config) and a feature cache's manifest. Flags not
given take the recorded values; contradicting ones are refused in one line. Then the run's outputs are
checked apart from its inputs (storage.outputs.check_run_paths). The modes read only this value; the
functions below derive what the layers take from it: the image size, the training recipe, the runtime
(device options) and the backbone.
"""
import os
import types

from absl import flags
import numpy as np
import tensorflow.compat.v1 as tf

from pfe_estimator import errors
from pfe_estimator.data import feature_cache
from pfe_estimator.data import manifest as manifests
from pfe_estimator.inference import export
from pfe_estimator.inference import precision_check
from pfe_estimator.inference import predict
from pfe_estimator.model import backbones
from pfe_estimator.model import compute_precision
from pfe_estimator.modes import flag_definitions
from pfe_estimator.storage import checkpoints
from pfe_estimator.storage import model_config
from pfe_estimator.storage import outputs
from pfe_estimator.training import devices
from pfe_estimator.training import recipe as recipes

# The kind of model each mode reads or trains in --model_dir (storage.model_config's 'model').
MODEL_KINDS = {"train": "pfe", "pretrain": "pretrain", "eval": "pfe", "predict": "pfe", "export": "pfe",
               "cache_features": "pfe", "verify": "pfe"}
# What each mode writes; every other path flag given (and --model_dir) is what it reads or keeps as state.
MODE_OUTPUTS = {"train": ("model_dir",), "pretrain": ("model_dir",), "eval": ("report_dir", "embeddings_output"),
                "predict": ("predict_output",), "export": ("export_dir",), "cache_features": ("cache_dir",),
                "verify": ()}
# How many of the run's faces --backbone_precision=auto checks bf16 on, and the settings its choice depends
# on (what backbone_precision keeps its decisions by: one check and one line per run).
GUARD_FACES = 16
PRECISION_KEYS = ("mode", "device", "backbone", "embedding_size", "image_size", "head_input", "pretrained_ckpt",
                  "model_dir", "data", "data_dir", "lfw_dir", "saved_model", "embeddings", "embedding_node",
                  "feature_node", "onnx_input_scale", "onnx_input_offset", "onnx_input_channels")
_PRECISION_CHOICES = {}
PATH_FLAGS = ("model_dir", "data_dir", "lfw_dir", "pretrained_ckpt", "lfw_pairs", "embeddings", "saved_model",
              "templates_csv", "template_pairs_csv", "template_image_root", "calibration_pairs", "predict_dir",
              "detector_model", "image_a", "image_b", "backbone", "cache_dir", "report_dir", "export_dir",
              "predict_output", "embeddings_output")


class FlagError(errors.UserError):
    """A flag value the run cannot use; main() prints it as one line."""


class Settings(object):
    """The run's flag values (attributes named as the flags), frozen.

    Attributes besides the flags:
      given: frozenset of the flags set on the command line or taken from a record.
      adopted: {flag: the record file it was taken from}.
      record: --model_dir's record ({} when the folder has none or the mode reads no model folder).
    """
    __slots__ = ("_values", "given", "adopted", "record")

    def __init__(self, values, given=(), adopted=None, record=None):
        for name, value in (("_values", types.MappingProxyType(dict(values))), ("given", frozenset(given)),
                            ("adopted", types.MappingProxyType(dict(adopted or {}))),
                            ("record", types.MappingProxyType(dict(record or {})))):
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name)

    def __setattr__(self, name, value):
        raise AttributeError("Settings are frozen: build another with replace()")

    def replace(self, values=None, given=(), adopted=None, record=None):
        """A copy with these flag values, more given flags, more adopted ones, or another record."""
        return Settings(dict(self._values, **(values or {})), self.given | set(given),
                        dict(self.adopted, **(adopted or {})), self.record if record is None else record)

    def values(self):
        return dict(self._values)


def flag_names():
    """The flags main.py defines (modes.flag_definitions), in definition order."""
    return [flag.name for flag in flags.FLAGS.get_key_flags_for_module(flag_definitions)]


def from_flags(flag_values=None):
    """The run's Settings from parsed absl flags (default: flags.FLAGS) and the records it continues."""
    flag_values = flag_values or flags.FLAGS
    names = flag_names()
    return build({name: flag_values[name].value for name in names},
                 {name for name in names if flag_values[name].present})


def build(values, given):
    """Settings from {flag: value} and the names given: records adopted (see module doc), paths checked."""
    settings = Settings(values, given)
    settings = _with_export_record(settings) if _reads_export(settings) else _with_model_record(settings)
    if settings.mode == "train" and settings.data == "tfrecord" and _is_cache(settings.data_dir):
        settings = adopt(settings, _cache_record(settings.data_dir), _manifest_path(settings.data_dir))
    if _evaluates_lfw(settings) and _is_cache(settings.lfw_dir):
        settings = _with_cache_checked(settings, settings.lfw_dir, "lfw_dir")
    check_run_paths(settings)
    return settings


def _is_cache(folder):
    return bool(folder) and feature_cache.is_cache(folder)


def _evaluates_lfw(settings):
    """Whether the run scores --lfw_dir's images with the model: eval, or training's calibration."""
    if settings.embeddings:
        return False
    return settings.mode == "eval" or (settings.mode == "train" and bool(settings.calibration_pairs))


def _reads_export(settings):
    return bool(settings.saved_model) and settings.mode in ("eval", "predict", "verify")


def _with_export_record(settings):
    """An exported model's pfe_export.json becomes the run's record: the image size it takes, the template
    --align=detect aligns to, its calibration. An export without one (older) passes on the flags."""
    record = export.read_record(settings.saved_model)
    if record is None:
        return settings
    where = os.path.join(settings.saved_model, export.RECORD_NAME)
    network = {key: record[key] for key in ("image_size", "embedding_size") if key in record}
    return adopt(settings, network, where).replace(record=record)


def _reads_model_record(settings):
    if settings.mode == "eval":
        return not (settings.embeddings or settings.saved_model)
    if settings.mode == "cache_features":
        return "model_dir" in settings.given
    return True


def _with_model_record(settings):
    """Adopts --model_dir's record; its ONNX file must be the one the model was trained with. A folder
    without a record (a released model) passes."""
    if not _reads_model_record(settings):
        return settings
    record = model_config.read(settings.model_dir)
    if record is None:
        return settings
    where = model_config.config_path(settings.model_dir)
    kind = MODEL_KINDS[settings.mode]
    if record.get("model") != kind:
        raise FlagError("--model_dir=%s holds a %s model (%s), not a %s one" % (settings.model_dir,
                                                                               record.get("model"), where, kind))
    settings = adopt(settings, record, where).replace(record=record)
    if record.get("onnx_sha256"):
        path = settings.backbone[len(backbones.ONNX_PREFIX):]
        if outputs.file_digest(path) != record["onnx_sha256"]:
            raise FlagError("%s: not the ONNX file %s was trained with (sha256 differs from %s); give that file"
                            % (path, settings.model_dir, where))
    return settings


def _manifest_path(cache_dir):
    return manifests.path(cache_dir)


def _cache_record(cache_dir):
    return model_config.from_cache_manifest(manifests.read(cache_dir))


def _with_cache_checked(settings, cache_dir, flag):
    """The head run on a feature cache must have been trained on that cache's backbone and checkpoint (as
    training from a cache takes them): compared with the head being trained, or with --model_dir's record;
    without a record, eval's flags take the cache's values."""
    if settings.saved_model:
        raise FlagError("--%s=%s is a feature cache: its cached backbone outputs need the head's checkpoint "
                        "(--model_dir), not --saved_model (which takes images)" % (flag, cache_dir))
    cache_record = _cache_record(cache_dir)
    if settings.mode == "train":
        trained = {key: recorded_value(settings, key) for key in model_config.FLAG_KEYS}
    elif settings.record:
        trained = settings.record
    else:
        return adopt(settings, cache_record, _manifest_path(cache_dir))
    for name, cached, value in model_config.conflicts(cache_record, dict(
            (key, model_config.value_in(trained, key)) for key in model_config.FLAG_KEYS if key in cache_record)):
        raise FlagError("--%s=%s is a feature cache whose %s is %s (%s); the head in --model_dir=%s %s %s: cache "
                        "the images with that backbone (--mode=cache_features), or evaluate on image records"
                        % (flag, cache_dir, name, cached, _manifest_path(cache_dir), settings.model_dir,
                           "trains with" if settings.mode == "train" else "was trained with",
                           value or "the backbone in its own checkpoint"))
    return settings


def recorded_value(settings, name):
    """A recorded flag's value as records hold it (image size as [H, W], a checkpoint as its absolute prefix)."""
    if name == "image_size":
        return list(image_size(settings))
    if name == "pretrained_ckpt" and settings.pretrained_ckpt:
        return os.path.abspath(checkpoints.resolve_checkpoint(settings.pretrained_ckpt))
    return getattr(settings, name)


def adopt(settings, record, where):
    """Settings whose flags not given take the record's values (model_config.adopt)."""
    given = {name: recorded_value(settings, name) for name in model_config.FLAG_KEYS
             if name in settings.given or name in settings.adopted}
    taken, warnings = model_config.adopt(record, where, given, settings.adopted)
    for line in warnings:
        tf.logging.warning(line)
    values = {name: [str(v) for v in value] if name == "image_size" else value for name, value in taken.items()}
    return settings.replace(values, given=taken, adopted={name: where for name in taken})


def run_paths(mode, values, given):
    """({flag: path} the mode writes, {flag: path} it reads or keeps), from flag values.

    Args:
      mode: a --mode.
      values: {flag name: value} of PATH_FLAGS (None when unset); --backbone counts when it is onnx:PATH.
      given: names of the flags set on the command line or taken from a record; the mode's outputs and
        --model_dir count with their defaults too.
    """
    paths = dict(values)
    backbone_value = paths.get("backbone") or ""
    paths["backbone"] = backbone_value[len(backbones.ONNX_PREFIX):] if backbones.is_onnx(backbone_value) else None
    written = {flag: paths.get(flag) for flag in MODE_OUTPUTS[mode]}
    read = {flag: paths.get(flag) for flag in PATH_FLAGS
            if flag not in written and (flag in given or flag in ("model_dir", "backbone"))}
    return written, read


def check_run_paths(settings):
    """The run's outputs apart from its inputs and state (outputs.check_run_paths)."""
    written, read = run_paths(settings.mode, {name: getattr(settings, name) for name in PATH_FLAGS},
                              settings.given)
    outputs.check_run_paths(written, read)


def image_size(settings):
    """(height, width)."""
    height, width = [int(v) for v in settings.image_size]
    return height, width


def recipe(settings):
    """The head's training recipe from the flags (their defaults are the released recipe)."""
    return recipes.Recipe(max_steps=settings.max_steps, learning_rates=tuple(float(v) for v in settings.lr_values),
                          quality_ranking_weight=settings.quality_ranking_weight,
                          quality_ranking_margin=settings.quality_ranking_margin, **_shared_recipe_fields(settings))


def pretrain_recipe(settings):
    """Pretraining's recipe: the flags given, pretraining's own defaults for the schedule otherwise."""
    default = recipes.PretrainRecipe()
    return recipes.PretrainRecipe(
        max_steps=settings.max_steps if "max_steps" in settings.given else default.max_steps,
        learning_rates=tuple(float(v) for v in settings.lr_values) if "lr_values" in settings.given
        else default.learning_rates, am_scale=settings.am_scale, am_margin=settings.am_margin,
        **_shared_recipe_fields(settings))


def _shared_recipe_fields(settings):
    if settings.batch_size % settings.num_classes_per_batch:
        raise FlagError("--batch_size=%d is not a multiple of --num_classes_per_batch=%d"
                        % (settings.batch_size, settings.num_classes_per_batch))
    return dict(num_classes_per_batch=settings.num_classes_per_batch,
                images_per_class=settings.batch_size // settings.num_classes_per_batch,
                learning_rate_boundaries=_boundaries(settings), momentum=settings.momentum,
                weight_decay=settings.weight_decay, degrade_probability=settings.degrade_probability)


def _boundaries(settings):
    return tuple(int(v) for v in settings.lr_boundaries) if settings.lr_boundaries is not None else None


def runtime(settings):
    """Where and how the model runs (training.devices.Runtime)."""
    return devices.Runtime(
        device=settings.device, precision=settings.precision, loss_scale=settings.loss_scale,
        precision_mode=settings.precision_mode, iterations_per_loop=settings.iterations_per_loop,
        num_devices=settings.num_devices, workers=devices.cluster_rank()[0], rank=devices.cluster_rank()[1],
        xla=settings.xla,
        random_seed=settings.random_seed, save_checkpoints_steps=settings.save_checkpoints_steps,
        keep_checkpoint_max=settings.keep_checkpoint_max, log_every_n_steps=settings.log_every_n_steps,
        npu_debug=devices.NpuDebug(settings.over_dump, settings.over_dump_path, settings.data_dump_flag,
                                   settings.data_dump_step, settings.data_dump_path, settings.profiling,
                                   settings.profiling_dump_path))


def runs_backbone(settings):
    """Whether the mode runs the frozen backbone on images here (not on cached features or in an export)."""
    if settings.mode in ("cache_features",):
        return True
    if settings.mode == "train":
        return not (settings.data == "tfrecord" and _is_cache(settings.data_dir))
    if settings.mode in ("predict", "verify"):
        return not settings.saved_model
    if settings.mode == "eval":
        return not (settings.embeddings or settings.saved_model or _is_cache(settings.lfw_dir))
    return False  # export (an export runs anywhere: fp32), pretrain (the backbone trains)


def backbone_precision(settings):
    """(precision, why) the frozen backbone computes in: --backbone_precision, or for auto what
    inference.precision_check picks (bf16 where the hardware has it and mu stays within cosine 0.999 of
    fp32 on the run's first GUARD_FACES faces). auto is decided when a mode first builds its backbone, after
    the mode's own checks, and said once per run (the decisions are kept by what decides them)."""
    if settings.backbone_precision != "auto":
        return settings.backbone_precision, "--backbone_precision=%s" % settings.backbone_precision
    if not runs_backbone(settings):
        return "fp32", "auto: the backbone does not run in this mode"
    key = tuple(str(getattr(settings, name)) for name in PRECISION_KEYS)
    if key not in _PRECISION_CHOICES:
        fp32 = backbone(settings.replace({"backbone_precision": "fp32"}))
        choice, why = precision_check.auto_precision(settings.device, fp32, lambda: guard_faces(settings),
                                                     guard_checkpoint(settings))
        tf.logging.info("backbone precision: %s (auto: %s)", choice, why)
        _PRECISION_CHOICES[key] = choice, "auto: " + why
    return _PRECISION_CHOICES[key]


def guard_faces(settings):
    """The faces auto's check runs on: the first GUARD_FACES of the run's image records (--data_dir, else
    --lfw_dir), else seeded random images. float32 [N, H, W, 3] standardised."""
    size = image_size(settings)
    for folder in (settings.data_dir if settings.data == "tfrecord" else None, settings.lfw_dir):
        if folder and os.path.isfile(_manifest_path(folder)) and not _is_cache(folder):
            faces = precision_check.decodable_faces(predict.read_tfrecord_faces(folder, limit=GUARD_FACES)[1], size)
            if len(faces):
                return faces
    return np.random.RandomState(0).uniform(-1, 1, (GUARD_FACES, size[0], size[1], 3)).astype(np.float32)


def guard_checkpoint(settings):
    """The SphereNet weights the run's backbone has: --model_dir's checkpoint, else --pretrained_ckpt, else
    None (random: a run from scratch)."""
    latest = tf.train.latest_checkpoint(settings.model_dir) if settings.model_dir else None
    if latest:
        return latest
    return checkpoints.resolve_checkpoint(settings.pretrained_ckpt) if settings.pretrained_ckpt else None


def backbone(settings):
    """The frozen backbone: --backbone, --embedding_size and its options (ONNX import options, a precision
    other than fp32; None for an fp32 SphereNet)."""
    backbones.check_backbone_name(settings.backbone)
    options = {}
    if backbones.is_onnx(settings.backbone):
        if settings.pretrained_ckpt:
            raise FlagError("--pretrained_ckpt does not apply to --backbone=onnx:... (its weights are in the model)")
        options.update((option, getattr(settings, flag)) for option, flag in model_config.ONNX_OPTION_FLAGS.items())
    precision = backbone_precision(settings)[0]
    if precision != "fp32":
        if settings.device == "npu":
            raise FlagError("--backbone_precision=%s is for CPUs and GPUs; on the NPU use --precision_mode"
                            % settings.backbone_precision)
        reason = compute_precision.unsupported_reason(precision)
        if reason:
            raise FlagError(reason)
        options["precision"] = precision
    if settings.head_input != "flattened":
        options["head_input"] = settings.head_input
    return backbones.Backbone(settings.backbone, settings.embedding_size, options or None)


def model_record(settings, template, training_recipe):
    """The model folder's record of this training run: what predict, eval and export must repeat, and the
    recipe it trains with."""
    record = {"model": MODEL_KINDS[settings.mode], "template": template, "backbone": settings.backbone,
              "image_size": list(image_size(settings)), "embedding_size": settings.embedding_size,
              "pretrained_ckpt": recorded_value(settings, "pretrained_ckpt"), "head_input": settings.head_input,
              "backbone_precision": dict(zip(("used", "why"), backbone_precision(settings))),
              "recipe": training_recipe.as_record()}
    if backbones.is_onnx(settings.backbone):
        record["onnx_sha256"] = outputs.file_digest(settings.backbone[len(backbones.ONNX_PREFIX):])
        record.update({flag: getattr(settings, flag) for flag in model_config.ONNX_OPTION_FLAGS.values()})
    return record

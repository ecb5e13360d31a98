"""The run's configuration, resolved once: main.py's flags and the records the run continues, as one frozen
RunConfig that the modes read, and nothing else.

`from_flags` reads the flags (modes/flag_definitions.py) and the mode's declarations (modes/registry.py);
adopts what the run continues (modes/records.py: a model folder's record, an export's, a feature cache's
manifest); keeps the run's outputs apart from its inputs (storage.outputs.check_run_paths); and derives
once what the layers take: the image size, the backbone, the training recipe, the runtime. Building it reads
files and runs no model: --backbone_precision=auto is decided afterwards, by modes/precision.py, for the
modes that run the backbone.
"""
import collections

from absl import flags as absl_flags

from pfe_estimator import errors
from pfe_estimator.model import backbones
from pfe_estimator.model import compute_precision
from pfe_estimator.modes import flag_definitions
from pfe_estimator.modes import records
from pfe_estimator.modes import registry
from pfe_estimator.storage import model_config
from pfe_estimator.storage import outputs
from pfe_estimator.training import devices
from pfe_estimator.training import recipe as recipes

PATH_FLAGS = ("model_dir", "data_dir", "lfw_dir", "pretrained_ckpt", "lfw_pairs", "embeddings", "saved_model",
              "templates_csv", "template_pairs_csv", "template_image_root", "calibration_pairs", "predict_dir",
              "detector_model", "image_a", "image_b", "backbone", "pairs_csv", "image_root", "gallery_dir", "cache_dir",
              "report_dir", "export_dir", "predict_output", "embeddings_output", "pair_scores_output")


class RunConfig(collections.namedtuple("RunConfig", [
        "mode", "paths", "options", "given", "adopted", "record", "image_size", "backbone", "backbone_precision",
        "recipe", "runtime"])):
    """One run, resolved.

    Fields:
      mode: --mode.
      paths: every path flag's value (a namedtuple of PATH_FLAGS; --backbone is there too, a name or onnx:PATH).
      options: every other flag's value, as parsed (a namedtuple Options).
      given: frozenset of the flags set on the command line or taken from a record.
      adopted: {flag: the record file it was taken from}.
      record: --model_dir's record or the export's pfe_export.json ({} without one).
      image_size: (height, width).
      backbone: the frozen backbone (backbones.Backbone), its precision decided (see backbone_precision).
      backbone_precision: (precision, why); 'auto' until modes/precision.py decides it.
      recipe: training.recipe.Recipe (train), PretrainRecipe (pretrain), else the released Recipe.
      runtime: training.devices.Runtime: device, rank, precision, checkpoints.
    """
    __slots__ = ()

    @property
    def module(self):
        """The mode's module (modes/registry.py)."""
        return registry.module(self.mode)


def flag_names():
    """The flags main.py defines (modes.flag_definitions), in definition order."""
    return [flag.name for flag in absl_flags.FLAGS.get_key_flags_for_module(flag_definitions)]


Paths = collections.namedtuple("Paths", PATH_FLAGS)


def from_flags(flag_values=None):
    """The run's RunConfig from parsed absl flags (default: absl's FLAGS) and the records it continues."""
    flag_values = flag_values or absl_flags.FLAGS
    names = flag_names()
    return build({name: flag_values[name].value for name in names},
                 {name for name in names if flag_values[name].present})


def build(values, given):
    """A RunConfig from {flag: value} and the names given: records adopted, paths checked, values derived."""
    mode = registry.module(values["mode"])
    flags = adopted(records.Flags(dict(values), frozenset(given), {}, {}), mode)
    check_run_paths(values["mode"], flags)
    return resolve(flags)


# What an export holds itself: with --saved_model these flags have nothing to set.
EXPORT_HOLDS = ("model_dir", "backbone", "head_input", "backbone_precision", "pretrained_ckpt", "embedding_size",
                "embedding_node", "feature_node", "onnx_input_scale", "onnx_input_offset", "onnx_input_channels")


def adopted(flags, mode):
    """flags with what the run continues taken in (modes/records.py), as the mode's declarations say."""
    values = flags.values
    if values["saved_model"] and mode.SAVED_MODEL:
        for name in EXPORT_HOLDS:
            if name in flags.given:
                raise errors.UserError("--%s does not apply with --saved_model=%s (the export holds its model and "
                                       "its settings); drop --%s" % (name, values["saved_model"], name))
        flags = records.with_export_record(flags)
    elif mode.MODEL and not values.get("embeddings") and (mode.MODEL_DIR == "always" or "model_dir" in flags.given):
        flags = records.with_model_record(flags, mode.MODEL)
    training = values["mode"] == "train"
    if training and values["data"] == "tfrecord" and records.is_cache(values["data_dir"]):
        flags = records.adopt(flags, records.cache_record(values["data_dir"]), values["data_dir"] + "/manifest.json")
    scores_lfw = values["mode"] == "eval" or (training and values["calibration_pairs"])
    if scores_lfw and not values.get("embeddings") and records.is_cache(values["lfw_dir"]):
        flags = records.with_cache_checked(flags, "lfw_dir", training)
    return flags


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
    written = {flag: paths.get(flag) for flag in registry.module(mode).OUTPUTS}
    read = {flag: paths.get(flag) for flag in PATH_FLAGS
            if flag not in written and (flag in given or flag in ("model_dir", "backbone"))}
    return written, read


def check_run_paths(mode, flags):
    """The run's outputs apart from its inputs and state (outputs.check_run_paths)."""
    outputs.check_run_paths(*run_paths(mode, {name: flags.values[name] for name in PATH_FLAGS}, flags.given))


def resolve(flags):
    """The RunConfig of adopted Flags: the typed values derived once."""
    values = flags.values
    mode = values["mode"]
    runtime = devices.Runtime(
        device=values["device"], precision=values["precision"], loss_scale=values["loss_scale"],
        precision_mode=values["precision_mode"], iterations_per_loop=values["iterations_per_loop"],
        num_devices=values["num_devices"], workers=devices.cluster_rank()[0], rank=devices.cluster_rank()[1],
        xla=values["xla"], random_seed=values["random_seed"], save_checkpoints_steps=values["save_checkpoints_steps"],
        keep_checkpoint_max=values["keep_checkpoint_max"], log_every_n_steps=values["log_every_n_steps"],
        npu_debug=devices.NpuDebug(values["over_dump"], values["over_dump_path"], values["data_dump_flag"],
                                   values["data_dump_step"], values["data_dump_path"], values["profiling"],
                                   values["profiling_dump_path"]))
    options = collections.namedtuple("Options", [name for name in values if name not in PATH_FLAGS])
    config = RunConfig(mode, Paths(*(values[name] for name in PATH_FLAGS)),
                       options(*(values[name] for name in options._fields)), frozenset(flags.given),
                       dict(flags.adopted), dict(flags.record), tuple(int(v) for v in values["image_size"]),
                       None, (values["backbone_precision"], "--backbone_precision=" + values["backbone_precision"]),
                       _recipe(mode, values, flags.given), runtime)
    if mode == "train" and values["data"] == "tfrecord" and records.is_cache(values["data_dir"]):
        config = config._replace(backbone_precision=records.cache_precision(values["data_dir"],
                                                                            values["backbone_precision"]))
    elif values["backbone_precision"] == "auto" and not config.module.runs_backbone(config):
        config = config._replace(backbone_precision=("fp32", "auto: the backbone does not run in this mode"))
    return with_backbone(config)


def with_backbone(config):
    """config with its Backbone built from --backbone, --embedding_size, the ONNX options, --head_input and
    the decided precision ('auto' leaves the precision out until it is decided)."""
    name, options = config.paths.backbone, {}
    backbones.check_backbone_name(name)
    if backbones.is_onnx(name):
        if config.paths.pretrained_ckpt:
            raise errors.UserError("--pretrained_ckpt does not apply to --backbone=onnx:... (its weights are in the "
                                   "model)")
        options.update((option, getattr(config.options, flag))
                       for option, flag in model_config.ONNX_OPTION_FLAGS.items())
    precision = config.backbone_precision[0]
    if precision not in ("fp32", "auto"):
        if config.runtime.device == "npu":
            raise errors.UserError("--backbone_precision=%s is for CPUs and GPUs; on the NPU use --precision_mode"
                                   % precision)
        reason = compute_precision.unsupported_reason(precision)
        if reason:
            raise errors.UserError(reason)
        options["precision"] = precision
    if config.options.head_input != "flattened":
        options["head_input"] = config.options.head_input
    return config._replace(backbone=backbones.Backbone(name, config.options.embedding_size, options or None))


def _recipe(mode, values, given):
    if values["batch_size"] % values["num_classes_per_batch"] and mode in ("train", "pretrain"):
        raise errors.UserError("--batch_size=%d is not a multiple of --num_classes_per_batch=%d"
                               % (values["batch_size"], values["num_classes_per_batch"]))
    shared = dict(num_classes_per_batch=values["num_classes_per_batch"],
                  images_per_class=max(1, values["batch_size"] // values["num_classes_per_batch"]),
                  learning_rate_boundaries=tuple(int(v) for v in values["learning_rate_boundaries"])
                  if values["learning_rate_boundaries"] is not None else None, momentum=values["momentum"],
                  weight_decay=values["weight_decay"], degrade_probability=values["degrade_probability"])
    rates = tuple(float(v) for v in values["learning_rates"])
    if mode == "pretrain":
        default = recipes.PretrainRecipe()
        return recipes.PretrainRecipe(
            max_steps=values["max_steps"] if "max_steps" in given else default.max_steps,
            learning_rates=rates if "learning_rates" in given else default.learning_rates, am_scale=values["am_scale"],
            am_margin=values["am_margin"], **shared)
    if mode == "train":
        return recipes.Recipe(max_steps=values["max_steps"], learning_rates=rates,
                              quality_ranking_weight=values["quality_ranking_weight"],
                              quality_ranking_margin=values["quality_ranking_margin"], **shared)
    return recipes.Recipe()

"""What made a model folder: the network configuration recorded at its first training step.

`model_dir/pfe_config.json` holds the settings a later predict, eval, export, feature cache or resumed
training must repeat exactly (backbone and its checkpoint, the ONNX file's hash, image size, embedding
size, ONNX options, alignment template), keyed by the flag names that set them, and the training recipe
(training.recipe) that made the model. A released PFE model folder records nothing and keeps working from
the flags.
"""
import json
import os

from pfe_estimator import errors
from pfe_estimator.storage import atomic_files
from pfe_estimator.storage import checkpoints
from pfe_estimator.storage import model_dir_lock

CONFIG_NAME = "pfe_config.json"
KINDS = ("pfe", "pretrain")  # the models a record names
# Recorded settings that flags of the same name set; the rest of a record ('model', 'onnx_sha256',
# 'template') is checked, never taken from flags.
FLAG_KEYS = ("backbone", "pretrained_ckpt", "image_size", "embedding_size", "head_input", "embedding_node",
             "feature_node", "onnx_input_scale", "onnx_input_offset", "onnx_input_channels")
# What a resumed training must share with the folder's record: the network itself.
NETWORK_KEYS = ("model", "backbone", "onnx_sha256", "image_size", "embedding_size", "head_input",
                "backbone_precision", "trained_on")  # trained_on: what an experiment's fold head trained on
# Keys added to records later, and the value their absence stands for.
ABSENT_MEANS = {"head_input": "flattened"}
ONNX_OPTION_FLAGS = {"embedding_node": "embedding_node", "feature_node": "feature_node",
                     "input_scale": "onnx_input_scale", "input_offset": "onnx_input_offset",
                     "input_channels": "onnx_input_channels"}


def config_path(model_dir):
    return os.path.join(model_dir, CONFIG_NAME)


def read(model_dir):
    """The folder's record as a dict, or None when it has none.

    Raises:
      UserError: the record exists but is not valid JSON, or not a record of this pipeline, naming the file.
    """
    path = config_path(model_dir)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
    except ValueError as error:
        raise errors.UserError("%s: not valid JSON (%s); restore it or use a new --model_dir" % (path, error))
    if not isinstance(record, dict) or record.get("model") not in KINDS:
        found = "keys %s" % ", ".join(sorted(record)[:6]) if isinstance(record, dict) else type(record).__name__
        raise errors.UserError("%s: not a model record of this pipeline (it holds %s, no 'model' of %s); it is "
                               "not this pipeline's file: move it, or use another --model_dir" % (
                                   path, found or "nothing", " or ".join(KINDS)))
    return record


def write_training_record(model_dir, record):
    """Writes the record at the first training; a resumed training keeps the recorded network and, when it
    trains with another recipe, records that one and keeps the earlier ones in 'earlier_recipes'.

    Returns:
      the recipe fields that changed, [(field, recorded, now)] (empty on a first training).

    Raises:
      UserError: the folder records another network or training data (NETWORK_KEYS): resuming would mix two
        models.
    """
    recorded = read(model_dir)
    if recorded is None:
        if not os.path.isdir(model_dir):
            os.makedirs(model_dir)
        foreign = sorted(name for name in os.listdir(model_dir) if name != model_dir_lock.LOCK_NAME)
        if foreign:
            raise errors.UserError("--model_dir=%s holds %s, which this pipeline did not write (it holds no %s): a "
                                   "training would write over them; choose an empty or new folder" % (
                                       model_dir, ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else ""),
                                       CONFIG_NAME))
        atomic_files.write_json(config_path(model_dir), record)
        return []
    for key in NETWORK_KEYS:
        if key in record and (key in recorded or key in ABSENT_MEANS) and _network(recorded, key) != _network(
                record, key):
            raise errors.UserError("%s records %s %s, this training has %s: resuming would mix two models; use "
                                   "another folder" % (config_path(model_dir), key, _shown(_network(recorded, key)),
                                                       _shown(_network(record, key))))
    before, now = recorded.get("recipe") or {}, record.get("recipe")
    if now is None or before == now:
        return []
    changes = [(field, before.get(field), value) for field, value in sorted(now.items()) if before.get(field) != value]
    earlier = recorded.get("earlier_recipes", []) + ([before] if before else [])
    atomic_files.write_json(config_path(model_dir), dict(recorded, recipe=now, earlier_recipes=earlier))
    return changes


def _network(record, key):
    """What a record says of the network under `key`: for the backbone's precision, the one it used (why is
    not the network); for an ONNX backbone its kind, not the path it was read from (its bytes are compared
    under onnx_sha256)."""
    value = value_in(record, key)
    if key == "backbone_precision" and isinstance(value, dict):
        return value.get("used")
    if key == "backbone" and str(value).startswith("onnx:") and record.get("onnx_sha256"):
        return "onnx"
    return value


def adopt(record, where, given, adopted):
    """The flag values a record supplies: flags not given take the record's values, and a given (or
    earlier adopted) flag that contradicts it is an error.

    Args:
      record: {flag name: value} (FLAG_KEYS), e.g. a model folder's record or from_cache_manifest's.
      where: the record's file, for messages.
      given: {flag name: value as records hold it} of the FLAG_KEYS given on the command line or adopted.
      adopted: {flag name: file it was taken from} of the adopted ones.

    Returns:
      ({flag name: value} to take, [warning lines]).

    Raises:
      UserError: a contradiction, naming the flag, its value, the file and the recorded value.
    """
    for name, recorded, value in conflicts(record, given):
        source = " (taken from %s)" % adopted[name] if name in adopted else ""
        raise errors.UserError("--%s=%s%s contradicts %s, which records %s; drop the flag or use another folder" % (
            name, _shown(value), source, where, _shown(recorded)))
    taken, warnings = {}, []
    for name in FLAG_KEYS:
        if name == "pretrained_ckpt" and record.get(name) and not os.path.exists(record[name] + ".index"):
            warnings.append("%s names the backbone checkpoint %s, which is gone; the backbone is restored from the "
                            "model's own checkpoint" % (where, record[name]))
        elif name in record and name not in given:
            taken[name] = record[name]
    return taken, warnings


def _shown(value):
    return ",".join(map(str, value)) if isinstance(value, list) else value


def from_cache_manifest(cache_manifest):
    """The record implied by a feature cache: the backbone and options that made it, its image size."""
    cache = cache_manifest["cache"]
    record = {"backbone": cache["backbone"], "image_size": list(cache_manifest["image_size"]),
              "embedding_size": cache["embedding_size"], "pretrained_ckpt": cache.get("checkpoint")}
    options = cache.get("backbone_options") or {}
    record.update((flag, options[option]) for option, flag in ONNX_OPTION_FLAGS.items() if option in options)
    record["head_input"] = value_in(options, "head_input")
    return record


def model_identity(checkpoint, record, pretrained_ckpt=None):
    """The exact model a checkpoint computes with: {'checkpoint': its name, 'checkpoint_sha256',
    'backbone_sha256': the frozen backbone's when it lies outside the checkpoint (the ONNX file's sha256, or
    the pretrained checkpoint's identity), else None}. A resumed or retrained head, or another backbone file,
    gives another identity (what a calibration is tied to, model/calibration.py).

    Args:
      checkpoint: the checkpoint prefix; record: its folder's record ({} without one); pretrained_ckpt: the
        SphereNet checkpoint the backbone is restored from, or None.
    """
    head = checkpoints.identity(checkpoint)
    backbone = (record or {}).get("onnx_sha256")
    if not backbone and pretrained_ckpt:
        backbone = checkpoints.identity(checkpoints.resolve_checkpoint(pretrained_ckpt))["sha256"]
    return {"checkpoint": head["checkpoint"], "checkpoint_sha256": head["sha256"], "backbone_sha256": backbone}


def value_in(record, key):
    """record[key], or what a record written before `key` existed means by its absence."""
    return record.get(key, ABSENT_MEANS.get(key))


def conflicts(record, given):
    """[(key, recorded value, given value)] for the keys both hold with different values.

    Args:
      record: a recorded configuration.
      given: {key: value} from explicitly given flags, normalised as in the record (lists for sizes).
    """
    return [(key, record[key], value) for key, value in sorted(given.items())
            if key in record and record[key] != value]

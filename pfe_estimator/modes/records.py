"""What a run continues, adopted into its flag values: the model folder's record (pfe_config.json), an
export's pfe_export.json, a feature cache's manifest. Flags not given take the recorded values; a
contradicting flag is refused in one line naming the flag, its value, the file and the recorded value.

Works on a Flags value (the flags' values, the names given, where adopted ones came from, the record) before
the run's configuration is resolved from it (modes/run_config.py).
"""
import collections
import os

import tensorflow.compat.v1 as tf

from pfe_estimator import errors
from pfe_estimator.data import feature_cache
from pfe_estimator.data import manifest as manifests
from pfe_estimator.inference import export
from pfe_estimator.model import backbones
from pfe_estimator.storage import checkpoints
from pfe_estimator.storage import model_config
from pfe_estimator.storage import outputs


class Flags(collections.namedtuple("Flags", ["values", "given", "adopted", "record"])):
    """values: {flag: value}; given: flags set on the command line or taken from a record; adopted: {flag: the
    record file it came from}; record: the model folder's or export's record ({} without one)."""
    __slots__ = ()

    def adopting(self, taken, where):
        return Flags(dict(self.values, **taken), self.given | set(taken),
                     dict(self.adopted, **{name: where for name in taken}), self.record)


def recorded_value(flags, name):
    """A flag's value as records hold it (image size as [H, W], a checkpoint as its absolute prefix)."""
    value = flags.values[name]
    if name == "image_size":
        return [int(v) for v in value]
    if name == "pretrained_ckpt":
        return checkpoints.absolute_prefix(value)
    return value


def adopt(flags, record, where):
    """flags whose model flags not given take the record's values (model_config.adopt)."""
    given = {name: recorded_value(flags, name) for name in model_config.FLAG_KEYS
             if name in flags.given or name in flags.adopted}
    taken, warnings = model_config.adopt(record, where, given, flags.adopted)
    for line in warnings:
        tf.logging.warning(line)
    return flags.adopting({name: [str(v) for v in value] if name == "image_size" else value
                           for name, value in taken.items()}, where)


def with_export_record(flags):
    """An exported model's pfe_export.json becomes the run's record: the image size it takes, the template
    --align=detect aligns to, its calibration."""
    saved_model = flags.values["saved_model"]
    record = export.read_record(saved_model)
    network = {key: record[key] for key in ("image_size", "embedding_size") if key in record}
    return adopt(flags, network, os.path.join(saved_model, export.RECORD_NAME))._replace(record=record)


def with_model_record(flags, kind):
    """Adopts --model_dir's record, which must hold a `kind` model; its ONNX file must be the one the model
    was trained with. A folder without a record (a released model) passes."""
    model_dir = flags.values["model_dir"]
    record = model_config.read(model_dir)
    if record is None:
        return flags
    where = model_config.config_path(model_dir)
    if record["model"] != kind:
        raise errors.UserError("--model_dir=%s holds a %s model (%s), not a %s one" % (model_dir, record["model"],
                                                                                     where, kind))
    flags = adopt(flags, record, where)._replace(record=record)
    if record.get("onnx_sha256"):
        path = flags.values["backbone"][len(backbones.ONNX_PREFIX):]
        if outputs.file_digest(path) != record["onnx_sha256"]:
            raise errors.UserError("%s: not the ONNX file %s was trained with (sha256 differs from %s); give that "
                                   "file" % (path, model_dir, where))
    return flags


def is_cache(folder):
    return manifests.exists(folder) and feature_cache.is_cache(folder)


def cache_record(cache_dir):
    return model_config.from_cache_manifest(manifests.read(cache_dir))


def cache_precision(cache_dir, flag_value):
    """(precision, why) of a head trained from a feature cache: the precision the cache's backbone computed
    its inputs in (its manifest); a --backbone_precision that contradicts it is refused."""
    used = (manifests.read(cache_dir)["cache"].get("backbone_options") or {}).get("precision", "fp32")
    if flag_value not in ("auto", used):
        raise errors.UserError("--backbone_precision=%s contradicts %s, whose features were computed in %s; drop "
                               "the flag (the head trains on what the cache holds)" % (
                                   flag_value, manifests.path(cache_dir), used))
    return used, "the feature cache's (%s)" % manifests.path(cache_dir)


def with_cache_checked(flags, flag, training):
    """The head run on a feature cache must have been trained on that cache's backbone and checkpoint (as
    training from a cache takes them): compared with the head being trained, or with --model_dir's record;
    without a record, the flags take the cache's values."""
    cache_dir, model_dir = flags.values[flag], flags.values["model_dir"]
    if flags.values.get("saved_model"):
        raise errors.UserError("--%s=%s is a feature cache: its cached backbone outputs need the head's checkpoint "
                               "(--model_dir), not --saved_model (which takes images)" % (flag, cache_dir))
    cached = cache_record(cache_dir)
    if training:
        trained = {key: recorded_value(flags, key) for key in model_config.FLAG_KEYS}
    elif flags.record:
        trained = flags.record
    else:
        return adopt(flags, cached, manifests.path(cache_dir))
    for name, value_cached, value in model_config.conflicts(cached, dict(
            (key, model_config.value_in(trained, key)) for key in model_config.FLAG_KEYS if key in cached)):
        raise errors.UserError(
            "--%s=%s is a feature cache whose %s is %s (%s); the head in --model_dir=%s %s %s: cache the images "
            "with that backbone (--mode=cache_features), or evaluate on image records" % (
                flag, cache_dir, name, value_cached, manifests.path(cache_dir), model_dir,
                "trains with" if training else "was trained with", value or "the backbone in its own checkpoint"))
    return flags

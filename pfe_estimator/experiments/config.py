"""An experiment as one value, from a small file under configs/ (big_vision's configs, flax's ConfigDict).

  config = experiment_config.load("configs/held_out_quality_aware.py")       # the file's get_config()
  config = experiment_config.override(config, ["protocol.head.recipe.max_steps=3", "protocol.folds=0,1,2"])
  experiment_config.check(config)                                             # one line naming a bad field

An Experiment is its name (the config file's), SFace's precision and its protocol's config: a value of the
protocol's own Config type (experiments/protocols/), holding exactly the fields that protocol reads; a head in it
(fold_heads.Head) holds the training.recipe.Recipe under the names main.py's flags give it. The paths (LFW, the
model file, the work folder) come from the command line; what is made from them is keyed by content
(experiments/work_folder.py).
"""
import collections
import importlib.util
import json
import os
import traceback

from pfe_estimator import errors
from pfe_estimator.experiments.protocols import registry

PRECISIONS = ("auto", "fp32", "bf16")


class Experiment(collections.namedtuple("Experiment", ["name", "backbone_precision", "protocol"])):
    """A measured run: its name (its config file's; its report is WORK_DIR/reports/NAME/), SFace's arithmetic
    (auto: bf16 where the CPU has it and mu agrees; fp32; bf16) and its protocol's config (registry.PROTOCOLS)."""
    __slots__ = ()


def as_dict(value):
    """An experiment (or any part of one) as JSON values; a protocol's config names its protocol ('kind')."""
    if hasattr(value, "_fields"):
        fields = {name: as_dict(getattr(value, name)) for name in value._fields}
        kind = registry.name_of(value)
        return dict(fields, kind=kind) if kind else fields
    return json.loads(json.dumps(list(value) if isinstance(value, tuple) else value))


def load(path):
    """The Experiment of a config file (its get_config()), named after the file.

    Raises:
      UserError: no such file, a file that does not load (a syntax error, an import that fails, get_config()
        raising: naming the file's line), or no get_config() returning an Experiment.
    """
    if not os.path.isfile(path):
        raise errors.UserError("%s: no such config file (they are under configs/)" % path)
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location("experiment_config_" + name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        made = getattr(module, "get_config", lambda: None)()
    except Exception as error:  # pylint: disable=broad-except  # the user's file: whatever it raises, one line
        raise errors.UserError("%s:%s: the config file does not load (%s: %s); fix that line" % (
            path, _line_in(path, error), type(error).__name__, errors.first_line(str(error))))
    if not isinstance(made, Experiment):
        raise errors.UserError("%s: get_config() must return an experiments.config.Experiment (see configs/base.py)"
                               % path)
    return made._replace(name=name)


def _line_in(path, error):
    """The line of `path` an error was raised at (a syntax error's own, else the traceback's last frame in it)."""
    if isinstance(error, SyntaxError) and os.path.abspath(error.filename or "") == os.path.abspath(path):
        return error.lineno
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if os.path.abspath(frame.filename) == os.path.abspath(path)]
    return frames[-1].lineno if frames else "?"


# The element type of the fields that hold lists, and the fields that may be None ('none').
_LIST_OF = {"schemes": str, "held_out_kinds": str, "folds": int, "train_severities": int, "fars": float,
            "learning_rates": float, "learning_rate_boundaries": int}
_OPTIONAL = ("train_severities", "quality_aware_head", "learning_rate_boundaries")


def override(config, assignments):
    """The config with `path.to.field=value` assignments applied (protocol.folds=0,1, protocol.head.recipe.
    max_steps=3), each value parsed as the field's type (lists comma-separated, 'none' where a field may be None).

    Raises:
      UserError: an unknown field or a value of the wrong type, naming it.
    """
    for assignment in assignments:
        name, separator, text = assignment.partition("=")
        if not separator:
            raise errors.UserError("--set %s: expected FIELD=VALUE, e.g. protocol.head.recipe.max_steps=3"
                                   % assignment)
        config = _assign(config, name.strip().split("."), text.strip(), name.strip())
    return config


def _assign(value, path, text, name):
    field = path[0]
    if value is None:
        raise errors.UserError("--set %s: %s is none in this config (no such head to change)" % (
            name, name[:-len(".".join(path)) - 1]))
    if not hasattr(value, "_fields") or field not in value._fields or field == "name":
        raise errors.UserError("--set %s: no field %s (fields: %s)" % (name, field, ", ".join(
            f for f in getattr(value, "_fields", ()) if f != "name")))
    current = getattr(value, field)
    if len(path) > 1:
        return value._replace(**{field: _assign(current, path[1:], text, name)})
    if field in _OPTIONAL and text.lower() == "none":
        return value._replace(**{field: None})
    try:
        if field in _LIST_OF:
            parsed = tuple(_LIST_OF[field](item) for item in text.split(",") if item.strip())
        elif isinstance(current, bool):
            parsed = {"true": True, "false": False}[text.lower()]
        elif hasattr(current, "_fields") or current is None:
            raise ValueError(text)
        else:
            parsed = type(current)(text)
    except (ValueError, KeyError):
        expected = ("comma-separated %ss" % _LIST_OF[field].__name__ if field in _LIST_OF else
                    "none, or set its fields (%s.FIELD=...)" % name if hasattr(current, "_fields") or current is None
                    else "a %s" % type(current).__name__)
        raise errors.UserError("--set %s=%s: expected %s" % (name, text, expected))
    return value._replace(**{field: parsed})


def check(config):
    """Raises a one-line UserError naming the first field whose value no run can use."""
    problems = [] if config.backbone_precision in PRECISIONS else [
        "backbone_precision=%s: expected one of %s" % (config.backbone_precision, ", ".join(PRECISIONS))]
    kind = registry.name_of(config.protocol)
    problems += ["protocol." + problem for problem in registry.module(kind).check(config.protocol)] if kind else [
        "protocol: expected a Config of one of %s" % ", ".join(registry.PROTOCOLS)]
    if problems:
        raise errors.UserError("%s: %s" % (config.name, problems[0]))


def command(config_path, inputs, assignments, name=None):
    """The command that runs this experiment as given, for its report: `python -m scripts.run_experiment ...`."""
    words = ["python -m scripts.run_experiment", config_path, "--lfw_dir", inputs.lfw_dir, "--sface", inputs.sface,
             "--work_dir", inputs.work_dir] + (["--output_dir", inputs.output_dir] if inputs.output_dir else [])
    return " ".join(words + ["--set %s" % assignment for assignment in assignments] + (
        ["--name", name] if name else []))

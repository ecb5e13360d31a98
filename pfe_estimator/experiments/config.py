"""An experiment as one value, from a small file under configs/ (big_vision's configs, flax's ConfigDict).

  config = experiment_config.load("configs/held_out_unseen_severities_122.py")   # the file's get_config()
  config = experiment_config.override(config, ["head.steps=3", "folds=0,1,2"])
  experiment_config.check(config)                                            # one line naming a bad field

A config file defines get_config() returning an Experiment (configs/base.py: the shared defaults); its
name is the run's name, and its docstring holds the command, the run time and the figures it produced.
The paths (LFW, the model file, the work folder) are not part of it: they come from the command line, and
what is made from them is keyed by their content (experiments/work_folder.py).
"""
import collections
import importlib.util
import json
import math
import os
import traceback

from pfe_estimator import errors
from pfe_estimator.evaluation import held_out
from pfe_estimator.faces import kinds
from pfe_estimator.model import backbones
from pfe_estimator.model import calibration
from pfe_estimator.training import recipe as recipes

PROTOCOLS = ("lfw_folds", "held_out", "reference_model", "all_pairs")
# The fields each protocol reads besides name, protocol and backbone_precision: another value of any other field
# would be ignored, so it is refused.
PROTOCOL_FIELDS = {"lfw_folds": ("head", "quality_aware_head", "cross_quality", "degraded_faces", "seed"),
                   "held_out": ("head", "held_out_protocols", "held_out_kinds", "folds", "seed"),
                   "all_pairs": ("head", "plain_head", "held_out_protocols", "held_out_kinds", "folds", "seed", "fars"),
                   "reference_model": ("head", "calibration_fold", "seed", "fars")}
PRECISIONS = ("auto", "fp32", "bf16")
FOLDS = tuple(range(10))


class Head(collections.namedtuple("Head", [
        "input", "ranking_weight", "ranking_margin", "steps", "classes_per_batch", "images_per_class",
        "learning_rate", "weight_decay", "copies", "train_severities", "identity_share"])):
    """One family of fold heads and what they train on.

    Fields:
      input: 'flattened' or 'pooled' (backbones.HEAD_INPUTS): SFace's conv map as the head reads it.
      ranking_weight, ranking_margin: the quality ranking loss (training.losses; weight 0: MLS alone).
      steps, classes_per_batch, images_per_class, learning_rate, weight_decay: the recipe; the rate drops
        tenfold at two thirds of the steps (int(2/3 steps), as the published figures were measured).
      copies: degraded copies of every training image (0: clean faces, the released PFE).
      train_severities: the severities the copies are drawn from (a repeat weights one), or None for the
        protocol's (1-4; unseen severities: 1-2).
      identity_share: the share of each fold's training identities the heads train on, drawn per fold.
    """
    __slots__ = ()

    def recipe(self):
        """The head's training.recipe.Recipe."""
        return recipes.Recipe(num_classes_per_batch=self.classes_per_batch, images_per_class=self.images_per_class,
                              max_steps=self.steps, learning_rates=(self.learning_rate, self.learning_rate / 10),
                              learning_rate_boundaries=(self.steps * 2 // 3,), weight_decay=self.weight_decay,
                              quality_ranking_weight=self.ranking_weight, quality_ranking_margin=self.ranking_margin)


# The released PFE head at the LFW protocols' size (32 x 4 batches, 400 steps).
RELEASED_HEAD = Head(input="flattened", ranking_weight=0.0, ranking_margin=recipes.Recipe().quality_ranking_margin,
                     steps=400, classes_per_batch=32, images_per_class=4, learning_rate=1e-3,
                     weight_decay=recipes.Recipe().weight_decay, copies=0, train_severities=None, identity_share=1.0)
# The quality-aware head, chosen on the held-out protocols (docs/results.md, "Making the head generalise"):
# SFace's map averaged over positions, the quality ranking loss at weight 100, 2 degraded copies.
QUALITY_AWARE_HEAD = RELEASED_HEAD._replace(input="pooled", ranking_weight=100.0, copies=2)


class Experiment(collections.namedtuple("Experiment", [
        "name", "protocol", "backbone_precision", "head", "quality_aware_head", "plain_head", "cross_quality",
        "degraded_faces", "held_out_protocols", "held_out_kinds", "folds", "seed", "calibration_fold", "fars"])):
    """A measured run.

    Fields:
      name: the run's name (its config file's name); its report is WORK_DIR/reports/NAME/.
      protocol: what runs (PROTOCOLS):
        lfw_folds        LFW's 6000 pairs, each fold scored by heads trained on the other people.txt folds
        held_out         leave-one-kind-out and unseen-severity protocols (evaluation/held_out.py)
        reference_model  one head on folds 1-9, calibrated on the unseen people of one fold, exported
        all_pairs        every pair within each fold, cross-quality, as held_out; the shipped calibrated
                         decision per quality stratum, sigma^2 as a quality score (EDC)
      backbone_precision: SFace's arithmetic: auto (bf16 where the CPU has it and mu agrees), fp32 or bf16.
      head: the heads the protocol trains (a Head).
      quality_aware_head: lfw_folds: a second family of heads on degraded copies, compared beside, or None.
      plain_head: all_pairs: the heads on clean faces whose sigma^2 the EDC compares beside the head's.
      cross_quality: lfw_folds: also score cross-quality LFW (one side of each pair degraded).
      degraded_faces: lfw_folds: fold-1 test faces whose sigma^2 is followed as they degrade.
      held_out_protocols: held_out: of evaluation.held_out.PROTOCOLS.
      held_out_kinds: held_out: the kinds held out in turn by leave_one_kind_out.
      folds: the people.txt folds run (0-based).
      seed: of the test sides' degradations (cross-quality draws, held-out test pairs).
      calibration_fold: reference_model: the fold whose pairs calibrate (its people never trained on).
      fars: all_pairs, reference_model: the FARs calibrations keep thresholds at and decisions are reported at.
    """
    __slots__ = ()

    def as_dict(self):
        """The experiment as JSON values (heads as dicts), for reports and keys."""
        return json.loads(json.dumps({key: value._asdict() if isinstance(value, Head) else value
                                      for key, value in self._asdict().items()}))


DEFAULT = Experiment(name="base", protocol="lfw_folds", backbone_precision="auto", head=RELEASED_HEAD,
                     quality_aware_head=None, plain_head=RELEASED_HEAD, cross_quality=False, degraded_faces=300,
                     held_out_protocols=tuple(held_out.PROTOCOLS), held_out_kinds=kinds.KINDS, folds=FOLDS, seed=0,
                     calibration_fold=9, fars=calibration.FARS)


def load(path):
    """The Experiment of a config file (its get_config()), named after the file.

    Raises:
      UserError: no such file, a file that does not load (a syntax error, an import that fails, get_config()
        raising: naming the file's line), or no get_config() returning an Experiment.
    """
    if not os.path.isfile(path):
        raise errors.UserError("%s: no such config file (they are under configs/)" % path)
    spec = importlib.util.spec_from_file_location("experiment_config_" + _stem(path), path)
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
    return made._replace(name=_stem(path))


def _line_in(path, error):
    """The line of `path` an error was raised at (a syntax error's own line, else the traceback's last frame in
    the file), or '?'."""
    if isinstance(error, SyntaxError) and os.path.abspath(error.filename or "") == os.path.abspath(path):
        return error.lineno
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if os.path.abspath(frame.filename) == os.path.abspath(path)]
    return frames[-1].lineno if frames else "?"


def _stem(path):
    return os.path.splitext(os.path.basename(path))[0]


def override(config, assignments):
    """The config with `field=value` or `head.field=value` assignments applied, each value parsed as the
    field's type (lists comma-separated, 'none' for None where a field may be None).

    Raises:
      UserError: an unknown field or a value of the wrong type, naming it.
    """
    for assignment in assignments:
        name, separator, text = assignment.partition("=")
        if not separator:
            raise errors.UserError("--set %s: expected FIELD=VALUE, e.g. head.steps=3" % assignment)
        config = _assign(config, name.strip().split("."), text.strip(), name.strip())
    return config


def _assign(value, path, text, name):
    field = path[0]
    if field not in value._fields or field == "name":
        raise errors.UserError("--set %s: no field %s (fields: %s)" % (name, field, ", ".join(
            f for f in value._fields if f != "name")))
    current = getattr(value, field)
    if len(path) > 1:
        if not isinstance(current, Head):
            raise errors.UserError("--set %s: %s is %s, not a head" % (name, field, current))
        return value._replace(**{field: _assign(current, path[1:], text, name)})
    return value._replace(**{field: _parse(field, current, text, name)})


# The element type of the fields that hold lists, and the fields that may be None.
_LIST_OF = {"held_out_protocols": str, "held_out_kinds": str, "folds": int, "train_severities": int, "fars": float}
_OPTIONAL = ("train_severities", "quality_aware_head")


def _parse(field, current, text, name):
    if field in _OPTIONAL and text.lower() == "none":
        return None
    try:
        if field in _LIST_OF:
            return tuple(_LIST_OF[field](item) for item in text.split(",") if item.strip())
        if isinstance(current, bool):
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
        if isinstance(current, Head) or current is None:
            raise ValueError(text)
        return type(current)(text)
    except ValueError:
        raise errors.UserError("--set %s=%s: expected %s" % (name, text, _expected(field, current)))


def _expected(field, current):
    if field in _LIST_OF:
        return "comma-separated %ss" % _LIST_OF[field].__name__
    if isinstance(current, Head):
        return "none, or set its fields (e.g. %s.steps=3)" % field
    return "a %s" % type(current).__name__


def check(config):
    """Raises a one-line UserError naming the first field whose value no run can use."""
    problems = []
    if config.protocol in ("held_out", "reference_model", "all_pairs") and config.head.copies < 1:
        problems.append("head.copies=%d: the %s protocol trains its heads on degraded copies; give 1 or more"
                        % (config.head.copies, config.protocol))
    problems += _head_problems("head", config.head)
    if config.quality_aware_head is not None:
        problems += _head_problems("quality_aware_head", config.quality_aware_head)
        if config.quality_aware_head.copies < 1:
            problems.append("quality_aware_head.copies=%d: the quality-aware head trains on degraded copies; give 1 "
                            "or more" % config.quality_aware_head.copies)
    if config.protocol not in PROTOCOLS:
        problems.append("protocol=%s: expected one of %s" % (config.protocol, ", ".join(PROTOCOLS)))
    if config.backbone_precision not in PRECISIONS:
        problems.append("backbone_precision=%s: expected one of %s" % (config.backbone_precision,
                                                                       ", ".join(PRECISIONS)))
    folds = config.folds
    if not folds or len(set(folds)) != len(folds) or not set(folds) <= set(FOLDS):
        problems.append("folds=%s: expected distinct people.txt folds among 0..9" % _shown(config.folds))
    if config.calibration_fold not in FOLDS:
        problems.append("calibration_fold=%s: expected a fold among 0..9" % config.calibration_fold)
    unknown = sorted(set(config.held_out_protocols) - set(held_out.PROTOCOLS))
    if unknown or not config.held_out_protocols:
        problems.append("held_out_protocols=%s: expected some of %s" % (_shown(config.held_out_protocols),
                                                                        ",".join(held_out.PROTOCOLS)))
    try:
        kinds.check_kinds(config.held_out_kinds, "held_out_kinds")
    except ValueError as error:
        problems.append(str(error))
    if not config.fars or not all(0 < far < 1 for far in config.fars):
        problems.append("fars=%s: expected false accept rates in (0, 1), e.g. 0.001,0.01" % _shown(config.fars))
    if config.seed < 0 or config.degraded_faces < 0:
        problems.append("seed=%d, degraded_faces=%d: expected numbers >= 0" % (config.seed, config.degraded_faces))
    if config.protocol in ("held_out", "all_pairs"):
        for protocol in [name for name in config.held_out_protocols if name in held_out.PROTOCOLS]:
            problems += _severity_problems(config.head, protocol)
    for field in config._fields:
        if config.protocol in PROTOCOL_FIELDS and field not in PROTOCOL_FIELDS[config.protocol] + (
                "name", "protocol", "backbone_precision") and getattr(config, field) != getattr(DEFAULT, field):
            problems.append("%s=%s: the %s protocol does not read it (it reads %s); drop it" % (
                field, _field_text(getattr(config, field)), config.protocol,
                ", ".join(PROTOCOL_FIELDS[config.protocol])))
    if problems:
        raise errors.UserError("%s: %s" % (config.name, problems[0]))


def _head_problems(name, head):
    problems = []
    if head.input not in backbones.HEAD_INPUTS:
        problems.append("%s.input=%s: expected one of %s" % (name, head.input, ", ".join(backbones.HEAD_INPUTS)))
    for field in ("steps", "classes_per_batch"):
        if getattr(head, field) < 1:
            problems.append("%s.%s=%s: expected a positive integer" % (name, field, getattr(head, field)))
    if head.images_per_class < 2:
        problems.append("%s.images_per_class=%d: MLS compares images of one identity; give 2 or more"
                        % (name, head.images_per_class))
    if not (math.isfinite(head.learning_rate) and head.learning_rate > 0):
        problems.append("%s.learning_rate=%s: expected a positive number" % (name, head.learning_rate))
    for field in ("weight_decay", "ranking_weight"):
        value = getattr(head, field)
        if not (math.isfinite(value) and value >= 0):
            problems.append("%s.%s=%s: expected a number >= 0" % (name, field, value))
    if not (math.isfinite(head.ranking_margin) and head.ranking_margin > 0):
        problems.append("%s.ranking_margin=%s: expected a positive number" % (name, head.ranking_margin))
    if head.copies < 0:
        problems.append("%s.copies=%d: expected a number of degraded copies >= 0" % (name, head.copies))
    if head.ranking_weight > 0 and head.copies < 1:
        problems.append("%s.ranking_weight=%g ranks degraded copies against their source; the head has no copies "
                        "(%s.copies=0): set it to 0 or give copies" % (name, head.ranking_weight, name))
    if not 0.0 < head.identity_share <= 1.0:
        problems.append("%s.identity_share=%s: give a share of the training identities in (0, 1], e.g. 0.5"
                        % (name, head.identity_share))
    if head.train_severities is not None and (not head.train_severities or
                                              not set(head.train_severities) <= set(kinds.SEVERITIES)):
        problems.append("%s.train_severities=%s: give severities 1-4, e.g. 1,2,3,4,4" % (
            name, _shown(head.train_severities)))
    return problems


def _severity_problems(head, protocol):
    """unseen_severities tests on severities its heads must never train on."""
    tested = set(head.train_severities or ()) & set(held_out.PROTOCOLS[protocol]["test"])
    if protocol == "unseen_severities" and tested:
        return ["head.train_severities=%s holds %s, which unseen_severities tests on: train it on 1-2 only"
                % (_shown(head.train_severities), ",".join(map(str, sorted(tested))))]
    return []


def training_severities(head, protocol=None):
    """The severities `head`'s copies are drawn from: its own, else the held-out protocol's, else 1-4."""
    if head.train_severities:
        return tuple(head.train_severities)
    return held_out.PROTOCOLS[protocol]["train"] if protocol else kinds.SEVERITIES


def _field_text(value):
    if isinstance(value, (tuple, list)):
        return _shown(value)
    return "(a head)" if hasattr(value, "_fields") else str(value)


def _shown(values):
    return ",".join(map(str, values)) if values is not None else "none"

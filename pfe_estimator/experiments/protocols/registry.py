"""The one registry of experiment protocols: a protocol's name -> the module of experiments/protocols that runs
it (as modes/registry.py for main.py's modes). A protocol module defines

  Config              a namedtuple of exactly the fields the protocol reads, with their defaults
  check(config)       [one line naming the field, for each value no run can use] (at most 20 lines)
  run(context, report_dir)   the protocol itself (context: lfw_data.Context); returns its report
  summary(report)     the report as text
"""
import collections
import importlib

PROTOCOLS = collections.OrderedDict([
    ("lfw_folds", "lfw_folds"), ("held_out", "held_out"), ("all_pairs", "all_pairs"),
    ("reference_model", "reference_model"),
])


def module(name):
    """The module of experiments/protocols that runs `name` (imported now)."""
    return importlib.import_module("pfe_estimator.experiments.protocols." + PROTOCOLS[name])


def name_of(config):
    """The protocol whose Config `config` is, or None for any other value."""
    return next((name for name in PROTOCOLS if type(config) is module(name).Config), None)

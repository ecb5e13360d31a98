"""The one registry of main.py's modes: --mode's name -> the module of pfe_estimator.modes that carries it out.

A mode module declares what it reads and writes, and run_config.py, main.py and the flag reference read
those declarations; a new mode is its module and its line here:

  OUTPUTS        the path flags it writes, kept apart from every path it reads (storage.outputs.check_run_paths)
  MODEL          the kind of model it reads or trains in --model_dir ('pfe', 'pretrain'), or None
  MODEL_DIR      'always' (--model_dir or its default) or 'given' (only when --model_dir is given)
  SAVED_MODEL    whether --saved_model (an export folder) may stand in for --model_dir
  runs_backbone(config)  whether it runs the frozen backbone on images here (--backbone_precision=auto is
                 then decided on the run's first faces, modes/precision.py)
  check(config)  one-line refusals before any work (flags it needs, files that must exist)
  run(config)    the mode itself
A mode module imports at its top only what that mode needs: --mode=train imports neither OpenCV nor
matplotlib (Ascend images lack them).
"""
import collections
import importlib

MODES = collections.OrderedDict([
    ("train", "train"), ("eval", "evaluate"), ("predict", "predict"), ("export", "export"),
    ("cache_features", "cache_features"), ("pretrain", "pretrain"), ("verify", "verify"), ("calibrate", "calibrate"),
])


def module(mode):
    """The module of pfe_estimator.modes that runs `mode` (imported now)."""
    return importlib.import_module("pfe_estimator.modes." + MODES[mode])

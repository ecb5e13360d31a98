"""pfe-estimator entry point: pretrain, train, evaluate, predict, verify and export Probabilistic Face Embeddings.

  python main.py --mode=train --data=synthetic --backbone=sphere20 --max_steps=20
  python main.py --mode=pretrain --data_dir=tfrecords/casia --backbone=sphere64 --model_dir=pretrained/sphere64_am
  python main.py --mode=train --device=npu --data_dir=tfrecords/casia --pretrained_ckpt=pretrained/sphere64_casia_am
  python main.py --mode=eval --model_dir=ckpt/pfe --lfw_dir=tfrecords/lfw --lfw_pairs=pairs.txt --report_dir=report
  python main.py --mode=export --model_dir=ckpt/pfe --export_dir=export/pfe
  python main.py --mode=predict --model_dir=ckpt/pfe --predict_dir=aligned_faces --predict_output=embeddings.npz
  python main.py --mode=verify --model_dir=ckpt/pfe --image_a=a.jpg --image_b=b.jpg
  python main.py --mode=cache_features --backbone=onnx:sface.onnx --image_size=112,112 --data_dir=... --cache_dir=...

This module sets up logging, builds the run's Settings (pfe_estimator/modes/settings.py: the flags of
modes/flag_definitions.py and the records the run continues), hands them to the mode's run(settings)
(pfe_estimator/modes/<mode>.py) and turns user errors into one line. A mode's module is imported when it
runs, so training imports neither OpenCV nor matplotlib (Ascend images lack them).
"""
import importlib
import logging
import os
import sys

# Quiet by default: TensorFlow's C++ start-up lines only with --verbose (read before TensorFlow loads).
if not any(arg in ("--verbose", "--verbose=true", "--verbose=1") for arg in sys.argv):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

from pfe_estimator import errors  # noqa: E402
from pfe_estimator.modes import command_line  # noqa: E402
from pfe_estimator.modes import flag_definitions  # noqa: E402
from pfe_estimator.modes import settings as run_settings  # noqa: E402
from pfe_estimator.storage import checkpoints  # noqa: E402

flag_definitions.define_all()
FLAGS = flags.FLAGS

# --mode -> the module of pfe_estimator.modes that runs it.
MODE_MODULES = {"train": "train", "pretrain": "pretrain", "eval": "evaluate", "predict": "predict",
                "export": "export", "cache_features": "cache_features", "verify": "verify"}
PROJECT_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


class ProjectLinesOnly(logging.Filter):
    """Passes this project's log lines (steps, throughput, where files went) and every error; drops
    TensorFlow's own INFO and deprecation warnings."""

    def filter(self, record):
        ours = record.pathname.startswith(PROJECT_DIR) and "site-packages" not in record.pathname
        return ours or record.levelno >= logging.ERROR


class PlainLines(logging.Formatter):
    """An INFO line as its message alone; warnings and errors keep their level in front."""

    def format(self, record):
        message = record.getMessage()
        return message if record.levelno <= logging.INFO else "%s: %s" % (record.levelname.lower(), message)


def set_up_logging(verbose):
    tf.logging.set_verbosity(tf.logging.INFO)
    logger = tf.get_logger()
    logger.propagate = False  # TF has its own handler; absl's would print every line twice
    if not verbose:
        for handler in logger.handlers:
            handler.addFilter(ProjectLinesOnly())
            handler.setFormatter(PlainLines())


def what_was_kept(settings):
    """One line for Ctrl-C: what the interrupted mode leaves (outputs are written whole or not at all)."""
    if settings is None:
        return "nothing was written yet"
    written = run_settings.MODE_OUTPUTS[settings.mode]
    if written == ("model_dir",):
        return checkpoints.kept_checkpoint(settings.model_dir)
    if settings.mode == "cache_features":
        return "--cache_dir=%s keeps the shards it finished; rerun the same command to resume" % settings.cache_dir
    shown = ", ".join("--%s=%s" % (flag, getattr(settings, flag)) for flag in written if getattr(settings, flag))
    return "nothing was replaced (%s as before); rerun the same command" % (shown or "no output")


def main(argv):
    del argv
    set_up_logging(FLAGS.verbose)
    run = {}

    def run_mode():
        run["settings"] = run_settings.from_flags(FLAGS)
        try:
            importlib.import_module("pfe_estimator.modes." + MODE_MODULES[run["settings"].mode]).run(run["settings"])
        except tf.train.NanLossDuringTrainingError:
            raise errors.UserError("the training loss became NaN; lower --lr_values (the checkpoints written so far "
                                   "are kept)")

    command_line.run_script(run_mode, lambda: what_was_kept(run.get("settings")))


if __name__ == "__main__":
    app.run(main)

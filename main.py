"""pfe-estimator entry point: pretrain, train, evaluate, predict, verify and export Probabilistic Face Embeddings.

  python main.py --mode=train --data=synthetic --backbone=sphere20 --max_steps=20
  python main.py --mode=pretrain --data_dir=tfrecords/casia --backbone=sphere64 --model_dir=pretrained/sphere64_am
  python main.py --mode=train --device=npu --data_dir=tfrecords/casia --pretrained_ckpt=pretrained/sphere64_casia_am
  python main.py --mode=eval --model_dir=ckpt/pfe --lfw_dir=tfrecords/lfw --lfw_pairs=pairs.txt --report_dir=report
  python main.py --mode=export --model_dir=ckpt/pfe --export_dir=export/pfe
  python main.py --mode=predict --model_dir=ckpt/pfe --predict_dir=aligned_faces --predict_output=embeddings.npz
  python main.py --mode=verify --model_dir=ckpt/pfe --image_a=a.jpg --image_b=b.jpg
  python main.py --mode=cache_features --backbone=onnx:sface.onnx --image_size=112,112 --data_dir=... --cache_dir=...

This module sets up logging, resolves the run's configuration once (pfe_estimator/modes/run_config.py: the
flags of modes/flag_definitions.py and the records the run continues), runs the mode's own checks, decides
--backbone_precision=auto for a mode that runs the backbone (modes/precision.py), hands the RunConfig to the
mode's run(config) (modes/registry.py names the module) and turns user errors into one line. Only the mode's
module is imported, so training imports neither OpenCV nor matplotlib (Ascend images lack them).
"""
import logging
import os
import signal
import sys


def interrupted_while_starting(signum, frame):
    """Ctrl-C before the mode runs (TensorFlow still loading): one line, no traceback."""
    del signum, frame
    sys.exit("interrupted: nothing was written yet")


signal.signal(signal.SIGINT, interrupted_while_starting)
# Quiet by default: TensorFlow's C++ log lines (start-up, XLA's, even its ERROR-level notices; failures still
# reach the user as Python errors) only with --verbose (read before TensorFlow loads).
if not any(arg in ("--verbose", "--verbose=true", "--verbose=1") for arg in sys.argv):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

from pfe_estimator import errors  # noqa: E402
from pfe_estimator.modes import flag_definitions  # noqa: E402
from pfe_estimator.modes import precision  # noqa: E402
from pfe_estimator.modes import run_config  # noqa: E402
from pfe_estimator.storage import checkpoints  # noqa: E402

flag_definitions.define_all()
FLAGS = flags.FLAGS

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


def what_was_kept(config):
    """One line for Ctrl-C: what the interrupted mode leaves (outputs are written whole or not at all)."""
    if config is None:
        return "nothing was written yet"
    written = config.module.OUTPUTS
    if written == ("model_dir",):
        return checkpoints.kept_checkpoint(config.paths.model_dir)
    if config.mode == "cache_features":
        return "--cache_dir=%s keeps the shards it finished; rerun the same command to resume" % config.paths.cache_dir
    shown = ", ".join("--%s=%s" % (flag, getattr(config.paths, flag)) for flag in written
                      if getattr(config.paths, flag))
    return "nothing was replaced (%s as before); rerun the same command" % (shown or "no output")


def parse_flags(argv):
    """absl's parsing, a flag's bad value said in one line (absl prints two and a hint); a renamed flag's earlier
    name says today's."""
    for earlier, today in flag_definitions.RENAMED.items():
        if any(arg.split("=")[0] in ("--" + earlier, "-" + earlier) for arg in argv[1:]):
            sys.exit("error: --%s is now --%s (the training recipe's field name); rename it in the command"
                     % (earlier, today))
    try:
        return FLAGS(argv)
    except flags.Error as error:
        sys.exit("error: %s; see --helpfull" % error)


def main(argv):
    del argv
    signal.signal(signal.SIGINT, signal.default_int_handler)  # from here run_script says what was kept
    set_up_logging(FLAGS.verbose)
    run = {}

    def run_mode():
        config = run["config"] = run_config.from_flags(FLAGS)
        mode = config.module
        if hasattr(mode, "check"):
            mode.check(config)
        if mode.runs_backbone(config):
            config = precision.decide(config)
        try:
            mode.run(config)
        except tf.train.NanLossDuringTrainingError:
            raise errors.UserError("the training loss became NaN; lower --learning_rates (the checkpoints written so "
                                   "far are kept)")

    errors.run_script(run_mode, lambda: what_was_kept(run.get("config")))


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)

"""Runs one measured experiment from its config file (configs/NAME.py; pfe_estimator/experiments/):

  python -m scripts.run_experiment configs/held_out_quality_aware.py --lfw_dir LFW --sface SFACE.onnx \
      --work_dir runs/lfw_sface

The config file says what runs; the command line says where the data, the model file and the work folder
are (--output_dir: where a reference model goes). --set FIELD=VALUE changes a field for a trial (e.g.
--set protocol.head.recipe.max_steps=3 --set protocol.folds=0,1); a report of another configuration under the
same name is refused, so give such a run its own --name. The report records the command. Everything the run
makes is kept in the work folder by what made it (pfe_estimator/experiments/work_folder.py): a rerun reuses it,
another configuration never does.
"""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ log lines, before it loads

import tensorflow.compat.v1 as tf  # noqa: E402

from pfe_estimator import errors  # noqa: E402
from pfe_estimator.experiments import config as experiment_config  # noqa: E402
from pfe_estimator.experiments import lfw_data  # noqa: E402
from pfe_estimator.experiments import run  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config", help="the experiment's config file, e.g. configs/held_out_quality_aware.py")
    parser.add_argument("--lfw_dir", required=True, help="LFW: images/, ldmark_lfw_mtcnncaffe.txt, pairs.txt, "
                        "people.txt (docs/data.md)")
    parser.add_argument("--sface", required=True, help="SFace .onnx (scripts/fetch_models.py fetches it)")
    parser.add_argument("--work_dir", default="runs/lfw_sface", help="aligned records, caches, heads and "
                        "reports/NAME/ (a rerun reuses what the same configuration made)")
    parser.add_argument("--output_dir", default=None, help="reference_model: the model and its export")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", dest="assignments",
                        help="change a field of the config (protocol.head.recipe.max_steps=3, protocol.folds=0,1,2, "
                        "protocol.quality_aware_head=none)")
    parser.add_argument("--name", default=None, help="the run's name (default: the config file's)")
    parsed = parser.parse_args()
    config = experiment_config.override(experiment_config.load(parsed.config), parsed.assignments)
    config = config._replace(name=parsed.name or config.name)
    tf.logging.set_verbosity(tf.logging.ERROR)
    inputs = lfw_data.Inputs(parsed.lfw_dir, parsed.sface, parsed.work_dir, parsed.output_dir)
    run.run(config, inputs, experiment_config.command(parsed.config, inputs, parsed.assignments, parsed.name))


if __name__ == "__main__":
    errors.run_script(main, lambda: "--work_dir keeps the records, caches and heads it finished; rerun the "
                                          "same command to reuse them")

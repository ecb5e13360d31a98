"""One function that runs an experiment, from its config value and its paths (flax's train_and_evaluate):

  run(experiment_config.load("configs/held_out_quality_aware.py"), lfw_data.Inputs(LFW, SFACE, WORK, None))

The config is checked before any work; the outputs are kept apart from the inputs; the report folder
(WORK_DIR/reports/NAME) is claimed for this configuration before anything is computed, so another
configuration under the same name is refused instead of replacing it; then LFW is aligned, SFace's precision
decided, and the protocol (experiments/protocols/registry.py) runs, reusing whatever the work folder holds for
the same keys. The report holds the experiment, the command that ran it and the protocol's result.
"""
import os
import time

from pfe_estimator import errors
from pfe_estimator.experiments import config as experiment_config
from pfe_estimator.experiments import earlier_configs
from pfe_estimator.experiments import lfw_data
from pfe_estimator.experiments import work_folder
from pfe_estimator.experiments.protocols import registry
from pfe_estimator.storage import atomic_files
from pfe_estimator.storage import outputs


def run(config, inputs, command=None):
    """Runs the experiment; writes WORK_DIR/reports/NAME/report.json beside its PNGs, prints the summary.

    Args:
      config: an experiments.config.Experiment; inputs: lfw_data.Inputs; command: the command line that ran it
        (experiment_config.command), recorded in the report.

    Returns:
      the report dict.
    """
    experiment_config.check(config)
    outputs.check_run_paths({"work_dir": inputs.work_dir, "output_dir": inputs.output_dir},
                            {"lfw_dir": inputs.lfw_dir, "sface": inputs.sface})
    start = time.time()
    report_dir, claimed = claim_report(config, inputs)
    try:
        return _run(config, inputs, report_dir, start, command)
    except BaseException:
        if claimed == "new":
            work_folder.release_report_folder(report_dir)
        raise


def _run(config, inputs, report_dir, start, command):
    context = lfw_data.context(config, inputs)
    print("data ready in %.0f s: %d images of %d identities" % (
        time.time() - start, context.records.manifest["num_images"], context.records.manifest["num_identities"]))
    kind = registry.name_of(config.protocol)
    module = registry.module(kind)
    result = module.run(context, report_dir)
    report = {"experiment": experiment_config.as_dict(config), "command": command, kind: result,
              "seconds": time.time() - start,
              "inputs": {"lfw_dir": os.path.abspath(inputs.lfw_dir), "sface": os.path.abspath(inputs.sface),
                         "sface_sha256": context.sface.sha256}}
    path = os.path.join(report_dir, "report.json")
    atomic_files.write_json(path, report)
    print(module.summary(result))
    print("report: %s (%.0f s)" % (path, report["seconds"]))
    return report


def claim_report(config, inputs):
    """(WORK_DIR/reports/NAME claimed for this configuration and these inputs (their content, not their paths),
    'new' or 'resume'). A folder marked in the earlier shape of experiments (experiments/earlier_configs.py) is
    marked anew in today's first, so that only a change of what runs refuses it."""
    fingerprint = work_folder.flat({"experiment": experiment_config.as_dict(config), "lfw": lfw_data.lfw_key(inputs),
                                    "sface_sha256": outputs.file_digest(lfw_data.check_sface(inputs.sface))})
    folder = os.path.join(inputs.work_dir, "reports", config.name)
    marker = outputs.read_marker(folder) if os.path.isdir(folder) else None
    if marker and marker.get("kind") == work_folder.REPORT_KIND and marker.get("fingerprint"):
        today = earlier_configs.fingerprint(marker["fingerprint"])
        if today != marker["fingerprint"]:
            outputs.write_marker(folder, work_folder.REPORT_KIND, today)
    try:
        return work_folder.report_folder(inputs.work_dir, config.name, fingerprint)
    except outputs.MadeFromOtherInputsError as error:
        raise errors.UserError("%s holds the report of another configuration or other inputs (changed: %s); give "
                               "this run another --name, or another --work_dir" % (
                                   os.path.join(inputs.work_dir, "reports", config.name), error.changes))

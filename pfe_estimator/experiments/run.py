"""One function that runs an experiment, from its config value and its paths (flax's train_and_evaluate):

  run(experiment_config.load("configs/held_out_unseen_severities_122.py"), lfw_data.Inputs(LFW, SFACE, WORK, None))

The config is checked before any work; the outputs are kept apart from the inputs; the report folder
(WORK_DIR/reports/NAME) is claimed for this configuration before anything is computed, so another
configuration under the same name is refused instead of replacing it; then LFW is aligned, SFace's precision
decided, and the protocol runs, reusing whatever the work folder holds for the same keys.
"""
import os
import time

from pfe_estimator import errors
from pfe_estimator.experiments import all_pairs_protocol
from pfe_estimator.experiments import config as experiment_config
from pfe_estimator.experiments import held_out_protocols
from pfe_estimator.experiments import lfw_data
from pfe_estimator.experiments import lfw_folds
from pfe_estimator.experiments import reference_model
from pfe_estimator.experiments import work_folder
from pfe_estimator.storage import atomic_files
from pfe_estimator.storage import outputs

PROTOCOL_MODULES = {"lfw_folds": lfw_folds, "held_out": held_out_protocols, "reference_model": reference_model,
                    "all_pairs": all_pairs_protocol}


def run(config, inputs):
    """Runs the experiment; writes WORK_DIR/reports/NAME/report.json beside its PNGs, prints the summary.

    Returns:
      the report dict.
    """
    experiment_config.check(config)
    outputs.check_run_paths({"work_dir": inputs.work_dir, "output_dir": inputs.output_dir},
                            {"lfw_dir": inputs.lfw_dir, "sface": inputs.sface})
    start = time.time()
    report_dir, claimed = claim_report(config, inputs)
    try:
        return _run(config, inputs, report_dir, start)
    except BaseException:
        if claimed == "new":
            work_folder.release_report_folder(report_dir)
        raise


def _run(config, inputs, report_dir, start):
    context = lfw_data.context(config, inputs)
    print("data ready in %.0f s: %d images of %d identities" % (
        time.time() - start, context.records.manifest["num_images"], context.records.manifest["num_identities"]))
    module = PROTOCOL_MODULES[config.protocol]
    result = module.run(context, report_dir)
    report = {"experiment": config.as_dict(), config.protocol: result, "seconds": time.time() - start,
              "inputs": {"lfw_dir": os.path.abspath(inputs.lfw_dir), "sface": os.path.abspath(inputs.sface),
                         "sface_sha256": context.sface.sha256}}
    path = os.path.join(report_dir, "report.json")
    atomic_files.write_json(path, report)
    print(module.summary(result))
    print("report: %s (%.0f s)" % (path, report["seconds"]))
    return report


def claim_report(config, inputs):
    """(WORK_DIR/reports/NAME claimed for this configuration and these inputs (their content, not their paths),
    'new' or 'resume')."""
    fingerprint = work_folder.flat({"experiment": config.as_dict(), "lfw": lfw_data.lfw_key(inputs),
                                    "sface_sha256": outputs.file_digest(lfw_data.check_sface(inputs.sface))})
    try:
        return work_folder.report_folder(inputs.work_dir, config.name, fingerprint)
    except outputs.MadeFromOtherInputsError as error:
        raise errors.UserError("%s holds the report of another configuration or other inputs (changed: %s); give "
                               "this run another --name, or another --work_dir" % (
                                   os.path.join(inputs.work_dir, "reports", config.name), error.changes))

"""--mode=eval: LFW's 10-fold protocol and template pairs, scored with cosine and MLS, into report.json
and PNG plots in --report_dir (written whole or not at all)."""
import os

from pfe_estimator import errors
from pfe_estimator.evaluation import protocols
from pfe_estimator.evaluation import report
from pfe_estimator.modes import embeddings
from pfe_estimator.modes import records
from pfe_estimator.storage import atomic_files
from pfe_estimator.storage import outputs

OUTPUTS = ("report_dir", "embeddings_output")
MODEL = "pfe"
MODEL_DIR = "always"
SAVED_MODEL = True


def runs_backbone(config):
    """Not on an embeddings file, an export (it runs itself) or a feature cache."""
    paths = config.paths
    return not (paths.embeddings or paths.saved_model or records.is_cache(paths.lfw_dir))


def check(config):
    paths = config.paths
    if not (paths.lfw_pairs or paths.templates_csv):
        raise errors.UserError("--mode=eval needs --lfw_pairs and/or --templates_csv with --template_pairs_csv")
    if paths.templates_csv and not paths.template_pairs_csv:
        raise errors.UserError("--templates_csv needs --template_pairs_csv")
    if paths.embeddings_output:
        embeddings.check_embeddings_output(config, "embeddings_output")


def run(config):
    paths = config.paths
    with outputs.replacing_directory(paths.report_dir, report.OUTPUT_KIND, "report_dir",
                                     overwrite=config.options.overwrite) as staging:
        os.makedirs(staging)
        result = {}
        if paths.lfw_pairs:
            pairs = protocols.read_lfw_pairs(paths.lfw_pairs)
            names, mu, sigma_sq, load_face = embeddings.pair_embeddings(config, pairs)
            result["lfw"] = report.lfw_report(names, mu, sigma_sq, pairs, staging, load_face)
        if paths.templates_csv:
            names, mu, sigma_sq = embeddings.template_embeddings(config)
            result["templates"] = report.template_section(names, mu, sigma_sq, paths.templates_csv,
                                                          paths.template_pairs_csv, config.options.fusion, staging)
        atomic_files.write_json(os.path.join(staging, "report.json"), result)
    print(report.summary(result))
    print("report: %s" % os.path.join(paths.report_dir, "report.json"))

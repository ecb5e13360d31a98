"""--mode=eval: LFW's 10-fold protocol, anyone's pairs (--pairs_csv) and template pairs, scored with cosine,
MLS and, with a calibration fitted for this model (model/calibration.py), its P(same) and decision (what its
decisions do there, and at which FARs it decides nothing), into report.json and PNG plots in --report_dir, and
one CSV row per pair in --pair_scores_output (each written whole or not at all)."""
import os

from pfe_estimator import errors
from pfe_estimator.data import pair_files
from pfe_estimator.evaluation import report
from pfe_estimator.model import verification
from pfe_estimator.modes import embeddings
from pfe_estimator.modes import models
from pfe_estimator.modes import records
from pfe_estimator.storage import atomic_files
from pfe_estimator.storage import outputs

OUTPUTS = ("report_dir", "embeddings_output", "pair_scores_output")
MODEL = "pfe"
MODEL_DIR = "always"
SAVED_MODEL = True
SCORES_KIND = "image_a,image_b,same,cosine,mls,p_same"  # how a pair-scores CSV this mode wrote begins


def runs_backbone(config):
    """Not on an embeddings file, an export (it runs itself) or a feature cache."""
    paths = config.paths
    return not (paths.embeddings or paths.saved_model or records.is_cache(paths.lfw_dir))


def check(config):
    paths = config.paths
    if not (paths.lfw_pairs or paths.pairs_csv or paths.templates_csv):
        raise errors.UserError("--mode=eval needs --lfw_pairs, --pairs_csv and/or --templates_csv with "
                               "--template_pairs_csv")
    if paths.templates_csv and not paths.template_pairs_csv:
        raise errors.UserError("--templates_csv needs --template_pairs_csv")
    if paths.embeddings_output:
        embeddings.check_embeddings_output(config, "embeddings_output")
    calibrated = models.calibration_of(config)
    for flag, wanted in (("pair_scores_output", paths.pair_scores_output), ("score", config.options.score)):
        if wanted and calibrated is None:
            raise errors.UserError("--%s: %s has no calibration to decide with (p_same, accept_at_far_*); fit one "
                                   "with --mode=calibrate" % (flag, paths.saved_model or paths.model_dir))
    if paths.pair_scores_output:
        if not paths.pairs_csv:
            raise errors.UserError("--pair_scores_output needs --pairs_csv (the pairs it scores)")
        outputs.check_replaceable_file(paths.pair_scores_output, "pair_scores_output", is_pair_scores,
                                       config.options.overwrite)


def is_pair_scores(path):
    """Whether a file is a pair-scores CSV this mode wrote (its header)."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.readline().startswith(SCORES_KIND)
    except (IOError, OSError, UnicodeDecodeError):
        return False


def run(config):
    paths = config.paths
    shipped = models.calibration_of(config)
    rows = None
    with outputs.replacing_directory(paths.report_dir, report.OUTPUT_KIND, "report_dir",
                                     overwrite=config.options.overwrite) as staging:
        os.makedirs(staging)
        result = {}
        if paths.lfw_pairs:
            pairs = pair_files.read_lfw_pairs(paths.lfw_pairs)
            names, mu, sigma_sq, load_face = embeddings.pair_embeddings(config, pairs)
            if len(set(pairs.fold)) < 2:
                raise errors.UserError("--lfw_pairs=%s: 1 fold; the 10-fold protocol chooses each fold's threshold on "
                                       "the others: give 2 folds or more, or score the pairs with --pairs_csv"
                                       % paths.lfw_pairs)
            result["lfw"] = report.lfw_report(names, mu, sigma_sq, pairs, staging, load_face, shipped)
        if paths.pairs_csv:
            pairs = pair_files.read_pairs_csv(paths.pairs_csv)
            mu, sigma_sq, first, second = embeddings.csv_pair_embeddings(config, pairs)
            values = verification.pair_values(mu[first], sigma_sq[first], mu[second], sigma_sq[second])
            result["pairs"] = dict(report.pairs_section(values, pairs.same, shipped),
                                   source=os.path.abspath(paths.pairs_csv))
            if paths.pair_scores_output:
                rows = report.pair_rows(pairs, values, shipped)
        if paths.templates_csv:
            names, mu, sigma_sq = embeddings.template_embeddings(config)
            result["templates"] = report.template_section(names, mu, sigma_sq, paths.templates_csv,
                                                          paths.template_pairs_csv, config.options.fusion, staging)
        atomic_files.write_json(os.path.join(staging, "report.json"), result)
        if rows:
            atomic_files.write_text(paths.pair_scores_output, "".join(",".join(row) + "\n" for row in rows))
    print(report.summary(result))
    print("report: %s" % os.path.join(paths.report_dir, "report.json"))
    if rows:
        print("pair scores: %d pairs -> %s" % (len(rows) - 1, paths.pair_scores_output))

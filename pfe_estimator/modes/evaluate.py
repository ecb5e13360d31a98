"""--mode=eval: LFW's 10-fold protocol and template pairs, scored with cosine and MLS, into report.json
and PNG plots in --report_dir (written whole or not at all)."""
import os

from pfe_estimator.evaluation import protocols
from pfe_estimator.evaluation import report
from pfe_estimator.modes import embeddings
from pfe_estimator.modes import settings as run_settings
from pfe_estimator.storage import atomic_files
from pfe_estimator.storage import outputs


def run(settings):
    if not (settings.lfw_pairs or settings.templates_csv):
        raise run_settings.FlagError("--mode=eval needs --lfw_pairs and/or --templates_csv with "
                                     "--template_pairs_csv")
    if settings.templates_csv and not settings.template_pairs_csv:
        raise run_settings.FlagError("--templates_csv needs --template_pairs_csv")
    if settings.embeddings_output:
        embeddings.check_embeddings_output(settings, "embeddings_output")
    with outputs.replacing_directory(settings.report_dir, report.OUTPUT_KIND, "report_dir",
                                     overwrite=settings.overwrite) as staging:
        os.makedirs(staging)
        result = {}
        if settings.lfw_pairs:
            pairs = protocols.read_lfw_pairs(settings.lfw_pairs)
            names, mu, sigma_sq, load_face = embeddings.pair_embeddings(settings, pairs)
            result["lfw"] = report.lfw_report(names, mu, sigma_sq, pairs, staging, load_face)
        if settings.templates_csv:
            names, mu, sigma_sq = embeddings.template_embeddings(settings)
            result["templates"] = report.template_section(names, mu, sigma_sq, settings.templates_csv,
                                                          settings.template_pairs_csv, settings.fusion, staging)
        atomic_files.write_json(os.path.join(staging, "report.json"), result)
    print(report.summary(result))
    print("report: %s" % os.path.join(settings.report_dir, "report.json"))

"""Evaluation reports: report.json, PNG plots and a one-screen summary, from features."""
import os

import numpy as np

from pfe_estimator import errors
from pfe_estimator.data import embedding_files
from pfe_estimator.evaluation import metrics
from pfe_estimator.evaluation import plots
from pfe_estimator.data import pair_files
from pfe_estimator.evaluation import reliability
from pfe_estimator.model import verification


REJECT_FRACTIONS = [round(0.05 * i, 2) for i in range(11)]  # 0 .. 50 %
LFW_FARS = (1e-3, 1e-2)
TEMPLATE_FARS = (1e-4, 1e-3, 1e-2, 1e-1)
FACES_PER_ROW = 10
OUTPUT_KIND = "report"


def template_report(mu, sigma_sq, template_ids, pairs_a, pairs_b, labels, fusion="paper",
                    fars=(1e-4, 1e-3, 1e-2, 1e-1), reject_fractions=None):
    """Template verification: cosine of mean mu, cosine of fused mu, MLS of the fused Gaussians.

    Args:
      mu, sigma_sq: float [N, D] of the faces; template_ids [N].
      pairs_a, pairs_b: template ids [P]; labels: bool [P].

    Returns:
      dict per score type of {"tar_at_far": {far: tar}, "auc"}, plus "risk_controlled" TAR@FAR=1e-2 (MLS)
      when reject_fractions is given.
    """
    ids, mu_hat, sigma_sq_hat, mean_mu = metrics.fuse_templates(mu, sigma_sq, template_ids, fusion)
    position = {value: i for i, value in enumerate(ids)}
    try:
        a = np.array([position[t] for t in pairs_a])
        b = np.array([position[t] for t in pairs_b])
    except KeyError as error:
        raise errors.UserError("template %s is in the pairs but has no faces" % error)
    scores = {
        "cosine": metrics.cosine_pair_scores(mean_mu[a], mean_mu[b]),
        "fused_cosine": metrics.cosine_pair_scores(mu_hat[a], mu_hat[b]),
        "mls": metrics.mls_pair_scores(mu_hat[a], sigma_sq_hat[a], mu_hat[b], sigma_sq_hat[b]),
    }
    report = {}
    for name, value in scores.items():
        tars, _ = metrics.tar_at_far(value[labels], value[~labels], fars)
        report[name] = {"tar_at_far": {str(f): float(t) for f, t in zip(fars, tars)},
                        "auc": metrics.roc_auc(value, labels)}
    if reject_fractions is not None:
        uncertainty = metrics.pair_uncertainty(sigma_sq_hat[a], sigma_sq_hat[b])
        report["risk_controlled"] = {
            "reject_fractions": list(reject_fractions), "far": 1e-2,
            "tar": {name: metrics.risk_controlled_tar(value, labels, uncertainty, reject_fractions, 1e-2).tolist()
                    for name, value in scores.items()}}
    return report, scores


def lfw_report(names, mu, sigma_sq, pairs, report_dir=None, face_loader=None, shipped=None):
    """The LFW protocol for cosine, MLS and the shipped decision (a model's calibration, model/calibration.py:
    its default score ranked by its margin at its threshold for the first FAR it decides at), or without a
    calibration the quality-aware logistic fitted on the other folds' pairs, with risk-controlled accuracy; with a
    calibration, what its decisions do on these pairs; writes plots when report_dir.

    Args:
      names: image names [N] (e.g. Aaron_Peirsol_0001); mu, sigma_sq: float [N, D].
      pairs: pair_files.LfwPairs.
      report_dir: folder for the PNGs (report.json is written by the caller with every section).
      face_loader: optional callable(name) -> uint8 RGB image, for the grid of most/least certain faces.
      shipped: the model's calibration (model.calibration.Calibration) or None.

    Returns:
      the "lfw" section of report.json.
    """
    embedding_files.check(names, mu, sigma_sq, "LFW features")
    first, second = pair_files.pair_indices(names, pairs)
    values = verification.pair_values(mu[first], sigma_sq[first], mu[second], sigma_sq[second])
    scores = {"cosine": values["cosine"], "mls": values["mls"]}
    fitted_on = {}
    if shipped:
        scores["shipped"] = shipped.ranking(values)
        fitted_on["shipped"] = "the model's calibration (%s, ranked by its margin at its first FAR): %s" % (
            shipped.default_score, shipped.describe())
    elif len(np.unique(pairs.fold)) > 1:
        scores["logistic"] = reliability.cross_fitted_logits(np.stack(verification.features(
            values, verification.QUALITY_FEATURES), axis=1), pairs.same, pairs.fold)
        fitted_on["logistic"] = "a logistic fitted on the other folds' pairs (no model calibration)"
    uncertainty = metrics.pair_uncertainty(sigma_sq[first], sigma_sq[second])
    section = {"pairs": int(len(pairs.same)), "folds": int(len(np.unique(pairs.fold)))}
    risk = {"reject_fractions": REJECT_FRACTIONS}
    for name, value in scores.items():
        protocol = metrics.kfold_accuracy(value, pairs.same, pairs.fold)
        section[name] = metrics.verification_report(value, pairs.same, protocol, LFW_FARS)
        if name in fitted_on:
            section[name]["fitted_on"] = fitted_on[name]
        risk[name] = metrics.risk_controlled_accuracy(value, pairs.same, protocol["pair_threshold"], uncertainty,
                                                         REJECT_FRACTIONS).tolist()
    section["risk_controlled_accuracy"] = risk
    calibrated = reliability.calibration_report(scores["mls"], pairs.same, pairs.fold, fars=LFW_FARS)
    if calibrated:
        del calibrated["probabilities"]
    section["calibration"] = calibrated
    if shipped:
        section["shipped_decisions"] = shipped_decisions(shipped, values, pairs.same)
    used = np.union1d(first, second)
    face_uncertainty = sigma_sq[used].mean(axis=1)
    section["mean_sigma_sq"] = {"mean": float(face_uncertainty.mean()), "min": float(face_uncertainty.min()),
                                "max": float(face_uncertainty.max())}
    if report_dir:
        section["plots"] = _lfw_plots(report_dir, scores, pairs, risk, face_uncertainty,
                                      [names[i] for i in used], face_loader, calibrated)
    return section


def _lfw_plots(report_dir, scores, pairs, risk, face_uncertainty, face_names, face_loader, calibrated):
    written = {}
    if calibrated:
        path = os.path.join(report_dir, "lfw_reliability.png")
        bins = calibrated["reliability"]
        plots.reliability({"MLS, cross-fitted logistic": (bins["predicted"], bins["observed"], bins["count"])}, path,
                          "Reliability of P(same identity) (LFW protocol)")
        written["reliability"] = os.path.basename(path)
    path = os.path.join(report_dir, "lfw_roc.png")
    plots.roc({name: metrics.roc_curve(value, pairs.same) for name, value in scores.items()}, path,
              "ROC: cosine vs MLS (LFW protocol)")
    written["roc"] = os.path.basename(path)
    path = os.path.join(report_dir, "lfw_sigma_sq_histogram.png")
    plots.histogram(face_uncertainty, path, "Evaluated faces: mean sigma^2", "mean sigma^2 over dimensions")
    written["sigma_sq_histogram"] = os.path.basename(path)
    path = os.path.join(report_dir, "lfw_risk_controlled.png")
    plots.curves(100 * np.array(risk["reject_fractions"]), {n: 100 * np.array(risk[n]) for n in scores}, path,
                 "Risk-controlled verification (LFW protocol)", "most uncertain pairs rejected (%)",
                 "accuracy on kept pairs (%)")
    written["risk_controlled"] = os.path.basename(path)
    if face_loader is not None:
        order = np.argsort(face_uncertainty)
        rows = []
        for title, indices in (("most certain", order[:FACES_PER_ROW]), ("least certain", order[::-1][:FACES_PER_ROW])):
            rows.append((title, [(face_loader(face_names[i]), "%s\n%.2e" % (face_names[i][:18], face_uncertainty[i]))
                                 for i in indices]))
        path = os.path.join(report_dir, "lfw_faces_by_uncertainty.png")
        plots.face_rows(rows, path, "Faces ranked by mean sigma^2")
        written["faces_by_uncertainty"] = os.path.basename(path)
    return written


def shipped_decisions(calibrated, values, same):
    """What a model's calibration decides on scored pairs: for each of its scores and FARs, the false accept and
    reject rates here and the fewest distinct impostors a threshold rests on; a FAR it does not decide at says
    why. Pairs that are listed twice count twice here (they are the pairs as given)."""
    result = {"population": calibrated.describe(), "default_score": calibrated.default_score}
    for score in calibrated.scores:
        result[score] = {}
        for far in calibrated.fars:
            if not calibrated.supported(far, score):
                result[score][str(far)] = {"decision": None, "why": calibrated.undecided(score)[str(far)]}
                continue
            accept = calibrated.decide(values, far, score).accept
            result[score][str(far)] = {"rests_on_impostors": calibrated.rests_on(far, score),
                                       "far_here": float(np.mean(accept[~same])) if (~same).any() else None,
                                       "frr_here": float(np.mean(~accept[same])) if same.any() else None}
    return result


def pairs_section(values, same, shipped=None):
    """Anyone's pairs (a pairs CSV): AUC and TAR at FAR of cosine, MLS and, with a calibration, its P(same) and
    its decision's margin, and what its decisions do on these pairs."""
    scores = {"cosine": values["cosine"], "mls": values["mls"]}
    if shipped:
        probability = shipped.probability(values)
        if probability is not None:
            scores["p_same"] = probability
        scores["shipped"] = shipped.ranking(values)
    section = {"pairs": int(len(same)), "genuine": int(same.sum())}
    for name, value in scores.items():
        tars, _ = metrics.tar_at_far(value[same], value[~same], LFW_FARS)
        section[name] = {"auc": metrics.roc_auc(value, same), "tar_at_far": {str(f): float(t)
                                                                              for f, t in zip(LFW_FARS, tars)}}
    if shipped:
        section["shipped_decisions"] = shipped_decisions(shipped, values, same)
    return section


def pair_rows(pairs, values, shipped):
    """The rows of --pair_scores_output: image_a, image_b, same, cosine, mls, p_same (empty without a logistic) and
    accept_at_far_<far> of the calibration's decision at each FAR it decides at (a FAR whose threshold rests on too
    few impostors has no column), as text."""
    fars = shipped.decided_fars()
    header = ["image_a", "image_b", "same", "cosine", "mls", "p_same"] + ["accept_at_far_%s" % far for far in fars]
    probability = shipped.probability(values)
    accepts = [shipped.decide(values, far).accept for far in fars]
    rows = [header]
    for index in range(len(pairs.same)):
        rows.append([pairs.first[index], pairs.second[index], str(int(pairs.same[index])),
                     "%.6f" % values["cosine"][index], "%.4f" % values["mls"][index],
                     "%.6f" % probability[index] if probability is not None else ""] +
                    [str(int(accept[index])) for accept in accepts])
    return rows


def template_section(names, mu, sigma_sq, templates_csv, pairs_csv, fusion="paper", report_dir=None):
    """IJB-style template verification from a `template_id,path` CSV and a `template_a,template_b,label` CSV.

    Paths are matched to feature names by their base name without extension.
    """
    embedding_files.check(names, mu, sigma_sq, "template features")
    position = {name: i for i, name in enumerate(names)}
    rows = pair_files.read_csv_rows(templates_csv, 2)
    missing = sorted({path for _, path in rows if embedding_files.image_name(path) not in position})
    if missing:
        raise errors.UserError("%s: %d image(s) without features: %s" % (templates_csv, len(missing),
                                                                   ", ".join(missing[:20])))
    faces = np.array([position[embedding_files.image_name(path)] for _, path in rows])
    template_ids = np.array([template for template, _ in rows])
    pair_rows = pair_files.read_csv_rows(pairs_csv, 3)
    labels = np.array([int(label) == 1 for _, _, label in pair_rows])
    section, scores = template_report(
        mu[faces], sigma_sq[faces], template_ids, np.array([a for a, _, _ in pair_rows]),
        np.array([b for _, b, _ in pair_rows]), labels, fusion, TEMPLATE_FARS, REJECT_FRACTIONS)
    section.update({"fusion": fusion, "templates": int(len(np.unique(template_ids))), "pairs": int(len(labels))})
    if report_dir:
        path = os.path.join(report_dir, "templates_roc.png")
        plots.roc({name: metrics.roc_curve(value, labels) for name, value in scores.items()}, path,
                  "Template ROC (%s fusion)" % fusion)
        risk = section["risk_controlled"]
        risk_path = os.path.join(report_dir, "templates_risk_controlled.png")
        plots.curves(100 * np.array(risk["reject_fractions"]), {n: 100 * np.array(v) for n, v in risk["tar"].items()},
                     risk_path, "Template risk-controlled verification", "most uncertain pairs rejected (%)",
                     "TAR @ FAR=1e-2 (%)")
        section["plots"] = {"roc": os.path.basename(path), "risk_controlled": os.path.basename(risk_path)}
    return section


def summary(report):
    """A one-screen text summary of report.json."""
    lines = []
    lfw = report.get("lfw")
    if lfw:
        lines.append("LFW %d pairs, %d folds" % (lfw["pairs"], lfw["folds"]))
        lines.append("  %-8s %8s %7s %8s %11s %11s" % ("score", "acc %", "std", "AUC", "TAR@1e-3", "TAR@1e-2"))
        for name in ("cosine", "mls", "shipped", "logistic"):
            if name not in lfw:
                continue
            part = lfw[name]
            lines.append("  %-8s %8.2f %7.2f %8.5f %11.4f %11.4f" % (
                name, 100 * part["accuracy_mean"], 100 * part["accuracy_std"], part["auc"],
                part["tar_at_far"]["0.001"], part["tar_at_far"]["0.01"]))
        risk = lfw["risk_controlled_accuracy"]
        lines.append("  risk-controlled accuracy %% (reject %s%%):" % "/".join(
            "%d" % round(100 * f) for f in risk["reject_fractions"][::2]))
        for name in ("cosine", "mls"):
            lines.append("    %-6s %s" % (name, " ".join("%.2f" % (100 * v) for v in risk[name][::2])))
        lines.append("  mean sigma^2 of faces: %.3e (min %.3e, max %.3e)" % (
            lfw["mean_sigma_sq"]["mean"], lfw["mean_sigma_sq"]["min"], lfw["mean_sigma_sq"]["max"]))
        calibrated = lfw["calibration"]
        if calibrated:
            lines.append("  calibrated P(same | MLS): ECE %.4f, Brier %.4f, held-out FAR %s" % (
                calibrated["ece"], calibrated["brier"], ", ".join(
                    "%.4f at %s" % (calibrated["far_achieved"][far], far)
                    for far in sorted(calibrated["far_achieved"]))))
        else:
            lines.append("  calibrated P(same | MLS): not fitted (needs 2+ folds with both kinds of pairs)")
    for name in ("lfw", "pairs"):
        shipped = (report.get(name) or {}).get("shipped_decisions")
        if shipped:
            lines.append("  shipped decisions (%s), %s:" % (name, shipped["population"]))
        for score, fars in sorted(item for item in (shipped or {}).items() if isinstance(item[1], dict)):
            lines.append("    %-18s " % score + ", ".join(
                "at FAR %s: %s" % (far, "FAR here %s, FRR here %s" % (_rate(part["far_here"]), _rate(part["frr_here"]))
                                   if part.get("decision", True) is not None else "no decision (%s)" % part["why"])
                for far, part in sorted(fars.items(), key=lambda kv: float(kv[0]))))
    pairs = report.get("pairs")
    if pairs:
        lines.append("Pairs %d (%d genuine): AUC %s" % (pairs["pairs"], pairs["genuine"], ", ".join(
            "%s %.5f" % (name, pairs[name]["auc"]) for name in ("cosine", "mls", "p_same", "shipped")
            if name in pairs)))
    templates = report.get("templates")
    if templates:
        lines.append("Templates: %d templates, %d pairs, %s fusion" % (templates["templates"], templates["pairs"],
                                                                      templates["fusion"]))
        for name in ("cosine", "fused_cosine", "mls"):
            lines.append("  %-12s TAR@FAR %s" % (name, "  ".join(
                "%s:%.4f" % (far, tar) for far, tar in sorted(templates[name]["tar_at_far"].items(),
                                                              key=lambda kv: float(kv[0])))))
    return "\n".join(lines)


def _rate(value):
    return "-" if value is None else "%.4f" % value

"""The real result: PFE on a frozen SFace, LFW cross-validated by identity (protocol 'lfw_folds').

1. LFW aligned to the 112x112 template and cached once through SFace with mirrored copies.
2. For each of the 10 folds of people.txt: a head trains on the identities of the other 9 folds (those with at
   least 2 images), then gives the MLS scores of the fold's pairs.txt pairs (evaluation/identity_folds.py):
   every score comes from a head that never saw its identities; the standard 10-fold protocol then runs on
   them as on cosine.
3. The report: 10-fold accuracy of cosine (SFace alone) and MLS, TAR at FAR, the risk-controlled curve, the
   calibrated P(same | MLS), the mean sigma^2 of fold-1 test faces under each degradation of
   faces/degradations.py at severities 0..4, and LFW's templates.
4. With cross_quality: cross-quality LFW (one side of every pair degraded before alignment, drawn with
   test_seed; experiments/cross_quality_photos.py), scored by the same fold heads (evaluation/cross_quality.py).
5. With a quality_aware_head: a second family of fold heads trained on degraded copies of every training
   image, judged on standard and (with cross_quality) cross-quality LFW.
"""
import collections
import os

import numpy as np

from pfe_estimator.data import embedding_files
from pfe_estimator.data import pair_files
from pfe_estimator.evaluation import cross_quality
from pfe_estimator.evaluation import identity_folds
from pfe_estimator.evaluation import metrics
from pfe_estimator.evaluation import plots
from pfe_estimator.evaluation import reliability
from pfe_estimator.evaluation import report
from pfe_estimator.experiments import caches
from pfe_estimator.experiments import cross_quality_photos
from pfe_estimator.experiments import fold_heads
from pfe_estimator.experiments import lfw_data
from pfe_estimator.experiments import work_folder
from pfe_estimator.experiments.protocols import fields
from pfe_estimator.faces import alignment
from pfe_estimator.faces import degradations
from pfe_estimator.faces import image_io
from pfe_estimator.faces import kinds
from pfe_estimator.faces import network_input
from pfe_estimator.inference import predict
from pfe_estimator.training import devices
from pfe_estimator.training import estimators

SEVERITIES = (0,) + degradations.SEVERITIES


class Config(collections.namedtuple("Config", ["head", "quality_aware_head", "cross_quality", "degraded_faces",
                                               "test_seed"])):
    """head: the fold heads (fold_heads.Head); quality_aware_head: a second family on degraded copies, judged
    beside, or None; cross_quality: also score cross-quality LFW; degraded_faces: the fold-1 test faces whose
    sigma^2 is followed as they degrade; test_seed: of the cross-quality photos' draws."""
    __slots__ = ()


Config.__new__.__defaults__ = (fold_heads.RELEASED_HEAD, None, False, 300, 0)


def check(config):
    problems = fold_heads.head_problems("head", config.head) + fields.problems(config)
    if config.quality_aware_head is not None:
        problems += fold_heads.head_problems("quality_aware_head", config.quality_aware_head, copies_needed=True)
    if config.degraded_faces < 1:
        problems.append("degraded_faces=%d: expected a number of faces >= 1" % config.degraded_faces)
    return problems


class Scored(object):
    """One family of fold heads and what they give on LFW's pairs: MLS [P], the pair uncertainty [P], each
    fold's sigma^2 of every clean image {fold: [N, D]} and each fold's mean sigma^2 of its test faces."""

    def __init__(self, heads, mls, uncertainty, sigma_sq, test_sigma_sq):
        self.heads, self.mls, self.uncertainty = heads, mls, uncertainty
        self.sigma_sq, self.test_sigma_sq = sigma_sq, test_sigma_sq


def score_folds(context, what, training_cache, head, fold_labels, clean):
    """Trains (or reuses) one head per fold and scores that fold's pairs from the clean cached outputs.

    Args:
      clean: (CachedFaces of every clean image as the head reads it, (first [P], second [P]) the pairs' rows).
    """
    faces, (first, second) = clean
    features, mu = faces.features, faces.mu
    pairs = context.pairs
    heads = fold_heads.train_folds(context, what, training_cache, head, fold_labels, range(10))
    mls, uncertainty = np.zeros(len(pairs.same)), np.zeros(len(pairs.same))
    sigma_sq, test_sigma_sq = {}, {}
    for k, model_dir in heads.items():
        _, sigma_sq[k] = fold_heads.sigma_sq(model_dir, features, mu)
        test = pairs.fold == k
        mls[test] = metrics.mls_pair_scores(mu[first[test]], sigma_sq[k][first[test]], mu[second[test]],
                                            sigma_sq[k][second[test]])
        uncertainty[test] = metrics.pair_uncertainty(sigma_sq[k][first[test]], sigma_sq[k][second[test]])
        test_sigma_sq[k] = sigma_sq[k][np.union1d(first[test], second[test])].mean(axis=1)
    return Scored(heads, mls, uncertainty, sigma_sq, test_sigma_sq)


def clean_outputs(head_cache, pairs):
    """(CachedFaces of a clean head cache, (first [P], second [P]) the rows of pairs' images)."""
    faces = caches.faces(head_cache)
    return faces, pair_files.pair_indices(faces.names, pairs)


def run(context, report_dir):
    """The lfw_folds report (see the module doc); PNGs into report_dir."""
    config, pairs, work_dir = context.config, context.pairs, context.inputs.work_dir
    head = config.head
    clean_cache = caches.cache(context.records, context.sface, work_dir)
    head_cache = caches.head_cache(clean_cache, head.input, context.sface)
    clean = clean_outputs(head_cache, pairs)
    faces, (first, second) = clean
    mu = faces.mu
    cosine = metrics.cosine_pair_scores(mu[first], mu[second])
    fold_labels = identity_folds.fold_training_labels(pairs, context.people, context.records.manifest,
                                                      head.identity_share)
    plain = score_folds(context, "plain", head_cache, head, fold_labels, clean)
    protocol = {"cosine": metrics.kfold_accuracy(cosine, pairs.same, pairs.fold),
                "mls": metrics.kfold_accuracy(plain.mls, pairs.same, pairs.fold)}
    result = {"protocol": "10 folds of people.txt: head trained on the identities of 9 folds (>= 2 images), "
                          "tested on the pairs.txt pairs of the held-out fold",
              "steps_per_fold": head.recipe.max_steps,
              "batch": [head.recipe.num_classes_per_batch, head.recipe.images_per_class],
              "identity_share": head.identity_share,
              "sface_precision": {"used": context.sface.precision, "why": context.sface.why}}
    risk = {"reject_fractions": report.REJECT_FRACTIONS}
    for name, scores in (("cosine", cosine), ("mls", plain.mls)):
        result[name] = metrics.verification_report(scores, pairs.same, protocol[name], report.LFW_FARS)
        risk[name] = metrics.risk_controlled_accuracy(scores, pairs.same, protocol[name]["pair_threshold"],
                                                      plain.uncertainty, report.REJECT_FRACTIONS).tolist()
    result["risk_controlled_accuracy"] = risk
    result["degradation"] = degradation_section(context, plain.heads[0], head)
    calibrated = reliability.calibration_report(plain.mls, pairs.same, pairs.fold, fars=report.LFW_FARS)
    del calibrated["probabilities"]
    result["calibration"] = calibrated
    if config.cross_quality:
        result["cross_quality"] = cross_quality_section(context, head, faces, plain, report_dir)
    result["templates"] = identity_folds.templates_section(faces.names, mu, plain.sigma_sq, context.people, report_dir)
    if config.quality_aware_head:
        result["quality_aware"] = quality_aware_section(context, config.quality_aware_head, clean_cache, report_dir)
    _plots(result, cosine, plain, pairs, report_dir)
    return result


def degradation_section(context, model_dir, head):
    """The mean sigma^2 of fold-1 test faces (the fold-1 head never saw them) as they degrade: every kind of
    faces/degradations.py at severities 0..4, SFace and the head run on the degraded crops."""
    pairs, limit = context.pairs, context.config.degraded_faces
    fold_one_people = {pair_files.person_of(n) for n in np.concatenate([pairs.first[pairs.fold == 0],
                                                                       pairs.second[pairs.fold == 0]])}
    wanted = sorted({n for n in np.concatenate([pairs.first, pairs.second])
                     if pair_files.person_of(n) in fold_one_people})
    _, jpegs = predict.read_tfrecord_faces(context.records.folder, set(wanted[:limit]))
    faces = [image_io.decode_rgb(j) for j in jpegs]
    estimator = estimators.pfe_estimator(context.sface.backbone(head.input), model_dir, head.recipe,
                                         devices.Runtime(random_seed=head.seed))
    points = alignment.template(lfw_data.TEMPLATE)[1]
    cells = [(kind, severity) for kind in degradations.KINDS for severity in SEVERITIES]
    images = (network_input.network_input(degradations.degrade(face, kind, severity, points) if severity else face,
                                          lfw_data.IMAGE_SIZE) for kind, severity in cells for face in faces)
    # one pass of the model over every (kind, severity): an Estimator builds its graph once per predict call
    _, sigma_sq = predict.estimator_embeddings(estimator, images, lfw_data.IMAGE_SIZE, batch_size=64)
    means = sigma_sq.reshape(len(cells), len(faces), -1).mean(axis=(1, 2))
    section = {kind: {"severities": list(SEVERITIES),
                      "mean_sigma_sq": [float(m) for (k, _), m in zip(cells, means) if k == kind]}
               for kind in degradations.KINDS}
    return dict(section, faces=len(faces))


def cross_quality_section(context, head, clean_faces, scored, report_dir, suffix=""):
    """Cross-quality LFW scored by one family of fold heads: every pair's degraded side from the degraded
    photos' cache, its clean side from the clean one (CachedFaces); each fold's pairs judged by the head that
    never saw their identities."""
    inputs, seed = context.inputs, context.config.test_seed
    folder = work_folder.path(inputs.work_dir, "cross_quality", "photos",
                              dict(context.files_key, seed=seed, levels=degradations.LEVELS))
    rows = cross_quality_photos.make_cross_quality(inputs.lfw_dir, folder, seed)
    records = lfw_data.aligned(os.path.join(folder, "images"), os.path.join(folder, "landmarks.txt"),
                               "cross_quality", inputs.work_dir)
    degraded_faces = caches.faces(caches.head_cache(caches.cache(records, context.sface, inputs.work_dir), head.input,
                                                    context.sface))
    row_of = {name: i for i, name in enumerate(degraded_faces.names)}
    index = {name: i for i, name in enumerate(clean_faces.names)}
    degraded_features, degraded_mu, clean_mu = degraded_faces.features, degraded_faces.mu, clean_faces.mu
    pairs = context.pairs
    degraded = np.array([row_of[embedding_files.image_name(r["file"])] for r in rows])
    clean = np.array([index[(pairs.second, pairs.first)[r["side"]][r["pair"]]] for r in rows])
    mu_d, sigma_d = np.empty((len(rows), clean_mu.shape[1])), np.empty((len(rows), clean_mu.shape[1]))
    sigma_c = np.empty_like(sigma_d)
    for k, model_dir in scored.heads.items():
        test = pairs.fold == k
        mu_d[test], sigma_d[test] = fold_heads.sigma_sq(model_dir, degraded_features[degraded[test]],
                                                        degraded_mu[degraded[test]])
        sigma_c[test] = scored.sigma_sq[k][clean[test]]
    return cross_quality.section({"mu_clean": clean_mu[clean], "sigma_clean": sigma_c, "mu_degraded": mu_d,
                                  "sigma_degraded": sigma_d}, pairs.same, pairs.fold,
                                 np.array([r["kind"] for r in rows]), np.array([r["severity"] for r in rows]),
                                 degradations.LEVELS, seed, report_dir, suffix)


def quality_aware_section(context, head, clean_cache, report_dir):
    """Heads trained on a cache holding degraded copies of every training image (same identities, same
    folds), judged on standard LFW and, with cross_quality, on cross-quality LFW."""
    pairs = context.pairs
    training_cache = caches.cache(context.records, context.sface, context.inputs.work_dir, head.copies,
                                  kinds.GENERATOR_KINDS, fold_heads.training_severities(head))
    clean = clean_outputs(caches.head_cache(clean_cache, head.input, context.sface), pairs)
    fold_labels = identity_folds.fold_training_labels(pairs, context.people, context.records.manifest,
                                                      head.identity_share)
    scored = score_folds(context, "quality_aware", caches.head_cache(training_cache, head.input, context.sface),
                         head, fold_labels, clean)
    protocol = metrics.kfold_accuracy(scored.mls, pairs.same, pairs.fold)
    section = {"degraded_copies": head.copies, "head_input": head.input,
               "quality_ranking": {"weight": head.recipe.quality_ranking_weight,
                                   "margin": head.recipe.quality_ranking_margin},
               "mls": metrics.verification_report(scored.mls, pairs.same, protocol, report.LFW_FARS),
               "risk_controlled_accuracy": metrics.risk_controlled_accuracy(
                   scored.mls, pairs.same, protocol["pair_threshold"], scored.uncertainty,
                   report.REJECT_FRACTIONS).tolist()}
    if context.config.cross_quality:
        section["cross_quality"] = cross_quality_section(context, head, clean[0], scored, report_dir,
                                                         "_quality_aware")
    return section


def _plots(result, cosine, plain, pairs, report_dir):
    risk = result["risk_controlled_accuracy"]
    plots.curves(100 * np.array(report.REJECT_FRACTIONS), {n: 100 * np.array(risk[n]) for n in ("cosine", "mls")},
                 os.path.join(report_dir, "lfw_risk_controlled.png"), "LFW, SFace + PFE head (10-fold by identity)",
                 "most uncertain pairs rejected (%)", "accuracy on kept pairs (%)")
    plots.roc({"cosine": metrics.roc_curve(cosine, pairs.same), "mls": metrics.roc_curve(plain.mls, pairs.same)},
              os.path.join(report_dir, "lfw_roc.png"), "LFW ROC, SFace: cosine vs MLS")
    plots.histogram(np.concatenate([plain.test_sigma_sq[k] for k in range(10)]),
                    os.path.join(report_dir, "lfw_sigma_sq_histogram.png"), "LFW test faces: mean sigma^2",
                    "mean sigma^2")
    degradation = result["degradation"]
    plots.curves(list(SEVERITIES), {kind: degradation[kind]["mean_sigma_sq"] for kind in degradations.KINDS},
                 os.path.join(report_dir, "degradation_sigma_sq.png"), "Uncertainty of fold-1 test faces",
                 "severity (0 = clean)", "mean sigma^2")


def summary(result):
    """The report as text."""
    lines = ["LFW 10-fold by identity, SFace backbone, PFE head %d steps of %dx%d per fold" % (
        result["steps_per_fold"], result["batch"][0], result["batch"][1])]
    for name in ("cosine", "mls"):
        lines.append("  %-6s %.2f +- %.2f %%  AUC %.5f  TAR@1e-3 %.4f" % (
            name, 100 * result[name]["accuracy_mean"], 100 * result[name]["accuracy_std"], result[name]["auc"],
            result[name]["tar_at_far"]["0.001"]))
    risk = result["risk_controlled_accuracy"]
    lines.append("  risk-controlled (reject 0/10/20/30/40/50%%): cosine %s | MLS %s" % (
        " ".join("%.2f" % (100 * v) for v in risk["cosine"][::2]),
        " ".join("%.2f" % (100 * v) for v in risk["mls"][::2])))
    for kind in degradations.KINDS:
        lines.append("  mean sigma^2 vs %s severity 0..4: %s" % (kind, " ".join(
            "%.3e" % v for v in result["degradation"][kind]["mean_sigma_sq"])))
    lines.append("  calibrated P(same | MLS): ECE %.4f, Brier %.4f" % (result["calibration"]["ece"],
                                                                       result["calibration"]["brier"]))
    templates = result["templates"]
    lines.append("LFW templates: %d identities x 2 templates, %d pairs; TAR at FAR %s" % (
        templates["identities"], templates["pairs"], "/".join(str(f) for f in identity_folds.TEMPLATE_FARS)))
    for fusion in ("paper", "released"):
        for name in ("cosine", "fused_cosine", "mls"):
            lines.append("  %-8s %-12s %s" % (fusion, name, " ".join(
                "%.4f" % templates[fusion][name]["tar_at_far"][str(f)] for f in identity_folds.TEMPLATE_FARS)))
    if "cross_quality" in result:
        lines.append(cross_quality.summary(result["cross_quality"]))
    if "quality_aware" in result:
        part = result["quality_aware"]
        lines.append("Quality-aware heads (%d degraded copies per training image, %s input, ranking weight %g): LFW "
                     "MLS %.2f +- %.2f %%" % (part["degraded_copies"], part["head_input"],
                                              part["quality_ranking"]["weight"], 100 * part["mls"]["accuracy_mean"],
                                              100 * part["mls"]["accuracy_std"]))
        if "cross_quality" in part:
            lines.append(cross_quality.summary(part["cross_quality"]))
    return "\n".join(lines)

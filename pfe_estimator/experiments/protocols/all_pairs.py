"""All pairs within each people.txt fold, cross-quality, and every decision per quality stratum (protocol
'all_pairs'; evaluation/all_pairs.py and evaluation/all_pairs_report.py score it).

For each held-out scheme (leave_one_kind_out over held_out_kinds, unseen_severities) and test fold k, with
calibration fold j = k + 1 (mod 10):
  - a quality-aware head (head) trains on the scheme's degraded-copy cache (experiments/caches.py
    training_cache) restricted to the people of the eight other folds, and a plain head (plain_head) on the
    clean cache of the same people: neither sees the people of k or j;
  - every image gets one degraded copy of the scheme's test kinds and severities and one of its training
    kinds and severities (the calibration's), each seeded per image (test_seed, test_seed + 1);
  - the head's calibration (model/calibration.py: every score, thresholds at each of fars) is fitted once, as a
    user would, on fold j: every clean pair of its images and every clean image against every other image's
    calibration copy (evaluation/all_pairs.py calibration_pairs); and once more as an operator would from a
    gallery: one photo per person of fold j and its calibration copy, impostor pairs only, the logistic kept
    from the labelled calibration;
  - fold k's pairs are scored: every clean pair, and every clean image against every other image's test copy;
    every score decides at each FAR with the thresholds of each source (evaluation/all_pairs_report.py).
"""
import collections
import time

import numpy as np

from pfe_estimator.data import pair_files
from pfe_estimator.evaluation import all_pairs
from pfe_estimator.evaluation import all_pairs_report
from pfe_estimator.evaluation import identity_folds
from pfe_estimator.experiments import caches
from pfe_estimator.experiments import fold_heads
from pfe_estimator.experiments import lfw_data
from pfe_estimator.experiments.protocols import fields
from pfe_estimator.faces import kinds
from pfe_estimator.inference import backbone_runtimes
from pfe_estimator.model import calibration
from pfe_estimator.storage import checkpoints
from pfe_estimator.storage import model_config


class Config(collections.namedtuple("Config", ["head", "plain_head", "schemes", "held_out_kinds", "folds",
                                               "test_seed", "fars"])):
    """head: the quality-aware fold heads; plain_head: the heads on clean faces whose sigma^2 the EDC compares
    beside the head's; the other fields: protocols/fields.py."""
    __slots__ = ()


Config.__new__.__defaults__ = (fold_heads.QUALITY_AWARE_HEAD, fold_heads.RELEASED_HEAD, fields.SCHEMES, kinds.KINDS,
                               fields.FOLDS, 0, fields.FARS)


def check(config):
    return (fold_heads.head_problems("head", config.head, copies_needed=True) +
            fold_heads.head_problems("plain_head", config.plain_head) + fields.problems(config) +
            fields.unseen_severity_problems(config.head, config.schemes))


def calibration_fold(test_fold):
    """The people.txt fold whose people calibrate test fold k's decisions: k + 1 (mod 10), never k."""
    return (test_fold + 1) % 10


class Side(collections.namedtuple("Side", ["faces", "sigma", "plain_sigma", "person", "cell"])):
    """One side of a fold's pairs: its images' CachedFaces (mu, norm, sharpness), sigma^2 by the quality-aware
    and the plain head [n, D], person [n] and cell [n] (all_pairs_report.cell_codes)."""
    __slots__ = ()

    def gaussians(self, rows=None):
        """(mu, sigma^2) of the side's images (or of `rows` of them)."""
        return (self.faces.mu, self.sigma) if rows is None else (self.faces.mu[rows], self.sigma[rows])


def side(context, heads, faces, rows, person, cells):
    """The Side of images `rows` (indices into every image's CachedFaces `faces`, person [N] and cells [N])."""
    faces = faces.rows(rows)
    sigma = {name: fold_heads.sigma_sq(model_dir, faces.as_head_reads(head.input, context.sface.channels)
                                       .features.astype(np.float32), faces.mu)[1]
             for name, (head, model_dir) in heads.items()}
    return Side(faces, sigma["quality_aware"], sigma.get("plain"), person[rows],
                all_pairs_report.cell_codes(cells[rows]))


def fold_calibrations(clean, copies, fars, model, description, rng):
    """The calibrations of one fold's head fitted on a calibration fold's faces: {'calibration': every clean pair
    and every clean image against every other image's calibration copy (labelled), 'gallery': one photo per
    person, drawn with rng, and its calibration copy, impostor pairs only, the logistic kept from the first}."""
    values, same = all_pairs.calibration_pairs(clean.gaussians(), [copies.gaussians()], clean.person)
    labelled = calibration.fit(values, same, fars, model, {
        "name": "a calibration fold's every pair (%d images)" % len(clean.person), "qualities": description,
        "refit": {}}, require_decision=False)
    people = np.unique(clean.person)
    chosen = np.array([rng.choice(np.flatnonzero(clean.person == person)) for person in people])
    values, same = all_pairs.calibration_pairs(clean.gaussians(chosen), [copies.gaussians(chosen)],
                                               clean.person[chosen])
    gallery = calibration.fit({key: value[~same] for key, value in values.items()}, None, fars, model, {
        "name": "a gallery of one photo per person of a calibration fold (%d people)" % len(people),
        "qualities": "each photo and one copy: " + description, "refit": {}}, earlier=labelled, require_decision=False)
    return {"calibration": labelled, "gallery": gallery}


def fold_scores(clean, copies, calibrations, rng):
    """Fold k's scored pairs, clean-clean then clean against test copies: {'cosine' [P], 'decisions' (every
    score's under each calibration, all_pairs_report.decisions), 'same', 'cell', 'worse_sigma', 'subject',
    quality measures of the worse face for EDC (genuine pairs)}."""
    parts = []
    for first, second, ordered in ((clean, clean, False), (clean, copies, True)):
        values, (a, b) = all_pairs.pair_values(first.gaussians(), second.gaussians(), ordered)
        same = first.person[a] == second.person[b]
        part = {"cosine": values["cosine"], "same": same, "cell": second.cell[b],
                "subject": first.person[a].astype(np.int32),
                "worse_sigma": np.maximum(values["mean_sigma_a"], values["mean_sigma_b"]),
                "decisions": all_pairs_report.decisions(values, calibrations)}
        worse_plain = np.maximum(first.plain_sigma.mean(axis=1)[a], second.plain_sigma.mean(axis=1)[b])
        random = rng.uniform(size=len(first.person) + len(second.person))
        measures = {  # higher is better, the worse face's
            "sigma_sq_quality_aware": -part["worse_sigma"], "sigma_sq_plain": -worse_plain,
            "embedding_norm": np.minimum(first.faces.norm[a], second.faces.norm[b]),
            "sharpness": np.minimum(first.faces.sharpness[a], second.faces.sharpness[b]),
            "random": np.minimum(random[a], random[len(first.person) + b])}
        part["quality_measures"] = {measure: quality[same] for measure, quality in measures.items()}
        parts.append(part)
    return all_pairs_report.gathered(parts)


def scheme_copies(context, runner, clean, needed, kind_names, severities, seed):
    """CachedFaces of every image (those `needed` measured, the rest NaN) degraded once, kind and severity drawn
    per image, and each image's cell label [N]."""
    kind, severity = caches.per_image_draws(len(clean.names), kind_names, severities, seed)
    made = caches.degraded_copies(context.records, context.sface, runner, [clean.names[i] for i in needed],
                                  (kind[needed], severity[needed], seed), context.inputs.work_dir, indices=needed)
    return _spread(made, needed, len(clean.names)), np.array(["%s-%d" % (k, s) for k, s in zip(kind, severity)])


def _spread(faces, rows, count):
    """CachedFaces of `count` images whose `rows` are `faces`' (the others zero: never scored)."""
    return caches.CachedFaces(None, *(_spread_array(value, rows, count) for value in faces[1:]))


def _spread_array(value, rows, count):
    full = np.zeros((count,) + value.shape[1:], value.dtype)
    full[rows] = value
    return full


def run_scheme(context, scheme, clean, runner, report_dir):
    """One held-out scheme's all-pairs report (evaluation/all_pairs_report.py) and its PNGs."""
    config, records = context.config, context.records
    head = config.head
    severities = fold_heads.scheme_severities(head, scheme)
    cache_dir = caches.training_cache(context, head, scheme)
    runs = ([(kind, [kind]) for kind in config.held_out_kinds] if scheme == "leave_one_kind_out"
            else [("all", list(kinds.KINDS))])
    folds, lfw = [], []
    for run_index, (run_name, test_kinds) in enumerate(runs):
        start = time.time()
        excluded = set(test_kinds) if scheme == "leave_one_kind_out" else set()
        calibration_kinds = [kind for kind in kinds.KINDS if kind not in excluded]
        test, test_cells = scheme_copies(context, runner, clean.faces, clean.needed, test_kinds, severities["test"],
                                         config.test_seed)
        calibrating, calibration_cells = scheme_copies(context, runner, clean.faces, clean.needed, calibration_kinds,
                                                       severities["train"], config.test_seed + 1)
        subset = caches.training_subset(context, head, cache_dir, excluded)
        rng = np.random.RandomState([config.test_seed, run_index])
        for k in config.folds:
            j = calibration_fold(k)
            labels = identity_folds.training_labels(context.people, records.manifest, (k, j), head.identity_share, k)
            heads = {"quality_aware": (head, fold_heads.train_fold(context, "all_pairs-%s-%s" % (scheme, run_name),
                                                                   subset, head, labels, k)),
                     "plain": (config.plain_head, fold_heads.train_fold(
                         context, "all_pairs-plain", clean.plain_cache, config.plain_head, labels, k))}
            clean_cells = np.array(["clean"] * len(clean.person))
            model_dir = heads["quality_aware"][1]
            model = model_config.model_identity(checkpoints.intact_checkpoint(model_dir), model_config.read(model_dir))
            calibrations = fold_calibrations(
                side(context, heads, clean.faces, clean.rows[j], clean.person, clean_cells),
                side(context, heads, calibrating, clean.rows[j], clean.person, calibration_cells),
                fars=config.fars, model=model, rng=rng, description="%s at severities %s" % (
                    ",".join(calibration_kinds), ",".join(map(str, severities["train"]))))
            test_clean = side(context, heads, clean.faces, clean.rows[k], clean.person, clean_cells)
            scored = fold_scores(test_clean, side(context, heads, test, clean.rows[k], clean.person, test_cells),
                                 calibrations, rng)
            folds.append(dict(scored, test_fold=np.full(len(scored["same"]), k, np.int8), fold=k,
                              calibration_fold=j, calibrations=calibrations))
            lfw.append(all_pairs_report.lfw_pairs(context.pairs, k, clean.faces.names, clean.rows[k],
                                                  test_clean.gaussians(), calibrations["calibration"]))
        caches.drop_subset(subset, excluded)
        print("  all_pairs %s %s: %.0f s" % (scheme, run_name, time.time() - start))
    return all_pairs_report.scheme_report(scheme, folds, lfw, report_dir)


Clean = collections.namedtuple("Clean", ["faces", "person", "rows", "needed", "plain_cache"])


def run(context, report_dir):
    """{scheme: its report} for every scheme of config.schemes."""
    config, records = context.config, context.records
    clean_cache = caches.cache(records, context.sface, context.inputs.work_dir)
    faces = caches.faces(clean_cache)
    person_of = np.array([pair_files.person_of(n) for n in faces.names])
    rows = {k: np.flatnonzero(np.isin(person_of, sorted(folk))) for k, folk in enumerate(context.people)}
    # only the test and calibration folds' images are scored: their quality measures and degraded copies
    needed = np.unique(np.concatenate([rows[k] for k in config.folds] + [rows[calibration_fold(k)]
                                                                         for k in config.folds]))
    result = {}
    with backbone_runtimes.runner(context.sface.backbone(), lfw_data.IMAGE_SIZE) as runner:
        qualities = caches.clean_qualities(records, context.sface, runner, [faces.names[i] for i in needed],
                                           context.inputs.work_dir)
        clean = Clean(faces._replace(norm=_spread_array(qualities.norm, needed, len(faces.names)),
                                     sharpness=_spread_array(qualities.sharpness, needed, len(faces.names))),
                      np.searchsorted(sorted(set(person_of)), person_of), rows, needed,
                      caches.head_cache(clean_cache, config.plain_head.input, context.sface))
        for scheme in config.schemes:
            start = time.time()
            result[scheme] = run_scheme(context, scheme, clean, runner, report_dir)
            result[scheme]["seconds"] = time.time() - start
    return result


def summary(result):
    return "\n".join(all_pairs_report.summary(name, part) for name, part in result.items())

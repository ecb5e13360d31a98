"""All pairs within each people.txt fold, cross-quality, and the shipped decision per quality stratum
(protocol 'all_pairs'; evaluation/all_pairs.py and evaluation/all_pairs_report.py score it).

For each held-out protocol (leave_one_kind_out over config.held_out_kinds, unseen_severities) and test fold
k, with calibration fold j = k + 1 (mod 10):
  - a quality-aware head (config.head) trains on the held-out protocol's degraded-copy cache
    (experiments/held_out_protocols.py) restricted to the people of the eight other folds, and a plain head
    (config.plain_head) on the clean cache of the same people: neither sees the people of k or j;
  - every image gets one degraded copy of the protocol's test kinds and severities and one of its training
    kinds and severities (the calibration's), each seeded per image;
  - the head's calibration (model/calibration.py: every score, thresholds at FAR 1e-3 and 1e-2) is fitted once,
    as a user would, on fold j: every clean pair of its images and every clean image against every other image's
    calibration copy (evaluation/all_pairs.py calibration_pairs); and once more as an operator would from a
    gallery: one photo per person of fold j and its calibration copy, impostor pairs only, the logistic kept
    from the labelled calibration;
  - fold k's pairs are scored: every clean pair, and every clean image against every other image's test copy;
    every score decides at each FAR with the thresholds of each source (evaluation/all_pairs_report.py).
"""
import time

import numpy as np

from pfe_estimator.data import feature_cache
from pfe_estimator.evaluation import all_pairs
from pfe_estimator.evaluation import all_pairs_report
from pfe_estimator.evaluation import held_out
from pfe_estimator.evaluation import identity_folds
from pfe_estimator.data import pair_files
from pfe_estimator.experiments import config as experiment_config
from pfe_estimator.experiments import fold_heads
from pfe_estimator.experiments import held_out_protocols
from pfe_estimator.experiments import lfw_data
from pfe_estimator.faces import kinds
from pfe_estimator.inference import backbone_runtimes
from pfe_estimator.model import calibration
from pfe_estimator.storage import checkpoints
from pfe_estimator.storage import model_config


def per_image_draws(count, kind_names, severities, seed):
    """(kinds [N], severities [N]) drawn per image with RandomState(seed)."""
    rng = np.random.RandomState(seed)
    return (np.array([kind_names[i] for i in rng.randint(len(kind_names), size=count)]),
            np.array(severities)[rng.randint(len(severities), size=count)])


class Side(object):
    """One side of a fold's pairs: its images' mu [n, D], sigma^2 by the quality-aware and the plain head
    [n, D], person [n], SFace embedding norm [n], sharpness [n] and cell [n] ('clean' or kind-severity)."""

    def __init__(self, **arrays):
        self.__dict__.update(arrays)

    def faces(self, rows=None):
        """(mu, sigma^2) of the side's images (or of `rows` of them)."""
        return (self.mu, self.sigma) if rows is None else (self.mu[rows], self.sigma[rows])


def side(context, heads, outputs, rows, person, cells):
    """The Side of images `rows` (indices into person [N] and cells [N]) of a set of SFace outputs (the clean
    cache's, or degraded copies'), whose arrays hold the images of outputs['rows'] [M] (default: all N)."""
    at = rows if "rows" not in outputs else np.searchsorted(outputs["rows"], rows)
    flat = outputs["features"][at].astype(np.float32)
    pooled = feature_cache.pooled(flat, context.sface.channels)
    sigma = {}
    for name, (head, model_dir) in heads.items():
        sigma[name] = fold_heads.sigma_sq(model_dir, pooled if head.input == "pooled" else flat,
                                          outputs["mu"][at])[1]
    return Side(mu=outputs["mu"][at], sigma=sigma["quality_aware"], plain_sigma=sigma.get("plain"),
                person=person[rows], norm=outputs["norm"][at], sharpness=outputs["sharpness"][at],
                cell=all_pairs_report.cell_codes(cells[rows]))


def fold_calibrations(clean, copies, fars, model, description, rng):
    """The calibrations of one fold's head fitted on a calibration fold's faces: {'calibration': every clean pair
    and every clean image against every other image's calibration copy (labelled), 'gallery': one photo per
    person, drawn with rng, and its calibration copy, impostor pairs only, the logistic kept from the first}."""
    values, same = all_pairs.calibration_pairs(clean.faces(), [copies.faces()], clean.person)
    labelled = calibration.fit(values, same, fars, model, {
        "name": "a calibration fold's every pair (%d images)" % len(clean.mu), "qualities": description, "refit": {}},
        require_decision=False)
    people = np.unique(clean.person)
    chosen = np.array([rng.choice(np.flatnonzero(clean.person == person)) for person in people])
    values, same = all_pairs.calibration_pairs(clean.faces(chosen), [copies.faces(chosen)], clean.person[chosen])
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
        values, (a, b) = all_pairs.pair_values(first.faces(), second.faces(), ordered)
        same = first.person[a] == second.person[b]
        part = {"cosine": values["cosine"], "same": same, "cell": second.cell[b],
                "subject": first.person[a].astype(np.int32),
                "worse_sigma": np.maximum(values["mean_sigma_a"], values["mean_sigma_b"]),
                "decisions": all_pairs_report.decisions(values, calibrations)}
        worse_plain = np.maximum(first.plain_sigma.mean(axis=1)[a], second.plain_sigma.mean(axis=1)[b])
        random = rng.uniform(size=len(first.mu) + len(second.mu))
        measures = {  # higher is better, the worse face's
            "sigma_sq_quality_aware": -part["worse_sigma"], "sigma_sq_plain": -worse_plain,
            "embedding_norm": np.minimum(first.norm[a], second.norm[b]),
            "sharpness": np.minimum(first.sharpness[a], second.sharpness[b]),
            "random": np.minimum(random[a], random[len(first.mu) + b])}
        part["quality_measures"] = {measure: quality[same] for measure, quality in measures.items()}
        parts.append(part)
    return all_pairs_report.gathered(parts)


def calibration_fold(test_fold):
    """The people.txt fold whose people calibrate test fold k's decisions: k + 1 (mod 10), never k."""
    return (test_fold + 1) % 10


def run_protocol(context, name, clean, runner, report_dir):
    """One held-out protocol's all-pairs report (evaluation/all_pairs_report.py) and its PNGs."""
    config, records = context.config, context.records
    head = config.head
    severities = dict(held_out.PROTOCOLS[name], train=experiment_config.training_severities(head, name))
    cache_dir = held_out_protocols.training_cache(context, name)
    names, person, fold_rows = clean["names"], clean["person"], clean["fold_rows"]
    runs = ([(kind, [kind]) for kind in config.held_out_kinds] if name == "leave_one_kind_out"
            else [("all", list(kinds.KINDS))])
    folds, lfw, needed = [], [], clean["needed"]
    for run_index, (run_name, test_kinds) in enumerate(runs):
        start = time.time()
        excluded = set(test_kinds) if name == "leave_one_kind_out" else set()
        calibration_kinds = [kind for kind in kinds.KINDS if kind not in excluded]
        copies = {}
        for purpose, kind_names, chosen, seed in (("test", test_kinds, severities["test"], config.seed),
                                                  ("calibration", calibration_kinds, severities["train"],
                                                   config.seed + 1)):
            kind, severity = per_image_draws(len(names), kind_names, chosen, seed)
            key = dict(context.protocol_key, protocol="all_pairs", kinds=kind_names, severities=list(chosen))
            copies[purpose] = dict(lfw_data.degraded_copies(
                records, context.sface, runner, [names[i] for i in needed], (kind[needed], severity[needed], seed), key,
                context.inputs.work_dir, indices=needed), rows=needed)
            copies[purpose + "_cells"] = np.array(["%s-%d" % (k, s) for k, s in zip(kind, severity)])
        subset = held_out_protocols.training_subset(context, cache_dir, excluded)
        rng = np.random.RandomState([config.seed, run_index])
        for k in config.folds:
            j = calibration_fold(k)
            labels = identity_folds.training_labels(context.people, records.manifest, (k, j), head.identity_share, k)
            heads = {"quality_aware": (head, fold_heads.train_fold(context, "all_pairs-%s-%s" % (name, run_name),
                                                                   subset, head, labels, k)),
                     "plain": (config.plain_head, fold_heads.train_fold(
                         context, "all_pairs-plain", clean["plain_cache"], config.plain_head, labels, k))}
            clean_cells = np.array(["clean"] * len(names))
            calibration_side = (side(context, heads, clean, fold_rows[j], person, clean_cells),
                                side(context, heads, copies["calibration"], fold_rows[j], person,
                                     copies["calibration_cells"]))
            model_dir = heads["quality_aware"][1]
            model = model_config.model_identity(checkpoints.intact_checkpoint(model_dir), model_config.read(model_dir))
            calibrations = fold_calibrations(*calibration_side, fars=config.fars, model=model, rng=rng, description=(
                "%s at severities %s" % (",".join(calibration_kinds), ",".join(map(str, severities["train"])))))
            test_clean = side(context, heads, clean, fold_rows[k], person, clean_cells)
            test_copies = side(context, heads, copies["test"], fold_rows[k], person, copies["test_cells"])
            scored = fold_scores(test_clean, test_copies, calibrations, rng)
            folds.append(dict(scored, test_fold=np.full(len(scored["same"]), k, np.int8), fold=k,
                              calibration_fold=j, calibrations=calibrations))
            lfw.append(all_pairs_report.lfw_pairs(context.pairs, k, names, fold_rows[k], test_clean,
                                                  calibrations["calibration"]))
        held_out_protocols.drop_subset(subset, excluded)
        print("  all_pairs %s %s: %.0f s" % (name, run_name, time.time() - start))
    return all_pairs_report.protocol_report(name, folds, lfw, report_dir)


def run(context, report_dir):
    """{protocol: its report} for every protocol of config.held_out_protocols."""
    config, records = context.config, context.records
    clean_cache = lfw_data.cache(records, context.sface, context.inputs.work_dir)
    names, features, mu = feature_cache.read_cache_arrays(clean_cache)
    person_of = np.array([pair_files.person_of(n) for n in names])
    people = sorted(set(person_of))
    clean = {"names": names, "features": features, "mu": mu, "person": np.searchsorted(people, person_of),
             "fold_rows": {k: np.flatnonzero(np.isin(person_of, sorted(folk)))
                           for k, folk in enumerate(context.people)},
             "plain_cache": lfw_data.head_cache(clean_cache, config.plain_head.input, context.sface)}
    # only the test and calibration folds' images are scored: their quality measures and degraded copies
    clean["needed"] = np.unique(np.concatenate([clean["fold_rows"][k] for k in config.folds] +
                                               [clean["fold_rows"][calibration_fold(k)] for k in config.folds]))
    result = {}
    with backbone_runtimes.runner(context.sface.backbone(), lfw_data.IMAGE_SIZE) as runner:
        qualities = lfw_data.clean_qualities(records, context.sface, runner, [names[i] for i in clean["needed"]],
                                             context.inputs.work_dir)
        for measure, values in qualities.items():
            clean[measure] = np.full(len(names), np.nan, np.float32)
            clean[measure][clean["needed"]] = values
        for name in config.held_out_protocols:
            start = time.time()
            result[name] = run_protocol(context, name, clean, runner, report_dir)
            result[name]["seconds"] = time.time() - start
    return result


def summary(result):
    return "\n".join(all_pairs_report.summary(name, part) for name, part in result.items())

"""Uncertainty on degradations the head never saw (protocol 'held_out'): the leave-one-kind-out and
unseen-severity schemes on real LFW (evaluation/held_out.py scores them).

The kinds are the one registry's eleven (faces/kinds.py). A training cache holds every image and
`head.copies` degraded copies of it, each of a kind drawn among all kinds at the scheme's training severities
(1-4; unseen severities: 1-2; or head.train_severities), named after its kind and severity.
leave_one_kind_out: for each held-out kind, a subset without that kind's copies trains one head per fold on
the other folds' identities; the fold's pairs.txt pairs are scored with one side degraded by the held-out
kind (side and severity drawn per pair, seeded with test_seed) and the other clean.
unseen_severities: the whole cache trains the heads; test pairs of every kind at severities 3-4.
"""
import collections
import os
import time

import numpy as np

from pfe_estimator.data import pair_files
from pfe_estimator.evaluation import held_out
from pfe_estimator.evaluation import identity_folds
from pfe_estimator.evaluation import metrics
from pfe_estimator.experiments import caches
from pfe_estimator.experiments import fold_heads
from pfe_estimator.experiments import lfw_data
from pfe_estimator.experiments.protocols import fields
from pfe_estimator.faces import kinds
from pfe_estimator.inference import backbone_runtimes


class Config(collections.namedtuple("Config", ["head", "schemes", "held_out_kinds", "folds", "test_seed"])):
    """head: the fold heads (fold_heads.Head, trained on degraded copies); the other fields: protocols/fields.py."""
    __slots__ = ()


Config.__new__.__defaults__ = (fold_heads.QUALITY_AWARE_HEAD, fields.SCHEMES, kinds.KINDS, fields.FOLDS, 0)


def check(config):
    return (fold_heads.head_problems("head", config.head, copies_needed=True) + fields.problems(config) +
            fields.unseen_severity_problems(config.head, config.schemes))


def score_pairs(heads, clean, degraded, pairs, side):
    """Cosine, MLS and pair uncertainty of every pair, each fold scored by its own head, and each face's
    mean sigma^2 (clean side, degraded side).

    Args:
      heads: {fold: model folder}; clean: CachedFaces of every image and (first [P], second [P]) the pairs' rows;
      degraded: CachedFaces of every pair's degraded side; side: int [P], which side it is.
    """
    faces, (first, second) = clean
    clean_index = np.where(side == 0, second, first)
    mu_c, mu_d = faces.mu[clean_index], faces.mu[clean_index].copy()
    sigma_c, sigma_d = np.ones_like(mu_d), np.ones_like(mu_d)  # folds not run keep these; the report skips them
    for k, model_dir in heads.items():
        test = pairs.fold == k
        _, sigma_c[test] = fold_heads.sigma_sq(model_dir, faces.features[clean_index[test]], mu_c[test])
        mu_d[test], sigma_d[test] = fold_heads.sigma_sq(model_dir, degraded.features[test].astype(np.float32),
                                                        degraded.mu[test])
    return {"cosine": metrics.cosine_pair_scores(mu_c, mu_d), "mls": metrics.mls_pair_scores(mu_c, sigma_c, mu_d,
                                                                                              sigma_d),
            "uncertainty": metrics.pair_uncertainty(sigma_c, sigma_d), "face_sigma_sq": (sigma_c.mean(axis=1),
                                                                                       sigma_d.mean(axis=1))}


def heads_without(context, scheme, cache_dir, run_name, excluded, fold_labels):
    """The fold heads of one held-out run, trained on cache_dir without copies of the `excluded` kinds."""
    config = context.config
    subset = caches.training_subset(context, config.head, cache_dir, excluded)
    heads = fold_heads.train_folds(context, "%s-%s" % (scheme, run_name), subset, config.head, fold_labels,
                                   config.folds)
    caches.drop_subset(subset, excluded)
    return heads


def run_scheme(context, scheme, clean, runner, report_dir):
    """One scheme's report (evaluation.held_out.scheme_report) and its PNG in report_dir."""
    config, pairs = context.config, context.pairs
    head = config.head
    severities = fold_heads.scheme_severities(head, scheme)
    cache_dir = caches.training_cache(context, head, scheme)
    fold_labels = identity_folds.fold_training_labels(pairs, context.people, context.records.manifest,
                                                      head.identity_share)
    folds_mask = np.isin(pairs.fold, config.folds)
    runs = ([(kind, [kind]) for kind in config.held_out_kinds] if scheme == "leave_one_kind_out"
            else [("all", list(kinds.KINDS))])
    all_scores, all_kind, all_severity = [], [], []
    for run_name, test_kinds in runs:
        start = time.time()
        excluded = set(test_kinds) if scheme == "leave_one_kind_out" else set()
        heads = heads_without(context, scheme, cache_dir, run_name, excluded, fold_labels)
        side, kind, severity = held_out.test_draws(pairs, test_kinds, severities["test"], config.test_seed)
        copies = caches.degraded_copies(
            context.records, context.sface, runner, np.where(side == 0, pairs.first, pairs.second),
            (kind, severity, config.test_seed), context.inputs.work_dir)
        all_scores.append(score_pairs(heads, clean, copies.as_head_reads(head.input, context.sface.channels), pairs,
                                      side))
        all_kind.append(kind)
        all_severity.append(severity)
        print("  %s %s: %.0f s" % (scheme, run_name, time.time() - start))
    scores = {key: np.concatenate([s[key] for s in all_scores]) for key in ("cosine", "mls", "uncertainty")}
    scores["face_sigma_sq"] = tuple(np.concatenate([s["face_sigma_sq"][i] for s in all_scores]) for i in (0, 1))
    repeated = pair_files.LfwPairs(*(np.concatenate([getattr(pairs, f)] * len(runs)) for f in pairs._fields))
    result = held_out.scheme_report(scores, repeated, np.concatenate(all_kind), np.concatenate(all_severity),
                                    np.concatenate([folds_mask] * len(runs)))
    result.update(held_out=list(config.held_out_kinds) if scheme == "leave_one_kind_out" else None,
                  folds=list(config.folds), copies=head.copies, train_severities=list(severities["train"]),
                  test_severities=list(severities["test"]), steps=head.recipe.max_steps,
                  identity_share=head.identity_share, head_input=head.input, weight_decay=head.recipe.weight_decay,
                  quality_ranking={"weight": head.recipe.quality_ranking_weight,
                                   "margin": head.recipe.quality_ranking_margin},
                  sface_precision={"used": context.sface.precision, "why": context.sface.why})
    held_out.plot_cells(result, os.path.join(report_dir, "%s_auc_by_cell.png" % scheme),
                        "%s: AUC gain over cosine" % scheme)
    return result


def run(context, report_dir):
    """{scheme: its report} for every scheme of config.schemes."""
    config = context.config
    clean_cache = caches.cache(context.records, context.sface, context.inputs.work_dir)
    clean = caches.faces(caches.head_cache(clean_cache, config.head.input, context.sface))
    pairs_rows = pair_files.pair_indices(clean.names, context.pairs)
    result = {}
    with backbone_runtimes.runner(context.sface.backbone(), lfw_data.IMAGE_SIZE) as runner:
        for scheme in config.schemes:
            start = time.time()
            result[scheme] = run_scheme(context, scheme, (clean, pairs_rows), runner, report_dir)
            result[scheme]["seconds"] = time.time() - start
    return result


def summary(result):
    return "\n".join(held_out.summary(name, part) for name, part in result.items())

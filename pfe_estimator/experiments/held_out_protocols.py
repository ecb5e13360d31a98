"""Uncertainty on degradations the head never saw (protocol 'held_out'): leave-one-kind-out and unseen
severities on real LFW (evaluation/held_out.py scores them).

The kinds are the one registry's eleven (faces/kinds.py). A training cache holds every image and
`head.copies` degraded copies of it, each of a kind drawn among all kinds at the protocol's training
severities (1-4; unseen severities: 1-2; or head.train_severities), named after its kind and severity.
leave_one_kind_out: for each held-out kind, a subset without that kind's copies trains one head per fold on
the other folds' identities; the fold's pairs.txt pairs are scored with one side degraded by the held-out
kind (side and severity drawn per pair, seeded) and the other clean.
unseen_severities: the whole cache trains the heads; test pairs of every kind at severities 3-4.
"""
import os
import shutil
import time

import numpy as np

from pfe_estimator.data import feature_cache
from pfe_estimator.evaluation import held_out
from pfe_estimator.evaluation import identity_folds
from pfe_estimator.evaluation import metrics
from pfe_estimator.data import pair_files
from pfe_estimator.experiments import config as experiment_config
from pfe_estimator.experiments import fold_heads
from pfe_estimator.experiments import lfw_data
from pfe_estimator.faces import kinds
from pfe_estimator.inference import backbone_runtimes


def copy_kind(filename):
    """The kind a cached copy was degraded by (None for an original image)."""
    return feature_cache.copy_quality(filename)[0]


def score_pairs(heads, clean, degraded, pairs, side):
    """Cosine, MLS and pair uncertainty of every pair, each fold scored by its own head, and each face's
    mean sigma^2 (clean side, degraded side).

    Args:
      heads: {fold: model folder}; clean: (features [N, F], mu [N, D], first [P], second [P]);
      degraded: (features [P, F], mu [P, D]) of every pair's degraded side; side: int [P], which side it is.
    """
    clean_features, clean_mu, first, second = clean
    degraded_features, degraded_mu = degraded
    clean_index = np.where(side == 0, second, first)
    mu_c, mu_d = clean_mu[clean_index], clean_mu[clean_index].copy()
    sigma_c, sigma_d = np.ones_like(mu_d), np.ones_like(mu_d)  # folds not run keep these; the report skips them
    for k, model_dir in heads.items():
        test = pairs.fold == k
        _, sigma_c[test] = fold_heads.sigma_sq(model_dir, clean_features[clean_index[test]], mu_c[test])
        mu_d[test], sigma_d[test] = fold_heads.sigma_sq(model_dir, degraded_features[test].astype(np.float32),
                                                        degraded_mu[test])
    return {"cosine": metrics.cosine_pair_scores(mu_c, mu_d), "mls": metrics.mls_pair_scores(mu_c, sigma_c, mu_d,
                                                                                              sigma_d),
            "uncertainty": metrics.pair_uncertainty(sigma_c, sigma_d), "face_sigma_sq": (sigma_c.mean(axis=1),
                                                                                       sigma_d.mean(axis=1))}


def training_cache(context, name):
    """The cache of every image and head.copies copies of any kind at the protocol's training severities."""
    head = context.config.head
    return lfw_data.cache(context.records, context.sface, context.inputs.work_dir, head.copies, kinds.KINDS,
                          experiment_config.training_severities(head, name))


def training_subset(context, cache_dir, excluded):
    """What a held-out run's heads train on: cache_dir without copies of the `excluded` kinds, as the head
    reads it (a subset derived beside it; drop_subset removes it once the heads are trained)."""
    head = context.config.head
    if not excluded:
        return lfw_data.head_cache(cache_dir, head.input, context.sface)
    return lfw_data.subset(cache_dir, lambda filename: copy_kind(filename) not in excluded,
                           "without copies of %s" % ",".join(sorted(excluded)),
                           context.sface.channels if head.input == "pooled" else None)


def drop_subset(subset, excluded):
    """Removes a subset without a kind's copies (2.6 GB a kind at one copy; a rerun derives it in a minute)."""
    if excluded:
        shutil.rmtree(subset)


def heads_without(context, name, cache_dir, run_name, excluded, fold_labels):
    """The fold heads of one held-out run, trained on cache_dir without copies of the `excluded` kinds."""
    subset = training_subset(context, cache_dir, excluded)
    heads = fold_heads.train_folds(context, "%s-%s" % (name, run_name), subset, context.config.head, fold_labels,
                                   context.config.folds)
    drop_subset(subset, excluded)
    return heads


def run_protocol(context, name, clean, runner, report_dir):
    """One protocol's report (evaluation.held_out.protocol_report) and its PNG in report_dir."""
    config, pairs = context.config, context.pairs
    head = config.head
    severities = dict(held_out.PROTOCOLS[name], train=experiment_config.training_severities(head, name))
    cache_dir = training_cache(context, name)
    fold_labels = identity_folds.fold_training_labels(pairs, context.people, context.records.manifest,
                                                      head.identity_share)
    folds_mask = np.isin(pairs.fold, config.folds)
    held_out_kinds = list(config.held_out_kinds)
    runs = [(kind, [kind]) for kind in held_out_kinds] if name == "leave_one_kind_out" else [("all", list(kinds.KINDS))]
    all_scores, all_kind, all_severity = [], [], []
    for run_name, test_kinds in runs:
        start = time.time()
        excluded = set(test_kinds) if name == "leave_one_kind_out" else set()
        heads = heads_without(context, name, cache_dir, run_name, excluded, fold_labels)
        side, kind, severity = held_out.test_draws(pairs, test_kinds, severities["test"], config.seed)
        copies = lfw_data.degraded_copies(
            context.records, context.sface, runner, np.where(side == 0, pairs.first, pairs.second),
            (kind, severity, config.seed), dict(context.protocol_key, protocol=name, kinds=test_kinds,
                                                severities=list(severities["test"])), context.inputs.work_dir)
        degraded = copies["features"], copies["mu"]
        if head.input == "pooled":
            degraded = feature_cache.pooled(degraded[0], context.sface.channels), degraded[1]
        scores = score_pairs(heads, clean, degraded, pairs, side)
        all_scores.append(scores)
        all_kind.append(kind)
        all_severity.append(severity)
        print("  %s %s: %.0f s" % (name, run_name, time.time() - start))
    scores = {key: np.concatenate([s[key] for s in all_scores]) for key in ("cosine", "mls", "uncertainty")}
    scores["face_sigma_sq"] = tuple(np.concatenate([s["face_sigma_sq"][i] for s in all_scores]) for i in (0, 1))
    repeated = pair_files.LfwPairs(*(np.concatenate([getattr(pairs, f)] * len(runs)) for f in pairs._fields))
    result = held_out.protocol_report(scores, repeated, np.concatenate(all_kind), np.concatenate(all_severity),
                                      np.concatenate([folds_mask] * len(runs)))
    result.update(held_out=held_out_kinds if name == "leave_one_kind_out" else None, folds=list(config.folds),
                  copies=head.copies, train_severities=list(severities["train"]),
                  test_severities=list(severities["test"]), steps=head.steps, identity_share=head.identity_share,
                  head_input=head.input, weight_decay=head.weight_decay,
                  quality_ranking={"weight": head.ranking_weight, "margin": head.ranking_margin},
                  sface_precision={"used": context.sface.precision, "why": context.sface.why})
    held_out.plot_cells(result, os.path.join(report_dir, "%s_auc_by_cell.png" % name),
                        "%s: AUC gain over cosine" % name)
    return result


def run(context, report_dir):
    """{protocol: its report} for every protocol of config.held_out_protocols."""
    config = context.config
    clean_cache = lfw_data.cache(context.records, context.sface, context.inputs.work_dir)
    names, clean_features, clean_mu = feature_cache.read_cache_arrays(
        lfw_data.head_cache(clean_cache, config.head.input, context.sface))
    first, second = pair_files.pair_indices(names, context.pairs)
    result = {}
    with backbone_runtimes.runner(context.sface.backbone(), lfw_data.IMAGE_SIZE) as runner:
        for name in config.held_out_protocols:
            start = time.time()
            result[name] = run_protocol(context, name, (clean_features, clean_mu, first, second), runner, report_dir)
            result[name]["seconds"] = time.time() - start
    return result


def summary(result):
    return "\n".join(held_out.summary(name, part) for name, part in result.items())

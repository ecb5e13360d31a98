"""Verification metrics in numpy: MLS and cosine scores, thresholds and the 10-fold protocol, TAR@FAR, ROC,
risk-controlled verification, template fusion. No TensorFlow: usable on precomputed features.

Scores are similarities (higher = more likely the same person): cosine of mu, and MLS =
-sum_d [(mu1 - mu2)^2 / (s1 + s2) + log(s1 + s2)].
"""
import concurrent.futures
import os

import numpy as np

from pfe_estimator.model import calibration

DEFAULT_MAX_CHUNK_BYTES = 8 * 2 ** 20  # small blocks stay in cache: faster than large ones


def _negative_mls_sum(mu1, sigma_sq1, mu2, sigma_sq2):
    """sum_d (mu1 - mu2)^2 / (s1 + s2) + log(s1 + s2) over the last axis of broadcast blocks, computed in
    place in the inputs' precision (float32 features stay float32), summed in float64."""
    sigma_sq_sum = sigma_sq1 + sigma_sq2
    difference = mu1 - mu2
    np.square(difference, out=difference)
    np.divide(difference, sigma_sq_sum, out=difference)
    np.log(sigma_sq_sum, out=sigma_sq_sum)
    difference += sigma_sq_sum
    return difference.sum(axis=-1, dtype=np.float64)


def _rows_per_chunk(columns, dims, itemsize, max_bytes):
    return max(1, int(max_bytes // max(1, 2 * columns * dims * itemsize)))


def _common_float(*arrays):
    dtype = np.result_type(np.float32, *arrays)
    return [np.asarray(a, dtype) for a in arrays]


def mls_pair_scores(mu1, sigma_sq1, mu2, sigma_sq2, max_bytes=DEFAULT_MAX_CHUNK_BYTES):
    """MLS of aligned rows: float64 [N] from float [N, D] inputs, in chunks of about max_bytes."""
    mu1, sigma_sq1, mu2, sigma_sq2 = _common_float(mu1, sigma_sq1, mu2, sigma_sq2)
    count, dims = mu1.shape
    scores = np.empty(count, np.float64)
    step = _rows_per_chunk(1, dims, mu1.itemsize, max_bytes)
    for start in range(0, count, step):
        part = slice(start, start + step)
        scores[part] = -_negative_mls_sum(mu1[part], sigma_sq1[part], mu2[part], sigma_sq2[part])
    return scores


def mls_score_matrix(mu1, sigma_sq1, mu2, sigma_sq2, max_bytes=DEFAULT_MAX_CHUNK_BYTES, threads=None):
    """MLS of every row of set 1 against every row of set 2: float64 [N, M].

    Vectorised over blocks of rows whose [rows, M, D] temporaries stay under about max_bytes each, the
    blocks spread over `threads` threads (default: the CPU count; numpy releases the GIL), so memory is
    bounded by threads x max_bytes whatever N and M.
    """
    mu1, sigma_sq1, mu2, sigma_sq2 = _common_float(mu1, sigma_sq1, mu2, sigma_sq2)
    rows, dims = mu1.shape
    scores = np.empty((rows, len(mu2)), np.float64)
    step = _rows_per_chunk(len(mu2), dims, mu1.itemsize, max_bytes)

    def fill(start):
        part = slice(start, start + step)
        scores[part] = -_negative_mls_sum(mu1[part, None], sigma_sq1[part, None], mu2[None], sigma_sq2[None])

    starts = range(0, rows, step)
    with concurrent.futures.ThreadPoolExecutor(max(1, min(threads or os.cpu_count() or 1, len(starts)))) as pool:
        list(pool.map(fill, starts))
    return scores


def cosine_pair_scores(mu1, mu2):
    """Cosine similarity of aligned rows: float64 [N]."""
    mu1 = mu1.astype(np.float64)
    mu2 = mu2.astype(np.float64)
    return np.sum(mu1 * mu2, axis=1) / (np.linalg.norm(mu1, axis=1) * np.linalg.norm(mu2, axis=1))


def best_threshold(scores, labels):
    """Threshold maximising the accuracy of `scores >= t` among the genuine scores; ties averaged.

    Args:
      scores: float [N]; labels: bool [N] (True = genuine).

    Returns:
      (threshold, accuracy).
    """
    candidates = np.sort(scores[labels])
    order = np.argsort(scores, kind="mergesort")
    sorted_scores, sorted_labels = scores[order], labels[order]
    # accepted at t = pairs with score >= t; correct = genuine accepted + impostors rejected
    first = np.searchsorted(sorted_scores, candidates, side="left")
    genuine_below = np.concatenate([[0], np.cumsum(sorted_labels)])[first]
    impostor_below = first - genuine_below
    correct = (labels.sum() - genuine_below) + impostor_below
    accuracies = correct / float(len(scores))
    best = accuracies.max()
    return float(np.mean(candidates[accuracies == best])), float(best)


def tar_at_far(genuine, impostor, fars):
    """TAR at each FAR: threshold = the k-th highest impostor score with k = round(FAR * #impostors)
    (above the highest when k = 0; model.calibration.impostor_thresholds, the rule a model's calibration keeps);
    TAR = fraction of genuine scores >= threshold.

    Returns:
      (tars float [len(fars)], thresholds float [len(fars)]).
    """
    thresholds = np.array(calibration.impostor_thresholds(impostor, fars))
    return np.array([np.mean(genuine >= threshold) for threshold in thresholds]), thresholds


def average_ranks(values):
    """1-based ranks with ties given their average rank (as scipy.stats.rankdata)."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    starts = np.concatenate([[True], sorted_values[1:] != sorted_values[:-1]])
    group = np.cumsum(starts) - 1
    first_index = np.flatnonzero(starts)
    counts = np.diff(np.concatenate([first_index, [len(values)]]))
    ranks = np.empty(len(values), np.float64)
    ranks[order] = first_index[group] + (counts[group] + 1) / 2.0
    return ranks


def roc_auc(scores, labels):
    """Area under the ROC curve (Mann-Whitney U, ties counted half)."""
    ranks = average_ranks(np.asarray(scores, np.float64))
    positives = labels.sum()
    negatives = len(labels) - positives
    return float((ranks[labels].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def roc_curve(scores, labels):
    """(false accept rates, true accept rates) at every distinct threshold, from (0, 0) to (1, 1)."""
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores, sorted_labels = scores[order], labels[order]
    last_of_value = np.concatenate([sorted_scores[1:] != sorted_scores[:-1], [True]])
    true_accepts = np.cumsum(sorted_labels)[last_of_value]
    false_accepts = np.cumsum(~sorted_labels)[last_of_value]
    return (np.concatenate([[0.0], false_accepts / float(max(1, (~labels).sum()))]),
            np.concatenate([[0.0], true_accepts / float(max(1, labels.sum()))]))


def kfold_accuracy(scores, same, fold):
    """The LFW protocol: for each fold, the threshold maximising accuracy on the other folds (among
    their genuine scores, ties averaged), accuracy on the fold itself.

    Returns:
      dict: accuracies [folds], thresholds [folds], per-pair threshold [P] (its fold's), mean, std.
    """
    folds = np.unique(fold)
    accuracies, thresholds = [], []
    pair_threshold = np.empty(len(scores), np.float64)
    for k in folds:
        test = fold == k
        threshold, _ = best_threshold(scores[~test], same[~test])
        accuracies.append(np.mean((scores[test] >= threshold) == same[test]))
        thresholds.append(threshold)
        pair_threshold[test] = threshold
    return {"accuracies": np.array(accuracies), "thresholds": np.array(thresholds),
            "pair_threshold": pair_threshold, "mean": float(np.mean(accuracies)), "std": float(np.std(accuracies))}


def verification_report(scores, same, protocol, fars=(1e-3, 1e-2)):
    """accuracy_mean, accuracy_std (fractions), fold_accuracies, auc, tar_at_far {str(far): tar} for one
    score type; `protocol` is kfold_accuracy(scores, same, fold)."""
    tars, _ = tar_at_far(scores[same], scores[~same], fars)
    return {"accuracy_mean": protocol["mean"], "accuracy_std": protocol["std"],
            "fold_accuracies": protocol["accuracies"].tolist(), "auc": roc_auc(scores, same),
            "tar_at_far": {str(far): float(t) for far, t in zip(fars, tars)}}


def pair_uncertainty(sigma_sq1, sigma_sq2):
    """A pair's uncertainty: the sum of its two faces' mean sigma^2. float [N]."""
    return sigma_sq1.mean(axis=1) + sigma_sq2.mean(axis=1)


def risk_controlled_accuracy(scores, same, pair_threshold, uncertainty, reject_fractions):
    """Accuracy on the pairs kept after rejecting the most uncertain fraction, each pair judged by its
    fold's protocol threshold. Returns float [len(reject_fractions)]."""
    order = np.argsort(uncertainty, kind="mergesort")  # most certain first
    correct = (scores >= pair_threshold) == same
    return np.array([np.mean(correct[order[:max(1, int(round(len(order) * (1 - f))))]]) for f in reject_fractions])


def risk_controlled_tar(scores, same, uncertainty, reject_fractions, far):
    """TAR@FAR on the pairs kept after rejecting the most uncertain fraction. float [len(reject_fractions)]."""
    order = np.argsort(uncertainty, kind="mergesort")
    tars = []
    for fraction in reject_fractions:
        kept = order[:max(2, int(round(len(order) * (1 - fraction))))]
        kept_same = same[kept]
        if kept_same.all() or not kept_same.any():
            tars.append(float("nan"))
            continue
        tars.append(float(tar_at_far(scores[kept][kept_same], scores[kept][~kept_same], [far])[0][0]))
    return np.array(tars)


def _fuse_block(mu, sigma_sq, starts, counts, method, outputs):
    """fuse_templates on faces sorted by template (template i = rows starts[i]:starts[i] + counts[i]),
    written into outputs = (mu_hat, sigma_sq_hat, mean_mu) [T, D] each."""
    mu_hat, sigma_sq_hat, mean_mu = outputs
    sigma_sq_hat[:] = 1.0 / np.add.reduceat(1.0 / sigma_sq, starts, axis=0)
    mu_hat[:] = np.add.reduceat(mu / sigma_sq, starts, axis=0) * sigma_sq_hat
    mean_mu[:] = np.add.reduceat(mu, starts, axis=0) / counts[:, None]
    if method == "released":
        mu_hat /= np.linalg.norm(mu_hat, axis=1, keepdims=True)
        sigma_sq_hat[:] = np.minimum.reduceat(sigma_sq, starts, axis=0)


def fuse_templates(mu, sigma_sq, template_ids, method="paper"):
    """Fuses each template's faces into one Gaussian.

    paper (section 3.3): 1/sigma_hat^2 = sum_i 1/sigma_i^2 and mu_hat = sum_i (sigma_hat^2 / sigma_i^2) mu_i,
      per dimension.
    released: the released code's variant, mu_hat as above but L2-normalised, sigma_hat^2 = min_i sigma_i^2.

    Args:
      mu, sigma_sq: float [N, D]; template_ids: [N] (any hashable values).

    Returns:
      (ids [T] sorted, mu_hat [T, D], sigma_sq_hat [T, D], mean_mu [T, D] the plain average of mu).
    """
    if method not in ("paper", "released"):
        raise ValueError("fusion method %r: expected paper or released" % method)
    ids, inverse = np.unique(np.asarray(template_ids), return_inverse=True)
    order = np.argsort(inverse, kind="stable")  # each template's faces contiguous, templates in id order
    counts = np.bincount(inverse)  # np.unique: every id occurs
    ends = np.cumsum(counts)
    starts = ends - counts
    outputs = [np.empty((len(ids), mu.shape[1])) for _ in range(3)]  # mu_hat, sigma_sq_hat, mean_mu
    rows_per_block = max(1, DEFAULT_MAX_CHUNK_BYTES // (8 * 4 * mu.shape[1]))
    first = 0
    while first < len(ids):  # blocks of whole templates whose temporaries stay in cache
        last = max(first + 1, int(np.searchsorted(ends, starts[first] + rows_per_block, side="right")))
        rows = order[starts[first]:ends[last - 1]]
        block = _common_float(mu[rows], sigma_sq[rows])  # float32 features stay float32
        _fuse_block(block[0], block[1], starts[first:last] - starts[first], counts[first:last], method,
                    [out[first:last] for out in outputs])
        first = last
    mu_hat, sigma_sq_hat, mean_mu = outputs
    return ids, mu_hat, sigma_sq_hat, mean_mu


def spearman_correlation(a, b):
    """Spearman's rank correlation of two float [N] arrays (ties get average ranks)."""
    ranks_a = average_ranks(np.asarray(a, np.float64))
    ranks_b = average_ranks(np.asarray(b, np.float64))
    return float(np.corrcoef(ranks_a, ranks_b)[0, 1])

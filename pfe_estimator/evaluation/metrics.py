"""Verification metrics in numpy: MLS scores, the LFW 10-fold protocol, TAR@FAR, ROC, template fusion,
risk-controlled verification. No TensorFlow: usable on precomputed features.

Scores are similarities (higher = more likely the same person): cosine of mu, and MLS =
-sum_d [(mu1 - mu2)^2 / (s1 + s2) + log(s1 + s2)].
"""
import collections
import concurrent.futures
import os

import numpy as np

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


# ---------------------------------------------------------------- thresholds and rates


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
    (above the highest when k = 0); TAR = fraction of genuine scores >= threshold.

    Returns:
      (tars float [len(fars)], thresholds float [len(fars)]).
    """
    descending = np.sort(impostor)[::-1]
    tars, thresholds = [], []
    for far in fars:
        false_accepts = int(round(far * len(descending)))
        threshold = descending[0] + 1e-8 if false_accepts == 0 else descending[false_accepts - 1]
        thresholds.append(threshold)
        tars.append(np.mean(genuine >= threshold))
    return np.array(tars), np.array(thresholds)


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


# ---------------------------------------------------------------- LFW


LfwPairs = collections.namedtuple("LfwPairs", ["first", "second", "same", "fold"])


def lfw_image_name(person, number):
    return "%s_%04d" % (person, int(number))


def read_lfw_pairs(path):
    """Reads LFW's pairs.txt: a header `folds pairs_per_class`, then per fold the genuine lines
    `name n1 n2` and the impostor lines `name1 n1 name2 n2`.

    Returns:
      LfwPairs of numpy arrays [P]: image names (e.g. Aaron_Peirsol_0001), same (bool), fold (int).

    Raises:
      ValueError: a malformed line, naming the file and line.
    """
    with open(path) as f:
        lines = [(number, line.split()) for number, line in enumerate(f, 1) if line.strip()]
    try:
        folds, per_class = [int(v) for v in lines[0][1]] if lines and len(lines[0][1]) == 2 else (None, None)
    except ValueError:
        folds = None
    if folds is None:
        raise ValueError("%s:1: expected a header `folds pairs_per_class` of two integers" % path)
    first, second, same, fold = [], [], [], []
    for index, (number, fields) in enumerate(lines[1:]):
        try:
            if len(fields) == 3:
                first.append(lfw_image_name(fields[0], fields[1]))
                second.append(lfw_image_name(fields[0], fields[2]))
                same.append(True)
            elif len(fields) == 4:
                first.append(lfw_image_name(fields[0], fields[1]))
                second.append(lfw_image_name(fields[2], fields[3]))
                same.append(False)
            else:
                raise ValueError("%d fields" % len(fields))
        except ValueError:
            raise ValueError("%s:%d: expected `name n1 n2` or `name1 n1 name2 n2` with integer image numbers, got "
                             "%r" % (path, number, " ".join(fields)))
        fold.append(index // (2 * per_class))
    if len(first) != folds * 2 * per_class:
        raise ValueError("%s: %d pairs, the header promises %d" % (path, len(first), folds * 2 * per_class))
    return LfwPairs(np.array(first), np.array(second), np.array(same), np.array(fold))


def check_features(names, mu, sigma_sq, source):
    """Raises a one-line ValueError when mu is not finite or sigma^2 is not finite and > 0.

    Args:
      names: image names [N]; mu, sigma_sq: float [N, D].
      source: where the features came from, for the message.
    """
    problems = (("non-finite mu", ~np.isfinite(mu).all(axis=1)),
                ("non-finite sigma^2", ~np.isfinite(sigma_sq).all(axis=1)),
                ("sigma^2 <= 0", ~(sigma_sq > 0).all(axis=1)))
    for what, bad_rows in problems:
        if bad_rows.any():
            first_bad = names[int(np.flatnonzero(bad_rows)[0])]
            raise ValueError("%s: %d face(s) with %s (first: %s); these features cannot be scored, recompute them"
                             % (source, int(bad_rows.sum()), what, first_bad))


def pair_indices(names, pairs):
    """Row indices of each pair's two images in `names`.

    Raises:
      ValueError: pairs name images that `names` lacks, listing them.
    """
    index = {name: i for i, name in enumerate(names)}
    missing = sorted({n for n in np.concatenate([pairs.first, pairs.second]) if n not in index})
    if missing:
        raise ValueError("%d image(s) named by the pairs are missing: %s%s" % (
            len(missing), ", ".join(missing[:20]), " ..." if len(missing) > 20 else ""))
    return (np.array([index[n] for n in pairs.first]), np.array([index[n] for n in pairs.second]))


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


# ---------------------------------------------------------------- uncertainty


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


# ---------------------------------------------------------------- calibrated verification

CALIBRATION_BINS = 10


def fit_logistic(inputs, same, l2=1e-4, iterations=100):
    """Logistic regression P(same) = sigmoid([standardised inputs, 1] @ weights) by Newton's method.

    Args:
      inputs: float [N, F] (e.g. the MLS score, and optionally the pair's log uncertainty).
      same: bool [N].
      l2: ridge on the standardised weights (not the bias), for separable folds.

    Returns:
      the model as a JSON-able dict {'mean' [F], 'scale' [F], 'weights' [F + 1]} (see logistic_probability).
    """
    inputs = np.asarray(inputs, np.float64).reshape(len(same), -1)
    mean, scale = inputs.mean(axis=0), inputs.std(axis=0) + 1e-12
    design = np.hstack([(inputs - mean) / scale, np.ones((len(inputs), 1))])
    targets = np.asarray(same, np.float64)
    weights = np.zeros(design.shape[1])
    ridge = np.diag([l2] * (design.shape[1] - 1) + [0.0])
    for _ in range(iterations):
        probabilities = 1.0 / (1.0 + np.exp(-design @ weights))
        gradient = design.T @ (probabilities - targets) + ridge @ weights
        hessian = design.T @ (design * (probabilities * (1 - probabilities))[:, None]) + ridge + 1e-9 * np.eye(len(weights))
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-10:
            break
    return {"mean": mean.tolist(), "scale": scale.tolist(), "weights": weights.tolist()}


def logistic_probability(model, inputs):
    """P(same) of float [M, F] inputs under a fit_logistic model. float64 [M]."""
    mean = np.asarray(model["mean"])
    design = np.hstack([(np.asarray(inputs, np.float64).reshape(-1, len(mean)) - mean) / np.asarray(model["scale"]),
                        np.ones((len(inputs), 1))])
    return 1.0 / (1.0 + np.exp(-design @ np.asarray(model["weights"])))


def cross_fitted_probabilities(inputs, same, fold):
    """P(same) of every pair from a logistic fit on the OTHER folds only. float64 [N]."""
    inputs = np.asarray(inputs, np.float64).reshape(len(same), -1)
    probabilities = np.empty(len(same))
    for k in np.unique(fold):
        test = fold == k
        probabilities[test] = logistic_probability(fit_logistic(inputs[~test], same[~test]), inputs[test])
    return probabilities


def reliability_bins(probabilities, same, bins=CALIBRATION_BINS):
    """Equal-width bins of predicted P(same): (mean prediction [B], observed frequency [B], count [B]);
    empty bins hold NaN and count 0."""
    index = np.minimum((probabilities * bins).astype(int), bins - 1)
    counts = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore"):
        predicted = np.bincount(index, probabilities, minlength=bins) / counts
        observed = np.bincount(index, same.astype(np.float64), minlength=bins) / counts
    return predicted, observed, counts


def expected_calibration_error(probabilities, same, bins=CALIBRATION_BINS):
    """sum over bins of |bin| / N * |mean predicted - observed frequency|."""
    predicted, observed, counts = reliability_bins(probabilities, same, bins)
    filled = counts > 0
    return float(np.sum(counts[filled] / float(len(same)) * np.abs(predicted[filled] - observed[filled])))


def brier_score(probabilities, same):
    return float(np.mean((probabilities - same.astype(np.float64)) ** 2))


def held_out_far(values, same, fold, fars):
    """For each FAR: thresholds fitted on the impostors of 9 folds (the k-th highest value, as
    tar_at_far), and the false accept rate each gives on the held-out fold's impostors, averaged.

    Returns:
      (mean threshold [len(fars)], mean achieved FAR [len(fars)]).
    """
    thresholds, achieved = [], []
    for k in np.unique(fold):
        test = fold == k
        _, fold_thresholds = tar_at_far(values[~test & same], values[~test & ~same], fars)
        thresholds.append(fold_thresholds)
        achieved.append([np.mean(values[test & ~same] >= t) for t in fold_thresholds])
    return np.mean(thresholds, axis=0), np.mean(achieved, axis=0)


def calibration_report(scores, same, fold, uncertainty=None, fars=(1e-3, 1e-2)):
    """P(same identity | score) by logistic regression, cross-fitted over the folds: every pair's
    probability and every threshold come from folds it is not in.

    Args:
      scores: float [N] (MLS); uncertainty: optional float [N], a second input (the pair's sigma^2).
      same: bool [N]; fold: int [N].

    Returns:
      dict: method, ece, brier, threshold_at_far {str(far)} (on P(same)), far_achieved {str(far)} (held-out),
      reliability {predicted, observed, count} and, for the caller, probabilities [N] (not JSON); None when
      some fold's complement lacks genuine or impostor pairs (e.g. a single fold).
    """
    for k in np.unique(fold):
        if same[fold != k].all() or not same[fold != k].any():
            return None
    inputs = scores[:, None] if uncertainty is None else np.stack([scores, np.log(uncertainty)], axis=1)
    probabilities = cross_fitted_probabilities(inputs, same, fold)
    thresholds, achieved = held_out_far(probabilities, same, fold, fars)
    predicted, observed, counts = reliability_bins(probabilities, same)
    return {"method": "logistic regression on the score%s, cross-fitted over %d folds" % (
                "" if uncertainty is None else " and log pair uncertainty", len(np.unique(fold))),
            "ece": expected_calibration_error(probabilities, same), "brier": brier_score(probabilities, same),
            "threshold_at_far": {str(far): float(t) for far, t in zip(fars, thresholds)},
            "far_achieved": {str(far): float(a) for far, a in zip(fars, achieved)},
            "reliability": {"predicted": predicted.tolist(), "observed": observed.tolist(), "count": counts.tolist()},
            "probabilities": probabilities}


def fit_verification_calibration(scores, same, fars):
    """The calibration a model folder keeps (calibration.json): P(same | MLS) fitted on all the given
    pairs, and the MLS thresholds that accept the fraction `far` of their impostors.

    Returns:
      JSON-able dict: method, pairs, model (fit_logistic), mls_threshold_at_far {str(far): threshold}.
    """
    _, thresholds = tar_at_far(scores[same], scores[~same], fars)
    return {"method": "logistic regression on the MLS score", "pairs": int(len(scores)),
            "model": fit_logistic(scores[:, None], same),
            "mls_threshold_at_far": {str(far): float(t) for far, t in zip(fars, thresholds)}}


# ---------------------------------------------------------------- templates


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


def read_csv_rows(path, columns):
    """Rows of a CSV with the given number of columns; a header line (non-numeric last field) is skipped.

    Raises:
      ValueError: a row with another number of fields, naming file and line.
    """
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            fields = [field.strip() for field in line.rstrip("\n").split(",")]
            if len(fields) != columns:
                raise ValueError("%s:%d: expected %d comma-separated fields, got %d" % (path, number, columns, len(fields)))
            rows.append(fields)
    if rows and columns == 3 and not rows[0][2].lstrip("-").isdigit():
        rows = rows[1:]
    elif rows and columns == 2 and rows[0][0].lower() in ("template_id", "template", "tid"):
        rows = rows[1:]
    return rows


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
    ids, mu_hat, sigma_sq_hat, mean_mu = fuse_templates(mu, sigma_sq, template_ids, fusion)
    position = {value: i for i, value in enumerate(ids)}
    try:
        a = np.array([position[t] for t in pairs_a])
        b = np.array([position[t] for t in pairs_b])
    except KeyError as error:
        raise ValueError("template %s is in the pairs but has no faces" % error)
    scores = {
        "cosine": cosine_pair_scores(mean_mu[a], mean_mu[b]),
        "fused_cosine": cosine_pair_scores(mu_hat[a], mu_hat[b]),
        "mls": mls_pair_scores(mu_hat[a], sigma_sq_hat[a], mu_hat[b], sigma_sq_hat[b]),
    }
    report = {}
    for name, value in scores.items():
        tars, _ = tar_at_far(value[labels], value[~labels], fars)
        report[name] = {"tar_at_far": {str(f): float(t) for f, t in zip(fars, tars)}, "auc": roc_auc(value, labels)}
    if reject_fractions is not None:
        uncertainty = pair_uncertainty(sigma_sq_hat[a], sigma_sq_hat[b])
        report["risk_controlled"] = {
            "reject_fractions": list(reject_fractions), "far": 1e-2,
            "tar": {name: risk_controlled_tar(value, labels, uncertainty, reject_fractions, 1e-2).tolist()
                    for name, value in scores.items()}}
    return report, scores


def image_name(path):
    """LFW-style image name of a path: its base name without extension (Aaron_Peirsol_0001)."""
    return os.path.splitext(os.path.basename(path))[0]


def spearman_correlation(a, b):
    """Spearman's rank correlation of two float [N] arrays (ties get average ranks)."""
    ranks_a = average_ranks(np.asarray(a, np.float64))
    ranks_b = average_ranks(np.asarray(b, np.float64))
    return float(np.corrcoef(ranks_a, ranks_b)[0, 1])

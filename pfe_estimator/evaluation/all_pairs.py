"""All pairs of a set of faces (BLUFR, Liao et al. IJCB 2014: enough impostors for a low FMR), and what a
shipped decision does per quality stratum.

Within one people.txt fold every genuine and every impostor pair of its images is scored: clean against
clean (each unordered pair once) and, cross-quality, every clean image against every other image's degraded
copy (pair_values; calibration_pairs: the same pairs, which every calibration is fitted on). Then, per group
of pairs (pooled, a (kind, severity) cell, a quintile of the worse face's sigma^2):
  tar_at_fmr          TAR at FMR 1e-3 and 1e-4, thresholds from the group's own impostors (BLUFR's rate)
  rates               the achieved FMR and FNMR of a fixed (shipped) decision
  bootstrap           subject-bootstrap intervals of a rate (bootstrap_rate) or of TAR differences between two
                      decisions (bootstrap_difference) at fixed thresholds, drawing people with replacement, every
                      pair of a person with them; of EDC pAUCs and their differences (edc_intervals)
  edc                 error-versus-discard (Schlett et al., IEEE TBIOM 2024; dasec's edc.py): FNMR of the
                      genuine pairs kept at a fixed threshold as the lowest pair qualities are discarded,
                      pair quality the worse face's; its stepwise pAUC and the discard that halves FNMR
"""
import numpy as np

from pfe_estimator.evaluation import metrics

FMRS = (1e-3, 1e-4)
REPLICATES = 1000
INTERVAL = (2.5, 97.5)


def pair_indices(count, ordered):
    """Rows (a [P], b [P]) of every pair among `count` faces: each unordered pair once (a < b), or with
    `ordered` every ordered pair but a face with itself (clean a against degraded b)."""
    a, b = np.meshgrid(np.arange(count), np.arange(count), indexing="ij")
    keep = a < b if not ordered else a != b
    return a[keep], b[keep]


def pair_values(first, second, ordered):
    """model.verification.pair_values of every pair of `first` against `second`, each (mu [N, D], sigma_sq [N, D])
    of the same N faces (clean, or their degraded copies), as float32 [P], and the rows (a [P], b [P]): each
    unordered pair once (ordered=False: the same faces), or every ordered pair but a face against its own copy."""
    a, b = pair_indices(len(first[0]), ordered)
    values = {"cosine": (first[0] @ second[0].T)[a, b],
              "mls": metrics.mls_score_matrix(first[0], first[1], second[0], second[1])[a, b],
              "mean_sigma_a": first[1].mean(axis=1)[a], "mean_sigma_b": second[1].mean(axis=1)[b]}
    return {key: value.astype(np.float32) for key, value in values.items()}, (a, b)


def calibration_pairs(clean, copies, person):
    """The pairs a calibration is fitted on, from N faces (a calibration fold's images, a gallery's photos): every
    clean pair once, and every clean face against every other face's degraded copy, for each set of copies.

    Args:
      clean: (mu [N, D], sigma_sq [N, D]); copies: [(mu [N, D], sigma_sq [N, D])] of each set of copies (may be
        empty); person [N]: who each face is.

    Returns:
      (pair values: a dict of float32 [P], same: bool [P]).
    """
    parts = [pair_values(clean, clean, False)] + [pair_values(clean, copy, True) for copy in copies]
    values = {key: np.concatenate([part[0][key] for part in parts]) for key in parts[0][0]}
    return values, np.concatenate([person[a] == person[b] for _, (a, b) in parts])


def tar_at_fmr(scores, same, fmrs=FMRS):
    """{'tar_at_fmr': {fmr: TAR}, 'impostors', 'genuine'} of one group, thresholds from its own impostors;
    a TAR is None where the group holds fewer than 1 / FMR impostors or no genuine pair."""
    genuine, impostors = scores[same], scores[~same]
    result = {"genuine": int(len(genuine)), "impostors": int(len(impostors)), "tar_at_fmr": {}}
    for fmr in fmrs:
        enough = len(genuine) and len(impostors) * fmr >= 1
        result["tar_at_fmr"][str(fmr)] = float(metrics.tar_at_far(genuine, impostors, [fmr])[0][0]) if enough else None
    return result


def rates(impostor_accepts, genuine_accepts):
    """{'impostors', 'false_matches', 'fmr', 'genuine', 'false_non_matches', 'fnmr'} of fixed decisions, from the
    decisions on a group's impostor pairs and on its genuine pairs (bool arrays)."""
    impostors, genuine = int(len(impostor_accepts)), int(len(genuine_accepts))
    false_matches, false_non_matches = int(impostor_accepts.sum()), int(genuine - genuine_accepts.sum())
    return {"impostors": impostors, "false_matches": false_matches,
            "fmr": false_matches / impostors if impostors else None, "genuine": genuine,
            "false_non_matches": false_non_matches, "fnmr": false_non_matches / genuine if genuine else None}


def quintile_edges(values):
    """The 20/40/60/80 % quantiles: stratum q of a value is np.searchsorted(edges, value, 'right')."""
    return np.percentile(values, [20, 40, 60, 80])


def subject_weights(subjects, replicates=REPLICATES, seed=0):
    """Subject-bootstrap multiplicities: (unique subjects [S], int [replicates, S] draws with replacement)."""
    unique = np.unique(subjects)
    rng = np.random.RandomState(seed)
    return unique, np.stack([np.bincount(rng.randint(len(unique), size=len(unique)), minlength=len(unique))
                             for _ in range(replicates)])


def bootstrap_difference(accept_a, accept_b, subjects, weights):
    """The accept-rate difference a - b over genuine pairs (TAR a - TAR b; FNMR b - FNMR a), and its
    subject-bootstrap interval at fixed thresholds.

    Args:
      accept_a, accept_b: bool [G] decisions of two scores on the same genuine pairs; subjects: [G] their
        people; weights: subject_weights' (unique subjects, multiplicities).
    """
    unique, draws = weights
    index = np.searchsorted(unique, subjects)
    count = np.bincount(index, minlength=len(unique)).astype(np.float64)
    kept = [np.bincount(index, accept.astype(np.float64), minlength=len(unique)) for accept in (accept_a, accept_b)]
    totals = draws @ count
    valid = totals > 0
    difference = (draws @ kept[0] - draws @ kept[1])[valid] / totals[valid]
    low, high = np.percentile(difference, INTERVAL)
    return {"difference": float((kept[0].sum() - kept[1].sum()) / count.sum()), "interval": [float(low), float(high)],
            "replicates": int(valid.sum())}


def bootstrap_rate(errors, subjects, weights):
    """The share of `errors` among a group's pairs (an FMR over impostors, an FNMR over genuine pairs) and its
    subject-bootstrap interval: each replicate draws people with replacement, every pair of a person with them.

    Args:
      errors: bool [G]; subjects: [G] the people the pairs are drawn by; weights: subject_weights' value.
    """
    unique, draws = weights
    index = np.searchsorted(unique, subjects)
    count = np.bincount(index, minlength=len(unique)).astype(np.float64)
    wrong = np.bincount(index, errors.astype(np.float64), minlength=len(unique))
    totals = draws @ count
    valid = totals > 0
    replicated = (draws @ wrong)[valid] / totals[valid]
    low, high = np.percentile(replicated, INTERVAL) if valid.any() else (None, None)
    return {"rate": float(wrong.sum() / count.sum()) if count.sum() else None,
            "interval": [float(low), float(high)] if valid.any() else None}


def edc(genuine_scores, pair_quality, threshold):
    """The FNM error-versus-discard curve: (discard fractions [K], FNMR [K]), genuine pairs discarded in
    ascending pair quality (ties together), FNMR = the kept pairs below the fixed threshold."""
    order = np.argsort(pair_quality, kind="mergesort")
    quality, errors = pair_quality[order], (genuine_scores[order] < threshold).astype(np.int64)
    remaining_errors = np.cumsum(errors[::-1])[::-1]
    count = len(order)
    discard = np.concatenate([[0], np.flatnonzero(quality[:-1] != quality[1:]) + 1])
    return discard / float(count), remaining_errors[discard] / (count - discard).astype(np.float64)


def pauc(discard, fnmr, limit):
    """The stepwise area under an EDC from no discard to `limit`."""
    area = 0.0
    for index in range(len(discard)):
        end = discard[index + 1] if index + 1 < len(discard) else 1.0
        area += fnmr[index] * (min(end, limit) - discard[index])
        if end >= limit:
            break
    return float(area)


def weighted_pauc(errors_sorted, weights_sorted, boundaries, limits):
    """The normalised stepwise pAUC (pAUC / (limit x no-discard FNMR)) of an EDC whose pairs carry weights (a
    bootstrap replicate's multiplicities), pairs sorted by quality and `boundaries` the starts of tie groups.
    {limit: value}."""
    total = weights_sorted.sum()
    if total <= 0:
        return {limit: None for limit in limits}
    kept_weight = total - np.concatenate([[0.0], np.cumsum(weights_sorted)])[boundaries]
    kept_errors = (errors_sorted * weights_sorted).sum() - np.concatenate(
        [[0.0], np.cumsum(errors_sorted * weights_sorted)])[boundaries]
    discard = 1.0 - kept_weight / total
    with np.errstate(invalid="ignore", divide="ignore"):
        fnmr = np.where(kept_weight > 0, kept_errors / kept_weight, 0.0)
    result = {}
    for limit in limits:
        ends = np.minimum(np.concatenate([discard[1:], [1.0]]), limit)
        area = float(np.sum(fnmr * np.maximum(ends - discard, 0.0)))
        result[limit] = area / (limit * fnmr[0]) if fnmr[0] > 0 else None
    return result


def edc_intervals(genuine_scores, qualities, threshold, subjects, weights, limits=(0.2, 0.3)):
    """Subject-bootstrap intervals of each quality measure's normalised EDC pAUC, and of each measure's
    difference from every other (the same replicates for all): {'pauc': {measure: {limit: [low, high]}},
    'difference': {measure: {other: {limit: [low, high]}}}} (measure minus other; below 0: measure better).

    Args:
      genuine_scores: [G]; qualities: {measure: quality [G]}; subjects: [G]; weights: subject_weights' value.
    """
    unique, draws = weights
    index = np.searchsorted(unique, subjects)
    errors = (genuine_scores < threshold).astype(np.float64)
    replicated = {}
    for measure, quality in qualities.items():
        order = np.argsort(quality, kind="mergesort")
        sorted_quality = quality[order]
        boundaries = np.concatenate([[0], np.flatnonzero(sorted_quality[:-1] != sorted_quality[1:]) + 1])
        replicated[measure] = [weighted_pauc(errors[order], draw[index[order]].astype(np.float64), boundaries, limits)
                               for draw in draws]
    def interval(series):
        series = [value for value in series if value is not None]
        return [float(v) for v in np.percentile(series, INTERVAL)] if series else None
    return {"pauc": {measure: {str(limit): interval([r[limit] for r in runs]) for limit in limits}
                     for measure, runs in replicated.items()},
            "difference": {measure: {other: {str(limit): interval([
                a[limit] - b[limit] for a, b in zip(runs, replicated[other])
                if a[limit] is not None and b[limit] is not None]) for limit in limits}
                for other in replicated if other != measure} for measure, runs in replicated.items()}}


def edc_report(genuine_scores, pair_quality, threshold, limits=(0.2, 0.3)):
    """{'fnmr_at_no_discard', 'pauc' {limit}, 'pauc_normalised' {limit}: pAUC / (limit x no-discard FNMR),
    1 for a quality score no better than keeping everything, 'halving_discard': the smallest discard
    fraction at which FNMR falls to half, 'curve'} of one quality measure."""
    discard, fnmr = edc(genuine_scores, pair_quality, threshold)
    start = float(fnmr[0])
    halved = np.flatnonzero(fnmr <= start / 2)
    points = np.unique(np.concatenate([np.searchsorted(discard, np.linspace(0, 0.5, 101)), [len(discard) - 1]]))
    points = points[points < len(discard)]
    return {"fnmr_at_no_discard": start,
            "pauc": {str(limit): pauc(discard, fnmr, limit) for limit in limits},
            "pauc_normalised": {str(limit): pauc(discard, fnmr, limit) / (limit * start) if start else None
                                for limit in limits},
            "halving_discard": float(discard[halved[0]]) if len(halved) else None,
            "curve": {"discard": discard[points].tolist(), "fnmr": fnmr[points].tolist()}}

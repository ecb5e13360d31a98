"""All pairs of a set of faces (BLUFR, Liao et al. IJCB 2014: enough impostors for a low FMR), and what a
shipped decision does per quality stratum.

Within one people.txt fold every genuine and every impostor pair of its images is scored: clean against
clean (each unordered pair once) and, cross-quality, every clean image against every other image's degraded
copy. Then, per group of pairs (pooled, a (kind, severity) cell, a quintile of the worse face's sigma^2):
  tar_at_fmr          TAR at FMR 1e-3 and 1e-4, thresholds from the group's own impostors (BLUFR's rate)
  rates               the achieved FMR and FNMR of a fixed (shipped) decision
  bootstrap           subject-bootstrap intervals of FNMR or TAR differences between two scores at fixed
                      thresholds, drawing the genuine pairs' people with replacement
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


def tar_at_fmr(scores, same, fmrs=FMRS):
    """{'tar_at_fmr': {fmr: TAR}, 'impostors', 'genuine'} of one group, thresholds from its own impostors;
    a TAR is None where the group holds fewer than 1 / FMR impostors or no genuine pair."""
    genuine, impostors = scores[same], scores[~same]
    result = {"genuine": int(len(genuine)), "impostors": int(len(impostors)), "tar_at_fmr": {}}
    for fmr in fmrs:
        enough = len(genuine) and len(impostors) * fmr >= 1
        result["tar_at_fmr"][str(fmr)] = float(metrics.tar_at_far(genuine, impostors, [fmr])[0][0]) if enough else None
    return result


def rates(accept, same):
    """{'impostors', 'false_matches', 'fmr', 'genuine', 'false_non_matches', 'fnmr'} of fixed decisions."""
    impostors, genuine = int((~same).sum()), int(same.sum())
    false_matches, false_non_matches = int((accept & ~same).sum()), int((~accept & same).sum())
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

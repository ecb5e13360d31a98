"""All pairs of a fold and the statistics of a shipped decision: the pairs are every one once, rates count
what they should, the EDC is dasec's (discarding ties together, stepwise pAUC), the bootstrap draws people."""
import numpy as np

from pfe_estimator.evaluation import all_pairs


def test_every_pair_once_or_every_ordered_pair_but_an_image_with_its_own_copy():
    a, b = all_pairs.pair_indices(5, ordered=False)
    assert len(a) == 10 and (a < b).all() and len(set(zip(a, b))) == 10
    a, b = all_pairs.pair_indices(5, ordered=True)
    assert len(a) == 20 and (a != b).all()


def test_rates_and_tar_at_fmr_count_their_pairs():
    same = np.array([True, True, False, False, False, False])
    accept = np.array([True, False, True, False, False, False])
    assert all_pairs.rates(accept[~same], accept[same]) == {"impostors": 4, "false_matches": 1, "fmr": 0.25,
                                                            "genuine": 2, "false_non_matches": 1, "fnmr": 0.5}
    scores = np.concatenate([np.linspace(1, 2, 10), np.linspace(0, 1.5, 2000)])
    labels = np.arange(2010) < 10
    result = all_pairs.tar_at_fmr(scores, labels, (1e-3, 1e-4))
    assert result["impostors"] == 2000 and result["tar_at_fmr"]["0.0001"] is None  # 2000 impostors < 1 / 1e-4
    assert 0 < result["tar_at_fmr"]["0.001"] < 1


def test_the_edc_discards_the_worst_pairs_first_and_ties_together():
    scores = np.array([0.1, 0.2, 0.9, 0.8, 0.1, 0.7])  # genuine scores; threshold 0.5: three errors
    quality = np.array([1.0, 1.0, 3.0, 4.0, 2.0, 5.0])
    discard, fnmr = all_pairs.edc(scores, quality, 0.5)
    np.testing.assert_allclose(discard, [0, 2 / 6., 3 / 6., 4 / 6., 5 / 6.])  # the two pairs of quality 1 at once
    np.testing.assert_allclose(fnmr, [3 / 6., 1 / 4., 0, 0, 0])
    assert all_pairs.pauc(discard, fnmr, 0.2) == 0.5 * 0.2
    np.testing.assert_allclose(all_pairs.pauc(discard, fnmr, 0.4), 0.5 * 2 / 6. + 0.25 * (0.4 - 2 / 6.))
    report = all_pairs.edc_report(scores, quality, 0.5)
    assert report["halving_discard"] == 2 / 6. and report["pauc_normalised"]["0.2"] == 1.0
    random = all_pairs.edc_report(scores, np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0.0]), 0.5)  # the best pairs first
    assert random["pauc_normalised"]["0.3"] > report["pauc_normalised"]["0.3"]


def test_the_bootstrap_draws_people_with_all_their_pairs():
    subjects = np.array([0, 0, 0, 1, 2, 2])
    accept_a = np.array([True, True, True, True, False, False])
    accept_b = np.array([False, False, False, True, False, False])
    weights = all_pairs.subject_weights(subjects, replicates=200, seed=0)
    part = all_pairs.bootstrap_difference(accept_a, accept_b, subjects, weights)
    assert part["difference"] == 0.5 and part["replicates"] == 200
    assert part["interval"][0] >= 0.0 and part["interval"][1] <= 1.0  # person 0's three pairs move together
    draws = weights[1]
    assert draws.shape == (200, 3) and (draws.sum(axis=1) == 3).all()

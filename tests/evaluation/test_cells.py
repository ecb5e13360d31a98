"""Per-cell ranking figures with subject-bootstrap intervals, and the normalised-cosine baseline."""
import numpy as np

from pfe_estimator.evaluation import cells
from pfe_estimator.evaluation import metrics
from tests.evaluation.test_held_out import leaking_folds, random_protocol


def two_cells(seed=0, pairs=400):
    """Cell 'a': MLS separates better than cosine; cell 'b': both the same scores. 40 subjects."""
    rng = np.random.RandomState(seed)
    same = np.tile([True, False], pairs)
    cell = np.repeat(["a", "b"], pairs)
    cosine = rng.normal(0, 1, 2 * pairs) + 1.0 * same
    mls = cosine.copy()
    mls[cell == "a"] = rng.normal(0, 1, pairs) + 3.0 * same[cell == "a"]
    subjects = rng.randint(40, size=2 * pairs)
    return {"cosine": cosine, "mls": mls}, same, cell, subjects


def test_ranking_figures_are_the_metrics_inside_the_group():
    scores, same, _, _ = two_cells()
    figures = cells.ranking(scores["mls"], same)
    assert figures["auc"] == metrics.roc_auc(scores["mls"], same)
    assert figures["tar_at_far_0.01"] == metrics.tar_at_far(scores["mls"][same], scores["mls"][~same], [1e-2])[0][0]
    assert cells.ranking(scores["mls"][same], same[same]) is None  # genuine pairs only: no AUC


def test_a_subject_brings_all_its_pairs_to_a_bootstrap_draw():
    subjects = np.array([3, 3, 5, 7, 7, 7, 9])
    weights = cells.subject_bootstrap(subjects, 200, seed=1)
    for subject in set(subjects.tolist()):
        chosen = weights[:, subjects == subject]
        assert (chosen == chosen[:, :1]).all()  # the same multiplicity for every pair of a subject
    assert abs(weights[:, [0, 2, 3, 6]].mean() - 1.0) < 0.15  # each subject drawn once on average
    assert (weights == 0).any() and (weights >= 2).any()


def test_a_better_score_has_an_interval_above_zero_and_equal_scores_a_zero_difference():
    scores, same, cell, subjects = two_cells()
    report = cells.cell_report(scores, same, cell, subjects, replicates=200)
    better = report["cells"]["a"]["difference"]["mls"]["auc"]
    assert better["difference"] > 0 and better["interval"][0] > 0
    equal = report["cells"]["b"]["difference"]["mls"]["auc"]
    assert equal["difference"] == 0 and equal["interval"] == [0.0, 0.0]
    assert report["pooled"]["pairs"] == len(same) and cells.significantly_below(report, "mls") == []
    worse = cells.cell_report({"cosine": scores["mls"], "mls": scores["cosine"]}, same, cell, subjects, replicates=200)
    assert cells.significantly_below(worse, "mls") == ["a"]


def test_the_normalised_baseline_of_a_fold_ignores_that_fold():
    scores, same, fold = random_protocol(3)
    uncertainty = np.random.RandomState(4).uniform(0.5, 2.0, len(scores))

    def normalised(scores_, same_, fold_, k):
        return cells.normalised_cosine(scores_, uncertainty, same_, fold_)[fold_ == k]
    assert leaking_folds(normalised, scores, same, fold, change_scores=False) == []


def test_the_normalised_baseline_recentres_cosine_by_quality():
    """Two quality levels whose cosine scores sit at different offsets: pooled cosine ranks them badly,
    the normalised baseline (knowing only the pair uncertainty) ranks them as well as each level alone."""
    rng = np.random.RandomState(5)
    same = np.tile([True, False], 1000)
    low_quality = np.repeat([False, True], 1000)
    cosine = rng.normal(0, 0.1, 2000) + 0.3 * same - 0.4 * low_quality
    uncertainty = np.where(low_quality, 4.0, 1.0) * rng.uniform(0.9, 1.1, 2000)
    fold = np.tile(np.repeat(np.arange(10), 10), 20)
    normalised = cells.normalised_cosine(cosine, uncertainty, same, fold)
    assert metrics.roc_auc(normalised, same) > metrics.roc_auc(cosine, same) + 0.05

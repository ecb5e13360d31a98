"""No protocol sees its held-out fold: whatever a protocol fits for fold k (an LFW threshold, a calibration,
a normalisation) must not change when fold k's own labels and scores change.

The check is generic (`leaking_folds`), so every protocol that fits on nine folds gets the same test; it is
shown to catch the leak the suite once missed: the LFW threshold chosen on all ten folds.
"""
import numpy as np

from pfe_estimator.evaluation import reliability
from pfe_estimator.evaluation import metrics
from pfe_estimator.model import calibration


def random_protocol(seed, folds=10, pairs_per_fold=60):
    """Scores where genuine pairs score higher on average, 10 folds; float64 [P], bool [P], int [P]."""
    rng = np.random.RandomState(seed)
    same = np.tile(np.arange(pairs_per_fold) < pairs_per_fold // 2, folds)
    scores = rng.normal(0.0, 1.0, len(same)) + 1.5 * same
    return scores, same, np.repeat(np.arange(folds), pairs_per_fold)


def leaking_folds(fit_for_fold, scores, same, fold, change_scores=True, seed=0):
    """Folds whose fitted output changes when only that fold's own pairs change: its labels flipped and,
    with change_scores, its scores redrawn (for outputs that are a function of the fold's scores, such as
    its probabilities, only the labels change).

    fit_for_fold(scores, same, fold, k) -> array: what the protocol gives fold k.
    """
    rng = np.random.RandomState(seed)
    leaks = []
    for k in np.unique(fold):
        test = fold == k
        changed_scores, changed_same = scores.copy(), same.copy()
        changed_same[test] = ~same[test]
        if change_scores:
            changed_scores[test] = rng.normal(3.0, 2.0, test.sum())
        if not np.allclose(fit_for_fold(scores, same, fold, k), fit_for_fold(changed_scores, changed_same, fold, k)):
            leaks.append(int(k))
    return leaks


def kfold_threshold(scores, same, fold, k):
    return metrics.kfold_accuracy(scores, same, fold)["thresholds"][k]


def all_folds_threshold(scores, same, fold, k):
    """The leak: the threshold that maximises accuracy on all ten folds, the held-out one included."""
    del fold, k
    return metrics.best_threshold(scores, same)[0]


def test_the_lfw_threshold_of_a_fold_ignores_that_fold():
    scores, same, fold = random_protocol(0)
    assert leaking_folds(kfold_threshold, scores, same, fold) == []


def test_the_check_catches_a_threshold_chosen_on_all_ten_folds():
    scores, same, fold = random_protocol(0)
    assert leaking_folds(all_folds_threshold, scores, same, fold) != []  # some fold's change moves it
    leaky = np.mean([np.mean((scores[fold == k] >= all_folds_threshold(scores, same, fold, k)) == same[fold == k])
                     for k in range(10)])
    assert leaky >= metrics.kfold_accuracy(scores, same, fold)["mean"]  # what the leak would report: no lower


def test_cross_fitted_calibration_of_a_fold_ignores_that_fold():
    scores, same, fold = random_protocol(1)
    uncertainty = np.random.RandomState(2).uniform(0, 1, len(scores))

    def probabilities(scores_, same_, fold_, k):
        inputs = np.stack([scores_, uncertainty], axis=1)
        return reliability.cross_fitted_probabilities(inputs, same_, fold_)[fold_ == k]
    assert leaking_folds(probabilities, scores, same, fold, change_scores=False) == []

    def leaky_probabilities(scores_, same_, fold_, k):
        inputs = np.stack([scores_, uncertainty], axis=1)
        return reliability.logistic_probability(calibration.fit_logistic(inputs, same_), inputs[fold_ == k])
    assert leaking_folds(leaky_probabilities, scores, same, fold, change_scores=False) != []

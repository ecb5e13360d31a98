"""The calibration a model keeps: every score fitted on the same pairs, thresholds at each FAR that hold on
the pairs fitted, the impostors each rests on, a decision refused below 10 / FAR; and the shipped
calibration of the all-pairs protocol fitted without the test fold's pairs."""
import numpy as np
import pytest

from pfe_estimator import errors
from pfe_estimator.evaluation import calibration
from pfe_estimator.model import verification
from tests.evaluation.test_held_out import leaking_folds


def pairs(count, seed):
    """pair_values of `count` pairs where genuine pairs have higher cosine and worse faces wider spreads."""
    rng = np.random.RandomState(seed)
    same = rng.uniform(size=count) < 0.3
    worse = rng.uniform(-7.0, -4.0, count)
    cosine = np.where(same, 0.6, 0.0) + rng.normal(0, 0.15, count) * (1 + (worse + 7.0) / 2)
    return {"cosine": cosine, "mls": 40 * cosine - 20, "mean_sigma_a": np.exp(worse),
            "mean_sigma_b": np.exp(worse - rng.uniform(0, 1, count))}, same


def test_every_score_is_fitted_with_thresholds_that_hold_on_the_fitted_pairs():
    values, same = pairs(20000, 0)
    fitted = calibration.fit_model_calibration(values, same, [1e-2, 1e-3], "synthetic", "clean")
    assert fitted["default_score"] == "quality" and fitted["fars"] == [1e-3, 1e-2] and fitted["pairs"] == 20000
    assert set(fitted["scores"]) == set(verification.SCORES)
    for score, part in fitted["scores"].items():
        assert part["features"] == list(verification.SCORE_FEATURES[score]) and part["impostors"] == (~same).sum()
        for far in (1e-3, 1e-2):
            probability, threshold, accept, _ = calibration.accepts(fitted, score, values, far)
            assert threshold == part["threshold_at_far"][str(far)]
            allowed = round(far * (~same).sum()) / (~same).sum()  # the k-th highest impostor, k = round(FAR n)
            assert np.mean(accept[~same]) <= allowed and np.mean(probability[~same] >= threshold - 1e-6) > far / 2


def test_a_decision_resting_on_too_few_impostors_or_at_an_uncalibrated_far_is_refused():
    values, same = pairs(400, 1)
    fitted = calibration.fit_model_calibration(values, same, [1e-3, 1e-1], "synthetic", "clean")
    impostors = fitted["scores"]["quality"]["impostors"]
    assert calibration.impostors_needed(1e-3) == 10000 and calibration.impostors_needed(0.1) == 100
    calibration.decision(fitted, "quality", values, 0.1)
    with pytest.raises(errors.UserError, match=r"--far=0.001: the calibration's threshold rests on %d impostor "
                                               r"pairs, a FAR of 0.001 needs at least 10000" % impostors):
        calibration.decision(fitted, "quality", values, 1e-3)
    with pytest.raises(errors.UserError, match="--far=0.05: the calibration keeps thresholds at FAR 0.001, 0.1"):
        calibration.decision(fitted, "cosine", values, 0.05)


def test_a_model_folder_keeps_every_earlier_calibration(tmp_path):
    values, same = pairs(1000, 2)
    first = calibration.fit_model_calibration(values, same, [1e-2], "first", "clean")
    second = dict(first, source="second")
    assert calibration.save_model_calibration(str(tmp_path), first) == (str(tmp_path / "calibration.json"), None)
    path, kept = calibration.save_model_calibration(str(tmp_path), second)
    assert kept == str(tmp_path / "calibration.previous-1.json")
    assert calibration.read_model_calibration(str(tmp_path))["source"] == "second"
    calibration.save_model_calibration(str(tmp_path), first)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calibration.json", "calibration.previous-1.json",
                                                          "calibration.previous-2.json"]


def test_the_cross_fitted_quality_score_of_a_fold_ignores_that_fold():
    """The LFW report's quality-aware score: a fold's P(same) comes from a logistic fitted on the others."""
    def fit_for_fold(scores, same, fold, k):
        values = {"cosine": scores, "mls": scores, "mean_sigma_a": np.exp(-6 + 0.1 * np.sin(np.arange(len(scores)))),
                  "mean_sigma_b": np.exp(-6 + 0.1 * np.cos(np.arange(len(scores))))}
        inputs = np.stack(verification.features(values, verification.QUALITY_FEATURES), axis=1)
        return calibration.cross_fitted_probabilities(inputs, same, fold)[fold == k]
    rng = np.random.RandomState(0)
    same = np.tile(np.arange(60) < 30, 10)
    scores, fold = rng.normal(0, 1, 600) + 1.5 * same, np.repeat(np.arange(10), 60)
    assert leaking_folds(fit_for_fold, scores, same, fold, change_scores=False) == []

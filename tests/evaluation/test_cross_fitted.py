"""Calibrated verification: P(same | score) cross-fitted over folds, ECE, Brier, thresholds at a FAR (evaluation/
reliability.py); the logistic fit itself (model/calibration.py); a model folder's calibration used by verify."""
import numpy as np
import pytest


from pfe_estimator.evaluation import reliability
from pfe_estimator.model import calibration
from pfe_estimator.model import verification
from tests.evaluation.test_held_out import leaking_folds


def logistic_data(count=20000, seed=0):
    rng = np.random.RandomState(seed)
    scores = rng.normal(0, 2, count)
    truth = 1 / (1 + np.exp(-(1.5 * scores - 0.5)))
    same = rng.uniform(size=count) < truth
    return scores, same, truth, np.arange(count) % 10


def test_cross_fitted_logistic_recovers_the_true_probabilities():
    scores, same, truth, fold = logistic_data()
    report = reliability.calibration_report(scores, same, fold)
    assert np.abs(report["probabilities"] - truth).max() < 0.03
    assert report["ece"] < 0.02
    np.testing.assert_allclose(report["brier"], np.mean(truth * (1 - truth)), atol=0.005)


def test_probabilities_of_a_fold_come_only_from_the_other_folds():
    scores, same, _, fold = logistic_data(4000)
    before = reliability.cross_fitted_probabilities(scores[:, None], same, fold)
    flipped = same.copy()
    flipped[fold == 3] = ~flipped[fold == 3]  # fold 3's own labels change
    after = reliability.cross_fitted_probabilities(scores[:, None], flipped, fold)
    np.testing.assert_array_equal(before[fold == 3], after[fold == 3])
    assert np.abs(before[fold != 3] - after[fold != 3]).max() > 1e-3


def test_expected_calibration_error_by_hand():
    probabilities = np.array([0.05, 0.05, 0.95, 0.95])
    same = np.array([False, True, True, True])
    # bin 0: predicted 0.05, observed 0.5, half the pairs; bin 9: predicted 0.95, observed 1.0, half
    np.testing.assert_allclose(reliability.expected_calibration_error(probabilities, same), 0.5 * 0.45 + 0.5 * 0.05)
    np.testing.assert_allclose(reliability.brier_score(probabilities, same),
                               np.mean([0.05 ** 2, 0.95 ** 2, 0.05 ** 2, 0.05 ** 2]))


def test_thresholds_at_a_far_are_fitted_on_nine_folds_and_hold_on_the_tenth():
    rng = np.random.RandomState(1)
    count = 200000
    same = rng.uniform(size=count) < 0.5
    values = np.where(same, rng.normal(3, 1, count), rng.normal(0, 1, count))
    fold = np.arange(count) % 10
    thresholds, achieved = reliability.held_out_far(values, same, fold, (1e-3, 1e-2))
    np.testing.assert_allclose(achieved, [1e-3, 1e-2], rtol=0.25)
    np.testing.assert_allclose(thresholds, [3.09, 2.33], atol=0.06)  # the normal's upper quantiles


def test_a_second_input_is_used_when_it_carries_information():
    rng = np.random.RandomState(2)
    count = 20000
    scores, uncertainty = rng.normal(0, 1, count), np.exp(rng.normal(0, 1, count))
    truth = 1 / (1 + np.exp(-(2 * scores - 1.5 * np.log(uncertainty))))
    same = rng.uniform(size=count) < truth
    fold = np.arange(count) % 10
    alone = reliability.calibration_report(scores, same, fold)
    both = reliability.calibration_report(scores, same, fold, uncertainty)
    assert both["brier"] < alone["brier"] - 0.02
    assert "uncertainty" in both["method"]


def test_training_keeps_a_calibration_that_verify_uses(tmp_path):
    import json  # pylint: disable=import-outside-toplevel
    import os  # pylint: disable=import-outside-toplevel
    import re  # pylint: disable=import-outside-toplevel
    from pfe_estimator.inference import predict  # pylint: disable=import-outside-toplevel
    from tests.conftest import lfw_subset_records  # pylint: disable=import-outside-toplevel
    from tests.test_main import run_main  # pylint: disable=import-outside-toplevel
    records, pairs, people = lfw_subset_records(tmp_path)
    size = ["--backbone=sphere4", "--image_size=112,96"]
    model_dir = str(tmp_path / "model")
    trained = run_main("--mode=train", "--data_dir=" + records, "--model_dir=" + model_dir, "--max_steps=2",
                       "--calibration_pairs=" + pairs, "--lfw_dir=" + records, "--far=0.1", *size)
    assert trained.returncode == 0, trained.stdout[-3000:]
    stored = json.load(open(os.path.join(model_dir, "calibration.json")))
    assert stored["fars"] == [0.001, 0.01, 0.1] and stored["default_score"] == calibration.DEFAULT_SCORE
    # every pair of the file's images, and each image against every other's degraded copy
    assert stored["population"]["pairs"] > 100 and "every other image's copy" in stored["population"]["qualities"]
    assert stored["population"]["impostors"] >= 100 and stored["model"]["checkpoint"] == "model.ckpt-2"
    names, jpegs = predict.read_tfrecord_faces(records, {"%s_0001" % people[0], "%s_0002" % people[0]})
    images = []
    for name, jpeg in zip(names, jpegs):
        images.append(str(tmp_path / (name + ".jpg")))
        open(images[-1], "wb").write(jpeg)
    verified = run_main("--mode=verify", "--model_dir=" + model_dir, "--image_a=" + images[0],
                        "--image_b=" + images[1], "--far=0.1", *size)
    assert verified.returncode == 0, verified.stdout[-3000:]
    lines = verified.stdout.strip().splitlines()[-6:]
    assert lines[0].startswith("MLS ") and lines[1].startswith("mean sigma^2 ") and lines[2].startswith("mean sigma^2 ")
    probability = float(lines[3].split()[1])
    assert 0.0 <= probability <= 1.0 and lines[3].startswith("P(same)") and "likelihood ratio" in lines[3]
    cosine = float(lines[0].split()[3])
    assert lines[4].startswith("decision at FAR 0.1: ") and "resting on at least" in lines[4]
    said = re.search(r"cosine ([-0-9.]+) ([<>=]+) ([-0-9.]+)", lines[4])  # the default decides on cosine
    assert float(said.group(1)) == pytest.approx(cosine, abs=1e-4)
    faced = float(said.group(3))  # the threshold these two faces' quality gets
    assert ("same person" in lines[4]) == (cosine >= faced)
    assert lines[5].startswith("thresholds from every pair")
    refused = run_main("--mode=verify", "--model_dir=" + model_dir, "--image_a=" + images[0],
                       "--image_b=" + images[1], "--far=0.001", *size)  # too few impostors for that FAR
    assert refused.returncode == 1 and "needs at least 10000" in refused.stdout.strip().splitlines()[-1]
    os.remove(os.path.join(model_dir, "calibration.json"))
    uncalibrated = run_main("--mode=verify", "--model_dir=" + model_dir, "--image_a=" + images[0],
                            "--image_b=" + images[1], *size)
    assert "no calibration in %s" % model_dir in uncalibrated.stdout


def test_logistic_fit_is_the_penalised_optimum():
    """At the returned weights the gradient of the ridge-penalised log loss vanishes (in standardised
    inputs, ridge 1e-4 on the slopes only): a wrong sign, ridge or curvature would move it."""
    rng = np.random.RandomState(7)
    inputs = np.stack([rng.normal(3.0, 2.0, 400), rng.normal(-1.0, 0.5, 400)], axis=1)
    same = rng.rand(400) < 1.0 / (1.0 + np.exp(-(0.8 * inputs[:, 0] - 2.0 * inputs[:, 1] - 3.0)))
    model = calibration.fit_logistic(inputs, same)
    np.testing.assert_allclose(model["mean"], inputs.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(model["scale"], inputs.std(axis=0), rtol=1e-9)
    design = np.hstack([(inputs - inputs.mean(axis=0)) / inputs.std(axis=0), np.ones((400, 1))])
    weights = np.asarray(model["weights"])
    gradient = design.T @ (1.0 / (1.0 + np.exp(-design @ weights)) - same) + 1e-4 * np.append(weights[:2], 0.0)
    assert np.abs(gradient).max() < 1e-8
    np.testing.assert_allclose(reliability.logistic_probability(model, inputs[:3]),
                               1.0 / (1.0 + np.exp(-design[:3] @ weights)), rtol=1e-12)


def test_reliability_bins_are_equal_width_with_the_top_bin_closed():
    probabilities = np.array([0.0, 0.05, 0.15, 0.95, 1.0, 0.55])
    same = np.array([False, True, False, True, True, False])
    predicted, observed, counts = reliability.reliability_bins(probabilities, same, bins=10)
    assert counts.tolist() == [2, 1, 0, 0, 0, 1, 0, 0, 0, 2]
    np.testing.assert_allclose(predicted[[0, 1, 5, 9]], [0.025, 0.15, 0.55, 0.975])
    np.testing.assert_allclose(observed[[0, 1, 5, 9]], [0.5, 0.0, 0.0, 1.0])
    assert np.isnan(predicted[2]) and np.isnan(observed[8])
    # a bin of one pair counts: |0.15 - 0| / 6 + |0.55 - 0| / 6 + 2 * |0.025 - 0.5| / 6 + 2 * |0.975 - 1| / 6
    assert reliability.expected_calibration_error(probabilities, same, bins=10) == pytest.approx(
        (0.15 + 0.55 + 2 * 0.475 + 2 * 0.025) / 6)
    assert reliability.brier_score(probabilities, same) == pytest.approx(
        np.mean((probabilities - same.astype(float)) ** 2))


def test_calibration_report_keys_and_single_fold_refusal():
    rng = np.random.RandomState(3)
    same = np.tile([True, False], 100)
    scores = np.where(same, 1.0, -1.0) + rng.normal(0, 1.0, 200)
    fold = np.repeat(np.arange(4), 50)
    report = reliability.calibration_report(scores, same, fold, fars=(0.1,))
    assert sorted(report) == ["brier", "ece", "far_achieved", "method", "probabilities", "reliability",
                              "threshold_at_far"]
    assert report["method"] == "logistic regression on the score, cross-fitted over 4 folds"
    assert list(report["threshold_at_far"]) == ["0.1"] and list(report["far_achieved"]) == ["0.1"]
    assert sorted(report["reliability"]) == ["count", "observed", "predicted"]
    assert sum(report["reliability"]["count"]) == 200
    with_uncertainty = reliability.calibration_report(scores, same, fold, rng.uniform(0.5, 2, 200), fars=(0.1,))
    assert with_uncertainty["method"] == ("logistic regression on the score and log pair uncertainty, "
                                          "cross-fitted over 4 folds")
    assert reliability.calibration_report(scores, same, np.zeros(200, int)) is None  # one fold: nothing held out
    lopsided = same.copy()
    lopsided[fold != 0] = True  # fold 0's complement has no impostor pairs
    assert reliability.calibration_report(scores, lopsided, fold) is None


def test_report_holds_the_held_out_thresholds_and_refuses_only_one_sided_complements():
    rng = np.random.RandomState(5)
    same = np.tile([True, False], 150)
    scores = np.where(same, 1.0, -1.0) + rng.normal(0, 1.0, 300)
    fold = np.repeat(np.arange(3), 100)
    report = reliability.calibration_report(scores, same, fold, fars=(0.1, 0.2))
    thresholds, achieved = reliability.held_out_far(report["probabilities"], same, fold, (0.1, 0.2))
    assert report["threshold_at_far"] == {"0.1": thresholds[0], "0.2": thresholds[1]}
    assert report["far_achieved"] == {"0.1": achieved[0], "0.2": achieved[1]}
    one_sided_folds = same.copy()
    one_sided_folds[fold == 0] = True  # fold 0 all genuine, fold 1 all impostors: every complement has both
    one_sided_folds[fold == 1] = False
    one_sided = reliability.calibration_report(scores, one_sided_folds, fold)
    assert 0 <= one_sided["far_achieved"]["0.01"] <= 1  # fold 0 has no impostors: the FAR of folds 1 and 2


def test_held_out_far_counts_a_score_at_the_threshold_as_accepted():
    # each fold's 4 impostors include 0.9, the threshold at FAR 0.25 fitted on the other fold (its highest
    # impostor): the held-out impostor exactly on it is a false accept, 1 of 4
    values = np.array([0.1, 0.2, 0.8, 0.9, 0.8, 0.1, 0.2, 0.9, 0.8, 0.95])
    same = np.array([False] * 8 + [True, True])
    fold = np.array([0, 0, 0, 0, 1, 1, 1, 1, 0, 1])
    thresholds, achieved = reliability.held_out_far(values, same, fold, [0.25])
    np.testing.assert_allclose(thresholds, [0.9])
    np.testing.assert_allclose(achieved, [0.25])


def test_reliability_keeps_every_bin_when_the_top_ones_are_empty():
    predicted, observed, counts = reliability.reliability_bins(np.array([0.05, 0.15, 0.12]),
                                                               np.array([False, True, False]), bins=10)
    assert counts.tolist() == [1, 2] + [0] * 8 and len(predicted) == len(observed) == 10
    np.testing.assert_allclose(predicted[:2], [0.05, 0.135])
    np.testing.assert_allclose(observed[:2], [0.0, 0.5])
    # two bins: both in [0, 0.5), predicted 0.25 vs observed 0.5 (ten bins would give 0.5 * 0.1 + 0.5 * 0.6)
    assert reliability.expected_calibration_error(np.array([0.1, 0.4]), np.array([False, True]), bins=2) == (
        pytest.approx(0.25))


def test_the_quality_score_ranks_by_its_logit_where_nearly_separable_folds_saturate_p_same():
    """A logistic fitted on nearly separable pairs gives P(same) of exactly 1.0 or 0.0 to many pairs (and
    overflowed exp on the way), tying them for a threshold or a TAR at FMR; the logit ranks them in the same
    order without ties (the reports score the quality-aware score by it)."""
    rng = np.random.RandomState(0)
    same = np.arange(600) % 2 == 0
    inputs = np.where(same, rng.uniform(0.6, 0.9, 600), rng.uniform(-0.2, 0.55, 600))[:, None]
    fold = np.arange(600) % 10
    probabilities = reliability.cross_fitted_probabilities(inputs, same, fold)
    logits = reliability.cross_fitted_logits(inputs, same, fold)
    assert np.sum(probabilities[same] == 1.0) > 100  # saturated: tied
    assert len(np.unique(logits)) == 600 and np.all(logits[same].min() > logits[~same].max())
    np.testing.assert_allclose(probabilities, 0.5 * (1 + np.tanh(0.5 * logits)))
    assert np.all(np.diff(probabilities[np.argsort(logits)]) >= 0)  # the same order, without the ties


def test_the_cross_fitted_quality_score_of_a_fold_ignores_that_fold():
    """The LFW report's quality-aware score: a fold's P(same) comes from a logistic fitted on the others."""
    def fit_for_fold(scores, same, fold, k):
        values = {"cosine": scores, "mls": scores, "mean_sigma_a": np.exp(-6 + 0.1 * np.sin(np.arange(len(scores)))),
                  "mean_sigma_b": np.exp(-6 + 0.1 * np.cos(np.arange(len(scores))))}
        inputs = np.stack(verification.features(values, verification.QUALITY_FEATURES), axis=1)
        return reliability.cross_fitted_probabilities(inputs, same, fold)[fold == k]
    rng = np.random.RandomState(0)
    same = np.tile(np.arange(60) < 30, 10)
    scores, fold = rng.normal(0, 1, 600) + 1.5 * same, np.repeat(np.arange(10), 60)
    assert leaking_folds(fit_for_fold, scores, same, fold, change_scores=False) == []

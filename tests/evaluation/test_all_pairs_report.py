"""The all-pairs report's figures on synthetic pairs with known answers: a cell is judged at the shipped threshold
(never one refitted inside it), a FAR's figures are the decisions taken at that FAR, the targets count what they
say, intervals draw people, and a fold is never calibrated on itself."""
import numpy as np
import pytest

from pfe_estimator.evaluation import all_pairs
from pfe_estimator.evaluation import all_pairs_report as report
from pfe_estimator.experiments.protocols import all_pairs as all_pairs_protocol


def cells(*names):
    return report.cell_codes(list(names))


def synthetic_fold(fold, seed, size=40000, genuine=4000):
    """A fold's scored pairs: cosine separates genuine from impostor pairs, half the pairs are clean and half in
    blur-4; 'shipped' accepts 5 in 1000 blur-4 impostors at FAR 1e-3 (cosine 1 in 1000) and 1 in 100 at 1e-2."""
    rng = np.random.RandomState(seed)
    same = np.arange(size) < genuine
    cell = np.where(rng.uniform(size=size) < 0.5, cells("clean")[0], cells("blur-4")[0]).astype(np.int8)
    cosine = np.where(same, 0.6, 0.0) + rng.normal(0, 0.1, size)
    blurred = cell == cells("blur-4")[0]
    cosine_accept_3 = cosine >= np.sort(cosine[~same])[-int(0.001 * (~same).sum())]
    shipped_3 = cosine_accept_3 | (~same & blurred & (rng.uniform(size=size) < 0.004))
    shipped_2 = cosine >= np.sort(cosine[~same])[-int(0.01 * (~same).sum())]
    decisions = {"calibration": {
        "cosine": {"margin": cosine.astype(np.float32), "accept": {1e-3: cosine_accept_3, 1e-2: shipped_2}},
        "shipped": {"margin": (cosine + 0.05 * same).astype(np.float32), "accept": {1e-3: shipped_3, 1e-2: shipped_2}}}}
    measures = {name: rng.uniform(size=genuine) for name in ("sigma_sq_quality_aware", "embedding_norm", "sharpness",
                                                             "random", "sigma_sq_plain")}
    return {"same": same, "cell": cell, "subject": rng.randint(0, 300, size).astype(np.int32),
            "test_fold": np.full(size, fold, np.int8), "worse_sigma": rng.uniform(1e-3, 1e-2, size).astype(np.float32),
            "cosine": cosine.astype(np.float32), "decisions": decisions, "quality_measures": measures, "fold": fold,
            "calibration_fold": fold + 1, "calibrations": {}}


@pytest.fixture(scope="module")
def data():
    return report.gathered([synthetic_fold(0, 0), synthetic_fold(1, 1)])


def test_a_cell_is_judged_at_the_shipped_threshold_not_one_refitted_inside_it(data):
    cross = data["cell"] != cells("clean")[0]
    strata, folds = report.groups(data, cross, all_pairs.quintile_edges(data["worse_sigma"][cross]))
    weights = all_pairs.subject_weights(data["subject"], replicates=200)
    accept = data["decisions"]["calibration"]["shipped"]["accept"][1e-3]
    rates = report.decision_rates(accept, data, strata, folds, weights)
    blurred = rates["cell blur-4"]
    impostors = (data["cell"] == cells("blur-4")[0]) & ~data["same"]
    assert blurred["impostors"] == impostors.sum() and blurred["fmr"] == pytest.approx(np.mean(accept[impostors]))
    assert 4.0 <= blurred["fmr"] / 1e-3 <= 6.5  # refitted inside the cell it would be 1x nominal
    assert blurred["fmr_interval"][0] < blurred["fmr"] < blurred["fmr_interval"][1]
    assert set(rates["folds"]) == {"0", "1"}
    goal = report.targets(dict(rates, **{"cell blur-4": dict(blurred, impostors=report.MIN_GROUP_IMPOSTORS)}),
                          {"significantly_below": []}, 1e-3, {"blur-4": 0.9})
    assert goal["safe"]["where"] == "cell blur-4" and not goal["safe"]["met"]
    assert goal["safe"]["largest_over_nominal"] == pytest.approx(blurred["fmr"] / 1e-3)


def test_the_figures_of_a_far_are_the_decisions_taken_at_that_far(tmp_path):
    folds = [synthetic_fold(0, 0), synthetic_fold(1, 1)]
    lfw = [{"same": np.array([True, False] * 50), "fold": np.repeat(np.arange(10), 10),
            "cosine": np.linspace(1, 0, 100), "shipped": np.linspace(1, 0, 100)}]
    result = report.scheme_report("synthetic", folds, lfw, str(tmp_path))
    shipped = result["decisions"]["calibration"]["scores"]["shipped"]
    gathered = report.gathered([synthetic_fold(0, 0), synthetic_fold(1, 1)])  # scheme_report moved the folds' arrays
    impostors = (gathered["cell"] != cells("clean")[0]) & ~gathered["same"]
    for far in (1e-3, 1e-2):
        accept = gathered["decisions"]["calibration"]["shipped"]["accept"][far]
        pooled = shipped[str(far)]["rates"]["pooled_cross_quality"]
        assert pooled["false_matches"] == int(accept[impostors].sum()), far
    assert shipped["0.001"]["rates"]["pooled_cross_quality"]["fmr"] != shipped["0.01"]["rates"][
        "pooled_cross_quality"]["fmr"]
    assert (tmp_path / "synthetic_calibration_fmr_by_stratum.png").stat().st_size > 5000


def test_no_harm_counts_the_cells_where_a_decision_rejects_genuine_pairs_cosine_accepts(data):
    weights = all_pairs.subject_weights(data["subject"], replicates=200)
    cross = data["cell"] != cells("clean")[0]
    strata = report.groups(data, cross, all_pairs.quintile_edges(data["worse_sigma"][cross]))[0]
    strata["cell clean"] = strata["clean"]
    cosine = data["decisions"]["calibration"]["cosine"]["accept"][1e-3]
    stricter = cosine & ~((data["cell"] == cells("blur-4")[0]) & data["same"] & (np.arange(len(cosine)) % 5 == 0))
    harm = report.inside_cells(stricter, cosine, data, strata, weights)
    assert harm["significantly_below"] == ["blur-4"] and harm["cells"]["clean"]["difference"] == 0
    assert report.inside_cells(cosine, cosine, data, strata, weights)["significantly_below"] == []


def test_a_decision_is_wastefully_strict_only_where_cosine_still_recognises_faces():
    rates = {"cell clean": {"impostors": 10 ** 6, "fmr": 1e-3}, "cell blur-4": {"impostors": 10 ** 6, "fmr": 1e-6},
             "quintile q5": {"impostors": 10 ** 6, "fmr": 1e-6}}
    harm = {"significantly_below": []}
    assert report.targets(rates, harm, 1e-3, {"clean": 0.99, "blur-4": 0.3})["not_wasteful"]["met"]
    strict = report.targets(rates, harm, 1e-3, {"clean": 0.99, "blur-4": 0.6})["not_wasteful"]
    assert not strict["met"] and strict["where"] == "blur-4" and strict["smallest_over_nominal"] == pytest.approx(1e-3)


def test_the_gain_is_the_share_of_cosines_fnmr_a_score_closes(data):
    weights = all_pairs.subject_weights(data["subject"], replicates=200)
    cross = data["cell"] != cells("clean")[0]
    gain = report.fnmr_at_fmr(data, cross, weights, "calibration")
    assert gain["cosine"]["closed_of_cosine"] == 0 and gain["shipped"]["fnmr"] < gain["cosine"]["fnmr"]
    expected = (gain["cosine"]["fnmr"] - gain["shipped"]["fnmr"]) / gain["cosine"]["fnmr"]
    assert gain["shipped"]["closed_of_cosine"] == pytest.approx(expected)
    assert gain["shipped"]["closed_interval"][0] <= expected <= gain["shipped"]["closed_interval"][1]


def test_a_quality_measure_beats_a_baseline_only_when_its_interval_says_so():
    rng = np.random.RandomState(0)
    count = 6000
    quality = rng.uniform(size=count)
    cosine = np.concatenate([np.where(rng.uniform(size=count) < 0.3 * (1 - quality), -1.0, 1.0),
                             rng.normal(-0.5, 0.1, 20000)])
    same = np.arange(len(cosine)) < count
    data = {"same": same, "cosine": cosine, "subject": rng.randint(0, 200, len(cosine)),
            "quality_measures": {"sigma_sq_quality_aware": quality, "embedding_norm": rng.uniform(size=count),
                                 "sharpness": rng.uniform(size=count), "random": rng.uniform(size=count)}}
    weights = all_pairs.subject_weights(data["subject"][same], replicates=200)
    edc = report.edc_section(data, weights)
    assert all(edc["met"].values())
    low, high = edc["sigma_sq_minus_baseline"]["random"]["0.2"]
    assert low < high < 0
    ours = edc["measures"]["sigma_sq_quality_aware"]
    assert ours["pauc_normalised_interval"]["0.2"][0] <= ours["pauc_normalised"]["0.2"] <= \
        ours["pauc_normalised_interval"]["0.2"][1]
    data["quality_measures"]["sigma_sq_quality_aware"] = data["quality_measures"]["random"] + 0.0
    assert not any(report.edc_section(data, weights)["met"].values())  # the same measure does not beat itself


def test_a_bootstrap_rate_draws_people_with_all_their_pairs():
    errors = np.array([True, True, True, False, False, False])
    subjects = np.array([0, 0, 0, 1, 2, 2])
    part = all_pairs.bootstrap_rate(errors, subjects, all_pairs.subject_weights(subjects, replicates=500))
    assert part["rate"] == 0.5 and part["interval"][0] == 0.0 and part["interval"][1] == 1.0


def test_a_test_fold_is_never_calibrated_on_itself():
    assert [all_pairs_protocol.calibration_fold(k) for k in range(10)] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0]

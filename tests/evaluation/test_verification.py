"""Evaluation against hand-computed cases and direct transcriptions of the protocol."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from pfe_estimator.data import embedding_files

from pfe_estimator.evaluation import metrics

from pfe_estimator.data import pair_files
from pfe_estimator.evaluation import report
from tests import numpy_reference
from tests.conftest import ROOT, shared_path


def test_best_threshold_hand_case_with_ties():
    # genuine: 0.9 0.8 0.4; impostor: 0.7 0.3 0.2. Candidates 0.4 (acc 5/6), 0.8 (acc 5/6), 0.9 (4/6)
    scores = np.array([0.9, 0.8, 0.4, 0.7, 0.3, 0.2])
    labels = np.array([True, True, True, False, False, False])
    threshold, accuracy = metrics.best_threshold(scores, labels)
    assert accuracy == pytest.approx(5 / 6.0)
    assert threshold == pytest.approx((0.4 + 0.8) / 2)
    # every pair genuine: the lowest genuine score accepts all
    assert metrics.best_threshold(np.array([0.5, 0.1, 0.9]), np.array([True, True, True])) == (0.1, 1.0)


def _protocol_by_loops(scores, same, fold):
    """The LFW protocol, written as directly as it is stated."""
    accuracies = []
    for k in range(10):
        train = [i for i in range(len(scores)) if fold[i] != k]
        best, chosen = -1.0, []
        for i in train:
            if not same[i]:
                continue
            t = scores[i]
            accuracy = np.mean([(scores[j] >= t) == same[j] for j in train])
            if accuracy > best + 1e-12:
                best, chosen = accuracy, [t]
            elif abs(accuracy - best) <= 1e-12:
                chosen.append(t)
        t = np.mean(chosen)
        test = [i for i in range(len(scores)) if fold[i] == k]
        accuracies.append(np.mean([(scores[i] >= t) == same[i] for i in test]))
    return np.mean(accuracies), np.std(accuracies)


def test_kfold_protocol_matches_a_direct_transcription():
    rng = np.random.RandomState(0)
    same = np.tile(np.repeat([True, False], 20), 10)
    fold = np.repeat(np.arange(10), 40)
    scores = np.round(rng.normal(same * 1.0, 1.0), 1)  # rounding makes ties
    result = metrics.kfold_accuracy(scores, same, fold)
    mean, std = _protocol_by_loops(scores, same, fold)
    assert result["mean"] == pytest.approx(mean) and result["std"] == pytest.approx(std)


def test_tar_at_far_and_auc_hand_cases():
    genuine = np.array([0.95, 0.9, 0.6, 0.5])
    impostor = np.array([0.92, 0.7, 0.4, 0.3, 0.2, 0.1, 0.05, 0.04, 0.03, 0.02])
    tars, thresholds = metrics.tar_at_far(genuine, impostor, [0.0, 0.1, 0.2])
    assert thresholds[1] == 0.92 and thresholds[2] == 0.7
    np.testing.assert_allclose(tars, [0.25, 0.25, 0.5])
    # at FAR 0 a genuine score equal to the top impostor is rejected; at a threshold, equal is accepted
    tars, thresholds = metrics.tar_at_far(np.array([0.92, 0.7, 0.1]), impostor, [0.0, 0.2])
    assert thresholds[0] > 0.92 and tars.tolist() == [0.0, 2 / 3.0]
    scores = np.concatenate([genuine, impostor, [0.5]])
    labels = np.array([True] * 4 + [False] * 11)
    wins = sum((g > i) + 0.5 * (g == i) for g in scores[labels] for i in scores[~labels])
    assert metrics.roc_auc(scores, labels) == pytest.approx(wins / (4 * 11.0))


def test_mls_matrix_and_pairs_match_a_direct_loop_in_any_chunking():
    rng = np.random.RandomState(1)
    mu1, mu2 = rng.normal(size=(7, 5)), rng.normal(size=(4, 5))
    s1, s2 = rng.uniform(0.1, 1, size=(7, 5)), rng.uniform(0.1, 1, size=(4, 5))
    direct = np.array([[-numpy_reference.negative_mls(mu1[i], s1[i], mu2[j], s2[j]) for j in range(4)]
                       for i in range(7)])
    for max_bytes in (1, 500, 10 ** 9):
        np.testing.assert_allclose(metrics.mls_score_matrix(mu1, s1, mu2, s2, max_bytes), direct, rtol=1e-12)
    np.testing.assert_allclose(metrics.mls_pair_scores(mu1[:4], s1[:4], mu2, s2, max_bytes=1),
                               np.diag(direct[:4]), rtol=1e-12)


def test_fusion_formulas_hand_case():
    mu = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    sigma_sq = np.array([[1.0, 4.0], [3.0, 4.0], [0.5, 0.5]])
    ids, mu_hat, sigma_sq_hat, mean_mu = metrics.fuse_templates(mu, sigma_sq, ["a", "a", "b"], "paper")
    assert list(ids) == ["a", "b"]
    np.testing.assert_allclose(sigma_sq_hat[0], [1 / (1 + 1 / 3.0), 2.0])
    np.testing.assert_allclose(mu_hat[0], [0.75 * 1.0, 0.5 * 1.0])
    np.testing.assert_allclose(mean_mu[0], [0.5, 0.5])
    np.testing.assert_allclose(mu_hat[1], [0.6, 0.8])
    _, mu_released, sigma_sq_released, _ = metrics.fuse_templates(mu, sigma_sq, ["a", "a", "b"], "released")
    np.testing.assert_allclose(mu_released[0], np.array([0.75, 0.5]) / np.linalg.norm([0.75, 0.5]))
    np.testing.assert_allclose(sigma_sq_released[0], [1.0, 4.0])
    default = metrics.fuse_templates(mu, sigma_sq, ["a", "a", "b"])  # the paper's fusion by default
    np.testing.assert_array_equal(default[1], mu_hat)
    with pytest.raises(ValueError) as error:
        metrics.fuse_templates(mu, sigma_sq, ["a", "a", "b"], "mean")
    assert str(error.value) == "fusion method 'mean': expected paper or released"


def test_pairs_file_lines_and_errors(tmp_path):
    """Genuine and impostor lines parse into names and folds; each malformed file is one error naming the
    file, the line and what was expected."""
    path = tmp_path / "pairs.txt"
    path.write_text(u"2\t1\nAnn\t1\t2\nBob\t1\tCid\t3\n\nDee\t2\t4\nEve\t5\tFay\t6\n")
    pairs = pair_files.read_lfw_pairs(str(path))
    assert list(pairs.first) == ["Ann_0001", "Bob_0001", "Dee_0002", "Eve_0005"]
    assert list(pairs.second) == ["Ann_0002", "Cid_0003", "Dee_0004", "Fay_0006"]
    assert list(pairs.same) == [True, False, True, False] and list(pairs.fold) == [0, 0, 1, 1]
    cases = [
        (u"10\n", "%s: 0 pairs, the header promises 20" % path),  # one count: View 1's one fold of 10 + 10
        (u"a b\n", "%s:1: expected a header `folds pairs_per_class` of two positive integers (or one count), "
                   "got 'a b'" % path),
        (u"1 1\nAnn 1 2\n\nAnn 1 x 2 3\n",
         "%s:4: expected `name n1 n2` or `name1 n1 name2 n2` with integer image numbers, got 'Ann 1 x 2 3'" % path),
        (u"1 1\nAnn 1 two\n", "%s:2: expected `name n1 n2` or `name1 n1 name2 n2` with integer image numbers, "
                               "got 'Ann 1 two'" % path),
        (u"2 1\nAnn 1 2\nBob 1 Cid 3\n", "%s: 2 pairs, the header promises 4" % path),
        (u"1 2\nAnn 1 2\nBob 1 Cid 3\n", "%s: 2 pairs, the header promises 4" % path),
    ]
    for text, message in cases:
        path.write_text(text)
        with pytest.raises(ValueError) as error:
            pair_files.read_lfw_pairs(str(path))
        assert str(error.value) == message


def test_report_pieces_by_hand():
    scores = np.array([0.9, 0.5, 0.5, 0.2, 0.8, 0.1])
    same = np.array([True, True, False, False, True, False])
    fold = np.array([0, 0, 0, 1, 1, 1])
    protocol = metrics.kfold_accuracy(scores, same, fold)
    assert protocol["pair_threshold"].tolist() == [protocol["thresholds"][0]] * 3 + [protocol["thresholds"][1]] * 3
    report = metrics.verification_report(scores, same, protocol, fars=(0.5,))
    assert sorted(report) == ["accuracy_mean", "accuracy_std", "auc", "fold_accuracies", "tar_at_far"]
    assert report["fold_accuracies"] == protocol["accuracies"].tolist()
    assert report["tar_at_far"] == {"0.5": 1.0}  # impostors 0.5, 0.2, 0.1: threshold 0.2 at FAR 1/3 <= 0.5
    np.testing.assert_allclose(metrics.pair_uncertainty(np.array([[1.0, 3.0], [4.0, 6.0]]),
                                                       np.array([[0.5, 0.5], [1.0, 5.0]])), [2.5, 8.0])
    # a score equal to its threshold is accepted; rejecting every pair still keeps the most certain one
    accuracy = metrics.risk_controlled_accuracy(np.array([0.5, 0.6]), np.array([True, False]), np.array([0.5, 0.5]),
                                                np.array([0.1, 0.2]), [0.0, 1.0])
    assert accuracy.tolist() == [0.5, 1.0]


def test_missing_names_are_listed_up_to_twenty():
    pairs = pair_files.LfwPairs(np.array(["n%02d" % i for i in range(21)]), np.array(["n%02d" % i for i in range(21)]),
                               np.ones(21, bool), np.zeros(21, int))
    with pytest.raises(ValueError) as error:
        pair_files.pair_indices([], pairs)
    assert str(error.value) == "21 image(s) named by the pairs are missing: %s ..." % ", ".join(
        "n%02d" % i for i in range(20))
    with pytest.raises(ValueError) as error:
        pair_files.pair_indices(["n20"], pairs)
    assert str(error.value).endswith("n19")


def test_cosine_of_unnormalised_rows():
    mu1 = np.array([[3.0, 4.0], [1.0, 0.0]], np.float32)
    mu2 = np.array([[6.0, 8.0], [2.0, 2.0]], np.float32)
    np.testing.assert_allclose(metrics.cosine_pair_scores(mu1, mu2), [1.0, 2 ** -0.5], rtol=1e-12)


def test_average_ranks_give_ties_their_mean_rank():
    np.testing.assert_array_equal(metrics.average_ranks(np.array([0.5, 0.1, 0.5, 0.9, 0.1, 0.5])),
                                  [4.0, 1.5, 4.0, 6.0, 1.5, 4.0])
    np.testing.assert_array_equal(metrics.average_ranks(np.array([2.0, 1.0, 3.0])), [2.0, 1.0, 3.0])


@pytest.mark.parametrize("column,value,what", [
    (0, np.nan, "non-finite mu"), (1, np.inf, "non-finite sigma^2"), (1, 0.0, "sigma^2 <= 0"),
    (1, -1.0, "sigma^2 <= 0")])
def test_check_features_names_the_problem_its_count_and_the_first_face(column, value, what):
    arrays = [np.full((4, 3), 3 ** -0.5, np.float32), np.ones((4, 3), np.float32)]  # unit-length mu
    embedding_files.check(["a", "b", "c", "d"], arrays[0], arrays[1], "f.npz")  # clean: no error
    arrays[column][1, 2] = value
    arrays[column][3, 0] = value
    with pytest.raises(ValueError) as error:
        embedding_files.check(["a", "b", "c", "d"], arrays[0], arrays[1], "f.npz")
    assert str(error.value) == ("f.npz: 2 face(s) with %s (first: b); these features cannot be scored, "
                                "recompute them" % what)


def test_risk_control_rejects_the_most_uncertain_pairs():
    scores = np.array([0.9, 0.1, 0.2, 0.8])
    same = np.array([True, True, False, False])
    thresholds = np.full(4, 0.5)
    uncertainty = np.array([0.1, 0.9, 0.2, 0.8])  # the two wrong pairs are the most uncertain
    accuracy = metrics.risk_controlled_accuracy(scores, same, thresholds, uncertainty, [0.0, 0.5])
    np.testing.assert_allclose(accuracy, [0.5, 1.0])


def test_real_pairs_file_and_missing_names():
    pairs = pair_files.read_lfw_pairs(shared_path("data", "lfw", "pairs.txt"))
    assert len(pairs.same) == 6000 and pairs.same.sum() == 3000
    assert np.all(np.bincount(pairs.fold) == 600) and pairs.same[:300].all() and not pairs.same[300:600].any()
    assert pairs.first[0] == "Abel_Pacheco_0001" and pairs.second[0] == "Abel_Pacheco_0004"
    names = sorted(set(pairs.first) | set(pairs.second))
    with pytest.raises(ValueError) as error:
        pair_files.pair_indices([n for n in names if not n.startswith("Abel_Pacheco")], pairs)
    assert str(error.value) == ("3 image(s) named by the pairs are missing: "
                                "Abel_Pacheco_0001, Abel_Pacheco_0002, Abel_Pacheco_0004")
    first, second = pair_files.pair_indices(names, pairs)
    assert [names[i] for i in first[:2]] == list(pairs.first[:2]) and names[second[0]] == pairs.second[0]


def _features_for(names, dims=16, seed=0):
    """Per-person centres plus noise whose size is what sigma^2 reports: MLS can use it."""
    rng = np.random.RandomState(seed)
    centres, mu, sigma_sq = {}, [], []
    for name in names:
        person = name.rsplit("_", 1)[0]
        centres.setdefault(person, rng.normal(size=dims))
        noise = rng.choice([0.3, 3.0])
        vector = centres[person] + rng.normal(size=dims) * noise
        mu.append(vector / np.linalg.norm(vector))
        sigma_sq.append(np.full(dims, 0.02 * noise ** 2))
    return np.array(mu, np.float32), np.array(sigma_sq, np.float32)


def test_eval_cli_writes_report_and_plots_from_features(tmp_path):
    pairs_path = shared_path("data", "lfw", "pairs.txt")
    pairs = pair_files.read_lfw_pairs(pairs_path)
    names = sorted(set(pairs.first) | set(pairs.second))
    mu, sigma_sq = _features_for(names)
    features = str(tmp_path / "embeddings.npz")
    np.savez(features, names=np.array(names), mu=mu, sigma_sq=sigma_sq)
    templates = tmp_path / "templates.csv"
    template_pairs = tmp_path / "template_pairs.csv"
    people = sorted({n.rsplit("_", 1)[0] for n in names})[:200]
    by_person = {p: [n for n in names if n.rsplit("_", 1)[0] == p] for p in people}
    rows, pair_rows = ["template_id,path"], ["template_a,template_b,label"]
    for index, person in enumerate(people):
        for name in by_person[person]:
            rows.append("t%d,%s/%s.jpg" % (index, person, name))
        if index:
            pair_rows.append("t%d,t%d,0" % (index - 1, index))
        pair_rows.append("t%d,t%d,1" % (index, index))
    templates.write_text("\n".join(rows) + "\n")
    template_pairs.write_text("\n".join(pair_rows) + "\n")
    report_dir = str(tmp_path / "report")
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "main.py"), "--mode=eval", "--embeddings=" + features,
         "--lfw_pairs=" + pairs_path, "--report_dir=" + report_dir, "--templates_csv=" + str(templates),
         "--template_pairs_csv=" + str(template_pairs)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "LFW 6000 pairs, 10 folds" in result.stdout
    content = json.load(open(os.path.join(report_dir, "report.json")))
    for score in ("cosine", "mls"):
        part = content["lfw"][score]
        assert set(part["tar_at_far"]) == {"0.001", "0.01"} and 0.5 < part["accuracy_mean"] <= 1.0
        assert 0 <= part["accuracy_std"] < 0.1 and 0.5 < part["auc"] <= 1.0
    # the noise that sigma^2 reports is what MLS down-weights: it must beat cosine here
    assert content["lfw"]["mls"]["accuracy_mean"] > content["lfw"]["cosine"]["accuracy_mean"]
    risk = content["lfw"]["risk_controlled_accuracy"]
    assert risk["mls"][-1] > risk["mls"][0]
    assert set(content["templates"]) >= {"cosine", "fused_cosine", "mls", "risk_controlled"}
    calibration = content["lfw"]["calibration"]
    assert set(calibration) >= {"method", "ece", "brier", "threshold_at_far", "far_achieved"}
    assert 0 <= calibration["ece"] < 0.1 and 0 < calibration["brier"] < 0.25
    assert set(calibration["far_achieved"]) == {"0.001", "0.01"} and calibration["far_achieved"]["0.01"] < 0.03
    for name in ("lfw_roc.png", "lfw_sigma_sq_histogram.png", "lfw_risk_controlled.png", "templates_roc.png",
                 "lfw_reliability.png"):
        assert os.path.getsize(os.path.join(report_dir, name)) > 1000


def test_report_summary_is_one_screen():
    pairs = pair_files.LfwPairs(np.array(["a_0001", "a_0001"] * 10), np.array(["a_0002", "b_0001"] * 10),
                                np.array([True, False] * 10), np.repeat(np.arange(10), 2))
    names = ["a_0001", "a_0002", "b_0001"]
    mu, sigma_sq = _features_for(names, seed=3)
    text = report.summary({"lfw": report.lfw_report(names, mu, sigma_sq, pairs)})
    assert len(text.splitlines()) < 25 and "mls" in text


def test_blocked_template_fusion_matches_a_loop_over_templates():
    rng = np.random.RandomState(2)
    ids = rng.permutation(np.repeat(np.arange(700), rng.randint(1, 5, size=700)))  # several blocks, shuffled
    mu = rng.normal(size=(len(ids), 512)).astype(np.float32)
    sigma_sq = rng.uniform(0.05, 1, size=mu.shape).astype(np.float32)
    for method in ("paper", "released"):
        fused_ids, mu_hat, sigma_sq_hat, mean_mu = metrics.fuse_templates(mu, sigma_sq, ids, method)
        assert list(fused_ids) == list(range(700))
        for template in (0, 351, 699):
            rows = ids == template
            precision = np.sum(1.0 / sigma_sq[rows].astype(np.float64), axis=0)
            expected_mu = np.sum(mu[rows] / sigma_sq[rows].astype(np.float64), axis=0) / precision
            if method == "released":
                expected_mu /= np.linalg.norm(expected_mu)
                np.testing.assert_allclose(sigma_sq_hat[template], sigma_sq[rows].min(axis=0), rtol=1e-6)
            else:
                np.testing.assert_allclose(sigma_sq_hat[template], 1.0 / precision, rtol=1e-5)
            np.testing.assert_allclose(mu_hat[template], expected_mu, rtol=1e-4, atol=1e-6)
            np.testing.assert_allclose(mean_mu[template], mu[rows].mean(axis=0), rtol=1e-5, atol=1e-6)


def test_threaded_mls_matrix_equals_one_thread():
    rng = np.random.RandomState(4)
    mu1, mu2 = rng.normal(size=(37, 16)), rng.normal(size=(11, 16))
    s1, s2 = rng.uniform(0.1, 1, size=mu1.shape), rng.uniform(0.1, 1, size=mu2.shape)
    one = metrics.mls_score_matrix(mu1, s1, mu2, s2, max_bytes=1, threads=1)
    np.testing.assert_array_equal(metrics.mls_score_matrix(mu1, s1, mu2, s2, max_bytes=1, threads=4), one)


def test_roc_curve_steps_once_per_distinct_score():
    scores = np.array([0.9, 0.7, 0.7, 0.4, 0.2])
    labels = np.array([True, True, False, False, True])
    far, tar = metrics.roc_curve(scores, labels)
    np.testing.assert_allclose(far, [0, 0, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(tar, [0, 1 / 3.0, 2 / 3.0, 2 / 3.0, 1.0])
    far, tar = metrics.roc_curve(np.array([0.3, 0.1]), np.array([True, False]))  # one of each
    np.testing.assert_allclose(far, [0, 0, 1.0])
    np.testing.assert_allclose(tar, [0, 1.0, 1.0])
    far, tar = metrics.roc_curve(np.array([0.3, 0.1]), np.array([True, True]))  # no impostors: FAR stays 0
    np.testing.assert_allclose(far, [0, 0, 0])
    np.testing.assert_allclose(tar, [0, 0.5, 1.0])


def test_risk_controlled_tar_keeps_the_most_certain_pairs():
    scores = np.array([0.9, 0.1, 0.8, 0.85, 0.2, 0.7])
    same = np.array([True, False, True, False, False, True])
    uncertainty = np.array([0.1, 0.2, 0.3, 0.9, 0.4, 0.5])  # pair 3 (an impostor scoring 0.85) is the least certain
    tars = metrics.risk_controlled_tar(scores, same, uncertainty, [0.0, 1 / 6.0, 0.99], far=0.0)
    # all: impostors 0.85, 0.2, 0.1 -> threshold above 0.85 accepts 0.9 only (1/3); without pair 3: above 0.2, 3/3;
    # rejecting 99 % keeps the 2 most certain pairs (one of each kind)
    np.testing.assert_allclose(tars, [1 / 3.0, 1.0, 1.0])
    # at least two pairs are kept, the two most certain: a genuine 0.9 and an impostor 0.1, not the impostor 0.95
    np.testing.assert_allclose(metrics.risk_controlled_tar(np.array([0.9, 0.1, 0.95]), np.array([True, False, False]),
                                                           np.array([0.1, 0.2, 0.3]), [0.99], far=0.0), [1.0])
    assert np.isnan(metrics.risk_controlled_tar(scores, np.ones(6, bool), uncertainty, [0.0, 0.5], 0.1)).tolist() == [
        True, True]


def test_spearman_correlation_by_ranks_with_ties():
    assert metrics.spearman_correlation([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert metrics.spearman_correlation([1, 2, 3, 4], [9, 1, 0, -5]) == pytest.approx(-1.0)
    # ranks (1, 2.5, 2.5, 4) against (1, 2, 4, 3)
    assert metrics.spearman_correlation([0, 5, 5, 7], [1, 2, 9, 3]) == pytest.approx(
        np.corrcoef([1, 2.5, 2.5, 4], [1, 2, 4, 3])[0, 1])


def test_csv_rows_skip_a_header_and_name_a_bad_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(u"template_id,path\n1, a/x.jpg\n\n2,b/y.jpg\n")
    assert pair_files.read_csv_rows(str(path), 2) == [["1", "a/x.jpg"], ["2", "b/y.jpg"]]
    path.write_text(u"1,a.jpg\n")
    assert pair_files.read_csv_rows(str(path), 2) == [["1", "a.jpg"]]
    for header in ("Template", "TID"):
        path.write_text(u"%s,path\n1,a.jpg\n" % header)
        assert pair_files.read_csv_rows(str(path), 2) == [["1", "a.jpg"]]
    path.write_text(u"template_a,template_b,label\n1,2,-1\n")
    assert pair_files.read_csv_rows(str(path), 3) == [["1", "2", "-1"]]
    path.write_text(u"1,2,-1\n3,4,1\n")
    assert pair_files.read_csv_rows(str(path), 3) == [["1", "2", "-1"], ["3", "4", "1"]]
    path.write_text(u"1,2,1\n3,4\n")
    with pytest.raises(ValueError) as error:
        pair_files.read_csv_rows(str(path), 3)
    assert str(error.value) == "%s:2: expected 3 comma-separated fields, got 2" % path
    assert embedding_files.image_name("lfw/Aaron_Peirsol/Aaron_Peirsol_0001.jpg") == "Aaron_Peirsol_0001"


def test_mls_sums_in_float64_and_computes_float16_features_in_float32():
    # float32 terms 1e8, 4, 4: summed in float32 the 4s vanish below 1e8's spacing of 8
    mu1 = np.array([[1e4, 2.0, 2.0]], np.float32)
    half = np.full((1, 3), 0.5, np.float32)  # sigma^2 sums to 1: log terms 0
    zero = np.zeros((1, 3), np.float32)
    assert metrics.mls_pair_scores(mu1, half, zero, half)[0] == -100000008.0
    assert metrics.mls_score_matrix(mu1, half, zero, half)[0, 0] == -100000008.0
    rng = np.random.RandomState(6)
    mu16, sigma16 = rng.normal(size=(4, 64)).astype(np.float16), rng.uniform(0.2, 1, (4, 64)).astype(np.float16)
    in_float32 = metrics.mls_pair_scores(mu16.astype(np.float32), sigma16.astype(np.float32), mu16[::-1].astype(
        np.float32), sigma16[::-1].astype(np.float32))
    np.testing.assert_allclose(metrics.mls_pair_scores(mu16, sigma16, mu16[::-1], sigma16[::-1]), in_float32, rtol=1e-6)

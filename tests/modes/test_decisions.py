"""The product's decision on real faces: the model's calibration (model/calibration.py) decides in verify, eval and
the export's serving_verify (which answers as verify does), anyone's pairs evaluated into a CSV, --mode=calibrate
refitting a model folder or an export on a user's pairs or gallery with the earlier calibration kept; and every
way a calibration was found to outlive its model or decide on too little (issue 42), each one line now."""
import csv
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from pfe_estimator.inference import export
from pfe_estimator.inference import predict
from pfe_estimator.model import calibration
from tests.conftest import RECORD_FLAGS, subset_pairs
from tests.conftest import main_alone
from tests.test_main import run_main
from tests.test_reliability import copy_of, error_line


PAIRS = 200  # in the pairs CSV: enough impostors for FAR 0.1


@pytest.fixture(scope="module")
def calibrated(work, tmp_path_factory):
    """The session's LFW-subset model calibrated at training, its export, its faces as files and a pairs CSV.

    The model trained two steps and tells people apart no better than chance, while calibrating on pairs refuses
    labels that rank impostors above same-person pairs; so half the CSV's same-person pairs are one photo and
    its copy under again/, which any model ranks first, and the labels are always the right way round.
    """
    base = tmp_path_factory.mktemp("decisions")
    model_dir = str(base / "model")
    shutil.copytree(work["record_model"], model_dir)
    names, jpegs = predict.read_tfrecord_faces(work["records"])
    faces = base / "faces"
    faces.mkdir()
    for name, jpeg in zip(names, jpegs):
        (faces / (name + ".jpg")).write_bytes(jpeg)
    people = sorted({name.rsplit("_", 1)[0] for name in names})
    pairs = subset_pairs(str(base / "pairs.txt"), people)
    result = run_main("--mode=calibrate", "--model_dir=" + model_dir, "--calibration_pairs=" + pairs,
                      "--lfw_dir=" + work["records"], "--far=0.1", *RECORD_FLAGS)
    assert result.returncode == 0, result.stdout[-3000:]
    result = run_main("--mode=export", "--model_dir=" + model_dir, "--export_dir=" + str(base / "export"),
                      *RECORD_FLAGS)
    assert result.returncode == 0, result.stdout[-3000:]
    (faces / "again").mkdir()
    for name, jpeg in zip(names, jpegs):
        (faces / "again" / (name + ".jpg")).write_bytes(jpeg)
    rng = random.Random(0)
    lines = ["image_a,image_b,same"]
    for index in range(PAIRS):  # a quarter of them same-person pairs, half of those one photo under two names
        a = rng.choice(names)
        b = rng.choice([n for n in names if (n.rsplit("_", 1)[0] == a.rsplit("_", 1)[0]) == (index % 4 == 0)
                        and n != a])
        b = "again/" + a if index % 8 == 0 else b
        lines.append("%s.jpg,%s.jpg,%d" % (a, b, a.rsplit("_", 1)[0] == b.rsplit("/")[-1].rsplit("_", 1)[0]))
    (base / "pairs.csv").write_text("\n".join(lines) + "\n")
    return {"base": base, "model": model_dir, "export": str(base / "export"), "faces": str(faces),
            "csv": str(base / "pairs.csv"), "names": names, "records": work["records"], "pairs": pairs}


def verify(paths, *flags):
    a, b = (os.path.join(paths["faces"], name + ".jpg") for name in paths["names"][:2])
    run = main_alone if any(flag.startswith("--saved_model") for flag in flags) else run_main
    return run("--mode=verify", "--image_a=" + a, "--image_b=" + b, "--far=0.1", *flags)


def p_same(result):
    return float([line for line in result.stdout.splitlines() if line.startswith("P(same)")][0].split()[1])


def decision(result, far="0.1"):
    return [line for line in result.stdout.splitlines() if line.startswith("decision at FAR %s" % far)][0]


def test_serving_verify_answers_as_verify_does_and_every_score_is_a_choice(calibrated):
    decisions = {}
    for score in ("logistic_or_cosine", "quality_thresholds", "monotone_logistic", "logistic", "mls", "cosine"):
        result = verify(calibrated, "--model_dir=" + calibrated["model"], "--score=" + score,
                        "--backbone_precision=fp32", *RECORD_FLAGS)  # as the export computes
        assert result.returncode == 0, result.stdout[-2000:]
        decisions[score] = decision(result)
        assert "(%s: " % score in decisions[score] and "resting on at least" in decisions[score]
    assert "the threshold for a worse face of log sigma^2" in decisions["quality_thresholds"]
    assert re.search(r"\(logistic_or_cosine: logit -?[0-9.]+ [<>=]+ -?[0-9.]+ (or|and) cosine", decisions[
        "logistic_or_cosine"]), decisions["logistic_or_cosine"]
    from_export = verify(calibrated, "--saved_model=" + calibrated["export"])  # fp32: the 4th digit may differ
    assert decision(from_export).split("(")[0] == decisions[calibration.DEFAULT_SCORE].split("(")[0]
    assert "at the calibration's prior of" in from_export.stdout and "likelihood ratio" in from_export.stdout
    assert "thresholds from every pair of" in from_export.stdout  # where its thresholds come from
    a, b = (open(os.path.join(calibrated["faces"], name + ".jpg"), "rb").read() for name in calibrated["names"][:2])
    with tf.Graph().as_default(), tf.Session() as session:
        signature = predict.load_saved_model(session, calibrated["export"]).signature_def[export.VERIFY_SIGNATURE]
        got = session.run({key: value.name for key, value in signature.outputs.items()},
                          {signature.inputs["image_bytes_a"].name: [a, a],
                           signature.inputs["image_bytes_b"].name: [b, a]})
    # FAR 1e-3 rests on too few impostors here: serving_verify does not answer it, the JSON says why
    assert sorted(got) == ["accept_at_far_0.01", "accept_at_far_0.1", "cosine", "mls", "p_same"]
    assert abs(got["p_same"][0] - p_same(from_export)) < 1e-3 and got["cosine"][1] == pytest.approx(1.0, abs=1e-5)
    record = json.load(open(os.path.join(calibrated["export"], export.RECORD_NAME)))
    assert record["verify"]["fars"] == [0.01, 0.1] and set(record["verify"]["no_decision"]) == {"0.001"}
    assert record["verify"]["score"] == calibration.DEFAULT_SCORE and "needs 10000" in record["verify"]["no_decision"][
        "0.001"]
    assert record["calibration"]["model"] == record["model"]  # tied to the checkpoint exported
    assert ("same person" in decision(from_export)) == bool(got["accept_at_far_0.1"][0])


def test_anyones_pairs_are_scored_into_one_csv_row_each(calibrated):
    scores = str(calibrated["base"] / "scores.csv")
    report = str(calibrated["base"] / "report")
    result = main_alone("--mode=eval", "--saved_model=" + calibrated["export"], "--pairs_csv=" + calibrated["csv"],
                        "--image_root=" + calibrated["faces"], "--pair_scores_output=" + scores,
                        "--report_dir=" + report)
    assert result.returncode == 0, result.stdout[-3000:]
    rows = list(csv.DictReader(open(scores)))
    # no column at FAR 1e-3, whose threshold rests on too few impostors
    assert len(rows) == PAIRS and list(rows[0]) == ["image_a", "image_b", "same", "cosine", "mls", "p_same",
                                                   "accept_at_far_0.01", "accept_at_far_0.1"]
    section = json.load(open(os.path.join(report, "report.json")))["pairs"]
    accepted = np.array([row["accept_at_far_0.1"] == "1" for row in rows])
    same = np.array([row["same"] == "1" for row in rows])
    shipped = section["shipped_decisions"]
    default = shipped[calibration.DEFAULT_SCORE]
    assert default["0.1"]["far_here"] == pytest.approx(np.mean(accepted[~same]))
    assert default["0.001"] == {"decision": None, "why": default["0.001"]["why"]} and "needs 10000" in default[
        "0.001"]["why"]
    assert set(section) >= {"cosine", "mls", "p_same", "shipped", "shipped_decisions"}
    # --score chooses the decision's score in eval as in verify
    by_mls = str(calibrated["base"] / "scores_mls.csv")
    result = main_alone("--mode=eval", "--saved_model=" + calibrated["export"], "--pairs_csv=" + calibrated["csv"],
                        "--image_root=" + calibrated["faces"], "--pair_scores_output=" + by_mls, "--score=mls",
                        "--report_dir=" + str(calibrated["base"] / "report_mls"))
    assert result.returncode == 0, result.stdout[-3000:]
    mls_rows = list(csv.DictReader(open(by_mls)))
    assert [row["mls"] for row in mls_rows] == [row["mls"] for row in rows]
    mls_section = json.load(open(str(calibrated["base"] / "report_mls" / "report.json")))["pairs"]
    assert mls_section["shipped_decisions"]["default_score"] == "mls"
    mls_accepted = np.array([row["accept_at_far_0.1"] == "1" for row in mls_rows])
    assert mls_section["shipped_decisions"]["mls"]["0.1"]["far_here"] == pytest.approx(np.mean(mls_accepted[~same]))


@pytest.mark.parametrize("line, words", [("a.jpg,b.jpg,maybe", ":3: expected image_a,image_b,same"),
                                         ("a.jpg,b.jpg", ":3: expected"), ("nobody.jpg,x.jpg,1", ":3: ")])
def test_a_bad_pairs_line_is_named_and_nothing_is_written(calibrated, tmp_path, line, words):
    lines = open(calibrated["csv"]).read().splitlines()
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines[:2] + [line] + lines[2:]) + "\n")
    scores, report = str(tmp_path / "scores.csv"), str(tmp_path / "report")
    result = main_alone("--mode=eval", "--saved_model=" + calibrated["export"], "--pairs_csv=" + str(bad),
                        "--image_root=" + calibrated["faces"], "--pair_scores_output=" + scores,
                        "--report_dir=" + report)
    assert result.returncode == 1 and error_line(result).startswith("error: %s" % bad) and words in error_line(result)
    assert not os.path.exists(scores) and not os.path.exists(report)


def test_calibrate_refits_a_model_folder_or_an_export_keeping_the_earlier_one(calibrated, tmp_path):
    model_dir, export_dir = str(tmp_path / "model"), str(tmp_path / "export")
    shutil.copytree(calibrated["model"], model_dir)
    shutil.copytree(calibrated["export"], export_dir)
    earlier = open(os.path.join(model_dir, "calibration.json")).read()
    for flag, target, record in (("--model_dir=" + model_dir, model_dir, "calibration.json"),
                                 ("--saved_model=" + export_dir, export_dir, export.RECORD_NAME)):
        before = open(os.path.join(target, record)).read()
        run = run_main if "model_dir" in flag else main_alone
        result = run("--mode=calibrate", flag, "--pairs_csv=" + calibrated["csv"], "--far=0.1",
                     "--image_root=" + calibrated["faces"], *(RECORD_FLAGS if "model_dir" in flag else []))
        assert result.returncode == 0, result.stdout[-3000:]
        root, extension = os.path.splitext(record)
        assert open(os.path.join(target, "%s.previous-1%s" % (root, extension))).read() == before
        fitted = json.load(open(os.path.join(target, record)))
        fitted = fitted.get("calibration", fitted)
        assert fitted["population"]["name"] == "the pairs of %s" % os.path.abspath(calibrated["csv"])
        assert fitted["population"]["pairs"] == PAIRS - duplicates(calibrated["csv"])
    assert open(os.path.join(model_dir, "calibration.previous-1.json")).read() == earlier
    # the export decides with the new calibration in the graph too
    moved = verify({"faces": calibrated["faces"], "names": calibrated["names"]}, "--saved_model=" + export_dir)
    checkpoint = verify({"faces": calibrated["faces"], "names": calibrated["names"]}, "--model_dir=" + model_dir,
                        "--backbone_precision=fp32", *RECORD_FLAGS)
    assert abs(p_same(moved) - p_same(checkpoint)) <= 2e-3  # each fitted on its own embeddings (fp32, bf16)
    assert decision(moved).split("(")[0] == decision(checkpoint).split("(")[0]
    assert "the pairs of %s" % os.path.abspath(calibrated["csv"]) in moved.stdout
    uncalibrated = str(tmp_path / "uncalibrated_export")
    os.remove(os.path.join(model_dir, "calibration.json"))
    assert run_main("--mode=export", "--model_dir=" + model_dir, "--export_dir=" + uncalibrated,
                    *RECORD_FLAGS).returncode == 0
    refused = main_alone("--mode=calibrate", "--saved_model=" + uncalibrated, "--pairs_csv=" + calibrated["csv"],
                         "--image_root=" + calibrated["faces"])
    assert refused.returncode == 1 and "has no serving_verify signature" in error_line(refused)


def test_eval_scores_lfw_with_the_models_own_calibration(calibrated, tmp_path):
    """The quality row of the LFW report is the shipped P(same) (one logistic for every fold), not one refitted
    on the evaluated pairs; without a calibration it is cross-fitted on the other folds and says so."""
    for source, words in ((calibrated["export"], "the model's calibration (%s" % calibration.DEFAULT_SCORE),
                          (None, "the other folds")):
        flags = ["--mode=eval", "--lfw_dir=" + calibrated["records"], "--lfw_pairs=" + calibrated["pairs"],
                 "--report_dir=" + str(tmp_path / ("report_%s" % bool(source)))]
        if source:
            result = main_alone("--saved_model=" + source, *flags)
        else:
            uncalibrated = str(tmp_path / "uncalibrated")
            shutil.copytree(calibrated["model"], uncalibrated)
            os.remove(os.path.join(uncalibrated, "calibration.json"))
            result = run_main("--model_dir=" + uncalibrated, *flags + RECORD_FLAGS)
        assert result.returncode == 0, result.stdout[-3000:]
        lfw = json.load(open(str(tmp_path / ("report_%s" % bool(source)) / "report.json")))["lfw"]
        row = lfw["shipped" if source else "logistic"]
        assert words in row["fitted_on"] and 0.0 <= row["accuracy_mean"] <= 1.0


def duplicates(path):
    """How many lines of a pairs CSV repeat an earlier pair (in either order)."""
    seen, repeated = set(), 0
    for line in open(path).read().splitlines()[1:]:
        a, b, _ = line.split(",")
        key = tuple(sorted((a, b)))
        repeated += key in seen
        seen.add(key)
    return repeated


def test_a_resumed_training_makes_its_calibration_refuse_until_recalibrated(calibrated, work, tmp_path):
    model_dir = copy_of(calibrated["model"], tmp_path, "model")
    resumed = run_main("--mode=train", "--data_dir=" + work["records"], "--model_dir=" + model_dir, "--max_steps=4",
                       *RECORD_FLAGS)
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    assert "was fitted for model.ckpt-2, not for the checkpoint trained now" in resumed.stdout
    for result in (verify(calibrated, "--model_dir=" + model_dir, *RECORD_FLAGS),
                   run_main("--mode=eval", "--model_dir=" + model_dir, "--pairs_csv=" + calibrated["csv"],
                            "--image_root=" + calibrated["faces"], "--report_dir=" + str(tmp_path / "r"),
                            *RECORD_FLAGS),
                   run_main("--mode=export", "--model_dir=" + model_dir, "--export_dir=" + str(tmp_path / "e"),
                            *RECORD_FLAGS)):
        line = error_line(result)
        assert "calibration.json was fitted for model.ckpt-2 (checkpoint " in line, line
        assert "this model is model.ckpt-4" in line
        assert line.endswith("recalibrate: python main.py --mode=calibrate --model_dir=%s --calibration_pairs=%s "
                             "--lfw_dir=%s" % (model_dir, calibrated["pairs"], calibrated["records"])), line
    command = line.split("recalibrate: python main.py ")[1].split()
    assert run_main(*(command + ["--far=0.1"] + RECORD_FLAGS)).returncode == 0
    assert verify(calibrated, "--model_dir=" + model_dir, *RECORD_FLAGS).returncode == 0


def test_calibrate_does_not_write_into_a_model_folder_a_training_holds(calibrated, tmp_path):
    model_dir = copy_of(calibrated["model"], tmp_path, "model")
    before = open(os.path.join(model_dir, "calibration.json")).read()
    training = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        with open(os.path.join(model_dir, ".pfe_lock"), "w") as f:
            json.dump({"host": socket.gethostname(), "pid": training.pid, "mode": "train", "started": "now"}, f)
        result = run_main("--mode=calibrate", "--model_dir=" + model_dir, "--pairs_csv=" + calibrated["csv"],
                          "--image_root=" + calibrated["faces"], "--far=0.1", *RECORD_FLAGS)
    finally:
        training.kill()
        training.wait()
    assert error_line(result).startswith("error: %s is in use by train (pid %d" % (model_dir, training.pid))
    assert open(os.path.join(model_dir, "calibration.json")).read() == before


def test_an_export_whose_json_and_graph_constants_disagree_is_refused(calibrated, tmp_path):
    export_dir = copy_of(calibrated["export"], tmp_path, "export")
    path = os.path.join(export_dir, export.RECORD_NAME)
    record = json.load(open(path))
    thresholds = record["calibration"]["scores"][calibration.DEFAULT_SCORE]["thresholds"]["0.1"]
    thresholds["levels"] = [v - 0.2 for v in thresholds["levels"]]
    json.dump(record, open(path, "w"))
    line = error_line(verify(calibrated, "--saved_model=" + export_dir))
    assert line == ("error: %s: its calibration and serving_verify's constants in the SavedModel disagree "
                    "(decision/levels); recalibrate the export (--mode=calibrate --saved_model=%s ...) or export the "
                    "model again" % (path, export_dir))


def test_verify_refuses_a_far_whose_threshold_rests_on_too_few_impostors(calibrated):
    line = error_line(verify(calibrated, "--saved_model=" + calibrated["export"], "--far=0.001"))
    assert "--far=0.001: the calibration's threshold rests on" in line and "needs at least 10000" in line


def test_a_pair_listed_twice_counts_once_and_inverted_labels_are_refused(calibrated, tmp_path):
    model_dir = copy_of(calibrated["model"], tmp_path, "model")
    lines = open(calibrated["csv"]).read().splitlines()
    doubled = tmp_path / "doubled.csv"
    swapped = [",".join(reversed(line.split(",")[:2])) + "," + line.split(",")[2] for line in lines[1:]]
    doubled.write_text("\n".join(lines + lines[1:] + swapped) + "\n")
    result = run_main("--mode=calibrate", "--model_dir=" + model_dir, "--pairs_csv=" + str(doubled), "--far=0.1",
                      "--image_root=" + calibrated["faces"], *RECORD_FLAGS)
    assert result.returncode == 0, result.stdout[-3000:]
    distinct = PAIRS - duplicates(calibrated["csv"])
    repeated = 3 * PAIRS - distinct
    assert "%s: %d line(s) repeat an earlier pair; each pair counts once" % (doubled, repeated) in result.stdout
    assert json.load(open(os.path.join(model_dir, "calibration.json")))["population"]["pairs"] == distinct
    inverted = tmp_path / "inverted.csv"
    inverted.write_text("\n".join([lines[0]] + [line[:-1] + str(1 - int(line[-1])) for line in lines[1:]]) + "\n")
    before = open(os.path.join(model_dir, "calibration.json")).read()
    result = run_main("--mode=calibrate", "--model_dir=" + model_dir, "--pairs_csv=" + str(inverted), "--far=0.1",
                      "--image_root=" + calibrated["faces"], *RECORD_FLAGS)
    assert "a higher cosine means a different person on these pairs" in error_line(result)
    assert "are the same/different labels inverted?" in error_line(result)
    assert open(os.path.join(model_dir, "calibration.json")).read() == before


@pytest.mark.parametrize("edit, words", [
    (lambda c: c["scores"]["logistic"]["model"]["weights"].__setitem__(2, float("nan")), "not finite"),
    (lambda c: c["scores"]["monotone_logistic"]["model"]["scale"].__setitem__(0, 0.0), "scale <= 0"),
    (lambda c: c.pop("fars"), "KeyError 'fars'"),
    (lambda c: c["scores"]["cosine"]["thresholds"]["0.1"]["levels"].pop(), "16 knots and 15 levels"),
    (lambda c: c.update(scores=[]), "default score %s is not among its scores" % calibration.DEFAULT_SCORE),
    (lambda c: c.update(version=2), "a calibration of version 2"),
])
def test_a_hand_edited_calibration_file_is_one_line_naming_it(calibrated, tmp_path, edit, words):
    model_dir = copy_of(calibrated["model"], tmp_path, "model")
    path = os.path.join(model_dir, "calibration.json")
    stored = json.load(open(path))
    edit(stored)
    json.dump(stored, open(path, "w"))
    line = error_line(verify(calibrated, "--model_dir=" + model_dir, *RECORD_FLAGS))
    assert line.startswith("error: %s: " % path) and words in line, line


def test_a_reexport_keeps_the_exports_own_calibration_and_its_history(calibrated, tmp_path):
    model_dir, export_dir = (copy_of(calibrated[name], tmp_path, name) for name in ("model", "export"))
    result = main_alone("--mode=calibrate", "--saved_model=" + export_dir, "--pairs_csv=" + calibrated["csv"],
                        "--image_root=" + calibrated["faces"], "--far=0.1")
    assert result.returncode == 0, result.stdout[-3000:]
    own = json.load(open(os.path.join(export_dir, export.RECORD_NAME)))["calibration"]
    history = open(os.path.join(export_dir, "pfe_export.previous-1.json")).read()
    result = run_main("--mode=export", "--model_dir=" + model_dir, "--export_dir=" + export_dir, *RECORD_FLAGS)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "(the export's own calibration, kept)" in result.stdout
    assert json.load(open(os.path.join(export_dir, export.RECORD_NAME)))["calibration"] == own
    assert open(os.path.join(export_dir, "pfe_export.previous-1.json")).read() == history
    assert verify(calibrated, "--saved_model=" + export_dir).returncode == 0


def test_a_full_disk_during_calibrate_keeps_the_earlier_calibration(calibrated, tmp_path):
    model_dir = copy_of(calibrated["model"], tmp_path, "model")
    path = os.path.join(model_dir, "calibration.json")
    before = open(path).read()

    def small_disk():  # writes past 4000 bytes fail with EFBIG, as a full disk fails them with ENOSPC
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4000, 4000))
    result = run_main("--mode=calibrate", "--model_dir=" + model_dir, "--pairs_csv=" + calibrated["csv"], "--far=0.1",
                      "--image_root=" + calibrated["faces"], *RECORD_FLAGS, preexec_fn=small_disk)
    assert error_line(result) == "error: %s: cannot be written, the disk is full (File too large); the earlier file " \
                                 "is kept" % path
    assert open(path).read() == before and sorted(os.listdir(model_dir)) == sorted(os.listdir(calibrated["model"]))


@pytest.mark.parametrize("far", ["0", "nan", "1", "-0.1"])
def test_a_far_outside_zero_to_one_is_one_line(calibrated, far):
    line = error_line(verify(calibrated, "--saved_model=" + calibrated["export"], "--far=" + far))
    assert line.startswith("error: flag --far=") and "must be a false accept rate in (0, 1)" in line, line


def test_calibrate_from_a_gallery_of_the_operators_people(calibrated, tmp_path):
    gallery = tmp_path / "gallery"
    for name in calibrated["names"]:
        person = gallery / name.rsplit("_", 1)[0]
        person.mkdir(parents=True, exist_ok=True)
        shutil.copy(os.path.join(calibrated["faces"], name + ".jpg"), str(person))
    model_dir = copy_of(calibrated["model"], tmp_path, "model")
    result = run_main("--mode=calibrate", "--model_dir=" + model_dir, "--gallery_dir=" + str(gallery), "--far=0.1",
                      *RECORD_FLAGS)
    assert result.returncode == 0, result.stdout[-3000:]
    stored = json.load(open(os.path.join(model_dir, "calibration.json")))
    assert stored["population"]["genuine"] is None and "the gallery %s (10 people, 100 photos)" % gallery in \
        stored["population"]["name"]
    # impostors only: 100 photos and 2 copies each, pairs across people
    assert stored["population"]["impostors"] == 90 * 100 // 2 * 1 + 2 * 100 * 90
    labelled = json.load(open(os.path.join(calibrated["model"], "calibration.json")))["scores"]["monotone_logistic"]
    assert stored["scores"]["monotone_logistic"]["model"] == labelled["model"]  # P(same) kept from the labelled one
    checked = verify(calibrated, "--model_dir=" + model_dir, *RECORD_FLAGS)
    assert checked.returncode == 0 and "thresholds from the gallery %s" % gallery in checked.stdout
    assert "decision at FAR 0.001" in verify(calibrated, "--model_dir=" + model_dir, "--far=0.001",
                                             *RECORD_FLAGS).stdout  # 26,500 impostors: FAR 1e-3 decided too

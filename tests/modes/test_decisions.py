"""The product's decision on real faces: the quality-aware P(same) by default in verify, eval and the export's
serving_verify (which answers as verify does), anyone's pairs evaluated into a CSV, and --mode=calibrate
refitting a model folder or an export on a user's pairs with the earlier calibration kept."""
import csv
import json
import os
import random
import shutil

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from pfe_estimator.inference import export
from pfe_estimator.inference import predict
from tests.conftest import RECORD_FLAGS, subset_pairs
from tests.conftest import main_alone
from tests.test_faults import error_line
from tests.test_main import run_main


@pytest.fixture(scope="module")
def calibrated(work, tmp_path_factory):
    """The session's LFW-subset model calibrated at training, its export, its faces as files and a pairs CSV."""
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
    rng = random.Random(0)
    lines = ["image_a,image_b,same"]
    for _ in range(150):
        a, b = rng.sample(names, 2)
        lines.append("%s.jpg,%s.jpg,%d" % (a, b, a.rsplit("_", 1)[0] == b.rsplit("_", 1)[0]))
    (base / "pairs.csv").write_text("\n".join(lines) + "\n")
    return {"base": base, "model": model_dir, "export": str(base / "export"), "faces": str(faces),
            "csv": str(base / "pairs.csv"), "names": names, "records": work["records"], "pairs": pairs}


def verify(paths, *flags):
    a, b = (os.path.join(paths["faces"], name + ".jpg") for name in paths["names"][:2])
    run = main_alone if any(flag.startswith("--saved_model") for flag in flags) else run_main
    return run("--mode=verify", "--image_a=" + a, "--image_b=" + b, "--far=0.1", *flags)


def test_serving_verify_answers_as_verify_does_and_every_score_is_a_choice(calibrated):
    outputs = {}
    for score in ("quality", "mls", "cosine"):
        result = verify(calibrated, "--model_dir=" + calibrated["model"], "--score=" + score, *RECORD_FLAGS)
        assert result.returncode == 0, result.stdout[-2000:]
        line = [text for text in result.stdout.splitlines() if text.startswith("P(same)")][0]
        outputs[score] = float(line.split()[1])
        assert "%s score" % score in line
    from_export = verify(calibrated, "--saved_model=" + calibrated["export"])
    assert [line for line in from_export.stdout.splitlines() if line.startswith("P(same)")][0].split()[1] == \
        "%.4f" % outputs["quality"]
    a, b = (open(os.path.join(calibrated["faces"], name + ".jpg"), "rb").read() for name in calibrated["names"][:2])
    with tf.Graph().as_default(), tf.Session() as session:
        signature = predict.load_saved_model(session, calibrated["export"]).signature_def[export.VERIFY_SIGNATURE]
        got = session.run({key: value.name for key, value in signature.outputs.items()},
                          {signature.inputs["image_bytes_a"].name: [a, a],
                           signature.inputs["image_bytes_b"].name: [b, a]})
    assert sorted(got) == ["accept_at_far_0.001", "accept_at_far_0.01", "accept_at_far_0.1", "cosine", "mls",
                           "p_same"]
    assert abs(got["p_same"][0] - outputs["quality"]) < 1e-3 and got["cosine"][1] == pytest.approx(1.0, abs=1e-5)
    record = json.load(open(os.path.join(calibrated["export"], export.RECORD_NAME)))
    assert record["verify"] == {"signature": "serving_verify", "score": "quality", "fars": [0.001, 0.01, 0.1]}
    decision = [line for line in from_export.stdout.splitlines() if line.startswith("decision at FAR 0.1")][0]
    assert ("same person" in decision) == bool(got["accept_at_far_0.1"][0])


def test_anyones_pairs_are_scored_into_one_csv_row_each(calibrated):
    scores = str(calibrated["base"] / "scores.csv")
    report = str(calibrated["base"] / "report")
    result = main_alone("--mode=eval", "--saved_model=" + calibrated["export"], "--pairs_csv=" + calibrated["csv"],
                        "--image_root=" + calibrated["faces"], "--pair_scores_output=" + scores,
                        "--report_dir=" + report)
    assert result.returncode == 0, result.stdout[-3000:]
    rows = list(csv.DictReader(open(scores)))
    assert len(rows) == 150 and list(rows[0]) == ["image_a", "image_b", "same", "cosine", "mls", "p_same",
                                                   "accept_at_far_0.001", "accept_at_far_0.01", "accept_at_far_0.1"]
    section = json.load(open(os.path.join(report, "report.json")))["pairs"]
    accepted = np.array([row["accept_at_far_0.1"] == "1" for row in rows])
    same = np.array([row["same"] == "1" for row in rows])
    assert section["shipped"]["quality"]["0.1"]["far_here"] == pytest.approx(np.mean(accepted[~same]))
    assert set(section) >= {"cosine", "mls", "p_same", "shipped"}
    # --score chooses the decision's score in eval as in verify
    by_mls = str(calibrated["base"] / "scores_mls.csv")
    result = main_alone("--mode=eval", "--saved_model=" + calibrated["export"], "--pairs_csv=" + calibrated["csv"],
                        "--image_root=" + calibrated["faces"], "--pair_scores_output=" + by_mls, "--score=mls",
                        "--report_dir=" + str(calibrated["base"] / "report_mls"))
    assert result.returncode == 0, result.stdout[-3000:]
    mls_rows = list(csv.DictReader(open(by_mls)))
    assert [row["mls"] for row in mls_rows] == [row["mls"] for row in rows]
    assert [row["p_same"] for row in mls_rows] != [row["p_same"] for row in rows]


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
        assert fitted["source"] == os.path.abspath(calibrated["csv"]) and fitted["pairs"] == 150
    assert open(os.path.join(model_dir, "calibration.previous-1.json")).read() == earlier
    # the export decides with the new calibration in the graph too
    moved = verify({"faces": calibrated["faces"], "names": calibrated["names"]}, "--saved_model=" + export_dir)
    checkpoint = verify({"faces": calibrated["faces"], "names": calibrated["names"]}, "--model_dir=" + model_dir,
                        "--backbone_precision=fp32", *RECORD_FLAGS)
    p_line = [[line for line in r.stdout.splitlines() if line.startswith("P(same)")][0] for r in (moved, checkpoint)]
    assert p_line[0].split()[1] == p_line[1].split()[1]
    assert "%d calibration pairs" % 150 in p_line[0]
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
    for source, words in ((calibrated["export"], "the model's calibration ("), (None, "the other folds")):
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
        assert words in lfw["quality"]["fitted_on"] and 0.0 <= lfw["quality"]["accuracy_mean"] <= 1.0

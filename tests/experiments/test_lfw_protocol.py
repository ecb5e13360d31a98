"""The lfw_folds protocol (standard LFW, degradation, calibration, templates, cross-quality LFW, quality-aware
heads) and the reference model end to end on the tiny real LFW, in one work folder (its own file, so that the
test runner can run it beside the held-out protocols' test)."""
import json
import os
import subprocess
import sys

import numpy as np

from pfe_estimator.faces import kinds
from pfe_estimator.inference import export
from pfe_estimator.model import calibration
from tests.conftest import ROOT, shared_path
from tests.data_prep.test_cross_quality import tiny_lfw
from tests.experiments.test_protocols import YUNET, last_line, run_experiment


def test_the_lfw_protocol_with_cross_quality_and_quality_aware_heads_end_to_end(tmp_path):
    """Every section of the lfw_folds report: standard LFW, fold-1 faces degraded, calibration, templates,
    cross-quality LFW, and the quality-aware heads on both."""
    lfw, work = tiny_lfw(tmp_path), str(tmp_path / "work")
    result = run_experiment("lfw_sface_cross_quality", lfw, work, "--set", "protocol.degraded_faces=4", "--set",
                            "protocol.quality_aware_head.recipe.max_steps=2", "--set",
                            "protocol.quality_aware_head.recipe.num_classes_per_batch=4", "--set",
                            "protocol.quality_aware_head.recipe.images_per_class=2", "--set",
                            "protocol.quality_aware_head.copies=1")
    assert result.returncode == 0, result.stdout[-4000:]
    content = json.load(open(os.path.join(work, "reports", "lfw_sface_cross_quality", "report.json")))["lfw_folds"]
    assert set(content) >= {"cosine", "mls", "calibration", "degradation", "cross_quality", "templates",
                            "quality_aware"}
    cross = content["cross_quality"]
    assert cross["pairs"] == 20 and set(cross["by_kind"]) == set(kinds.GENERATOR_KINDS)
    assert set(cross["reject_20_percent"]["mls"]) == {"none", "most_uncertain", "random"}
    assert content["templates"]["identities"] == 20 and content["quality_aware"]["degraded_copies"] == 1
    assert "cross_quality" in content["quality_aware"] and content["degradation"]["faces"] == 4
    assert len(os.listdir(os.path.join(work, "heads"))) == 20  # ten plain heads, ten quality-aware
    caches = sorted(os.listdir(os.path.join(work, "caches")))
    check_reference_model(lfw, work, tmp_path)
    assert sorted(os.listdir(os.path.join(work, "caches"))) == caches  # its records and caches reused


def check_reference_model(lfw, work, tmp_path):
    """The reference model built, calibrated, exported and verifying alone; in the lfw_folds run's work
    folder with one copy, so that its records and caches are reused."""
    output = str(tmp_path / "reference")
    # fold 10's 8 images: 28 clean pairs, 56 against a copy; 48 impostors, enough for FAR 0.25 and 0.5
    result = run_experiment("reference_model", lfw, work, "--output_dir", output, "--set", "protocol.head.copies=1",
                            "--set", "protocol.fars=0.25,0.5")
    assert result.returncode == 0, result.stdout[-4000:]
    assert "calibrated on 84 pairs of unseen people, 48 impostors (%s" % calibration.DEFAULT_SCORE in result.stdout
    record = json.load(open(os.path.join(output, "export", export.RECORD_NAME)))
    population = record["calibration"]["population"]
    assert population["name"].startswith("LFW people.txt fold 10: every pair of its 8 images")
    assert "any kind" in population["qualities"] and all(kind in population["qualities"] for kind in kinds.KINDS)
    assert record["calibration"]["model"] == record["model"]
    assert record["verify"]["signature"] == "serving_verify" and record["verify"]["fars"] == [0.25, 0.5]
    assert record["image_size"] == [112, 112] and record["template"] == "112x112"
    assert os.path.exists(os.path.join(output, "export", export.ONNX_NAME))
    trained_on = json.load(open(os.path.join(output, "model", "pfe_config.json")))["trained_on"]
    again = run_experiment("reference_model", lfw, work, "--output_dir", output, "--name", "half", "--set",
                           "protocol.head.copies=1", "--set", "protocol.head.identity_share=0.5", "--set",
                           "protocol.fars=0.25,0.5")  # other identities, same model folder
    assert again.returncode == 1 and "records trained_on %s" % trained_on in last_line(again)
    person = os.path.join(lfw, "images", "George_W_Bush")

    def verify(*flags):
        return subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), "--mode=verify",
                               "--saved_model=" + os.path.join(output, "export"),
                               "--image_a=" + os.path.join(person, "George_W_Bush_0001.jpg"),
                               "--image_b=" + os.path.join(person, "George_W_Bush_0002.jpg"), "--align=detect",
                               "--detector_model=" + shared_path(*YUNET)] + list(flags), cwd=str(tmp_path),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)
    decided = verify("--far=0.25")
    assert decided.returncode == 0 and "P(same)" in decided.stdout and "decision at FAR 0.25: " in decided.stdout
    assert np.isfinite(float(decided.stdout.split("MLS ")[1].split()[0]))
    refused = verify()  # the default FAR 1e-3 is not among the calibration's: refused before any work
    assert refused.returncode == 1 and refused.stdout.strip().splitlines()[-1] == (
        "error: --far=0.001: the calibration keeps thresholds at FAR 0.25, 0.5 only; refit it with --mode=calibrate "
        "--far=0.001")

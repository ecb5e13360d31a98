"""scripts/build_reference_model.py on a tiny real LFW: a calibrated export that verifies two photos alone."""
import json
import os
import subprocess
import sys

from pfe_estimator.inference import export
from tests.conftest import ROOT, shared_path
from tests.data_prep.test_cross_quality import tiny_lfw


def test_the_reference_model_is_built_calibrated_and_verifies_alone(tmp_path):
    lfw = tiny_lfw(tmp_path)
    output = str(tmp_path / "reference")
    result = subprocess.run([sys.executable, "-m", "scripts.build_reference_model", "--lfw_dir", lfw, "--sface",
                             shared_path("models", "sface", "face_recognition_sface_2021dec_int8bq.onnx"),
                             "--output_dir", output, "--work_dir", str(tmp_path / "work"), "--steps", "3",
                             "--num_classes_per_batch", "4", "--images_per_class", "2"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "calibrated on 2 pairs of unseen people" in result.stdout
    record = json.load(open(os.path.join(output, "export", export.RECORD_NAME)))
    assert record["calibration"]["source"].startswith("LFW pairs.txt fold 10")
    assert record["image_size"] == [112, 112] and record["template"] == "112x112"
    assert os.path.exists(os.path.join(output, "export", export.ONNX_NAME))
    person = os.path.join(lfw, "images", "George_W_Bush")
    verify = subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), "--mode=verify",
                             "--saved_model=" + os.path.join(output, "export"),
                             "--image_a=" + os.path.join(person, "George_W_Bush_0001.jpg"),
                             "--image_b=" + os.path.join(person, "George_W_Bush_0002.jpg"), "--align=detect",
                             "--detector_model=" + shared_path("models", "yunet",
                                                               "face_detection_yunet_2023mar_int8bq.onnx")],
                            cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=300)
    assert verify.returncode == 0, verify.stdout[-3000:]
    assert "P(same)" in verify.stdout and "decision at FAR 0.001:" in verify.stdout

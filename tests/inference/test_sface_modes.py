"""main.py's modes on a head trained on SFace, as a user runs them: predict from the checkpoint compiles SFace's
bf16 graph with XLA, quietly, within bf16's distance of fp32, its pipeline without tf.data's autotuning; export
prints no converter noise."""
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from pfe_estimator.faces import network_input
from pfe_estimator.inference import export
from pfe_estimator.inference import precision_check
from pfe_estimator.inference import predict
from tests.conftest import ROOT, lfw_subset_records, shared_path
from tests.inference.test_serving import run_signature

SFACE = ("models", "sface", "face_recognition_sface_2021dec_int8bq.onnx")
FRAMEWORK_LINE = ("Compiled cluster", "absl", "tfonnx", "rewriter")


def main_run(*flags, verbose=False):
    """main.py in a process of its own, as a user runs it (quiet unless --verbose); stdout and stderr together."""
    return subprocess.run([sys.executable, os.path.join(ROOT, "main.py")] + list(flags) + ["--verbose"] * verbose,
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          timeout=600, env={k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"})


def common_flags():
    return ["--backbone=onnx:" + shared_path(*SFACE), "--image_size=112,112", "--embedding_size=128",
            "--head_input=pooled"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(records of ../shared's 100 native LFW faces at 112x112, a head trained on them for a step in fp32)."""
    folder = tmp_path_factory.mktemp("sface_head")
    records = lfw_subset_records(folder / "records", "112x112")[0]
    model_dir = str(folder / "model")
    result = main_run("--mode=train", "--data_dir=" + records, "--model_dir=" + model_dir, "--max_steps=1",
                      "--batch_size=8", "--num_classes_per_batch=4", "--backbone_precision=fp32", *common_flags())
    assert result.returncode == 0, result.stdout[-3000:]
    return records, model_dir


def test_predict_from_a_checkpoint_compiles_sface_in_bf16_with_xla_quietly_within_bf16_of_fp32(trained, tmp_path):
    """The Estimator's PREDICT graph, as the cache path: an ONNX backbone in bf16 compiled with XLA (XLA says
    so under --verbose, nothing on the quiet terminal), fp32 op by op; the two within bf16's distance."""
    records, model_dir = trained
    faces = tmp_path / "faces"
    faces.mkdir()
    for name, jpeg in zip(*predict.read_tfrecord_faces(records, limit=12)):
        (faces / (name + ".jpg")).write_bytes(jpeg)
    made = {}
    for precision, verbose in (("fp32", True), ("bf16", True), ("bf16", False)):
        output = str(tmp_path / ("%s%s.npz" % (precision, "_verbose" * verbose)))
        result = main_run("--mode=predict", "--model_dir=" + model_dir, "--predict_dir=" + str(faces),
                          "--predict_output=" + output, "--backbone_precision=" + precision, *common_flags(),
                          verbose=verbose)
        assert result.returncode == 0, result.stdout[-3000:]
        made[precision, verbose] = result.stdout, np.load(output)
    assert "Compiled cluster using XLA" in made["bf16", True][0]
    assert "Compiled cluster using XLA" not in made["fp32", True][0]
    lines = [line for line in made["bf16", False][0].splitlines() if line.strip()]
    assert lines == ["predict: 12 images -> %s, 0 skipped" % (tmp_path / "bf16.npz")], lines
    reference, compiled = made["fp32", True][1], made["bf16", False][1]
    assert list(reference["names"]) == list(compiled["names"])
    assert np.min(np.sum(reference["mu"] * compiled["mu"], axis=1)) > precision_check.GUARD_COSINE
    np.testing.assert_allclose(np.log(compiled["sigma_sq"]), np.log(reference["sigma_sq"]), atol=0.05)


def test_the_prediction_pipeline_runs_without_tf_data_autotuning():
    """An iterator's end waits for tf.data's autotuning thread to wake (gdb: ~IteratorResource waiting on
    Model::OptimizeLoop): up to 10 s at the end of every predict here, for a pipeline with nothing to tune."""
    input_fn = predict.prediction_input_fn_builder(iter([{"x": np.zeros([2], np.float32)}] * 3), {"x": [2]}, 2)
    with tf.Graph().as_default():
        options = input_fn().options()
    assert options.autotune.enabled is False  # TF 1.15: options.experimental_optimization.autotune

def test_export_of_an_sface_head_prints_no_converter_noise(trained, tmp_path):
    """tf2onnx logs a skipped rewrite of SFace's PReLU (max(x, slope x)) at ERROR level; the ONNX file is right
    all the same (its numbers are the SavedModel's), so the user is not told."""
    records, model_dir = trained
    result = main_run("--mode=export", "--model_dir=" + model_dir, "--export_dir=" + str(tmp_path / "export"),
                      *common_flags())
    assert result.returncode == 0, result.stdout[-3000:]
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert [line for line in lines if any(word in line for word in FRAMEWORK_LINE)] == [], lines
    assert lines[-1].startswith("exported ") and "pfe.onnx" in lines[-1], lines
    import onnxruntime  # pylint: disable=import-outside-toplevel
    images = np.stack([network_input.decode_network_input(jpeg, (112, 112))
                       for jpeg in predict.read_tfrecord_faces(records, limit=4)[1]])
    mu, sigma_sq = run_signature(str(tmp_path / "export"), "serving_default", {"images": images})
    session = onnxruntime.InferenceSession(str(tmp_path / "export" / export.ONNX_NAME),
                                           providers=["CPUExecutionProvider"])
    onnx_mu, onnx_sigma_sq = session.run(["mu:0", "sigma_sq:0"], {"images:0": images})
    np.testing.assert_allclose(onnx_mu, mu, atol=1e-4)  # the PReLU left unrewritten converts right
    np.testing.assert_allclose(onnx_sigma_sq, sigma_sq, rtol=1e-3)

"""main.py end to end in subprocesses: train, kill, resume; export and predict agree."""
import glob
import os
import re
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import tensorflow.compat.v1 as tf

from tests.conftest import ROOT, TINY, lfw_subset_records, main_alone

TINY_FLAGS = ["--backbone=%s" % TINY["backbone"], "--image_size=%d,%d" % TINY["image_size"],
              "--embedding_size=%d" % TINY["embedding_size"],
              "--batch_size=%d" % (TINY["num_classes"] * TINY["images_per_class"]),
              "--num_classes_per_batch=%d" % TINY["num_classes"], "--learning_rates=0.01",
              "--learning_rate_boundaries=",
              "--device=cpu"]


def run_main(*flags, **kwargs):
    return subprocess.run([sys.executable, os.path.join(ROOT, "main.py")] + TINY_FLAGS + list(flags),
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          timeout=300, **kwargs)


def checkpoint_steps(model_dir):
    return sorted(int(re.search(r"model\.ckpt-(\d+)\.index$", p).group(1))
                  for p in glob.glob(os.path.join(model_dir, "model.ckpt-*.index")))


def test_killed_training_resumes_from_its_last_checkpoint(tmp_path):
    model_dir = str(tmp_path / "model")
    command = [sys.executable, os.path.join(ROOT, "main.py")] + TINY_FLAGS + [
        "--mode=train", "--data=synthetic", "--model_dir=" + model_dir, "--max_steps=100000",
        "--save_checkpoints_steps=3", "--log_every_n_steps=1"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not [s for s in checkpoint_steps(model_dir) if s >= 6]:
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    steps = checkpoint_steps(model_dir)
    assert steps and steps[-1] >= 6, "no checkpoint written before the kill"
    last = steps[-1]
    resumed = run_main("--mode=train", "--data=synthetic", "--model_dir=" + model_dir,
                       "--max_steps=%d" % (last + 2), "--save_checkpoints_steps=3", "--log_every_n_steps=1",
                       "--verbose")  # TensorFlow's own "Restoring parameters" line
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    assert "Restoring parameters from %s/model.ckpt-%d" % (model_dir, last) in resumed.stdout
    assert "images/s" in resumed.stdout
    assert checkpoint_steps(model_dir)[-1] == last + 2


def test_export_and_predict_agree(tmp_path):
    model_dir, export_dir = str(tmp_path / "model"), str(tmp_path / "export")
    trained = run_main("--mode=train", "--data=synthetic", "--model_dir=" + model_dir, "--max_steps=3")
    assert trained.returncode == 0, trained.stdout[-3000:]
    assert "RANDOM initialisation" in trained.stdout
    lines = trained.stdout.strip().splitlines()  # quiet by default: our lines alone, without TF's prefix
    assert lines[0].startswith("backbone precision: ")  # --backbone_precision=auto, said once
    assert lines[1].startswith("warning: no --pretrained_ckpt: the frozen backbone keeps its RANDOM")
    assert lines[-1].startswith("training finished in ") and len(lines) <= 8
    assert "tensorflow" not in trained.stdout.lower().replace("tensorflow 2.15", "")

    faces = tmp_path / "faces" / "person"
    faces.mkdir(parents=True)
    rng = np.random.RandomState(0)
    for index in range(3):
        image = rng.randint(0, 256, TINY["image_size"] + (3,)).astype(np.uint8)
        cv2.imwrite(str(faces / ("img_%d.jpg" % index)), image)
    output = str(tmp_path / "embeddings.npz")
    # an export computes in fp32; the checkpoint path at the defaults may run the backbone in bf16
    predicted = run_main("--mode=predict", "--model_dir=" + model_dir, "--predict_dir=" + str(tmp_path / "faces"),
                         "--predict_output=" + output, "--backbone_precision=fp32")
    assert predicted.returncode == 0, predicted.stdout[-3000:]
    features = np.load(output)
    assert list(features["names"]) == ["person/img_%d.jpg" % i for i in range(3)]
    assert features["mu"].shape == (3, TINY["embedding_size"]) and np.all(features["sigma_sq"] > 0)

    exported = run_main("--mode=export", "--model_dir=" + model_dir, "--export_dir=" + export_dir)
    assert exported.returncode == 0, exported.stdout[-3000:]
    assert not os.path.exists(export_dir + ".partial")

    from pfe_estimator.faces import network_input

    images = np.stack([network_input.load_network_input(str(faces / ("img_%d.jpg" % i)), TINY["image_size"])
                       for i in range(3)])
    with tf.Graph().as_default(), tf.Session() as session:
        signature = tf.saved_model.loader.load(session, [tf.saved_model.SERVING], export_dir).signature_def[
            "serving_default"]
        mu, sigma_sq = session.run([signature.outputs["mu"].name, signature.outputs["sigma_sq"].name],
                                   {signature.inputs["images"].name: images})
    np.testing.assert_allclose(mu, features["mu"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sigma_sq, features["sigma_sq"], rtol=1e-5)

    graph_def = tf.GraphDef()
    with open(os.path.join(export_dir, "pfe_frozen.pb"), "rb") as f:
        graph_def.ParseFromString(f.read())
    assert not [n for n in graph_def.node if n.op in ("VariableV2", "VarHandleOp")]
    with tf.Graph().as_default() as graph:
        tf.import_graph_def(graph_def, name="")
        with tf.Session(graph=graph) as session:
            mu_frozen, sigma_sq_frozen = session.run(["mu:0", "sigma_sq:0"], {"images:0": images})
    np.testing.assert_allclose(mu_frozen, features["mu"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sigma_sq_frozen, features["sigma_sq"], rtol=1e-5)


def test_bad_flags_give_one_line_errors(tmp_path):
    result = run_main("--mode=train", "--model_dir=" + str(tmp_path / "m"))
    assert result.returncode != 0
    assert "--data=tfrecord needs --data_dir" in result.stdout
    result = run_main("--mode=export", "--model_dir=" + str(tmp_path / "nothing"),
                      "--export_dir=" + str(tmp_path / "e"))
    assert result.returncode != 0 and "no checkpoint there" in result.stdout.strip().splitlines()[-1]


def test_eval_from_lfw_records_with_a_checkpoint_and_with_its_saved_model(tmp_path):
    """--lfw_dir + --model_dir and --lfw_dir + --saved_model give the same features and report."""
    records, pairs, people = lfw_subset_records(tmp_path)
    model_dir = str(tmp_path / "model")
    size_flags = ["--image_size=112,96", "--backbone=sphere4"]
    trained = run_main("--mode=train", "--data_dir=" + records, "--model_dir=" + model_dir, "--max_steps=2",
                       *size_flags)
    assert trained.returncode == 0, trained.stdout[-3000:]
    outputs = {}
    exported = run_main("--mode=export", "--model_dir=" + model_dir, "--export_dir=" + str(tmp_path / "export"),
                        *size_flags)
    assert exported.returncode == 0, exported.stdout[-3000:]
    for source in ("--model_dir=" + model_dir, "--saved_model=" + str(tmp_path / "export")):
        name = source.split("=")[0][2:]
        eval_flags = ["--mode=eval", source, "--lfw_dir=" + records, "--lfw_pairs=" + pairs,
                      "--report_dir=" + str(tmp_path / name), "--embeddings_output=" + str(tmp_path / (name + ".npz"))]
        if name == "model_dir":  # fp32, as the export computes; the export takes no model flags
            result = run_main(*eval_flags + ["--backbone_precision=fp32"] + list(size_flags))
        else:
            result = main_alone(*eval_flags)
        assert result.returncode == 0, result.stdout[-3000:]
        assert "LFW 20 pairs, 10 folds" in result.stdout
        outputs[name] = np.load(str(tmp_path / (name + ".npz")))
        assert os.path.exists(str(tmp_path / name / "lfw_faces_by_uncertainty.png"))
    assert list(outputs["model_dir"]["names"]) == list(outputs["saved_model"]["names"])
    expected = {"%s_%04d" % (people[k], n) for k in range(10) for n in (1, 2 + k % 5, 3, 4)}
    assert set(outputs["model_dir"]["names"]) == expected
    np.testing.assert_allclose(outputs["model_dir"]["mu"], outputs["saved_model"]["mu"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(outputs["model_dir"]["sigma_sq"], outputs["saved_model"]["sigma_sq"], rtol=1e-4)

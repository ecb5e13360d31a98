"""Fault injection, what the probe of issue 44 found outside the calibration: a model folder that is not the
pipeline's, embeddings scored by a model that did not make them, batches that do not pair, notices verify owed,
an experiment that failed blocking its own rerun, counts of what was not asked for, the last tracebacks, a test of
training's direction, and tests that wait for a state instead of a clock."""
import ast
import errno
import json
import os
import re
import resource
import signal
import subprocess
import sys
import threading

import cv2
import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from pfe_estimator.data import embedding_files
from pfe_estimator.inference import export
from pfe_estimator.inference import predict
from tests.conftest import RECORD_FLAGS, ROOT, main_alone, make_records, run_tool, shared_path, subset_pairs
from tests.data_prep.test_cross_quality import tiny_lfw
from tests.test_main import run_main
from tests.test_reliability import copy_of, error_line, tree_digest

YUNET = ("models", "yunet", "face_detection_yunet_2023mar_int8bq.onnx")


@pytest.fixture(scope="module")
def decided(work, tmp_path_factory):
    """The session's record model calibrated on its LFW subset (FAR 0.1), its export, its faces and a pairs CSV."""
    base = tmp_path_factory.mktemp("probe_outside")
    model_dir = copy_of(work["record_model"], base, "model")
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
    assert run_main("--mode=export", "--model_dir=" + model_dir, "--export_dir=" + str(base / "export"),
                    *RECORD_FLAGS).returncode == 0
    lines = ["image_a,image_b,same"] + ["%s.jpg,%s.jpg,%d" % (a, b, a[:-5] == b[:-5])
                                        for i, a in enumerate(names) for b in names[i + 1:i + 4]]
    (base / "pairs.csv").write_text("\n".join(lines) + "\n")
    return {"base": base, "model": model_dir, "export": str(base / "export"), "faces": str(faces), "names": names,
            "csv": str(base / "pairs.csv")}


# ---------------------------------------------------------------- 1. a model folder that is not the pipeline's

def test_training_into_a_folder_of_someone_elses_files_refuses_naming_them(tmp_path):
    model_dir = tmp_path / "mine"
    model_dir.mkdir()
    (model_dir / "checkpoint").write_text("my own notes on checkpoints")
    (model_dir / "graph.pbtxt").write_text("a graph I drew")
    before = tree_digest(str(model_dir))
    line = error_line(run_main("--mode=train", "--data=synthetic", "--model_dir=" + str(model_dir), "--max_steps=2"))
    assert line == ("error: --model_dir=%s holds checkpoint, graph.pbtxt, which this pipeline did not write (it "
                    "holds no pfe_config.json): a training would write over them; choose an empty or new folder"
                    % model_dir)
    assert tree_digest(str(model_dir)) == before


def test_a_pfe_config_json_that_is_not_the_pipelines_names_what_it_holds(work, tmp_path):
    model_dir = copy_of(work["model"], tmp_path, "model")
    with open(os.path.join(model_dir, "pfe_config.json"), "w") as f:
        json.dump({"mine": 1}, f)
    line = error_line(run_main("--mode=export", "--model_dir=" + model_dir, "--export_dir=" + str(tmp_path / "e")))
    assert line.startswith("error: %s/pfe_config.json: not a model record of this pipeline (it holds keys mine, "
                           "no 'model' of pfe or pretrain)" % model_dir), line


# ---------------------------------------------------------------- 2. embeddings and the model that scores them

def test_embeddings_of_another_model_are_refused_by_eval_and_calibrate(work, decided, tmp_path):
    other = str(tmp_path / "other.npz")  # the work's synthetic model: another checkpoint, the same 16 dimensions
    made = run_main("--mode=predict", "--model_dir=" + work["model"], "--predict_dir=" + decided["faces"],
                    "--predict_output=" + other, "--resize")
    assert made.returncode == 0, made.stdout[-2000:]
    assert embedding_files.model_of(other)["checkpoint_sha256"]  # the file says which model made it
    for mode in ("eval", "calibrate"):
        line = error_line(run_main("--mode=" + mode, "--model_dir=" + decided["model"], "--pairs_csv=" +
                                   decided["csv"], "--embeddings=" + other, "--report_dir=" + str(tmp_path / "r"),
                                   "--far=0.1", *RECORD_FLAGS))
        assert line.startswith("error: --embeddings=%s was made by model.ckpt-3 (checkpoint " % other), line
        assert "not by this model, model.ckpt-2" in line and "--mode=predict" in line


@pytest.mark.parametrize("change, words", [
    (lambda mu: np.concatenate([mu, mu], axis=1) / np.sqrt(2), "32-d embeddings, this model's are 16-d"),
    (lambda mu: 2.6 * mu, "mu is not unit length (norm 2.6"),
])
def test_embeddings_without_a_record_that_do_not_fit_the_model_are_refused(decided, tmp_path, change, words):
    own = str(tmp_path / "own.npz")
    made = run_main("--mode=predict", "--model_dir=" + decided["model"], "--predict_dir=" + decided["faces"],
                    "--predict_output=" + own, *RECORD_FLAGS)
    assert made.returncode == 0, made.stdout[-2000:]
    names, mu, sigma_sq = embedding_files.load(own)
    bare = str(tmp_path / "bare.npz")
    changed = change(mu)
    np.savez(bare, names=np.array([n[:-4] + ".jpg" for n in names]), mu=changed,
             sigma_sq=np.ones_like(changed) * sigma_sq.mean())
    line = error_line(run_main("--mode=eval", "--model_dir=" + decided["model"], "--pairs_csv=" + decided["csv"],
                               "--embeddings=" + bare, "--report_dir=" + str(tmp_path / "r"), *RECORD_FLAGS))
    assert line.startswith("error: ") and bare in line and words in line, line


# ---------------------------------------------------------------- 3. serving_verify pairs batches of one size

def test_serving_verify_refuses_batches_of_different_sizes(decided):
    a, b = (open(os.path.join(decided["faces"], name + ".jpg"), "rb").read() for name in decided["names"][:2])
    with tf.Graph().as_default(), tf.Session() as session:
        signature = predict.load_saved_model(session, decided["export"]).signature_def[export.VERIFY_SIGNATURE]
        outputs = {key: value.name for key, value in signature.outputs.items()}
        feeds = (signature.inputs["image_bytes_a"].name, signature.inputs["image_bytes_b"].name)
        assert len(session.run(outputs, {feeds[0]: [a, b], feeds[1]: [b, a]})["cosine"]) == 2
        for first, second in (([a], [a, b, b]), ([a, b], [a, b, a])):
            with pytest.raises(tf.errors.InvalidArgumentError, match="image_bytes_a and image_bytes_b pair face by "
                                                                     "face: give as many of each"):
                session.run(outputs, {feeds[0]: first, feeds[1]: second})


# ---------------------------------------------------------------- 4. eval --score needs a calibration

def test_eval_with_a_score_and_no_calibration_is_refused(work, decided, tmp_path):
    uncalibrated = copy_of(decided["model"], tmp_path, "model")
    os.remove(os.path.join(uncalibrated, "calibration.json"))
    line = error_line(run_main("--mode=eval", "--model_dir=" + uncalibrated, "--pairs_csv=" + decided["csv"],
                               "--image_root=" + decided["faces"], "--score=monotone_logistic",
                               "--report_dir=" + str(tmp_path / "r"), *RECORD_FLAGS))
    assert line == ("error: --score: %s has no calibration to decide with (p_same, accept_at_far_*); fit one with "
                    "--mode=calibrate" % uncalibrated)


# ---------------------------------------------------------------- 5. verify says what it did to a face

def test_verify_says_when_a_crop_is_centre_cropped_and_which_face_of_how_many_it_decided_on(decided, tmp_path):
    face = cv2.imread(os.path.join(decided["faces"], decided["names"][0] + ".jpg"))
    larger = str(tmp_path / "larger.png")
    cv2.imwrite(larger, cv2.resize(face, (face.shape[1] * 2, face.shape[0] * 2)))
    result = main_alone("--mode=verify", "--saved_model=" + decided["export"], "--image_a=" + larger,
                        "--image_b=" + os.path.join(decided["faces"], decided["names"][0] + ".jpg"), "--far=0.1")
    assert result.returncode == 0, result.stdout[-2000:]
    assert "%s: %dx%d, centre-cropped to the model's %dx%d input (--resize resizes it instead; --align=detect " \
           "finds the face in a photo)" % (larger, face.shape[0] * 2, face.shape[1] * 2, face.shape[0],
                                          face.shape[1]) in result.stdout
    raw = shared_path("data", "lfw_raw250_subset")
    people = sorted(os.listdir(raw))
    photos = [cv2.imread(os.path.join(raw, person, sorted(os.listdir(os.path.join(raw, person)))[0]))
              for person in people[:2]]
    both = str(tmp_path / "two_people.jpg")
    cv2.imwrite(both, np.concatenate(photos, axis=1))
    result = main_alone("--mode=verify", "--saved_model=" + decided["export"], "--image_a=" + both,
                        "--image_b=" + both, "--align=detect", "--detector_model=" + shared_path(*YUNET), "--far=0.1")
    assert result.returncode == 0, result.stdout[-2000:]
    assert re.search(r"%s: \d+ faces found; decided on the largest, at x \d+, y \d+, \d+x\d+" % re.escape(both),
                     result.stdout), result.stdout[-2000:]


# ---------------------------------------------------------------- 6. a failed experiment does not block its rerun

def test_a_failed_experiment_leaves_nothing_that_blocks_its_rerun(tmp_path):
    lfw, work = tiny_lfw(tmp_path), str(tmp_path / "work")
    not_onnx = tmp_path / "sface.onnx"
    not_onnx.write_text("not an onnx model")
    result = run_tool("scripts.run_experiment", "configs/lfw_sface_released.py", "--lfw_dir", lfw, "--sface",
                      str(not_onnx), "--work_dir", work)
    assert error_line(result).startswith("error: ")
    assert not os.path.exists(os.path.join(work, "reports", "lfw_sface_released"))


# ---------------------------------------------------------------- 8. counts of what was asked for

def test_make_tfrecords_counts_landmark_lines_of_the_included_identities_only(tmp_path):
    subset = shared_path("data", "lfw_raw250_subset")
    people = sorted(os.listdir(subset))[:2]
    include = tmp_path / "people.txt"
    include.write_text("\n".join(people) + "\n")
    result = make_records(str(tmp_path / "records"), "--include_identities=" + str(include))
    assert result.returncode == 0, result.stdout[-2000:]
    lines = [line.split()[0] for line in open(shared_path("data", "lfw", "ldmark_lfw_mtcnncaffe.txt"))]
    expected = len([path for path in lines if path.split("/")[0] in people and
                    not os.path.exists(os.path.join(subset, path))])
    assert "; %d landmark line(s) without a file" % expected in result.stdout
    assert expected < 1000  # all of LFW's other people's 13,000 lines are not counted


# ---------------------------------------------------------------- 9. the last tracebacks

@pytest.mark.parametrize("text, line, words", [
    ("def get_config(:\n", 1, "SyntaxError"),
    ("import not_a_module_anywhere\n", 1, "ModuleNotFoundError: No module named 'not_a_module_anywhere'"),
    ("from configs import base\n\n\ndef get_config():\n    raise ValueError('no such head')\n", 5,
     "ValueError: no such head"),
])
def test_a_config_file_that_does_not_load_is_one_line_naming_its_line(tmp_path, text, line, words):
    config = tmp_path / "broken.py"
    config.write_text(text)
    result = run_tool("scripts.run_experiment", str(config), "--lfw_dir", str(tmp_path), "--sface", str(config),
                      "--work_dir", str(tmp_path / "work"))
    assert error_line(result) == "error: %s:%d: the config file does not load (%s); fix that line" % (
        config, line, words) or (words in error_line(result) and "%s:%d:" % (config, line) in error_line(result))


def test_lfw_splits_with_a_fold_that_is_no_number_is_one_line(tmp_path):
    result = run_tool("data_prep.lfw_splits", "--lfw_dir", shared_path("data", "lfw"), "--output_dir",
                      str(tmp_path / "splits"), "--train_folds=a,4", "--test_folds=1", "--calibration_folds=10")
    assert error_line(result) == "error: --train_folds=a,4: expected folds among 1-10"


def test_an_export_without_its_record_is_one_line_not_a_guess(decided, tmp_path):
    export_dir = copy_of(decided["export"], tmp_path, "export")
    os.remove(os.path.join(export_dir, export.RECORD_NAME))
    line = error_line(main_alone("--mode=verify", "--saved_model=" + export_dir, "--image_a=x.jpg", "--image_b=y.jpg"))
    assert line == ("error: %s/pfe_export.json: missing; an export folder needs its record beside the SavedModel (the "
                    "image size, the template, the calibration): restore it, or export the model again" % export_dir)


@pytest.mark.parametrize("edit, words", [
    (lambda c: c.update(version=1), "a calibration of version 1"),
    (lambda c: c["scores"]["monotone_logistic"]["model"]["weights"].append(1.0), "6 weights for 4 features"),
])
def test_a_hand_edited_export_calibration_is_one_line_in_every_mode(decided, tmp_path, edit, words):
    export_dir = copy_of(decided["export"], tmp_path, "export")
    path = os.path.join(export_dir, export.RECORD_NAME)
    record = json.load(open(path))
    edit(record["calibration"])
    json.dump(record, open(path, "w"))
    for flags in (["--mode=verify", "--image_a=a.jpg", "--image_b=b.jpg"],
                  ["--mode=calibrate", "--pairs_csv=" + decided["csv"], "--image_root=" + decided["faces"]]):
        line = error_line(main_alone("--saved_model=" + export_dir, *flags))
        assert line.startswith("error: %s: " % path) and words in line, line


def test_a_full_disk_while_eval_writes_names_the_file_and_keeps_the_earlier_outputs(decided, tmp_path):
    scores = str(tmp_path / "scores.csv")
    flags = ["--mode=eval", "--saved_model=" + decided["export"], "--pairs_csv=" + decided["csv"],
             "--image_root=" + decided["faces"], "--pair_scores_output=" + scores, "--report_dir=" +
             str(tmp_path / "report")]
    assert main_alone(*flags).returncode == 0
    before = tree_digest(str(tmp_path))
    limit = os.path.getsize(scores) // 2

    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    result = subprocess.run([sys.executable, os.path.join(ROOT, "main.py")] + flags, cwd=os.path.dirname(ROOT),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=300,
                            preexec_fn=small_disk)
    assert error_line(result) == ("error: %s: cannot be written, the disk is full (File too large); the earlier file "
                                  "is kept" % scores)
    assert tree_digest(str(tmp_path)) == before  # the report folder as before too


def test_a_full_disk_when_a_run_takes_an_outputs_lock_names_the_folder(tmp_path, monkeypatch):
    """The first thing eval or export writes is the lock beside its output folder: on a full disk that is the
    error (the probe's "[Errno 28] No space left on device", naming nothing)."""
    from pfe_estimator import errors  # pylint: disable=import-outside-toplevel
    from pfe_estimator.storage import model_dir_lock, outputs  # pylint: disable=import-outside-toplevel

    def full_disk(owner, f):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(model_dir_lock.json, "dump", full_disk)
    report = str(tmp_path / "report")
    with pytest.raises(errors.UserError) as refused:
        with outputs.writer_lock(report, "eval"):
            pass
    assert str(refused.value) == "%s: cannot be written, the disk is full (No space left on device); nothing was " \
                                 "changed" % report
    assert os.listdir(str(tmp_path)) == []  # no lock left behind


# ---------------------------------------------------------------- 10. training descends

def test_the_training_tail_descends_the_mls_loss_and_widens_sigma_for_far_apart_pairs():
    """The real model_fn's train_op (not an optimizer built here) on one fixed batch: the MLS loss falls and
    sigma^2 rises from the released head's initial 1e-3 towards the pairs' squared distances, as the released
    head's does; a sign flip in the objective fails this in seconds."""
    from tests.conftest import TINY, tiny_model_fn  # pylint: disable=import-outside-toplevel
    rng = np.random.RandomState(0)
    batch = TINY["num_classes"] * TINY["images_per_class"]
    images = rng.uniform(-1, 1, (batch,) + TINY["image_size"] + (3,)).astype(np.float32)
    labels = np.repeat(np.arange(TINY["num_classes"]), TINY["images_per_class"]).astype(np.int32)
    with tf.Graph().as_default():
        tf.set_random_seed(0)
        spec = tiny_model_fn()({"images": tf.constant(images)}, tf.constant(labels), tf.estimator.ModeKeys.TRAIN)
        mean_log_sigma_sq = [op.inputs[1] for op in tf.get_default_graph().get_operations()
                             if op.type == "ScalarSummary" and op.name.startswith("log_sigma_sq/mean")][0]
        with tf.train.MonitoredSession(session_creator=tf.train.ChiefSessionCreator()) as session:
            losses, sigmas = [], []
            for _ in range(30):
                _, loss, log_sigma = session.run([spec.train_op, spec.loss, mean_log_sigma_sq])
                losses.append(loss)
                sigmas.append(np.exp(log_sigma))
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 1.0, losses
    assert sigmas[-1] > 2 * sigmas[0], sigmas


# ---------------------------------------------------------------- 11. waiting for a state, not a clock

def test_ctrl_c_while_make_tfrecords_writes_is_one_line_from_the_parent_and_none_from_the_workers(tmp_path):
    command = [sys.executable, "-m", "data_prep.make_tfrecords", "--input_dir=" + shared_path("data", "lfw", "images"),
               "--landmarks=" + shared_path("data", "lfw", "ldmark_lfw_mtcnncaffe.txt"),
               "--landmark_image_size=250,250", "--min_images_per_identity=1", "--num_workers=2",
               "--output_dir=" + str(tmp_path / "records")]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               universal_newlines=True, start_new_session=True,
                               # as on a terminal: a suite started in the background (`cmd &`, nohup) passes
                               # SIGINT ignored to its children, and the run would never see the Ctrl-C
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    output = wait_for_output(process, lambda text: re.search(r"[0-9]img/s", text))  # the first rate: writing
    os.killpg(process.pid, signal.SIGINT)  # as a terminal's Ctrl-C reaches the parent and its workers
    process.wait(timeout=120)
    output = "".join(output)
    assert process.returncode != 0 and "Traceback" not in output, output[-3000:]
    assert output.strip().splitlines()[-1].startswith("interrupted: ") and "rerun the same command" in output


def wait_for_output(process, ready, timeout=300):
    """Reads a process's output as it comes until ready(text so far) (or its end): the text, a list that goes on
    filling from a thread until the process ends."""
    text = []
    seen = threading.Event()

    def read():
        for chunk in iter(lambda: process.stdout.read(64), ""):
            text.append(chunk)
            if ready("".join(text)):
                seen.set()
        seen.set()
    threading.Thread(target=read, daemon=True).start()
    assert seen.wait(timeout), "no such output in %d s" % timeout
    assert process.poll() is None, "the run ended before the state the test needs: " + "".join(text)[-2000:]
    return text


def test_no_test_sleeps_a_fixed_time_before_a_signal_or_a_kill():
    """A fixed sleep before a signal races the machine: a busy machine is slower, a quiet one finishes first. A
    sleep inside a loop that polls for a state is fine; a sleep statement followed at once by a signal is not."""
    def signals(node):
        return any(isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and
                   call.func.attr in ("send_signal", "killpg", "kill", "terminate") for call in ast.walk(node))

    def sleeps(node):
        return isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and \
            isinstance(node.value.func, ast.Attribute) and node.value.func.attr == "sleep"
    offenders = []
    for folder, _, files in os.walk(os.path.join(ROOT, "tests")):
        for name in [name for name in files if name.endswith(".py")]:
            path = os.path.join(folder, name)
            for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
                for block in [getattr(node, field) for field in ("body", "orelse", "finalbody")
                              if isinstance(getattr(node, field, None), list)]:
                    offenders += ["%s:%d" % (os.path.relpath(path, ROOT), first.lineno)
                                  for first, then in zip(block, block[1:]) if sleeps(first) and signals(then)]
    assert offenders == []

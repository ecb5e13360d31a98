"""Fault injection: ordinary mistakes never lose work or give a silently wrong answer.

Each case runs the real command, asserts a non-zero exit with one line naming the file, flag or value,
and that the earlier good output is byte-identical afterwards.
"""
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from tests.conftest import RECORD_FLAGS, ROOT, TINY, make_records, run_tool, shared_path
from tests.test_main import TINY_FLAGS, run_main


def tree_digest(path):
    """{relative path: sha256} of every file under a folder (or of the file itself)."""
    if os.path.isfile(path):
        return {"": hashlib.sha256(open(path, "rb").read()).hexdigest()}
    digests = {}
    for root, _, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            digests[os.path.relpath(full, path)] = hashlib.sha256(open(full, "rb").read()).hexdigest()
    return digests


def error_line(result):
    """The last line of a failed run, which must be the whole message."""
    assert result.returncode != 0, result.stdout[-2000:]
    line = result.stdout.strip().splitlines()[-1]
    assert "Traceback" not in result.stdout, result.stdout[-3000:]
    return line


def copy_of(path, tmp_path, name):
    target = str(tmp_path / name)
    shutil.copytree(path, target)
    return target


# ---------------------------------------------------------------- export never deletes what is not its own


@pytest.mark.parametrize("target", ["{model}", "{model}/", "{model}/export", "{base}"])
def test_export_into_or_around_the_model_dir_is_refused(work, target):
    before = tree_digest(work["model"])
    result = run_main("--mode=export", "--model_dir=" + work["model"], "--export_dir=" + target.format(**work))
    line = error_line(result)
    assert re.search(r"--export_dir=\S+ (is|lies inside|holds) --model_dir=\S+, which this run reads", line), line
    assert tree_digest(work["model"]) == before


def test_export_refuses_a_foreign_folder_or_a_file_unless_overwrite(work, tmp_path):
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"precious")
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    result = run_main("--mode=export", "--model_dir=" + work["model"], "--export_dir=" + str(foreign))
    assert "already holds a folder of files this pipeline did not write" in error_line(result)
    result = run_main("--mode=export", "--model_dir=" + work["model"], "--export_dir=" + str(a_file))
    assert "is a file, not a folder" in error_line(result)
    assert (foreign / "holiday.jpg").read_bytes() == b"precious" and a_file.read_text() == "keep me"
    assert not glob.glob(str(tmp_path / ".*partial*"))
    replaced = run_main("--mode=export", "--model_dir=" + work["model"], "--export_dir=" + str(foreign), "--overwrite")
    assert replaced.returncode == 0, replaced.stdout[-2000:]
    assert sorted(os.listdir(str(foreign))) == ["pfe.onnx", "pfe_export.json", "pfe_frozen.pb", "pfe_output.json",
                                                "saved_model.pb", "variables"]


def test_killed_export_leaves_the_previous_export_intact(work, tmp_path):
    export_dir = copy_of(work["export"], tmp_path, "export")
    before = tree_digest(export_dir)
    kill_mid_run(tmp_path, ["--mode=export", "--model_dir=" + work["model"], "--export_dir=" + export_dir],
                 lambda log: glob.glob(str(tmp_path / ".export.partial-*/export/variables")))
    assert tree_digest(export_dir) == before
    again = run_main("--mode=export", "--model_dir=" + work["model"], "--export_dir=" + export_dir)
    assert again.returncode == 0, again.stdout[-2000:]
    assert not glob.glob(str(tmp_path / ".export.partial-*"))  # the killed run's leftovers are cleaned
    assert set(tree_digest(export_dir)) == set(before)


def kill_mid_run(tmp_path, flags, started, timeout=120):
    """Runs main.py with TINY_FLAGS + flags and SIGKILLs it once `started(log so far)` is true.

    Asserts that the kill came while the run was still going (not after it finished).
    """
    log = str(tmp_path / "killed_run.log")
    with open(log, "w") as output:
        process = subprocess.Popen([sys.executable, os.path.join(ROOT, "main.py")] + TINY_FLAGS + flags, cwd=ROOT,
                                   stdout=output, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + timeout
            while time.time() < deadline and process.poll() is None and not started(open(log).read()):
                time.sleep(0.01)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
    assert process.returncode == -signal.SIGKILL, open(log).read()[-2000:]


# ---------------------------------------------------------------- predict and eval outputs


def faces_folder(tmp_path, count=3, size=TINY["image_size"]):
    folder = tmp_path / "faces"
    folder.mkdir()
    import cv2  # pylint: disable=import-outside-toplevel
    rng = np.random.RandomState(0)
    for index in range(count):
        cv2.imwrite(str(folder / ("face_%d.png" % index)), rng.randint(0, 256, size + (3,)).astype(np.uint8))
    return str(folder)


def test_predict_refuses_to_replace_a_foreign_file_and_takes_any_batch_size(work, tmp_path):
    faces = faces_folder(tmp_path)
    foreign = tmp_path / "thesis.npz"
    np.savez(str(foreign), chapters=np.arange(3))
    before = tree_digest(str(foreign))
    result = run_main("--mode=predict", "--model_dir=" + work["model"], "--predict_dir=" + faces,
                      "--predict_output=" + str(foreign))
    assert "--predict_output=%s exists and is not an output of this pipeline" % foreign in error_line(result)
    assert tree_digest(str(foreign)) == before
    output = str(tmp_path / "embeddings.npz")
    # batch 5 is not a multiple of --num_classes_per_batch=4: irrelevant to predict
    result = run_main("--mode=predict", "--model_dir=" + work["model"], "--predict_dir=" + faces,
                      "--predict_output=" + output, "--batch_size=5")
    assert result.returncode == 0, result.stdout[-2000:]
    rerun = run_main("--mode=predict", "--model_dir=" + work["model"], "--predict_dir=" + faces,
                     "--predict_output=" + output)  # its own earlier output: replaced
    assert rerun.returncode == 0, rerun.stdout[-2000:]


def test_killed_predict_leaves_the_previous_features_intact(work, tmp_path):
    faces = faces_folder(tmp_path, count=3000)
    output = str(tmp_path / "embeddings.npz")
    first = run_main("--mode=predict", "--model_dir=" + work["model"], "--predict_dir=" + faces,
                     "--predict_output=" + output)
    assert first.returncode == 0, first.stdout[-2000:]
    before = tree_digest(output)
    kill_mid_run(tmp_path, ["--mode=predict", "--model_dir=" + work["model"], "--predict_dir=" + faces,
                            "--predict_output=" + output, "--verbose"], lambda log: "Restoring parameters from" in log)
    assert tree_digest(output) == before


def test_predict_with_every_image_unreadable_is_one_line(work, tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"not an image")
    result = run_main("--mode=predict", "--model_dir=" + work["model"], "--predict_dir=" + str(folder),
                      "--predict_output=" + str(tmp_path / "f.npz"))
    assert "none of its 1 images could be used" in error_line(result) and "a.jpg" in error_line(result)
    assert not os.path.exists(str(tmp_path / "f.npz"))


def lfw_pairs_file(tmp_path, names):
    """A pairs file in LFW's format over `names` = [(person, number)] (1 fold, 1 genuine + 1 impostor)."""
    path = tmp_path / "pairs.txt"
    (a, n1), (_, n2), (b, n3) = names
    path.write_text("1\t1\n%s\t%d\t%d\n%s\t%d\t%s\t%d\n" % (a, n1, n2, a, n1, b, n3))
    return str(path)


@pytest.mark.parametrize("poison", ["mu_nan", "sigma_inf", "sigma_zero", "sigma_negative"])
def test_eval_refuses_features_that_cannot_be_scored(tmp_path, poison):
    names = ["A_0001", "A_0002", "B_0001"]
    mu = np.ones((3, 4), np.float32) / 2
    sigma_sq = np.full((3, 4), 0.1, np.float32)
    array, value = {"mu_nan": (mu, np.nan), "sigma_inf": (sigma_sq, np.inf), "sigma_zero": (sigma_sq, 0.0),
                    "sigma_negative": (sigma_sq, -1.0)}[poison]
    array[1, 2] = value
    features = str(tmp_path / "embeddings.npz")
    np.savez(features, names=np.array(names), mu=mu, sigma_sq=sigma_sq)
    pairs = lfw_pairs_file(tmp_path, [("A", 1), ("A", 2), ("B", 1)])
    result = run_main("--mode=eval", "--embeddings=" + features, "--lfw_pairs=" + pairs,
                      "--report_dir=" + str(tmp_path / "report"))
    line = error_line(result)
    assert features in line and "1 face(s)" in line and "A_0002" in line
    assert not os.path.exists(str(tmp_path / "report" / "report.json"))


def test_report_json_is_strict_json_even_with_undefined_numbers(tmp_path):
    from pfe_estimator.storage import atomic_files  # pylint: disable=import-outside-toplevel
    path = str(tmp_path / "report.json")
    atomic_files.write_json(path, {"std": float("nan"), "folds": [1.0, float("inf")], "ok": 0.5})
    text = open(path).read()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text, parse_constant=lambda c: pytest.fail("non-strict constant " + c)) == {
        "folds": [1.0, None], "ok": 0.5, "std": None}


def test_eval_refuses_a_foreign_report_dir_and_names_missing_or_bad_pairs_files(tmp_path):
    features = str(tmp_path / "embeddings.npz")
    np.savez(features, names=np.array(["A_0001", "A_0002", "B_0001"]), mu=np.eye(3, 4, dtype=np.float32),
             sigma_sq=np.full((3, 4), 0.1, np.float32))
    foreign = tmp_path / "documents"
    foreign.mkdir()
    (foreign / "cv.txt").write_text("mine")
    pairs = lfw_pairs_file(tmp_path, [("A", 1), ("A", 2), ("B", 1)])
    result = run_main("--mode=eval", "--embeddings=" + features, "--lfw_pairs=" + pairs, "--report_dir=" + str(foreign))
    assert "--report_dir=%s already holds a folder of files this pipeline did not write" % foreign in error_line(result)
    assert os.listdir(str(foreign)) == ["cv.txt"]
    missing = str(tmp_path / "no_pairs.txt")
    result = run_main("--mode=eval", "--embeddings=" + features, "--lfw_pairs=" + missing,
                      "--report_dir=" + str(tmp_path / "r1"))
    assert error_line(result) == "error: %s: No such file or directory" % missing
    bad = tmp_path / "bad_pairs.txt"
    bad.write_text("1\t1\nA\t1\tx\nA\t1\tB\t1\n")
    result = run_main("--mode=eval", "--embeddings=" + features, "--lfw_pairs=" + str(bad),
                      "--report_dir=" + str(tmp_path / "r2"))
    assert "%s:2: expected `name n1 n2`" % bad in error_line(result)


def test_killed_eval_leaves_the_previous_report_intact(tmp_path):
    rng = np.random.RandomState(0)
    people = ["P%03d" % i for i in range(600)]
    names = ["%s_%04d" % (p, n) for p in people for n in (1, 2)]
    mu = rng.randn(len(names), 64).astype(np.float32)
    mu /= np.linalg.norm(mu, axis=1, keepdims=True)  # PFE's mu is unit length
    features = str(tmp_path / "embeddings.npz")
    np.savez(features, names=np.array(names), mu=mu, sigma_sq=rng.uniform(0.1, 1, mu.shape).astype(np.float32))
    lines = ["10\t300"]
    for fold in range(10):
        block = people[fold * 60:(fold + 1) * 60]
        lines += ["%s\t1\t2" % block[i % 60] for i in range(300)]
        lines += ["%s\t1\t%s\t2" % (block[i % 60], block[(i + 1) % 60]) for i in range(300)]
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("\n".join(lines) + "\n")
    report_dir = str(tmp_path / "report")
    first = run_main("--mode=eval", "--embeddings=" + features, "--lfw_pairs=" + str(pairs),
                     "--report_dir=" + report_dir)
    assert first.returncode == 0, first.stdout[-2000:]
    before = tree_digest(report_dir)
    kill_mid_run(tmp_path, ["--mode=eval", "--embeddings=" + features, "--lfw_pairs=" + str(pairs),
                            "--report_dir=" + report_dir],
                 lambda log: glob.glob(str(tmp_path / ".report.partial-*/report")))
    assert tree_digest(report_dir) == before
    again = run_main("--mode=eval", "--embeddings=" + features, "--lfw_pairs=" + str(pairs),
                     "--report_dir=" + report_dir)
    assert again.returncode == 0 and not glob.glob(str(tmp_path / ".report.partial-*"))
    assert tree_digest(report_dir) == before  # the same inputs give the same report


# ---------------------------------------------------------------- data preparation and the feature cache


def test_make_tfrecords_refuses_a_rerun_with_other_inputs(work, tmp_path):
    records = copy_of(work["records"], tmp_path, "records")
    before = tree_digest(records)
    include = tmp_path / "include.txt"
    include.write_text("Colin_Powell\nTony_Blair\n")
    result = make_records(records, "--include_identities=" + str(include))
    assert "was made from other inputs or settings (changed: identities; images" in error_line(result)
    assert tree_digest(records) == before
    other_input = copy_of(shared_path("data", "lfw_raw250_subset"), tmp_path, "other_input")
    photo = sorted(glob.glob(os.path.join(other_input, "*", "*.jpg")))[0]
    os.chmod(photo, 0o644)  # copied from the read-only shared folder
    assert cv2.imwrite(photo, cv2.GaussianBlur(cv2.imread(photo), (5, 5), 0))  # one photo's bytes differ
    result = run_tool("data_prep.make_tfrecords", "--input_dir=" + other_input,
                      "--landmarks=" + shared_path("data", "lfw", "ldmark_lfw_mtcnncaffe.txt"), "--template=56x48",
                      "--output_dir=" + records, "--num_workers=1", "--images_per_shard=40")
    assert "changed: images)" in error_line(result)
    assert tree_digest(records) == before
    rebuilt = make_records(records, "--include_identities=" + str(include), "--overwrite")
    assert rebuilt.returncode == 0, rebuilt.stdout[-2000:]
    manifest = json.load(open(os.path.join(records, "manifest.json")))
    assert sorted(i["name"] for i in manifest["identities"]) == ["Colin_Powell", "Tony_Blair"]


def test_make_tfrecords_that_writes_nothing_fails_with_the_reason(tmp_path):
    empty_landmarks = tmp_path / "landmarks.txt"
    empty_landmarks.write_text("")
    result = run_tool("data_prep.make_tfrecords", "--input_dir=" + shared_path("data", "lfw_raw250_subset"),
                      "--landmarks=" + str(empty_landmarks), "--output_dir=" + str(tmp_path / "out"),
                      "--num_workers=1")
    assert "wrote 0 images, skipped 100 (no_landmarks 100); are --landmarks' paths relative" in error_line(result)
    nobody = tmp_path / "nobody.txt"
    nobody.write_text("Not_A_Person\n")
    result = make_records(str(tmp_path / "out2"), "--include_identities=" + str(nobody))
    assert "no identity to write: the input lists 10, --include_identities keeps 0" in error_line(result)


def test_degenerate_landmarks_are_skipped_with_a_reason(tmp_path):
    source = shared_path("data", "lfw_raw250_subset")
    landmarks = tmp_path / "landmarks.txt"
    lines = []
    for line in open(shared_path("data", "lfw", "ldmark_lfw_mtcnncaffe.txt")):
        path = line.split()[0]
        if os.path.exists(os.path.join(source, path)):
            lines.append(path + " 100" * 10 if path.endswith("_0001.jpg") else line.strip())
    landmarks.write_text("\n".join(lines) + "\n")
    result = run_tool("data_prep.make_tfrecords", "--input_dir=" + source, "--landmarks=" + str(landmarks),
                      "--template=56x48", "--output_dir=" + str(tmp_path / "out"), "--num_workers=1")
    assert result.returncode == 0, result.stdout[-2000:]
    manifest = json.load(open(str(tmp_path / "out" / "manifest.json")))
    assert manifest["skipped_by_kind"] == {"degenerate_landmarks": 10}
    assert all("all 5 points within 0.0 px" in s["reason"] for s in manifest["skipped"])


def test_make_tfrecords_output_that_is_a_file_or_under_one_is_one_line(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for target, expected in ((str(a_file), "is a file, not a folder"), (str(a_file / "sub"), "cannot be written")):
        result = make_records(target)
        assert "--output_dir=%s %s" % (target, expected) in error_line(result)
    assert a_file.read_text() == "x"


def test_cache_features_refuses_a_rerun_with_another_dtype_or_checkpoint(work, tmp_path):
    pretrained = str(tmp_path / "pretrained")
    trained = run_main("--mode=train", "--data=synthetic", "--model_dir=" + pretrained, "--max_steps=1",
                       "--backbone=sphere4", "--image_size=56,48")
    assert trained.returncode == 0, trained.stdout[-2000:]
    cache = str(tmp_path / "cache")
    common = ["--mode=cache_features", "--data_dir=" + work["records"], "--cache_dir=" + cache,
              "--pretrained_ckpt=" + pretrained, "--backbone=sphere4"]
    first = run_main(*common)
    assert first.returncode == 0, first.stdout[-2000:]
    before = tree_digest(cache)
    manifest = json.load(open(os.path.join(cache, "manifest.json")))
    assert manifest["cache"]["checkpoint"].endswith("model.ckpt-1")
    result = run_main(*(common + ["--cache_dtype=float32"]))
    assert 'changed: features_dtype "float16" -> "float32"' in error_line(result)
    retrained = run_main("--mode=train", "--data=synthetic", "--model_dir=" + pretrained, "--max_steps=2",
                         "--backbone=sphere4", "--image_size=56,48")
    assert retrained.returncode == 0, retrained.stdout[-2000:]
    result = run_main(*common)
    assert "changed: checkpoint" in error_line(result)
    assert tree_digest(cache) == before


def test_training_names_a_truncated_shard_before_it_starts(work, tmp_path):
    records = copy_of(work["records"], tmp_path, "records")
    shard = sorted(glob.glob(os.path.join(records, "*.tfrecord")))[-1]
    with open(shard, "r+b") as f:
        f.truncate(os.path.getsize(shard) // 2)
    result = run_main("--mode=train", "--data_dir=" + records, "--model_dir=" + str(tmp_path / "m"),
                      "--max_steps=2", *RECORD_FLAGS)
    assert "%s: %d bytes, the manifest recorded" % (shard, os.path.getsize(shard)) in error_line(result)


def test_invalid_manifest_json_is_named(work, tmp_path):
    records = copy_of(work["records"], tmp_path, "records")
    with open(os.path.join(records, "manifest.json"), "a") as f:
        f.write("}")
    result = run_main("--mode=train", "--data_dir=" + records, "--model_dir=" + str(tmp_path / "m"), *RECORD_FLAGS)
    assert "%s/manifest.json: not valid JSON" % records in error_line(result)


# ---------------------------------------------------------------- training never silently starts over


def test_missing_or_garbled_checkpoint_state_stops_training(work, tmp_path):
    model_dir = copy_of(work["model"], tmp_path, "model")
    for state in (None, "garbage\n"):
        os.remove(os.path.join(model_dir, "checkpoint")) if os.path.exists(os.path.join(model_dir, "checkpoint")) \
            else None
        if state:
            open(os.path.join(model_dir, "checkpoint"), "w").write(state)
        before = tree_digest(model_dir)
        result = run_main("--mode=train", "--data=synthetic", "--model_dir=" + model_dir, "--max_steps=6")
        line = error_line(result)
        assert "holds model.ckpt-3 but its `checkpoint` state file is missing" in line
        assert tree_digest(model_dir) == before


def test_corrupt_latest_checkpoint_resumes_from_the_newest_intact_one(work, tmp_path):
    model_dir = copy_of(work["model"], tmp_path, "model")
    data = glob.glob(os.path.join(model_dir, "model.ckpt-3.data-*"))[0]
    with open(data, "r+b") as f:
        f.truncate(100)
    result = run_main("--mode=train", "--data=synthetic", "--model_dir=" + model_dir, "--max_steps=5", "--verbose")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "corrupt checkpoint model.ckpt-3" in result.stdout and "resuming from the newest intact one, model.ckpt-0" \
        in result.stdout
    assert "Restoring parameters from %s/model.ckpt-0" % model_dir in result.stdout
    assert os.path.exists(os.path.join(model_dir, "corrupt", os.path.basename(data)))
    assert os.path.exists(os.path.join(model_dir, "model.ckpt-5.index"))


def test_a_second_training_or_an_export_on_a_busy_model_dir_is_refused(work, tmp_path):
    model_dir = copy_of(work["model"], tmp_path, "model")
    lock = os.path.join(model_dir, ".pfe_lock")
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, "main.py")] + TINY_FLAGS + [
        "--mode=train", "--data=synthetic", "--model_dir=" + model_dir, "--max_steps=100000",
        "--save_checkpoints_steps=100000"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not os.path.exists(lock):
            time.sleep(0.05)
        second = run_main("--mode=train", "--data=synthetic", "--model_dir=" + model_dir, "--max_steps=10")
        assert "%s is in use by train (pid %d" % (model_dir, process.pid) in error_line(second)
        export = run_main("--mode=export", "--model_dir=" + model_dir, "--export_dir=" + str(tmp_path / "e"))
        assert "is in use by train" in error_line(export)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    # the killed owner's lock is stale: the next training takes it over
    resumed = run_main("--mode=train", "--data=synthetic", "--model_dir=" + model_dir, "--max_steps=4")
    assert resumed.returncode == 0, resumed.stdout[-2000:]
    assert not os.path.exists(lock)


def test_the_model_folder_remembers_its_configuration(work, tmp_path):
    faces = faces_folder(tmp_path)
    output = str(tmp_path / "f.npz")
    bare = subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), "--mode=predict",
                           "--model_dir=" + work["model"], "--predict_dir=" + faces, "--predict_output=" + output],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert bare.returncode == 0, bare.stdout[-2000:]  # no --backbone, --image_size, --embedding_size
    assert np.load(output)["mu"].shape == (3, TINY["embedding_size"])
    result = run_main("--mode=predict", "--model_dir=" + work["model"], "--predict_dir=" + faces,
                      "--predict_output=" + output, "--image_size=112,96")
    assert "--image_size=112,96 contradicts %s/pfe_config.json, which records 32,32" % work["model"] in \
        error_line(result)


def test_a_head_trained_from_a_cache_predicts_without_repeating_the_backbone(work, tmp_path):
    pretrained = str(tmp_path / "pretrained")
    assert run_main("--mode=train", "--data=synthetic", "--model_dir=" + pretrained, "--max_steps=1",
                    "--backbone=sphere4", "--image_size=56,48").returncode == 0
    cache = str(tmp_path / "cache")
    assert run_main("--mode=cache_features", "--data_dir=" + work["records"], "--cache_dir=" + cache,
                    "--pretrained_ckpt=" + pretrained, "--backbone=sphere4").returncode == 0
    head = str(tmp_path / "head")
    trained = subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), "--mode=train", "--data_dir=" + cache,
                              "--model_dir=" + head, "--max_steps=2", "--batch_size=8", "--num_classes_per_batch=4"],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert trained.returncode == 0, trained.stdout[-2000:]
    record = json.load(open(os.path.join(head, "pfe_config.json")))
    assert (record["backbone"], record["image_size"], record["template"]) == ("sphere4", [56, 48], "56x48")
    faces = faces_folder(tmp_path, size=(56, 48))
    predicted = subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), "--mode=predict",
                                "--model_dir=" + head, "--predict_dir=" + faces,
                                "--predict_output=" + str(tmp_path / "f.npz"), "--pretrained_ckpt=" + pretrained],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert predicted.returncode == 0, predicted.stdout[-2000:]


# ---------------------------------------------------------------- flags and inputs named in one line


@pytest.mark.parametrize("flag, expected", [
    ("--save_checkpoints_steps=0", "flag --save_checkpoints_steps=0: 0 is not a positive integer"),
    ("--num_classes_per_batch=0", "flag --num_classes_per_batch=0: 0 is not a positive integer"),
    ("--image_size=abc", "flag --image_size=['abc']: must be two positive integers"),
    ("--learning_rate_boundaries=x",
     "flag --learning_rate_boundaries=['x']: must be comma-separated, increasing, positive integer steps"),
    ("--learning_rate_boundaries=20,10",
     "flag --learning_rate_boundaries=['20', '10']: must be comma-separated, increasing, positive"),
    ("--lr_values=0.1", "--lr_values is now --learning_rates (the training recipe's field name)"),
    ("--learning_rates=0.1,-0.01", "flag --learning_rates=['0.1', '-0.01']: must be comma-separated positive numbers"),
    ("--weight_decay=-5e-4", "flag --weight_decay=-0.0005: must be a number >= 0"),
    ("--momentum=nan", "flag --momentum=nan: must be a number in [0, 1)"),
])
def test_bad_flag_values_name_the_flag(tmp_path, flag, expected):
    result = run_main("--mode=train", "--data=synthetic", "--model_dir=" + str(tmp_path / "m"), flag)
    assert result.returncode != 0 and expected in result.stdout
    assert not os.path.exists(str(tmp_path / "m"))


def test_a_corrupt_pretrained_index_is_named(work, tmp_path):
    pretrained = copy_of(work["model"], tmp_path, "pretrained")
    with open(os.path.join(pretrained, "model.ckpt-3.index"), "r+b") as f:
        f.truncate(20)
    result = run_main("--mode=train", "--data=synthetic", "--model_dir=" + str(tmp_path / "m"), "--max_steps=1",
                      "--pretrained_ckpt=" + pretrained)
    assert "%s/model.ckpt-3: unreadable checkpoint" % pretrained in error_line(result)


def test_a_released_style_folder_with_the_wrong_image_size_is_one_line(work, tmp_path):
    model_dir = copy_of(work["model"], tmp_path, "released")
    os.remove(os.path.join(model_dir, "pfe_config.json"))  # a released PFE folder records nothing
    result = run_main("--mode=predict", "--model_dir=" + model_dir, "--predict_dir=" + faces_folder(tmp_path),
                      "--predict_output=" + str(tmp_path / "f.npz"), "--image_size=112,96")
    assert "variable SphereNet/Bottleneck/weights has shape" in error_line(result)
    assert "do --backbone, --image_size or --embedding_size differ from the training run?" in error_line(result)


def test_overwrite_never_removes_the_folder_the_user_stands_in(tmp_path, monkeypatch):
    from pfe_estimator.storage import outputs  # pylint: disable=import-outside-toplevel
    home = tmp_path / "home"
    (home / "work").mkdir(parents=True)
    (home / "thesis.tex").write_text("years of work")
    (home / "work" / "notes.txt").write_text("today")
    monkeypatch.chdir(str(home / "work"))
    for target in (str(home), str(home / "work")):
        with pytest.raises(outputs.OutputError, match="holds the current folder"):
            outputs.claim_directory(target, "tfrecords", "output_dir", {"x": 1}, overwrite=True)
        with pytest.raises(outputs.OutputError, match="holds the current folder"):
            with outputs.replacing_directory(target, "export", "export_dir", overwrite=True) as staging:
                os.makedirs(staging)
    assert (home / "thesis.tex").read_text() == "years of work"


def test_atomic_writing_keeps_the_earlier_file_when_the_writer_fails(tmp_path):
    from pfe_estimator.storage import atomic_files  # pylint: disable=import-outside-toplevel
    target = str(tmp_path / "plot.png")
    atomic_files.write_text(target, u"earlier")
    with pytest.raises(RuntimeError):
        with atomic_files.writing(target) as temporary:
            assert temporary.endswith(".png") and temporary != target  # writers that go by the extension work
            open(temporary, "w").write("half")
            raise RuntimeError("writer failed")
    assert open(target).read() == "earlier" and os.listdir(str(tmp_path)) == ["plot.png"]
    with atomic_files.writing(target) as temporary:
        open(temporary, "w").write("new")
    assert open(target).read() == "new" and os.listdir(str(tmp_path)) == ["plot.png"]

"""Fault injection, third probe (issue 39): what a fresh adversarial user found. Outputs keep what they did not
write and refuse a second writer; flags that do not apply are refused, not ignored; records say what
really happened; and every user error is one line naming the flag, file or line, never a traceback."""
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from pfe_estimator import errors
from pfe_estimator.data import embedding_files
from pfe_estimator.data import pair_files
from pfe_estimator.experiments import lfw_data
from pfe_estimator.storage import model_config
from tests.conftest import RECORD_FLAGS, ROOT, make_records, shared_path, subset_pairs
from tests.conftest import main_alone
from tests.test_main import run_main
from tests.test_reliability import copy_of, error_line, faces_folder, tree_digest

YUNET = ("models", "yunet", "face_detection_yunet_2023mar_int8bq.onnx")
SFACE = ("models", "sface", "face_recognition_sface_2021dec_int8bq.onnx")


def people_of(work):
    del work
    return sorted(os.listdir(shared_path("data", "lfw_raw250_subset")))


# ---------------------------------------------------------------- an output keeps what it did not write


def test_an_export_rerun_keeps_the_users_files_and_nested_exports_or_refuses_naming_them(work, tmp_path):
    export_dir = copy_of(work["export"], tmp_path, "export")
    (tmp_path / "export" / "DEPLOYMENT.md").write_text("how we deploy it")
    shutil.copytree(work["export"], str(tmp_path / "export" / "older"))
    before = tree_digest(export_dir)
    result = run_main("--mode=export", "--model_dir=" + work["model"], "--export_dir=" + export_dir)
    line = error_line(result)
    assert line.startswith("error: --export_dir=%s holds DEPLOYMENT.md" % export_dir) and "did not write" in line
    assert tree_digest(export_dir) == before
    os.remove(os.path.join(export_dir, "DEPLOYMENT.md"))
    shutil.rmtree(os.path.join(export_dir, "older"))
    again = run_main("--mode=export", "--model_dir=" + work["model"], "--export_dir=" + export_dir)
    assert again.returncode == 0, again.stdout[-2000:]  # its own files it replaces


def test_an_eval_rerun_keeps_the_users_files_in_its_report_dir_or_refuses(work, tmp_path):
    pairs = subset_pairs(str(tmp_path / "pairs.txt"), people_of(work))
    report = str(tmp_path / "report")
    flags = ["--mode=eval", "--model_dir=" + work["record_model"], "--lfw_dir=" + work["records"],
             "--lfw_pairs=" + pairs, "--report_dir=" + report] + RECORD_FLAGS
    assert run_main(*flags).returncode == 0
    (tmp_path / "report" / "notes.txt").write_text("what I saw")
    before = tree_digest(report)
    line = error_line(run_main(*flags))
    assert "holds notes.txt, which this pipeline did not write" in line
    assert tree_digest(report) == before


def test_a_second_writer_of_a_folder_output_is_told_another_run_writes_there(work, tmp_path):
    """A live run's lock beside the folder it replaces: the second eval or export is refused naming it, and
    never removes the first one's staging folder."""
    from pfe_estimator.storage import outputs  # pylint: disable=import-outside-toplevel
    report = str(tmp_path / "report")
    with outputs.writer_lock(report, "eval"):  # this process, alive: another eval writing there
        staging = outputs.staging_directory(report)
        result = run_main("--mode=eval", "--embeddings=" + str(tmp_path / "none.npz"), "--lfw_pairs=" +
                          subset_pairs(str(tmp_path / "pairs.txt"), people_of(work)), "--report_dir=" + report)
        line = error_line(result)
        assert "is in use by eval (pid %d" % os.getpid() in line and report in line
        assert os.path.isdir(staging)
        exported = run_main("--mode=export", "--model_dir=" + work["model"], "--export_dir=" + report)
        assert "is in use by eval" in error_line(exported)


# ---------------------------------------------------------------- flags that do not apply are refused


@pytest.mark.parametrize("flag", ["--model_dir=elsewhere", "--backbone=sphere20", "--head_input=pooled",
                                  "--backbone_precision=fp32", "--pretrained_ckpt=elsewhere"])
def test_model_flags_beside_saved_model_are_refused_not_ignored(work, tmp_path, flag):
    faces = faces_folder(tmp_path, size=(56, 48))
    result = main_alone("--mode=predict", "--saved_model=" + work["export"], "--predict_dir=" + faces,
                        "--predict_output=" + str(tmp_path / "e.npz"), flag)
    line = error_line(result)
    assert line.startswith("error: %s does not apply with --saved_model" % flag.split("=")[0]), line
    assert not os.path.exists(str(tmp_path / "e.npz"))


def test_a_resume_with_another_backbone_precision_is_refused_and_the_record_kept(tmp_path):
    model_dir = str(tmp_path / "model")
    record = {"model": "pfe", "backbone": "sphere4", "image_size": [32, 32], "embedding_size": 16,
              "backbone_precision": {"used": "fp32", "why": "--backbone_precision=fp32"}, "recipe": {"max_steps": 3}}
    model_config.write_training_record(model_dir, record)
    with pytest.raises(errors.UserError, match="records backbone_precision fp32, this training has bf16"):
        model_config.write_training_record(model_dir, dict(record, backbone_precision={"used": "bf16", "why": "x"}))
    assert model_config.read(model_dir) == record


def test_a_head_trained_from_a_bf16_cache_records_the_caches_precision(tmp_path):
    """The backbone does not run when the head trains from a cache: the precision that made its inputs is the
    cache's, and the record says so (it said fp32, 'the backbone does not run in this mode')."""
    from tests.modes.test_run_config import defaults  # pylint: disable=import-outside-toplevel
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "manifest.json").write_text(json.dumps({
        "image_size": [112, 112], "identities": [], "shards": [],
        "cache": {"backbone": "sphere4", "embedding_size": 16, "checkpoint": None, "feature_size": 8,
                  "features_dtype": "float16", "backbone_options": {"precision": "bf16"}}}))
    config = defaults(data_dir=str(cache), backbone="sphere4", embedding_size=16, image_size=["112", "112"])
    assert config.backbone_precision[0] == "bf16" and "manifest.json" in config.backbone_precision[1]


def test_an_embeddings_file_with_a_name_twice_is_refused():
    names = np.array(["A_0001", "B_0001", "A_0001"])
    with pytest.raises(errors.UserError, match=r"A_0001 is there twice \(rows 0 and 2\)"):
        embedding_files.check_names(names, "embeddings.npz")


def test_landmarks_given_for_another_resolution_are_refused_before_any_record(tmp_path):
    result = make_records(str(tmp_path / "records"), "--landmark_image_size=300,300")
    line = error_line(result)
    assert "--landmark_image_size=300,300" in line and "were they given for about 252x252" in line, line
    assert not os.path.exists(str(tmp_path / "records" / "manifest.json"))


@pytest.mark.parametrize("change, words", [({"image_size": [56, 48]}, "image_size 56,48"),
                                           ({"template": "112x112"}, "template 112x112")])
def test_an_export_whose_own_files_disagree_names_the_file(work, tmp_path, change, words):
    export_dir = copy_of(work["export"], tmp_path, "export")
    path = os.path.join(export_dir, "pfe_export.json")
    record = json.load(open(path))
    record.update(change)
    json.dump(record, open(path, "w"))
    faces = faces_folder(tmp_path)
    line = error_line(main_alone("--mode=predict", "--saved_model=" + export_dir, "--predict_dir=" + faces,
                                 "--predict_output=" + str(tmp_path / "e.npz")))
    assert line.startswith("error: %s: " % path) and words in line and "the SavedModel takes 32x32" in line, line


def test_a_damaged_cache_shard_says_to_rebuild_the_cache():
    from pfe_estimator.data import tfrecord_schema  # pylint: disable=import-outside-toplevel
    message = tfrecord_schema.damaged_shard_message("cache/faces-00000-of-00001.tfrecord", "corrupted", cache=True)
    assert "--mode=cache_features" in message and "sidecar" not in message and "make_tfrecords" not in message


# ---------------------------------------------------------------- user errors are one line


@pytest.mark.parametrize("value", ["0,0", "250", "-250,abc"])
def test_a_landmark_image_size_that_is_no_size_is_one_line(tmp_path, value):
    result = make_records(str(tmp_path / "records"), "--landmark_image_size=" + value)
    assert result.returncode != 0 and "Traceback" not in result.stdout  # absl's line naming the flag
    assert "flag --landmark_image_size=" in result.stdout and "must be two positive integers" in result.stdout


def test_a_full_disk_in_make_tfrecords_is_one_line_and_leaves_no_partial_shard(tmp_path):
    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))
    records = str(tmp_path / "records")
    result = run_tool_with(small_disk, "data_prep.make_tfrecords",
                           "--input_dir=" + shared_path("data", "lfw_raw250_subset"),
                           "--landmarks=" + shared_path("data", "lfw", "ldmark_lfw_mtcnncaffe.txt"),
                           "--template=56x48", "--output_dir=" + records, "--num_workers=1")
    line = error_line(result)
    assert "the disk is full" in line and records in line
    assert not [name for name in os.listdir(records) if ".partial" in name]


def run_tool_with(preexec, module, *args):
    return subprocess.run([sys.executable, "-m", module] + list(args), cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=300, preexec_fn=preexec)


@pytest.mark.parametrize("what", ["training", "export"])
def test_a_full_disk_while_training_or_exporting_is_one_line(work, tmp_path, what):
    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (50000, 50000))
    if what == "training":
        flags = ["--mode=train", "--data=synthetic", "--model_dir=" + str(tmp_path / "model"), "--max_steps=2"]
    else:
        flags = ["--mode=export", "--model_dir=" + work["model"], "--export_dir=" + str(tmp_path / "export")]
    line = error_line(run_main(*flags, preexec_fn=small_disk))
    assert "the disk is full" in line, line
    assert not os.path.exists(str(tmp_path / "export"))


@pytest.mark.parametrize("content, words", [
    ('{"image_size": [56, 4', "not valid JSON"), ("not json at all", "not valid JSON"),
    ('{"image_size": ["a", "b"], "embedding_size": 16}', "image_size"), ('[1, 2]', "not a JSON object")])
def test_a_damaged_pfe_export_json_is_one_line_naming_it(work, tmp_path, content, words):
    export_dir = copy_of(work["export"], tmp_path, "export")
    path = os.path.join(export_dir, "pfe_export.json")
    open(path, "w").write(content)
    faces = faces_folder(tmp_path, size=(56, 48))
    line = error_line(main_alone("--mode=predict", "--saved_model=" + export_dir, "--predict_dir=" + faces,
                                 "--predict_output=" + str(tmp_path / "e.npz")))
    assert line.startswith("error: %s: " % path) and words in line, line


def test_a_saved_model_that_is_not_this_projects_is_one_line(tmp_path):
    import tensorflow.compat.v1 as tf  # pylint: disable=import-outside-toplevel
    other = str(tmp_path / "other")
    with tf.Graph().as_default(), tf.Session() as session:
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        builder = tf.saved_model.Builder(other)
        builder.add_meta_graph_and_variables(session, [tf.saved_model.SERVING], signature_def_map={
            "serving_default": tf.saved_model.predict_signature_def(inputs={"x": x}, outputs={"y": x * 2})})
        builder.save()
    faces = faces_folder(tmp_path, size=(56, 48))
    line = error_line(main_alone("--mode=predict", "--saved_model=" + other, "--predict_dir=" + faces,
                                 "--predict_output=" + str(tmp_path / "e.npz"), "--image_size=56,48"))
    assert line.startswith("error: --saved_model=%s" % other) and "images" in line and "not an export" in line


@pytest.mark.parametrize("text, words", [
    ("-1 -1\nA\t1\t2\n", ":1: expected a header"), ("0 0\n", ":1: expected a header"),
    ("10\t1\nA\t1\t2\nA\t1\tB\t1\n", "the header promises 20"),
    ("2\t1\nA\t1\t2\nB\t1\t3\nC\t1\t2\nD\t2\t3\n", "no impostor pair"),
])
def test_a_pairs_file_that_is_no_protocol_is_one_line_naming_the_line(tmp_path, text, words):
    path = tmp_path / "pairs.txt"
    path.write_text(text)
    with pytest.raises(errors.UserError) as error:
        pair_files.read_lfw_pairs(str(path))
    assert str(error.value).startswith(str(path)) and words in str(error.value)


def test_a_binary_pairs_file_and_a_one_fold_protocol_are_one_line(work, tmp_path):
    binary = tmp_path / "pairs.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(errors.UserError, match="not a text file"):
        pair_files.read_lfw_pairs(str(binary))
    one_fold = tmp_path / "one.txt"
    one_fold.write_text("1\t1\nColin_Powell\t1\t2\nColin_Powell\t1\tTony_Blair\t1\n")
    line = error_line(run_main("--mode=eval", "--model_dir=" + work["record_model"], "--lfw_dir=" + work["records"],
                               "--lfw_pairs=" + str(one_fold), "--report_dir=" + str(tmp_path / "r"), *RECORD_FLAGS))
    assert "1 fold" in line and "--pairs_csv" in line


@pytest.mark.parametrize("case", ["nine_folds", "person_in_another_fold"])
def test_protocol_files_that_disagree_are_one_line(tmp_path, case):
    lfw = tmp_path / "lfw"
    lfw.mkdir()
    if case == "nine_folds":
        (lfw / "people.txt").write_text("9\n" + "".join("1\nP%d\t2\n" % k for k in range(9)))
        (lfw / "pairs.txt").write_text("9\t1\n" + "".join("P%d\t1\t2\nP%d\t1\tP%d\t2\n" % (k, k, (k + 1) % 9)
                                                         for k in range(9)))
        words = "9 folds"
    else:
        (lfw / "people.txt").write_text("10\n" + "".join("1\nP%d\t2\n" % k for k in range(10)))
        (lfw / "pairs.txt").write_text("10\t1\n" + "".join("P%d\t1\t2\nP%d\t1\tP%d\t2\n" % (k, k, (k + 1) % 10)
                                                           for k in range(10)))
        words = "P1 of pairs.txt fold 1 is in people.txt fold 2"
    inputs = lfw_data.Inputs(str(lfw), "sface.onnx", str(tmp_path / "work"), None)
    with pytest.raises(errors.UserError) as error:
        lfw_data.read_pair_files(inputs)
    assert words in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("detector", ["recogniser", "garbage"])
def test_a_detector_model_that_is_no_detector_is_one_line(work, tmp_path, detector):
    faces = faces_folder(tmp_path, size=(56, 48))
    path = shared_path(*SFACE) if detector == "recogniser" else str(tmp_path / "garbage.onnx")
    if detector == "garbage":
        open(path, "wb").write(b"\x00not a model" * 100)
    image = os.path.join(faces, sorted(os.listdir(faces))[0])
    line = error_line(run_main("--mode=verify", "--model_dir=" + work["record_model"], "--image_a=" + image,
                               "--image_b=" + image, "--align=detect", "--detector_model=" + path, *RECORD_FLAGS))
    assert line.startswith("error: --detector_model=%s" % path) and "YuNet" in line, line


def test_ctrl_c_while_export_starts_is_one_line(work, tmp_path):
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, "main.py"), "--mode=export",
                                "--model_dir=" + work["model"], "--export_dir=" + str(tmp_path / "export")],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None and not importing_tensorflow(process.pid):
        time.sleep(0.01)  # main.py's handler is set before it imports TensorFlow: interrupt it while it does
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert "Traceback" not in output and output.strip().splitlines()[-1].startswith("interrupted: "), output[-2000:]


def importing_tensorflow(pid):
    """Whether a process has begun loading TensorFlow's library (its memory maps name it)."""
    try:
        return "tensorflow" in open("/proc/%d/maps" % pid).read()
    except (IOError, OSError):
        return False

"""Fault injection, second probe: an output never replaces what its own run reads, every user error is one
line (errors TensorFlow raises on the user's data included), nothing is silently mixed.

Each case runs the real command, asserts a non-zero exit with one line naming the file, flag or value, and
that what was there before is byte-identical afterwards.
"""
import glob
import json
import os
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib

import numpy as np

from tests.conftest import RECORD_FLAGS, ROOT, main_alone, make_records, run_tool, shared_path, subset_pairs
from tests.test_main import TINY_FLAGS, run_main
from tests.test_reliability import copy_of, error_line, faces_folder, lfw_pairs_file, tree_digest


def subset_people():
    return sorted(os.listdir(shared_path("data", "lfw_raw250_subset")))


# ---------------------------------------------------------------- --overwrite never deletes the run's inputs


def test_eval_report_into_its_own_model_dir_is_refused_even_with_overwrite(work, tmp_path):
    model_dir = copy_of(work["record_model"], tmp_path, "model")
    pairs = subset_pairs(str(tmp_path / "pairs.txt"), subset_people())
    before = tree_digest(model_dir)
    result = run_main("--mode=eval", "--model_dir=" + model_dir, "--lfw_dir=" + work["records"],
                      "--lfw_pairs=" + pairs, "--report_dir=" + model_dir, "--overwrite", *RECORD_FLAGS)
    line = error_line(result)
    assert "--report_dir=%s is --model_dir=%s, which this run reads" % (model_dir, model_dir) in line
    assert "--overwrite included" in line
    assert tree_digest(model_dir) == before


def test_eval_report_into_the_records_it_reads_is_refused_even_with_overwrite(work, tmp_path):
    records = copy_of(work["records"], tmp_path, "records")
    pairs = subset_pairs(str(tmp_path / "pairs.txt"), subset_people())
    before = tree_digest(records)
    result = run_main("--mode=eval", "--model_dir=" + work["record_model"], "--lfw_dir=" + records,
                      "--lfw_pairs=" + pairs, "--report_dir=" + records, "--overwrite", *RECORD_FLAGS)
    line = error_line(result)
    assert "--report_dir=%s is --lfw_dir=%s, which this run reads (a tfrecords output" % (records, records) in line
    assert tree_digest(records) == before


def test_cache_into_the_pretrained_checkpoint_folder_is_refused_even_with_overwrite(work, tmp_path):
    pretrained = copy_of(work["record_model"], tmp_path, "pretrained")
    before = tree_digest(pretrained)
    result = run_main("--mode=cache_features", "--data_dir=" + work["records"], "--cache_dir=" + pretrained,
                      "--pretrained_ckpt=" + pretrained, "--overwrite", *RECORD_FLAGS)
    line = error_line(result)
    assert "--cache_dir=%s is --pretrained_ckpt=%s, which this run reads (a training model folder" % (
        pretrained, pretrained) in line
    assert tree_digest(pretrained) == before


def test_make_tfrecords_into_the_folder_of_its_landmarks_is_refused_even_with_overwrite(tmp_path):
    folder = tmp_path / "annotations"
    folder.mkdir()
    landmarks = str(folder / "landmarks.txt")
    shutil.copy(shared_path("data", "lfw", "ldmark_lfw_mtcnncaffe.txt"), landmarks)
    before = tree_digest(str(folder))
    result = run_tool("data_prep.make_tfrecords", "--input_dir=" + shared_path("data", "lfw_raw250_subset"),
                      "--landmarks=" + landmarks, "--template=56x48", "--output_dir=" + str(folder),
                      "--num_workers=1", "--overwrite")
    line = error_line(result)
    assert "--output_dir=%s holds --landmarks=%s, which this run reads (a file)" % (folder, landmarks) in line
    assert tree_digest(str(folder)) == before


def test_overwrite_never_replaces_a_model_folder_that_is_no_input(work, tmp_path):
    model_dir = copy_of(work["model"], tmp_path, "other_model")
    before = tree_digest(model_dir)
    result = run_main("--mode=export", "--model_dir=" + work["model"], "--export_dir=" + model_dir, "--overwrite")
    assert error_line(result).endswith("--export_dir=%s holds a training model folder (checkpoints); --overwrite "
                                       "never replaces one: choose another folder" % model_dir)
    assert tree_digest(model_dir) == before


def test_training_into_its_own_data_dir_is_refused(work, tmp_path):
    records = copy_of(work["records"], tmp_path, "records")
    before = tree_digest(records)
    result = run_main("--mode=train", "--data_dir=" + records, "--model_dir=" + records, "--max_steps=1",
                      *RECORD_FLAGS)
    assert "--model_dir=%s is --data_dir=%s, which this run reads" % (records, records) in error_line(result)
    assert tree_digest(records) == before


def test_outputs_never_overlap_inputs_of_predict_or_eval(work, tmp_path):
    faces = faces_folder(tmp_path)
    result = run_main("--mode=predict", "--model_dir=" + work["model"], "--predict_dir=" + faces,
                      "--predict_output=" + os.path.join(faces, "embeddings.npz"))
    assert "--predict_output=%s/embeddings.npz lies inside --predict_dir=%s" % (faces, faces) in error_line(result)
    features = str(tmp_path / "f.npz")
    np.savez(features, names=np.array(["A_0001", "A_0002", "B_0001"]), mu=np.eye(3, 4, dtype=np.float32),
             sigma_sq=np.full((3, 4), 0.1, np.float32))
    before = tree_digest(features)
    pairs = lfw_pairs_file(tmp_path, [("A", 1), ("A", 2), ("B", 1)])
    result = run_main("--mode=eval", "--embeddings=" + features, "--embeddings_output=" + features,
                      "--lfw_pairs=" + pairs, "--report_dir=" + str(tmp_path / "r"), "--overwrite")
    assert ("--embeddings_output=%s is --embeddings=%s, which this run reads" % (features, features)
            in error_line(result))
    result = run_main("--mode=eval", "--embeddings=" + features, "--lfw_pairs=" + pairs,
                      "--report_dir=" + str(tmp_path / "r"), "--embeddings_output=" + str(tmp_path / "r" / "f.npz"))
    assert "lies inside --report_dir=%s, which this run also writes" % (tmp_path / "r") in error_line(result)
    assert tree_digest(features) == before and not os.path.exists(str(tmp_path / "r"))


# ---------------------------------------------------------------- errors TensorFlow raises on the user's data


def rewrite_record(records, damage):
    """Rewrites the first shard of a records folder with damage(list of serialized records) applied, and
    its recorded sizes updated (so only the content is wrong, as after a bad copy)."""
    import tensorflow.compat.v1 as tf  # pylint: disable=import-outside-toplevel
    shard = sorted(glob.glob(os.path.join(records, "*.tfrecord")))[0]
    serialized = list(tf.io.tf_record_iterator(shard))
    with tf.io.TFRecordWriter(shard) as writer:
        for record in damage(serialized):
            writer.write(record)
    size = os.path.getsize(shard)
    for path, update in ((os.path.join(records, "manifest.json"), lambda m: [
            s.update(bytes=size) for s in m["shards"] if s["file"] == os.path.basename(shard)]),
            (shard + ".json", lambda m: m.update(bytes=size))):
        content = json.load(open(path))
        update(content)
        json.dump(content, open(path, "w"))
    return shard


def garble_images(serialized):
    """The first record with every JPEG replaced by bytes that are no image."""
    import tensorflow.compat.v1 as tf  # pylint: disable=import-outside-toplevel
    example = tf.train.Example.FromString(serialized[0])
    encoded = example.features.feature["image/encoded"].bytes_list
    count = len(encoded.value)
    del encoded.value[:]
    encoded.value.extend([b"\xff\xd8 not a jpeg \xff\xd9"] * count)
    return [example.SerializeToString()] + serialized[1:]


def test_a_corrupt_image_inside_a_valid_record_is_named_with_its_shard_and_identity(work, tmp_path):
    records = copy_of(work["records"], tmp_path, "records")
    shard = rewrite_record(records, garble_images)
    identity = json.load(open(shard + ".json"))["identities"][0][0]
    expected = "%s: record 0 (identity %s) holds an image that does not decode" % (shard, identity)
    trained = run_main("--mode=train", "--data_dir=" + records, "--model_dir=" + str(tmp_path / "m"),
                       "--max_steps=20", "--random_seed=0", *RECORD_FLAGS)
    assert expected in error_line(trained)
    pairs = subset_pairs(str(tmp_path / "pairs.txt"), subset_people())
    evaluated = run_main("--mode=eval", "--model_dir=" + work["record_model"], "--lfw_dir=" + records,
                         "--lfw_pairs=" + pairs, "--report_dir=" + str(tmp_path / "report"), *RECORD_FLAGS)
    assert expected in error_line(evaluated)
    assert not os.path.exists(str(tmp_path / "report"))


def test_a_bit_flipped_shard_is_named_with_what_to_do(work, tmp_path):
    records = copy_of(work["records"], tmp_path, "records")
    shard = sorted(glob.glob(os.path.join(records, "*.tfrecord")))[0]
    data = bytearray(open(shard, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(shard, "wb").write(bytes(data))
    trained = run_main("--mode=train", "--data_dir=" + records, "--model_dir=" + str(tmp_path / "m"),
                       "--max_steps=20", "--random_seed=0", *RECORD_FLAGS)
    line = error_line(trained)
    assert "%s: damaged after it was written" % shard in line and "delete it and its .json sidecar" in line
    pairs = subset_pairs(str(tmp_path / "pairs.txt"), subset_people())
    evaluated = run_main("--mode=eval", "--model_dir=" + work["record_model"], "--lfw_dir=" + records,
                         "--lfw_pairs=" + pairs, "--report_dir=" + str(tmp_path / "report"), *RECORD_FLAGS)
    assert "%s: damaged after it was written" % shard in error_line(evaluated)


def test_a_truncated_checkpoint_is_skipped_by_eval_predict_and_export(work, tmp_path):
    model_dir = copy_of(work["record_model"], tmp_path, "model")
    data = glob.glob(os.path.join(model_dir, "model.ckpt-2.data-*"))[0]
    with open(data, "r+b") as f:
        f.truncate(100)
    before = tree_digest(model_dir)
    warning = "corrupt checkpoint model.ckpt-2"
    pairs = subset_pairs(str(tmp_path / "pairs.txt"), subset_people())
    evaluated = run_main("--mode=eval", "--model_dir=" + model_dir, "--lfw_dir=" + work["records"],
                         "--lfw_pairs=" + pairs, "--report_dir=" + str(tmp_path / "report"), *RECORD_FLAGS)
    assert evaluated.returncode == 0 and warning in evaluated.stdout, evaluated.stdout[-2000:]
    exported = run_main("--mode=export", "--model_dir=" + model_dir, "--export_dir=" + str(tmp_path / "e"),
                        *RECORD_FLAGS)
    assert exported.returncode == 0 and "exported %s/model.ckpt-0 ->" % model_dir in exported.stdout, \
        exported.stdout[-2000:]
    faces = faces_folder(tmp_path, size=(56, 48))
    predicted = run_main("--mode=predict", "--model_dir=" + model_dir, "--predict_dir=" + faces,
                         "--predict_output=" + str(tmp_path / "f.npz"), *RECORD_FLAGS)
    assert predicted.returncode == 0 and warning in predicted.stdout, predicted.stdout[-2000:]
    assert tree_digest(model_dir) == before  # readers leave the folder as it is
    for prefix in checkpoint_prefixes(model_dir):
        with open(glob.glob(prefix + ".data-*")[0], "r+b") as f:
            f.truncate(100)
    result = run_main("--mode=export", "--model_dir=" + model_dir, "--export_dir=" + str(tmp_path / "e2"),
                      *RECORD_FLAGS)
    assert "%s: no intact checkpoint (model.ckpt-2 (" % model_dir in error_line(result)


def checkpoint_prefixes(model_dir):
    return [path[:-len(".index")] for path in glob.glob(os.path.join(model_dir, "model.ckpt-*.index"))]


def test_a_truncated_saved_model_is_one_line(work, tmp_path):
    faces = faces_folder(tmp_path)
    for name, damage in (("variables", "variables/variables.data-00000-of-00001"), ("graph", "saved_model.pb")):
        export = copy_of(work["export"], tmp_path, "export_" + name)
        with open(os.path.join(export, damage), "r+b") as f:
            f.truncate(30)
        result = main_alone("--mode=verify", "--saved_model=" + export, "--image_a=" + faces + "/face_0.png",
                            "--image_b=" + faces + "/face_1.png")
        line = error_line(result)
        assert "--saved_model=%s: cannot be loaded (" % export in line and "export it again" in line, line


def test_eval_refuses_a_head_on_a_cache_of_another_checkpoint(work, tmp_path):
    cache, other_cache, head = (str(tmp_path / name) for name in ("cache", "other_cache", "head"))
    other_backbone = str(tmp_path / "other_backbone")
    assert run_main("--mode=train", "--data=synthetic", "--model_dir=" + other_backbone, "--max_steps=1",
                    *RECORD_FLAGS).returncode == 0
    for target, backbone in ((cache, work["record_model"]), (other_cache, other_backbone)):
        made = run_main("--mode=cache_features", "--data_dir=" + work["records"], "--cache_dir=" + target,
                        "--pretrained_ckpt=" + backbone, *RECORD_FLAGS)
        assert made.returncode == 0, made.stdout[-2000:]
    trained = run_main("--mode=train", "--data_dir=" + cache, "--model_dir=" + head, "--max_steps=1", *RECORD_FLAGS)
    assert trained.returncode == 0, trained.stdout[-2000:]
    pairs = subset_pairs(str(tmp_path / "pairs.txt"), subset_people())
    result = run_main("--mode=eval", "--model_dir=" + head, "--lfw_dir=" + other_cache, "--lfw_pairs=" + pairs,
                      "--report_dir=" + str(tmp_path / "report"), *RECORD_FLAGS)
    line = error_line(result)
    assert "--lfw_dir=%s is a feature cache whose pretrained_ckpt is %s/model.ckpt-1" % (other_cache,
                                                                                        other_backbone) in line
    assert "the head in --model_dir=%s was trained with %s/model.ckpt-2" % (head, work["record_model"]) in line
    same = run_main("--mode=eval", "--model_dir=" + head, "--lfw_dir=" + cache, "--lfw_pairs=" + pairs,
                    "--report_dir=" + str(tmp_path / "report"), *RECORD_FLAGS)
    assert same.returncode == 0, same.stdout[-2000:]


def test_ctrl_c_in_training_is_one_line_saying_what_was_kept(tmp_path):
    model_dir = str(tmp_path / "model")
    log = str(tmp_path / "log")
    with open(log, "w") as output:
        process = subprocess.Popen([sys.executable, os.path.join(ROOT, "main.py")] + TINY_FLAGS + [
            "--mode=train", "--data=synthetic", "--model_dir=" + model_dir, "--max_steps=100000",
            "--save_checkpoints_steps=5"], cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
            # as on a terminal: under nohup, xdist workers and their children inherit SIGINT ignored
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            deadline = time.time() + 120
            while time.time() < deadline and not glob.glob(os.path.join(model_dir, "model.ckpt-5.index")):
                time.sleep(0.1)
            process.send_signal(signal.SIGINT)
            process.wait(60)
        finally:
            if process.poll() is None:
                process.kill()
    text = open(log).read()
    assert "Traceback" not in text, text[-3000:]
    line = text.strip().splitlines()[-1]
    assert re.match(r"interrupted: %s keeps model\.ckpt-\d+; rerun the same command to resume from it$"
                    % re.escape(model_dir), line), line
    assert process.returncode == 1


def test_a_full_disk_names_the_file_and_keeps_the_earlier_output(work, tmp_path):
    faces = faces_folder(tmp_path)
    output = str(tmp_path / "embeddings.npz")
    first = run_main("--mode=predict", "--model_dir=" + work["model"], "--predict_dir=" + faces,
                     "--predict_output=" + output)
    assert first.returncode == 0, first.stdout[-2000:]
    before = tree_digest(output)
    limit = os.path.getsize(output) // 2

    def small_disk():  # writes past `limit` bytes fail with EFBIG, as a full disk fails them with ENOSPC
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = run_main("--mode=predict", "--model_dir=" + work["model"], "--predict_dir=" + faces,
                      "--predict_output=" + output, preexec_fn=small_disk)
    assert error_line(result) == ("error: %s: cannot be written, the disk is full (File too large); the earlier file "
                                  "is kept" % output)
    assert tree_digest(output) == before
    assert not glob.glob(str(tmp_path / "*.partial*"))


def test_two_make_tfrecords_runs_on_one_folder_are_refused(tmp_path):
    from pfe_estimator.storage import model_dir_lock  # pylint: disable=import-outside-toplevel
    records = str(tmp_path / "records")
    lock = model_dir_lock.acquire(records, "make_tfrecords")  # this test process is the live first run
    try:
        result = make_records(records)
        assert "%s is in use by make_tfrecords (pid %d" % (records, os.getpid()) in error_line(result)
        assert os.listdir(records) == [model_dir_lock.LOCK_NAME]
    finally:
        model_dir_lock.release(lock)
    made = make_records(records)
    assert made.returncode == 0, made.stdout[-2000:]
    assert model_dir_lock.LOCK_NAME not in os.listdir(records)


def test_verify_with_a_missing_file_a_folder_or_no_face_is_one_line(work, tmp_path):
    faces = faces_folder(tmp_path)
    face = os.path.join(faces, "face_0.png")
    for other, expected in ((str(tmp_path / "absent.jpg"), "%s: cannot read (No such file or directory)"),
                            (faces, "%s: cannot read (Is a directory)")):
        result = run_main("--mode=verify", "--model_dir=" + work["model"], "--image_a=" + face, "--image_b=" + other)
        assert error_line(result) == "error: " + expected % other
    detector = shared_path("models", "yunet", "face_detection_yunet_2023mar_int8bq.onnx")
    result = run_main("--mode=verify", "--model_dir=" + work["record_model"], "--image_a=" + face,
                      "--image_b=" + face, "--align=detect", "--detector_model=" + detector, *RECORD_FLAGS)
    assert error_line(result) == "error: %s: no face detected" % face


# ---------------------------------------------------------------- nothing silently mixed or misleading


def test_an_embeddings_output_without_the_npz_suffix_is_refused_before_any_work(work, tmp_path):
    faces = faces_folder(tmp_path)
    target = str(tmp_path / "feats")
    result = run_main("--mode=predict", "--model_dir=" + work["model"], "--predict_dir=" + faces,
                      "--predict_output=" + target, "--verbose")
    line = error_line(result)
    assert line == ("error: --predict_output=%s: an embeddings file is an .npz (numpy adds the suffix); give %s.npz"
                    % (target, target))
    assert "Restoring parameters" not in result.stdout  # refused before the model ran
    assert sorted(os.listdir(str(tmp_path))) == ["faces"]


def test_make_tfrecords_that_skips_most_images_says_what_to_check(tmp_path):
    # LFW's landmarks are in 250x250 coordinates; ../shared's full LFW is 150x150
    include = tmp_path / "people.txt"
    include.write_text("Aaron_Eckhart\nAaron_Guiterrez\nAaron_Patterson\nAbdullah_Gul\n")
    records = str(tmp_path / "records")
    result = run_tool("data_prep.make_tfrecords", "--input_dir=" + shared_path("data", "lfw", "images"),
                      "--landmarks=" + shared_path("data", "lfw", "ldmark_lfw_mtcnncaffe.txt"),
                      "--include_identities=" + str(include), "--min_images_per_identity=1", "--template=56x48",
                      "--output_dir=" + records, "--num_workers=1")
    line = error_line(result)
    assert re.search(r"skipped \d+ \(landmarks_outside \d+[^)]*\)(, more than --max_skipped_fraction=0.5)?; were "
                     r"the landmarks given for another resolution\? check --landmark_image_size", line), line
    assert os.path.exists(os.path.join(records, "manifest.json"))  # what was written is kept, and named
    fixed = run_tool("data_prep.make_tfrecords", "--input_dir=" + shared_path("data", "lfw", "images"),
                     "--landmarks=" + shared_path("data", "lfw", "ldmark_lfw_mtcnncaffe.txt"),
                     "--include_identities=" + str(include), "--min_images_per_identity=1", "--template=56x48",
                     "--output_dir=" + str(tmp_path / "fixed"), "--num_workers=1", "--landmark_image_size=250,250")
    assert fixed.returncode == 0, fixed.stdout[-2000:]


def huge_png_header(path, side=60000):
    """A valid PNG that declares side x side pixels in a few hundred bytes (a decompression bomb)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(b"\x00" * (3 * side + 1), 9)) + chunk(b"IEND", b""))


def test_an_image_that_declares_an_absurd_size_is_skipped_with_a_reason(work, tmp_path):
    faces = faces_folder(tmp_path)
    huge_png_header(os.path.join(faces, "bomb.png"))
    result = run_main("--mode=predict", "--model_dir=" + work["model"], "--predict_dir=" + faces,
                      "--predict_output=" + str(tmp_path / "f.npz"))
    assert result.returncode == 0, result.stdout[-2000:]
    assert "bomb.png: declares 60000x60000 pixels" in result.stdout and "3 images" in result.stdout
    source = copy_of(shared_path("data", "lfw_raw250_subset"), tmp_path, "source")
    person = sorted(os.listdir(source))[0]
    huge_png_header(os.path.join(source, person, person + "_0001.jpg"))
    made = run_tool("data_prep.make_tfrecords", "--input_dir=" + source,
                    "--landmarks=" + shared_path("data", "lfw", "ldmark_lfw_mtcnncaffe.txt"), "--template=56x48",
                    "--output_dir=" + str(tmp_path / "records"), "--num_workers=1")
    assert made.returncode == 0 and "skipped 1 (too_large 1)" in made.stdout, made.stdout[-2000:]


def test_predict_on_photos_much_larger_than_the_model_says_so(work, tmp_path):
    faces = faces_folder(tmp_path, size=(200, 200))
    result = run_main("--mode=predict", "--model_dir=" + work["model"], "--predict_dir=" + faces,
                      "--predict_output=" + str(tmp_path / "f.npz"))
    assert result.returncode == 0, result.stdout[-2000:]
    assert "warning: 3 of 3 images are over twice the model's 32x32 input" in result.stdout
    assert "use --align=detect for raw photos" in result.stdout

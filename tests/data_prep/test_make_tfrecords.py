"""make_tfrecords: bad inputs skipped and counted, manifest true to the records, resume, P x K batches."""
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
import tensorflow.compat.v1 as tf
from PIL import Image

from pfe_estimator.faces import alignment
from pfe_estimator.data import record_writer
from pfe_estimator.data import pk_sampling
from pfe_estimator.data import tfrecord_schema
from tests.conftest import ROOT, shared_path

GOOD_IDENTITIES = ("Colin_Powell", "Tony_Blair", "Hugo_Chavez")
SOURCE_IMAGE = "Colin_Powell/Colin_Powell_0001.jpg"


def _settings(**overrides):
    values = dict(template="112x96", jpeg_quality=90, landmark_image_size=None, missing_landmarks="skip",
                  detector_model=None, detector_score_threshold=0.6)
    values.update(overrides)
    return record_writer.CropSettings(**values)


@pytest.fixture
def messy_dataset(tmp_path):
    """Real 250x250 LFW faces of three identities, plus one identity folder per kind of bad input."""
    raw = shared_path("data", "lfw_raw250_subset")
    lfw_landmarks = alignment.read_landmark_file(shared_path("data", "lfw", "ldmark_lfw_mtcnncaffe.txt"))
    root = tmp_path / "dataset"
    lines = []
    for identity in GOOD_IDENTITIES:
        shutil.copytree(os.path.join(raw, identity), str(root / identity))
        for name in sorted(os.listdir(str(root / identity))):
            lines.append((identity + "/" + name, lfw_landmarks[identity + "/" + name]))
    source = cv2.imread(os.path.join(raw, SOURCE_IMAGE))
    points = lfw_landmarks[SOURCE_IMAGE]
    jpeg = cv2.imencode(".jpg", source)[1].tobytes()
    odd = root / u"Jos\u00e9_M\u00fcller"  # converted: grayscale, CMYK, RGBA, 16-bit and PNG images
    odd.mkdir()
    cv2.imwrite(str(odd / "gray.png"), cv2.cvtColor(source, cv2.COLOR_BGR2GRAY))
    Image.fromarray(source[:, :, ::-1]).convert("CMYK").save(str(odd / "cmyk.jpg"))
    cv2.imwrite(str(odd / "alpha.png"), cv2.cvtColor(source, cv2.COLOR_BGR2BGRA))
    cv2.imwrite(str(odd / "deep.png"), source.astype(np.uint16) * 257)
    bad = root / "Bad_Files"  # skipped, one reason each
    bad.mkdir()
    (bad / "empty.jpg").write_bytes(b"")
    (bad / "truncated.jpg").write_bytes(jpeg[:len(jpeg) // 2])
    (bad / "text.jpg").write_bytes(b"this is not an image\n")
    cv2.imwrite(str(bad / "small.jpg"), cv2.resize(source, (60, 60)))
    (bad / "outside.jpg").write_bytes(jpeg)
    (bad / "no_landmarks.jpg").write_bytes(jpeg)
    (bad / "good.jpg").write_bytes(jpeg)
    single = root / "Single_Image"
    single.mkdir()
    (single / "only.jpg").write_bytes(jpeg)
    for folder, names in ((odd, ["gray.png", "cmyk.jpg", "alpha.png", "deep.png"]),
                          (bad, ["empty.jpg", "truncated.jpg", "text.jpg", "small.jpg", "good.jpg"]),
                          (single, ["only.jpg"])):
        lines += [(folder.name + "/" + name, points) for name in names]
    lines.append(("Bad_Files/outside.jpg", points + [[200.0, 0.0]] * 5))
    lines.append(("Nobody/missing.jpg", points))  # a landmark line without a file
    landmark_file = tmp_path / "landmarks.txt"
    with open(str(landmark_file), "w", encoding="utf-8") as f:
        for name, p in lines:
            f.write(name + " " + " ".join("%.3f" % v for v in list(p[:, 0]) + list(p[:, 1])) + "\n")
    return str(root), str(landmark_file)


def _run(root, landmark_file, output_dir, num_workers=2, images_per_shard=8, **settings):
    _, identities = record_writer.list_identities(root)
    landmarks = alignment.read_landmark_file(landmark_file)
    return record_writer.write_records(root, identities, landmarks, output_dir, _settings(**settings), num_workers,
                                         images_per_shard, min_images_per_identity=2, progress=False)


def _records(output_dir):
    return [record for path in sorted(glob.glob(os.path.join(output_dir, "*.tfrecord")))
            for record in tfrecord_schema.read_identities(path)]


def test_bad_inputs_are_converted_or_skipped_with_reasons(messy_dataset, tmp_path):
    root, landmark_file = messy_dataset
    output_dir = str(tmp_path / "out")
    manifest = _run(root, landmark_file, output_dir)
    skipped = {os.path.basename(s["path"]): s["kind"] for s in manifest["skipped"]}
    assert skipped == {"empty.jpg": "empty", "truncated.jpg": "truncated", "text.jpg": "not_an_image",
                       "small.jpg": "too_small", "outside.jpg": "landmarks_outside",
                       "no_landmarks.jpg": "no_landmarks", "only.jpg": "too_few_images",
                       "good.jpg": "too_few_images"}
    assert manifest["landmark_lines_without_file"] == ["Nobody/missing.jpg"]
    records = {r["identity"]: r for r in _records(output_dir)}
    assert sorted(records) == sorted(GOOD_IDENTITIES + (u"Jos\u00e9_M\u00fcller",))
    odd = records[u"Jos\u00e9_M\u00fcller"]
    assert sorted(os.path.basename(f) for f in odd["filename"]) == ["alpha.png", "cmyk.jpg", "deep.png", "gray.png"]
    for record in records.values():
        for encoded in record["encoded"]:
            image = cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_UNCHANGED)
            assert image.shape == (112, 96, 3)
    gray = cv2.imdecode(np.frombuffer(odd["encoded"][odd["filename"].index(u"Jos\u00e9_M\u00fcller/gray.png")],
                                      np.uint8), cv2.IMREAD_COLOR)
    assert np.abs(gray[:, :, 0].astype(int) - gray[:, :, 2].astype(int)).max() <= 8  # still gray
    # counts in the manifest match what was written
    assert manifest["num_images"] == sum(len(r["encoded"]) for r in records.values()) == 30 + 4
    assert manifest["num_identities"] == len(records)
    assert sorted(r["label"] for r in records.values()) == list(range(len(records)))
    assert ({i["name"]: i["images"] for i in manifest["identities"]} ==
            {n: len(r["encoded"]) for n, r in records.items()})
    assert sum(s["images"] for s in manifest["shards"]) == manifest["num_images"]
    assert manifest["skipped_by_kind"]["too_few_images"] == 2


def test_output_is_deterministic_and_a_rerun_skips_finished_shards(messy_dataset, tmp_path):
    root, landmark_file = messy_dataset
    first, second = str(tmp_path / "first"), str(tmp_path / "second")
    _run(root, landmark_file, first, num_workers=2)
    _run(root, landmark_file, second, num_workers=1)

    def digests(directory):
        return {os.path.basename(p): hashlib.sha256(open(p, "rb").read()).hexdigest()
                for p in glob.glob(os.path.join(directory, "*.tfrecord"))}
    assert digests(first) == digests(second) and len(digests(first)) > 2
    times = {p: os.path.getmtime(p) for p in glob.glob(os.path.join(first, "*.tfrecord"))}
    time.sleep(0.05)
    _run(root, landmark_file, first)
    assert times == {p: os.path.getmtime(p) for p in glob.glob(os.path.join(first, "*.tfrecord"))}
    with pytest.raises(ValueError, match=r"made from other inputs or settings \(changed: settings\)"):
        _run(root, landmark_file, first, jpeg_quality=50)


def test_a_copy_of_the_photos_with_new_file_times_resumes_and_changed_bytes_are_refused(messy_dataset, tmp_path):
    """The records prove their source by its bytes, not by where it sits or when it was copied: the photos copied
    to another folder with new file times (what a ModelArts job's copy from OBS does each run) resume the
    finished records untouched; one photo with other bytes is refused, naming the images."""
    root, landmark_file = messy_dataset
    output_dir = str(tmp_path / "out")
    _run(root, landmark_file, output_dir)
    times = {p: os.path.getmtime(p) for p in glob.glob(os.path.join(output_dir, "*.tfrecord"))}
    copy = str(tmp_path / "copied")
    shutil.copytree(root, copy, copy_function=shutil.copyfile)  # bytes only: new file times
    for directory, _, files in os.walk(copy):
        for name in files:
            os.utime(os.path.join(directory, name), (2e9, 2e9))
    time.sleep(0.05)
    manifest = _run(copy, landmark_file, output_dir)
    assert manifest["source"] == copy and manifest["num_images"] == 34  # the manifest names where it came from
    assert times == {p: os.path.getmtime(p) for p in glob.glob(os.path.join(output_dir, "*.tfrecord"))}
    photo = os.path.join(copy, SOURCE_IMAGE)
    image = cv2.imread(photo)
    cv2.imwrite(photo, cv2.GaussianBlur(image, (5, 5), 0))
    with pytest.raises(ValueError, match=r"made from other inputs or settings \(changed: images\)"):
        manifest = _run(copy, landmark_file, output_dir)
    assert manifest["source"] == copy and manifest["num_images"] == 34  # the manifest names where it came from
    assert times == {p: os.path.getmtime(p) for p in glob.glob(os.path.join(output_dir, "*.tfrecord"))}


def test_killed_run_resumes_without_partial_shards(tmp_path):
    """Kill the script mid-way on all of LFW, rerun: finished shards kept, result equal to a clean run."""
    images = shared_path("data", "lfw", "images")
    landmarks = shared_path("data", "lfw", "ldmark_lfw_mtcnncaffe.txt")
    output_dir = str(tmp_path / "lfw")
    command = [sys.executable, "-m", "data_prep.make_tfrecords", "--input_dir", images,
               "--landmarks", landmarks, "--landmark_image_size=250,250", "--output_dir", output_dir,
               "--images_per_shard=500", "--num_workers=2", "--min_images_per_identity=1"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and len(glob.glob(os.path.join(output_dir, "*.tfrecord.json"))) < 3:
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    finished = sorted(glob.glob(os.path.join(output_dir, "*.tfrecord.json")))
    assert 3 <= len(finished) < 27, "kill came too late to test a resume"
    kept = {p[:-len(".json")]: os.path.getmtime(p[:-len(".json")]) for p in finished}
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "wrote 13232 images of 5748 identities in 27 shards" in result.stdout
    assert kept == {p: os.path.getmtime(p) for p in kept}
    assert not glob.glob(os.path.join(output_dir, "*.partial"))
    manifest = json.load(open(os.path.join(output_dir, "manifest.json")))
    assert [i["label"] for i in manifest["identities"]] == list(range(5748))
    assert sum(len(r["encoded"]) for r in _records(output_dir)) == 13232


def test_yunet_detects_faces_without_landmark_lines(messy_dataset, tmp_path):
    root, landmark_file = messy_dataset
    detector = shared_path("models", "yunet", "face_detection_yunet_2023mar_int8bq.onnx")
    manifest = _run(root, landmark_file, str(tmp_path / "out"), missing_landmarks="detect", detector_model=detector)
    kinds = {os.path.basename(s["path"]): s["kind"] for s in manifest["skipped"]}
    assert "no_landmarks.jpg" not in kinds  # detected and aligned
    assert "text.jpg" in kinds


def test_batches_have_the_p_by_k_structure(messy_dataset, tmp_path):
    root, landmark_file = messy_dataset
    output_dir = str(tmp_path / "out")
    manifest = _run(root, landmark_file, output_dir)
    classes, per_class = 2, 5  # K=5 > the 4 images of one identity: drawn with replacement
    with tf.Graph().as_default():
        dataset = pk_sampling.tfrecord_input_fn_builder(output_dir, classes, per_class, (112, 96), seed=3)()
        features, labels = tf.data.make_one_shot_iterator(dataset).get_next()
        assert features["images"].shape.as_list() == [10, 112, 96, 3] and labels.shape.as_list() == [10]
        seen = set()
        with tf.Session() as session:
            for _ in range(30):
                images, batch_labels = session.run([features["images"], labels])
                groups = batch_labels.reshape(classes, per_class)
                assert np.all(groups == groups[:, :1])
                seen.update(groups[:, 0].tolist())
                assert -1.0 <= images.min() and images.max() <= 1.0
    assert seen == set(range(manifest["num_identities"]))


def test_input_fn_rejects_records_of_another_size(messy_dataset, tmp_path):
    root, landmark_file = messy_dataset
    output_dir = str(tmp_path / "out")
    _run(root, landmark_file, output_dir, template="112x112")
    with pytest.raises(ValueError, match="records are 112x112 .*the model expects 112x96"):
        pk_sampling.tfrecord_input_fn_builder(output_dir, 2, 2, (112, 96))


def test_list_file_input_with_include_and_exclude(messy_dataset, tmp_path):
    root, _ = messy_dataset
    list_file = tmp_path / "list.txt"
    list_file.write_text(u"Colin_Powell/Colin_Powell_0001.jpg Colin_Powell\n"
                         u"%s/Tony_Blair/Tony_Blair_0001.jpg 7\n" % root +
                         u"Hugo_Chavez/Hugo_Chavez_0001.jpg Hugo_Chavez\n", encoding="utf-8")
    found_root, identities = record_writer.list_identities(root, str(list_file))
    assert found_root == root
    assert identities == {"7": ["Tony_Blair/Tony_Blair_0001.jpg"],
                          "Colin_Powell": ["Colin_Powell/Colin_Powell_0001.jpg"],
                          "Hugo_Chavez": ["Hugo_Chavez/Hugo_Chavez_0001.jpg"]}
    kept = record_writer.filter_identities(identities, include={"7", "Hugo_Chavez"}, exclude={"Hugo_Chavez"})
    assert list(kept) == ["7"]
    list_file.write_text(u"no_label_here\n", encoding="utf-8")
    with pytest.raises(ValueError, match="list.txt:1: expected `path label`"):
        record_writer.list_identities(root, str(list_file))


def test_main_trains_on_the_records(messy_dataset, tmp_path):
    root, landmark_file = messy_dataset
    output_dir = str(tmp_path / "out")
    _run(root, landmark_file, output_dir)
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "main.py"), "--mode=train", "--data_dir=" + output_dir,
         "--backbone=sphere4", "--embedding_size=16", "--batch_size=6", "--num_classes_per_batch=2",
         "--max_steps=2", "--model_dir=" + str(tmp_path / "model"), "--learning_rates=0.01",
         "--learning_rate_boundaries="],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    model_dir = str(tmp_path / "model")
    assert tf.train.load_variable(tf.train.latest_checkpoint(model_dir), "global_step") == 2
    assert re.search(r"step \d+: loss = -?[0-9.]+$", result.stdout, re.M), result.stdout[-2000:]


def test_a_record_numbered_in_the_parent_is_the_serialisers_own_bytes():
    """Workers serialise an identity's record but for its label (tfrecord_schema.unlabelled_example), the parent
    numbers it: the bytes equal serialising the whole tf.train.Example at once, at every varint width."""
    rng = np.random.RandomState(0)
    for label in (0, 1, 127, 128, 300, 16383, 16384, 2 ** 31, 2 ** 40):
        for count in (1, 3, 40):
            jpegs = [rng.bytes(50 * (i + 1)) for i in range(count)]
            names = ["Zoë/Zoë_%04d.jpg" % i for i in range(count)]
            features = {"image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=jpegs)),
                        "image/filename": tf.train.Feature(bytes_list=tf.train.BytesList(
                            value=[n.encode("utf-8") for n in names])),
                        "image/format": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"jpeg"])),
                        "image/height": tf.train.Feature(int64_list=tf.train.Int64List(value=[112])),
                        "image/width": tf.train.Feature(int64_list=tf.train.Int64List(value=[96])),
                        "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
                        "image/class/text": tf.train.Feature(bytes_list=tf.train.BytesList(value=["Zoë".encode()]))}
            whole = tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()
            assert tfrecord_schema.identity_example(jpegs, names, label, "Zoë", 112, 96) == whole

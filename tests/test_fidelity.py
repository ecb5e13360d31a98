"""Fidelity to the released PFE: independent flips, cp2tform alignment, distinct identities, wired flags,
centre-cropped inference inputs, a schedule that scales with the steps."""
import glob
import json
import os
import re

import cv2
import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from pfe_estimator.faces import network_input

from pfe_estimator.faces import alignment
from pfe_estimator.data import feature_cache
from pfe_estimator.data import manifest as manifests
from pfe_estimator.faces import image_io
from pfe_estimator.data import pk_sampling
from pfe_estimator.training import estimators
from pfe_estimator.training import recipe as recipes
from pfe_estimator.data import tfrecord_schema
from tests.conftest import ROOT, TINY, lfw_subset_records, shared_path, tiny_backbone


def synthetic_cache(directory, images_per_identity, shards=1):
    """A feature cache whose rows say what they are: features = +(label*100 + index + 1) for the plain
    image, the negative for its mirror; F = D = 2. Identity i goes to shard i % shards."""
    os.makedirs(directory)
    identities = []
    names = ["faces-%05d-of-%05d.tfrecord" % (shard, shards) for shard in range(shards)]
    writers = [tf.io.TFRecordWriter(os.path.join(directory, name)) for name in names]
    for label, count in enumerate(images_per_identity):
        plain = np.repeat((label * 100 + np.arange(count, dtype=np.float32) + 1)[:, None], 2, axis=1)
        writers[label % shards].write(tfrecord_schema.cache_example(plain, -plain, plain, -plain, ["x"] * count, label,
                                                                    "id%d" % label, "float32"))
        identities.append({"name": "id%d" % label, "label": label, "images": count})
    for writer in writers:
        writer.close()
    manifest = {"image_size": [2, 2], "template": None, "identities": identities,
                "shards": [{"file": name, "identities": len(images_per_identity[shard::shards]),
                            "images": int(sum(images_per_identity[shard::shards]))}
                           for shard, name in enumerate(names)],
                "cache": {"feature_size": 2, "embedding_size": 2, "features_dtype": "float32", "backbone": "x"}}
    with open(os.path.join(directory, manifests.NAME), "w") as f:
        json.dump(manifest, f)
    return directory


def draw(dataset_fn, batches):
    with tf.Graph().as_default():
        features, labels = tf.data.make_one_shot_iterator(dataset_fn()).get_next()
        with tf.Session() as session:
            return [session.run([features, labels]) for _ in range(batches)]


# ---------------------------------------------------------------- sampler: flips and distinct identities


def test_cache_path_flips_each_image_independently_and_samples_without_replacement(tmp_path):
    cache = synthetic_cache(str(tmp_path / "cache"), [6] * 12)
    drawn = draw(feature_cache.cache_input_fn_builder(cache, 4, 4, seed=5), 100)
    flips = np.concatenate([features["features"][:, 0] < 0 for features, _ in drawn]).reshape(-1, 4)
    assert 0.4 < flips.mean() < 0.6
    all_or_none = np.mean(np.all(flips, axis=1) | np.all(~flips, axis=1))
    assert all_or_none < 0.3  # independent flips: 2 / 2**4 = 12.5 %
    for features, labels in drawn:
        rows = np.abs(features["features"][:, 0]).astype(int)
        groups = rows.reshape(4, 4)
        assert np.all(groups // 100 == labels.reshape(4, 4))  # the rows are the labels' own images
        assert all(len(set(group)) == 4 for group in groups)  # 6 images >= K: without replacement


def test_sampling_is_without_replacement_from_k_images_and_with_it_below(tmp_path):
    cache = synthetic_cache(str(tmp_path / "cache"), [4] * 6 + [2] * 6)  # K = 4 images, or fewer
    drawn = draw(feature_cache.cache_input_fn_builder(cache, 4, 4, seed=5), 60)
    below = []
    for features, labels in drawn:
        indices = (np.abs(features["features"][:, 0]).astype(int) - 1 - 100 * labels).reshape(4, 4)
        for label, group in zip(labels.reshape(4, 4)[:, 0], indices):
            if label < 6:
                assert sorted(group.tolist()) == [0, 1, 2, 3]  # exactly K images: each once
            else:
                assert set(group.tolist()) <= {0, 1}
                below.extend(group.tolist())
    assert set(below) == {0, 1}  # with replacement, over both images


def test_the_shard_order_is_reshuffled_every_pass(tmp_path):
    cache = synthetic_cache(str(tmp_path / "cache"), [2] * 4, shards=2)  # shard 0: identities 0, 2; 1: 1, 3
    # no record shuffling, one shard read at a time: a pass (one batch of all 4) starts with its first shard
    drawn = draw(feature_cache.cache_input_fn_builder(cache, 4, 2, seed=0, shuffle_buffer=1, cycle_length=1), 30)
    assert {int(labels[0]) % 2 for _, labels in drawn} == {0, 1}


def test_include_labels_draw_only_those_identities(tmp_path):
    cache = synthetic_cache(str(tmp_path / "cache"), [3] * 8)
    drawn = draw(feature_cache.cache_input_fn_builder(cache, 2, 2, seed=1, include_labels=["6", 1, 3]), 30)
    assert set(np.concatenate([labels for _, labels in drawn]).tolist()) == {1, 3, 6}


def test_synthetic_batches_are_one_uniform_batch_repeated():
    drawn = draw(pk_sampling.synthetic_input_fn_builder(4, 3, (8, 6), seed=2), 3)
    first = drawn[0][0]["images"]
    assert first.shape == (12, 8, 6, 3) and first.dtype == np.float32
    assert -1.0 <= first.min() < -0.95 and 0.95 < first.max() < 1.0  # uniform in [-1, 1)
    for features, labels in drawn:
        np.testing.assert_array_equal(features["images"], first)
        assert labels.dtype == np.int32 and labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    np.testing.assert_array_equal(draw(pk_sampling.synthetic_input_fn_builder(4, 3, (8, 6), seed=2), 1)[0][0]["images"],
                                  first)
    assert not np.array_equal(draw(pk_sampling.synthetic_input_fn_builder(4, 3, (8, 6), seed=3), 1)[0][0]["images"],
                              first)


def test_every_batch_holds_distinct_identities_with_p_close_to_the_identity_count(tmp_path):
    cache = synthetic_cache(str(tmp_path / "cache"), [3] * 10)
    drawn = draw(feature_cache.cache_input_fn_builder(cache, 9, 2, seed=1, shuffle_buffer=4), 300)
    seen = set()
    for _, labels in drawn:
        identities = labels.reshape(9, 2)[:, 0]
        assert len(set(identities.tolist())) == 9, identities
        seen.update(identities.tolist())
    assert seen == set(range(10))


def test_image_path_flips_each_image_independently_with_distinct_identities(tmp_path):
    records, _, _ = lfw_subset_records(tmp_path)
    originals = {}
    with tf.Graph().as_default(), tf.Session() as session:
        jpeg = tf.placeholder(tf.string)
        decoded = pk_sampling.decode_face(jpeg, (112, 96))
        for record in [r for shard in sorted(glob.glob(os.path.join(records, "*.tfrecord")))
                       for r in tfrecord_schema.read_identities(shard)]:
            originals[record["label"]] = [session.run(decoded, {jpeg: j}) for j in record["encoded"]]
    drawn = draw(pk_sampling.tfrecord_input_fn_builder(records, 9, 4, (112, 96), seed=3), 40)
    flips = []
    for features, labels in drawn:
        assert len(set(labels.reshape(9, 4)[:, 0].tolist())) == 9
        for image, label in zip(features["images"], labels):
            plain = any(np.array_equal(image, o) for o in originals[label])
            mirrored = any(np.array_equal(image, o[:, ::-1]) for o in originals[label])
            assert plain or mirrored
            flips.append(mirrored and not plain)
    flips = np.array(flips).reshape(-1, 4)
    assert 0.4 < flips.mean() < 0.6
    assert np.mean(np.all(flips, axis=1) | np.all(~flips, axis=1)) < 0.3
    unflipped = pk_sampling.tfrecord_input_fn_builder(records, 9, 4, (112, 96), seed=3, flip=False)
    for features, labels in draw(unflipped, 5):
        assert all(any(np.array_equal(image, o) for o in originals[label])
                   for image, label in zip(features["images"], labels))


def test_image_path_transform_gets_a_seed_per_image_reproducibly_and_flip_false_keeps_images(tmp_path):
    """Quality-aware training's host transform: every image gets its own 62-bit seed, drawn from the input's
    seed, and without flips no image is mirrored."""
    records, _, _ = lfw_subset_records(tmp_path)
    seen = []

    def transform(image, seed):  # records the seed, marks the image with it
        def mark(face, value):
            assert value.dtype == np.int64
            seen.append(int(value))
            return np.full_like(face, int(value) % 251)
        result = tf.py_func(mark, [image, seed], tf.uint8, stateful=False)
        result.set_shape(image.shape)
        return result

    def batches(seed):
        del seen[:]
        drawn = draw(pk_sampling.tfrecord_input_fn_builder(records, 3, 4, (112, 96), seed=seed, flip=False,
                                                           transform=transform), 3)
        return [features["images"] for features, _ in drawn], list(seen)

    images, seeds = batches(5)
    assert len(seeds) >= 36 and len(set(seeds)) == len(seeds) and max(seeds) > 2 ** 40  # 62-bit draws
    for batch in images:
        for image in batch:  # each image is its transform's output (a constant), standardised, not mirrored
            assert np.all(image == image[0, 0, 0])
            assert int(round(image[0, 0, 0] * 128 + 127.5)) in {s % 251 for s in seeds}
    assert set(batches(5)[1]) & set(seeds) and not set(batches(6)[1]) & set(seeds)  # the seeds come from `seed`


def test_the_same_seed_draws_the_same_batches_run_to_run(tmp_path):
    """Sample indices, flips and transform seeds are keyed on (seed, element index), not on which parallel
    map call ran first: two pipelines with one seed give identical batches, another seed other ones."""
    cache = synthetic_cache(str(tmp_path / "cache"), [6] * 12)
    runs = [draw(feature_cache.cache_input_fn_builder(cache, 4, 4, seed=seed, shuffle_buffer=12), 30)
            for seed in (5, 5, 5, 6)]
    rows = [np.concatenate([features["features"][:, 0] for features, _ in run]) for run in runs]
    np.testing.assert_array_equal(rows[0], rows[1])
    np.testing.assert_array_equal(rows[0], rows[2])
    assert np.mean(rows[0] != rows[3]) > 0.5
    records, _, _ = lfw_subset_records(tmp_path)
    images = [np.concatenate([features["images"] for features, _ in
                              draw(pk_sampling.tfrecord_input_fn_builder(records, 9, 4, (112, 96), seed=3), 4)])
              for _ in range(2)]
    np.testing.assert_array_equal(images[0], images[1])


def test_an_identity_gets_new_draws_every_pass(tmp_path):
    """Keys run on across passes: an identity's K draws in one pass do not repeat in the next pass."""
    cache = synthetic_cache(str(tmp_path / "cache"), [8] * 4)  # one pass = one batch of all 4 identities
    drawn = draw(feature_cache.cache_input_fn_builder(cache, 4, 4, seed=2, shuffle_buffer=4), 20)
    by_identity = {}
    for features, labels in drawn:
        for label, group in zip(labels.reshape(4, 4)[:, 0], features["features"][:, 0].reshape(4, 4)):
            by_identity.setdefault(int(label), []).append(tuple(group))
    for draws in by_identity.values():
        assert len(set(draws)) > 15  # 20 passes; (8*7*6*5) * 2**4 possible draws each


# ---------------------------------------------------------------- flags reach the model


def regularization_loss(weight_decay):
    """(the head's regularization loss in the training graph, weight_decay * sum(w^2) / 2 by definition)."""
    with tf.Graph().as_default() as graph:
        tf.set_random_seed(0)
        recipe = recipes.Recipe(num_classes_per_batch=2, images_per_class=2, learning_rates=(0.1,),
                                weight_decay=weight_decay)
        build = estimators.pfe_model_fn(tiny_backbone(), recipe)
        images = tf.random.uniform([4] + list(TINY["image_size"]) + [3], seed=1)
        build({"images": images}, tf.constant([0, 0, 1, 1]), tf.estimator.ModeKeys.TRAIN)
        summary, = [op for op in graph.get_operations() if op.type == "ScalarSummary"
                    and op.name.startswith("losses/regularization_loss")]
        weights = [v for v in tf.trainable_variables("UncertaintyModule/") if v.op.name.endswith("/weights")]
        by_definition = weight_decay * tf.add_n([tf.nn.l2_loss(w) for w in weights])
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            assert sorted(w.op.name.split("/")[1] for w in weights) == ["fc1", "fc_log_sigma_sq"]
            return session.run([summary.inputs[1], by_definition])


def test_weight_decay_reaches_both_head_layers():
    loss, by_definition = regularization_loss(2e-3)
    assert loss > 0
    np.testing.assert_allclose(loss, by_definition, rtol=1e-5)  # wd * sum(w^2) / 2 over fc1 and fc_log_sigma_sq
    assert regularization_loss(0.0)[0] == 0.0


def test_every_flag_main_defines_is_read():
    """Every flag of modes/flag_definitions.py is read by the modes (config.options.<flag>, config.paths.<flag>),
    main.py, or by name (run_config's derivations, the record's keys in storage/model_config.py)."""
    source = open(os.path.join(ROOT, "pfe_estimator", "modes", "flag_definitions.py")).read()
    names = re.findall(r'flags\.DEFINE_\w+\(\s*"(\w+)"', source)
    assert len(names) > 40
    paths = glob.glob(os.path.join(ROOT, "pfe_estimator", "modes", "*.py")) + [
        os.path.join(ROOT, "main.py"), os.path.join(ROOT, "pfe_estimator", "storage", "model_config.py")]
    readers = "\n".join(open(path).read() for path in paths if not path.endswith("flag_definitions.py"))
    unread = [name for name in names if not re.search(r'(options|paths|FLAGS)\.%s\b|"%s"' % (name, name), readers)]
    assert not unread, "flags defined but read nowhere: %s" % unread


def test_learning_rate_boundaries_scale_with_the_steps():
    assert recipes.Recipe().boundaries() == [2000]  # the paper's schedule
    assert recipes.Recipe(max_steps=400).boundaries() == [266]  # the floor of 2/3, as measured
    assert recipes.Recipe(learning_rates=(1e-3, 1e-4, 1e-5)).boundaries() == [1000, 2000]  # evenly up to 2/3
    assert recipes.Recipe(learning_rate_boundaries=(5, 9)).boundaries() == [5, 9]
    assert recipes.PretrainRecipe().boundaries() == [16000, 24000]
    assert recipes.PretrainRecipe(max_steps=1200).boundaries() == [685, 1028]
    assert recipes.PretrainRecipe(learning_rates=(0.1, 0.01)).boundaries() == [24000]


def test_the_default_recipe_is_the_released_sphere64_casia():
    """config/sphere64_casia.py: batch 256 = 64 identities x 4 images, 3000 steps, lr {0: 1e-3, 2000: 1e-4},
    Momentum 0.9, weight decay 5e-4; the flags take their defaults from it."""
    recipe = recipes.Recipe()
    assert (recipe.batch_size, recipe.num_classes_per_batch, recipe.max_steps) == (256, 64, 3000)
    assert (recipe.learning_rates, recipe.boundaries(), recipe.momentum, recipe.weight_decay) == (
        (1e-3, 1e-4), [2000], 0.9, 5e-4)


# ---------------------------------------------------------------- alignment as released: cp2tform, black borders


def cp2tform_by_definition(image_points, template_points):
    """MATLAB cp2tform 'nonreflective similarity' written out: least squares u = a x + b y + c,
    v = -b x + a y + d from the TEMPLATE (x, y) to the IMAGE (u, v), then inverted: image -> template."""
    rows, values = [], []
    for (x, y), (u, v) in zip(template_points, image_points):
        rows += [[x, y, 1, 0], [y, -x, 0, 1]]
        values += [u, v]
    a, b, c, d = np.linalg.lstsq(np.array(rows), np.array(values), rcond=None)[0]
    template_to_image = np.array([[a, b, c], [-b, a, d], [0, 0, 1]])
    return np.linalg.inv(template_to_image)[:2]


def test_cp2tform_differs_from_umeyama_where_the_fits_differ_and_is_the_default():
    _, points = alignment.template("112x96")
    rng = np.random.RandomState(0)
    noisy = points * 1.7 + rng.normal(0, 4.0, points.shape) + [40, 60]  # no exact similarity fits
    cp2tform = alignment.similarity_transform(noisy, points, method="cp2tform")
    np.testing.assert_allclose(cp2tform, cp2tform_by_definition(noisy, points), atol=1e-9)
    umeyama = alignment.similarity_transform(noisy, points, method="umeyama")
    assert np.abs(cp2tform - umeyama).max() > 1e-3
    exact = points * 1.7 + [40, 60]  # an exact similarity: both fits agree
    np.testing.assert_allclose(alignment.similarity_transform(exact, points, method="cp2tform"),
                               alignment.similarity_transform(exact, points, method="umeyama"), atol=1e-9)
    image = rng.randint(0, 256, (250, 250, 3)).astype(np.uint8)
    crop, matrix = alignment.align_face(image, noisy, "112x96")
    np.testing.assert_allclose(matrix, cp2tform)


def test_lfw_crops_by_cp2tform_with_black_borders(tmp_path):
    root = shared_path("data", "lfw_raw250_subset")
    landmarks = alignment.read_landmark_file(shared_path("data", "lfw", "ldmark_lfw_mtcnncaffe.txt"))
    names = sorted(n for n in landmarks if os.path.exists(os.path.join(root, n)))
    _, points = alignment.template("112x96")
    for name in names:
        matrix = alignment.similarity_transform(landmarks[name], points, method="cp2tform")
        np.testing.assert_allclose(matrix, cp2tform_by_definition(landmarks[name], points), atol=1e-9)
    image = cv2.imread(os.path.join(root, names[0]))
    shifted = landmarks[names[0]] - [110, 0]  # the face past the left edge: the crop needs border
    black, _ = alignment.align_face(image, shifted, "112x96")
    reflected, _ = alignment.align_face(image, shifted, "112x96", border="reflect")
    assert black[:, :5].max() == 0 and reflected[:, :5].max() > 0


# ---------------------------------------------------------------- inference inputs: centre crop, refuse smaller


def test_off_size_images_are_centre_cropped_refused_or_resized():
    image = np.arange(112 * 112 * 3, dtype=np.uint8).reshape(112, 112, 3)
    cropped = network_input.network_input(image, (112, 96))
    np.testing.assert_array_equal(cropped, image_io.standardize(image[:, 8:104]))
    with pytest.raises(image_io.ImageError, match="60x50 is smaller than the model's 112x96 input"):
        network_input.network_input(np.zeros((60, 50, 3), np.uint8), (112, 96))
    resized = network_input.network_input(np.zeros((60, 50, 3), np.uint8), (112, 96), resize=True)
    assert resized.shape == (112, 96, 3)


# ---------------------------------------------------------------- raw photos: detection + the same alignment


def test_yunet_landmarks_are_near_the_landmark_file_on_the_same_faces():
    root = shared_path("data", "lfw_raw250_subset")
    detector = shared_path("models", "yunet", "face_detection_yunet_2023mar_int8bq.onnx")
    landmarks = alignment.read_landmark_file(shared_path("data", "lfw", "ldmark_lfw_mtcnncaffe.txt"))
    names = sorted(n for n in landmarks if os.path.exists(os.path.join(root, n)))
    errors = [np.linalg.norm(alignment.detect_landmarks(image_io.read_rgb(os.path.join(root, n)), detector) -
                             landmarks[n], axis=1).mean() for n in names]
    assert len(errors) == 100
    assert np.median(errors) < 6.0 and max(errors) < 12.0  # pixels in 250x250 photos; eyes ~40 px apart
    assert alignment.detect_landmarks(np.full((250, 250, 3), 128, np.uint8), detector) is None  # no face
    face = image_io.read_rgb(os.path.join(root, names[0]))  # each threshold gets its own detector
    assert alignment.detect_landmarks(face, detector, score_threshold=0.999) is None


def test_predict_takes_raw_photos_with_align_detect(tmp_path):
    from tests.test_main import run_main  # pylint: disable=import-outside-toplevel
    root = shared_path("data", "lfw_raw250_subset")
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in sorted(os.listdir(os.path.join(root, "Colin_Powell")))[:4]:
        cv2.imwrite(str(photos / name), cv2.imread(os.path.join(root, "Colin_Powell", name)))
    (photos / "wall.jpg").write_bytes(cv2.imencode(".jpg", np.full((200, 200, 3), 128, np.uint8))[1].tobytes())
    model_dir = str(tmp_path / "model")
    size = ["--backbone=sphere4", "--image_size=56,48"]
    assert run_main("--mode=train", "--data=synthetic", "--model_dir=" + model_dir, "--max_steps=1",
                    *size).returncode == 0
    detector = shared_path("models", "yunet", "face_detection_yunet_2023mar_int8bq.onnx")
    result = run_main("--mode=predict", "--model_dir=" + model_dir, "--predict_dir=" + str(photos),
                      "--predict_output=" + str(tmp_path / "f.npz"), "--align=detect", "--detector_model=" + detector,
                      *size)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "predict: 4 images -> %s, 1 skipped" % (tmp_path / "f.npz") in result.stdout
    assert "wall.jpg: no face detected" in result.stdout
    missing = run_main("--mode=predict", "--model_dir=" + model_dir, "--predict_dir=" + str(photos),
                       "--predict_output=" + str(tmp_path / "g.npz"), "--align=detect", *size)
    assert "--align=detect needs --detector_model" in missing.stdout.strip().splitlines()[-1]


def test_records_of_another_size_and_unreadable_images_are_named(tmp_path):
    records, _, _ = lfw_subset_records(tmp_path)
    with pytest.raises(ValueError) as error:
        pk_sampling.tfrecord_input_fn_builder(records, 2, 2, (120, 100))
    assert str(error.value) == ("%s: records are 112x96 (template 112x96), the model expects 120x100 (--image_size)"
                                % records)
    for name, content, kind in (("empty.jpg", b"", "empty"), ("text.jpg", b"not an image", "not_an_image")):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(image_io.ImageError) as error:
            image_io.read_rgb(str(tmp_path / name))
        assert error.value.kind == kind


def test_training_data_is_checked_before_training_with_one_line_each(tmp_path):
    folder = tmp_path / "records"
    folder.mkdir()
    with pytest.raises(ValueError) as error:
        manifests.read(str(folder))
    assert str(error.value) == "%s: no manifest.json (make it with data_prep/make_tfrecords.py)" % folder
    (folder / "manifest.json").write_text(u"{not json")
    with pytest.raises(ValueError) as error:
        manifests.read(str(folder))
    assert str(error.value).startswith("%s: not valid JSON (" % (folder / "manifest.json"))
    assert str(error.value).endswith("); rebuild the folder with data_prep/make_tfrecords.py")
    (folder / "a.tfrecord").write_bytes(b"12345")
    identities = [{"label": 0, "images": 2}, {"label": 1, "images": 1}, {"label": 2, "images": 3},
                  {"label": 3, "images": 2}]
    manifest = {"shards": [{"file": "a.tfrecord", "bytes": 5}], "identities": identities}
    pk_sampling.check_training_data(str(folder), manifest, 3)  # labels 0, 2, 3 have two images or more
    pk_sampling.check_training_data(str(folder), manifest, 2, include_labels=["0", "2"])
    cases = [
        (dict(num_classes_per_batch=4), "%s: 3 identities with 2 or more images, fewer than the 4 a batch needs "
         "(--num_classes_per_batch; an experiment's protocol.head.recipe.num_classes_per_batch); lower it or add "
         "data" % folder),
        (dict(num_classes_per_batch=2, include_labels=[1, 3]), "%s: 1 identities with 2 or more images, fewer "
         "than the 2 a batch needs (--num_classes_per_batch; an experiment's "
         "protocol.head.recipe.num_classes_per_batch); lower it or add data" % folder),
    ]
    for options, message in cases:
        with pytest.raises(ValueError) as error:
            pk_sampling.check_training_data(str(folder), manifest, **options)
        assert str(error.value) == message
    manifest["shards"][0]["bytes"] = 6
    with pytest.raises(ValueError) as error:
        pk_sampling.check_training_data(str(folder), manifest, 1)
    assert str(error.value) == ("%s: 5 bytes, the manifest recorded 6 (truncated or replaced); rebuild the folder"
                                % (folder / "a.tfrecord"))
    manifest["shards"][0]["file"] = "b.tfrecord"
    with pytest.raises(ValueError) as error:
        pk_sampling.check_training_data(str(folder), manifest, 1)
    assert str(error.value) == "%s: missing (listed in manifest.json); rebuild the folder" % (folder / "b.tfrecord")


def test_unusable_image_files_are_one_line_each_and_a_padded_jpeg_decodes(tmp_path):
    jpeg = cv2.imencode(".jpg", np.full((20, 16, 3), 90, np.uint8))[1].tobytes()
    files = {"missing.jpg": None, "empty.jpg": b"", "cut.jpg": jpeg[:len(jpeg) // 2], "text.jpg": b"not an image",
             "header.jpg": b"\xff\xd8" + b"\x00" * 10 + b"\xff\xd9"}
    for name, content in files.items():
        if content is not None:
            (tmp_path / name).write_bytes(content)
    expected = {"missing.jpg": ("unreadable", "cannot read (No such file or directory)"),
                "empty.jpg": ("empty", "empty file"),
                "cut.jpg": ("truncated", "truncated JPEG (no end-of-image marker)"),
                "text.jpg": ("not_an_image", "not a decodable image"),
                "header.jpg": ("not_an_image", "not a decodable image")}
    for name, (kind, reason) in expected.items():
        path = str(tmp_path / name)
        with pytest.raises(image_io.ImageError) as error:
            image_io.read_rgb(path)
        assert (error.value.kind, str(error.value)) == (kind, "%s: %s" % (path, reason))
    with pytest.raises(image_io.ImageError) as error:
        image_io.decode_rgb(b"")
    assert str(error.value) == "<bytes>: empty file"
    one_pixel = image_io.decode_rgb(cv2.imencode(".png", np.full((1, 1, 3), 9, np.uint8))[1].tobytes())
    assert one_pixel.tolist() == [[[9, 9, 9]]]
    (tmp_path / "padded.jpg").write_bytes(jpeg + b"\x00" * 7)  # zero padding after the end marker is common
    image = image_io.read_rgb(str(tmp_path / "padded.jpg"))
    assert image.shape == (20, 16, 3) and image.dtype == np.uint8 and abs(int(image.mean()) - 90) <= 1


def test_host_degradation_applies_at_its_rate_with_the_image_seed():
    def degrade(face, rng):  # marks the face with the seeded generator's next draw
        return np.full_like(face, rng.randint(1, 255))

    face = np.zeros((4, 4, 3), np.uint8)
    with tf.Graph().as_default(), tf.Session() as session:
        image, seed = tf.placeholder(tf.uint8, [4, 4, 3]), tf.placeholder(tf.int64, [])
        outputs = {p: pk_sampling.host_degradation(degrade, p)(image, seed) for p in (0.0, 0.5, 1.0)}
        assert outputs[1.0].shape.as_list() == [4, 4, 3]
        run = lambda p, s: session.run(outputs[p], {image: face, seed: s})  # noqa: E731
        big_seed = 2 ** 40 + 2 ** 31 + 7  # reduced modulo 2**31 for numpy's generator
        rng = np.random.RandomState(big_seed % 2 ** 31)
        rng.uniform()
        np.testing.assert_array_equal(run(1.0, big_seed), np.full_like(face, rng.randint(1, 255)))
        assert not run(0.0, big_seed).any()
        degraded = [bool(run(0.5, s).any()) for s in range(400)]
    assert 0.4 < np.mean(degraded) < 0.6
    assert degraded == [bool(np.random.RandomState(s).uniform() < 0.5) for s in range(400)]


def test_image_files_are_listed_recursively_sorted_by_extension(tmp_path):
    for name in ("b/2.JPG", "b/1.png", "a.jpeg", "c/d/e.webp", "notes.txt", "b/model.onnx", "f.tif"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    assert image_io.list_images(str(tmp_path)) == ["a.jpeg", "b/1.png", "b/2.JPG", "c/d/e.webp", "f.tif"]

"""What the experiments keep in the work folder, checked on real faces: the caches a held-out run trains on
never hold its held-out kind, a pooled cache is what SFace pools itself, other photos make other records,
and fold heads train as --mode=train does (its lock, its record, its refusals)."""
import json
import os
import socket

import cv2
import numpy as np
import pytest

from pfe_estimator import errors
from pfe_estimator.data import feature_cache
from pfe_estimator.data import manifest as manifests
from pfe_estimator.data import pk_sampling
from pfe_estimator.experiments import caches
from pfe_estimator.experiments import copy_store
from pfe_estimator.experiments import fold_heads
from pfe_estimator.experiments import lfw_data
from pfe_estimator.experiments import work_folder
from pfe_estimator.faces import kinds
from pfe_estimator.inference import backbone_runtimes
from pfe_estimator.inference import cache_builder
from pfe_estimator.inference import predict
from pfe_estimator.model import backbones
from pfe_estimator.storage import model_config
from pfe_estimator.storage import model_dir_lock
from tests.conftest import lfw_subset_records, shared_path
from tests.data_prep.test_cross_quality import tiny_lfw

SFACE = ("models", "sface", "face_recognition_sface_2021dec_int8bq.onnx")


@pytest.fixture(scope="module")
def copies_cache(tmp_path_factory):
    """SFace's cache of the 100 native LFW images (10 people), each with a copy of any kind tagged with it."""
    base = tmp_path_factory.mktemp("copies")
    records, _, _ = lfw_subset_records(base, "112x112")
    cache = str(base / "cache")
    draw, points = kinds.random_degradation(kinds.KINDS, (1, 2, 3, 4)), lfw_data.alignment.template("112x112")[1]
    cache_builder.build_cache(records, cache, backbones.Backbone("onnx:" + shared_path(*SFACE)), batch_size=50,
                              degraded_copies=1, degrade=lambda face, rng: draw(face, points, rng),
                              degradation=kinds.copies_description(kinds.KINDS, (1, 2, 3, 4)), progress=False)
    return {"records": records, "cache": cache, "base": base}


def sface():
    path = shared_path(*SFACE)
    return lfw_data.Sface(path, "sha", "fp32", "backbone_precision=fp32", lfw_data.map_channels(path))


def test_the_held_out_kind_never_reaches_the_training_subset(copies_cache):
    names = feature_cache.read_cache_arrays(copies_cache["cache"])[0]
    found = [caches.copy_kind(name + ".png") for name in names]
    held_out = max(set(k for k in found if k), key=found.count)  # the most frequent kind: a real exclusion
    subset = caches.subset(copies_cache["cache"], lambda f: caches.copy_kind(f) != held_out,
                             "without copies of %s" % held_out)
    kept = [caches.copy_kind(name + ".png") for name in feature_cache.read_cache_arrays(subset)[0]]
    assert held_out not in kept and kept.count(None) == 100
    assert len(kept) == 200 - found.count(held_out) == manifests.read(subset)["num_images"]
    assert caches.subset(copies_cache["cache"], lambda f: True, "all") != subset  # named after what it keeps


def test_a_pooled_cache_derived_from_the_flattened_one_is_the_cache_sface_pools_itself(copies_cache, tmp_path):
    fresh = str(tmp_path / "fresh")
    cache_builder.build_cache(copies_cache["records"], fresh, backbones.Backbone(
        "onnx:" + shared_path(*SFACE), options={"head_input": "pooled"}), batch_size=50, progress=False)
    flattened = str(tmp_path / "flattened")
    cache_builder.build_cache(copies_cache["records"], flattened, backbones.Backbone("onnx:" + shared_path(*SFACE)),
                              batch_size=50, progress=False)
    derived = caches.head_cache(flattened, "pooled", sface())
    names, features, mu = feature_cache.read_cache_arrays(derived)
    fresh_names, fresh_features, fresh_mu = feature_cache.read_cache_arrays(fresh)
    assert names == fresh_names and features.shape == (100, 1024)
    np.testing.assert_array_equal(mu, fresh_mu)
    np.testing.assert_allclose(features, fresh_features, rtol=2e-3, atol=2e-3 * np.abs(fresh_features).max())
    assert model_config.from_cache_manifest(manifests.read(derived))["head_input"] == "pooled"
    assert caches.head_cache(flattened, "flattened", sface()) == flattened


def test_other_photos_are_aligned_into_other_records_and_the_first_are_kept(tmp_path):
    """A photo changed since: the experiments align LFW again into a folder of its own (its key is the photos'
    content) instead of reusing or replacing the records of the earlier photos."""
    lfw = tiny_lfw(tmp_path)
    work = str(tmp_path / "work")
    inputs = lfw_data.Inputs(lfw, shared_path(*SFACE), work, None)
    first = lfw_data.aligned_lfw(inputs)
    def contents(folder):
        return {name: open(os.path.join(folder, name), "rb").read() for name in os.listdir(folder)}
    before = contents(first.folder)
    assert lfw_data.aligned_lfw(inputs) == first  # a rerun finds them
    photo = os.path.join(lfw, "images", "Colin_Powell", "Colin_Powell_0001.jpg")
    os.chmod(photo, 0o644)  # copied from the read-only shared folder
    assert cv2.imwrite(photo, cv2.GaussianBlur(cv2.imread(photo), (5, 5), 0))
    second = lfw_data.aligned_lfw(inputs)
    assert second.folder != first.folder and second.key != first.key
    assert contents(first.folder) == before


def test_fold_heads_train_as_train_mode_does_and_predict_as_the_estimator_does(copies_cache, tmp_path):
    """A fold head's folder is locked while it trains, records what it trained on (a resume on other
    identities is refused), is reused once finished, and its sigma^2 of cached outputs is what the
    Estimator's PREDICT gives."""
    head = fold_heads.QUALITY_AWARE_HEAD._replace(recipe=fold_heads.QUALITY_AWARE_HEAD.recipe._replace(
        max_steps=3, num_classes_per_batch=4, images_per_class=2))
    training = caches.head_cache(copies_cache["cache"], head.input, sface())
    labels = list(range(8))
    folder = str(tmp_path / "head")
    os.makedirs(folder)
    holder = os.path.join(folder, model_dir_lock.LOCK_NAME)
    with open(holder, "w") as f:  # another live process trains it
        json.dump({"host": model_dir_lock.socket.gethostname(), "pid": os.getppid(), "mode": "fold head"}, f)
    with pytest.raises(model_dir_lock.LockedError, match="is in use by fold head"):
        fold_heads.train(sface(), head, training, labels, folder)
    os.remove(holder)
    fold_heads.train(sface(), head, training, labels, folder)
    record = model_config.read(folder)
    assert record["head_input"] == "pooled" and record["recipe"]["max_steps"] == 3 and record["trained_on"]
    assert record["backbone_precision"]["used"] == "fp32"
    finished = sorted(os.listdir(folder))
    fold_heads.train(sface(), head, training, labels, folder)  # finished: reused as it is
    assert sorted(os.listdir(folder)) == finished
    with pytest.raises(errors.UserError, match="records trained_on .*resuming would mix two models"):
        fold_heads.train(sface(), head, training, list(range(1, 9)), folder)
    names, features, mu = feature_cache.read_cache_arrays(training)
    estimator = fold_heads.estimators.pfe_estimator(sface().backbone(head.input), folder, head.recipe,
                                                    fold_heads.devices.Runtime())
    expected = predict.cached_embeddings(estimator, features, mu, 256)
    got = fold_heads.sigma_sq(folder, features, mu)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


def test_too_few_training_identities_for_a_batch_name_the_config_field(copies_cache):
    with pytest.raises(errors.UserError,
                       match=r"fewer than the 32 a batch needs \(.*protocol.head.recipe.num_classes_per_batch\)"):
        pk_sampling.check_training_data(copies_cache["records"], manifests.read(copies_cache["records"]), 32)


def test_a_cache_a_run_was_interrupted_in_is_finished_by_the_next(copies_cache, tmp_path):
    """The clean cache's folder is found again by its key; one without a manifest (killed mid-run) is resumed."""
    records = lfw_data.Records(copies_cache["records"], manifests.read(copies_cache["records"]), "records-key")
    made = caches.cache(records, sface(), str(tmp_path))
    assert caches.cache(records, sface(), str(tmp_path)) == made and os.path.dirname(made).endswith("caches")
    os.remove(manifests.path(made))
    os.remove(os.path.join(made, sorted(f for f in os.listdir(made) if f.endswith(".tfrecord"))[0]))
    assert caches.cache(records, sface(), str(tmp_path)) == made and manifests.exists(made)
    assert caches.cache(records, sface()._replace(sha256="other"), str(tmp_path)) != made


class CountingRunner(object):
    """SFace's real runner, counting the faces it runs."""

    def __init__(self, runner):
        self.runner, self.faces = runner, 0

    def run(self, faces, *args, **kwargs):
        faces = list(faces)
        self.faces += len(faces)
        return self.runner.run(faces, *args, **kwargs)


def test_a_degraded_copy_runs_once_and_every_request_that_draws_it_reads_it(copies_cache, tmp_path, capsys):
    """Copies are keyed by image, kind, severity and draw (seed, index): a request that shares some with an
    earlier one runs SFace on the rest only and reads the same outputs; another seed or another SFace precision
    shares nothing; a killed run's unfinished part is ignored."""
    records = lfw_data.Records(copies_cache["records"], manifests.read(copies_cache["records"]), "records-key")
    names = predict.read_tfrecord_faces(records.folder, limit=12)[0]
    kind, severity = caches.per_image_draws(12, kinds.KINDS, kinds.SEVERITIES, 5)
    work = str(tmp_path / "work")
    with backbone_runtimes.runner(sface().backbone(), lfw_data.IMAGE_SIZE) as runner:
        counting = CountingRunner(runner)

        def request(rows, seed=0, model=sface(), folder=work):
            before = counting.faces
            made = caches.degraded_copies(records, model, counting, [names[i] for i in rows],
                                          (kind[rows], severity[rows], seed), folder, indices=rows)
            return made, counting.faces - before

        first, ran = request(np.arange(8))
        assert ran == 8 and capsys.readouterr().out.startswith("degraded copies: 8 to run through SFace, 0 reused")
        second, ran = request(np.arange(4, 12))
        assert ran == 4 and "degraded copies: 4 to run through SFace, 4 reused" in capsys.readouterr().out
        assert second.names == names[4:12]
        for field in ("features", "mu", "norm", "sharpness"):
            np.testing.assert_array_equal(getattr(second, field)[:4], getattr(first, field)[4:])
        alone, ran = request(np.arange(4, 12), folder=str(tmp_path / "alone"))  # the same copies made in one go
        assert ran == 8
        np.testing.assert_allclose(second.mu, alone.mu, atol=1e-5)
        np.testing.assert_array_equal(second.sharpness, alone.sharpness)
        assert request(np.arange(4, 12), seed=1)[1] == 8  # other draws: other pixels
        assert request(np.arange(8), model=sface()._replace(precision="bf16"))[1] == 8  # never mixed
        store = copy_store.folder(work, records, sface())
        killed = os.path.join(store, ".part-0123456789ab.partial-x1", "part")  # a run killed while writing
        os.makedirs(killed)
        with open(os.path.join(killed, "keys.npy"), "wb") as half:
            half.write(b"\x93NUMPY half a part")
        assert request(np.arange(12))[1] == 0
        assert len(copy_store.held(store)) == 20  # 12 of seed 0, 8 of seed 1, each once
        # a live run writing the same copies: refused in one line naming it, nothing written
        rows = np.arange(4)
        part = "part-%s" % work_folder.digest([copy_store.copy_key(names[i], kind[i], severity[i], 2, i)
                                                for i in rows])[:work_folder.DIGEST_LENGTH]
        with open(os.path.join(store, "." + part + model_dir_lock.LOCK_NAME), "w") as lock:
            json.dump({"host": socket.gethostname(), "pid": os.getppid(), "mode": "copy store",
                       "started": "now"}, lock)
        with pytest.raises(model_dir_lock.LockedError, match="in use by copy store"):
            request(rows, seed=2)
        assert len(copy_store.held(store)) == 20 and not os.path.exists(os.path.join(store, part))

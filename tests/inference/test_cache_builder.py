"""cache_builder: an interrupted cache of degraded copies is finished only with copies of its own generator."""
import os
import shutil

import numpy as np
import pytest

from pfe_estimator.data import feature_cache
from pfe_estimator.data import tfrecord_schema
from pfe_estimator.faces import camera_degradations
from pfe_estimator.faces import degradations
from pfe_estimator.faces import kinds
from pfe_estimator.inference import backbone_runtimes
from pfe_estimator.inference import cache_builder
from pfe_estimator.model import backbones
from pfe_estimator.storage import outputs
from tests.conftest import lfw_subset_records, shared_path

SFACE = ("models", "sface", "face_recognition_sface_2021dec_int8bq.onnx")


class Interrupted(Exception):
    pass


def interrupted_after(calls, degrade):
    """degrade, raising Interrupted on call number `calls` (a run stopped after its first shard)."""
    count = [0]

    def wrapped(face, rng):
        count[0] += 1
        if count[0] > calls:
            raise Interrupted()
        return degrade(face, rng)
    return wrapped


def test_an_interrupted_cache_of_copies_is_resumed_only_with_the_same_degradation(tmp_path):
    records, _, _ = lfw_subset_records(tmp_path, "112x112")  # 100 faces in two shards
    cache = str(tmp_path / "cache")
    backbone = backbones.Backbone("onnx:" + shared_path(*SFACE))
    untagged = lambda face, rng: face[::-1].copy()  # noqa: E731  an earlier version's copies: no tag
    tagged = lambda face, rng: (face[::-1].copy(), "blur-%d" % (1 + rng.randint(4)))  # noqa: E731
    with pytest.raises(Interrupted):
        cache_builder.build_cache(records, cache, backbone, batch_size=50, progress=False, degraded_copies=1,
                                  degrade=interrupted_after(50, untagged), degradation="untagged flips")
    first_shard = sorted(f for f in os.listdir(cache) if f.endswith(".tfrecord"))
    assert len(first_shard) == 1  # the first shard is kept for a resume
    with pytest.raises(outputs.OutputError, match="changed: degradation"):
        cache_builder.build_cache(records, cache, backbone, batch_size=50, progress=False, degraded_copies=1,
                                  degrade=tagged,
                                  degradation=kinds.copies_description(("blur",), (1, 2, 3, 4)))
    assert sorted(f for f in os.listdir(cache) if f.endswith(".tfrecord")) == first_shard  # nothing lost
    manifest = cache_builder.build_cache(records, cache, backbone, batch_size=50, progress=False, degraded_copies=1,
                                         degrade=untagged, degradation="untagged flips")
    assert manifest["num_images"] == 200 and manifest["fingerprint"]["degradation"] == "untagged flips"
    with pytest.raises(ValueError, match="need the degradation"):
        cache_builder.build_cache(records, str(tmp_path / "other"), backbone, degraded_copies=1, degrade=tagged)


def test_the_copies_description_changes_with_any_level_kind_order_or_severity(monkeypatch):
    """A cache of degraded copies is resumed only with copies made the same way: its fingerprint's description
    names every kind in drawing order, the severities drawn and each drawn severity's level, so changing one
    level in a family's LEVELS (faces/degradations.py, camera_degradations.py) is a change the fingerprint sees."""
    severities = kinds.SEVERITIES
    before = kinds.copies_description(kinds.KINDS, severities)
    monkeypatch.setitem(degradations.LEVELS, "blur", (1.0, 2.0, 3.0, 5.0))
    assert kinds.copies_description(kinds.KINDS, severities) != before
    monkeypatch.undo()
    monkeypatch.setitem(camera_degradations.LEVELS, "tiny", (16.0, 12.0, 10.0, 7.0))
    assert kinds.copies_description(kinds.KINDS, severities) != before
    monkeypatch.undo()
    assert kinds.copies_description(kinds.KINDS, severities) == before
    assert kinds.copies_description(tuple(reversed(kinds.KINDS)), severities) != before
    assert kinds.copies_description(kinds.KINDS, (1, 2)) != before


def test_a_work_folder_moved_elsewhere_keeps_its_cache_and_subsets(tmp_path):
    """A cache proves its source by the records' fingerprint, not their path: records, cache and a subset moved
    together to another folder (a ModelArts job copying its work folder back from OBS) resume without running
    the backbone or rewriting a shard."""
    work = tmp_path / "work"
    work.mkdir()
    records, _, _ = lfw_subset_records(work, "112x112")
    cache, subset = str(work / "cache"), str(work / "subset")
    backbone = backbones.Backbone("onnx:" + shared_path(*SFACE))
    cache_builder.build_cache(records, cache, backbone, batch_size=50, progress=False)
    feature_cache.write_subset(cache, subset, lambda name: name.endswith("1.jpg") or name.endswith("2.jpg"),
                               "names ending in 1 or 2", pooled_channels=128)

    def times(root):
        return {os.path.relpath(os.path.join(d, f), root): os.path.getmtime(os.path.join(d, f))
                for d, _, files in os.walk(root) for f in files if f.endswith(".tfrecord")}
    moved = str(tmp_path / "moved")
    shutil.move(str(work), moved)
    before = times(moved)
    moved_records = os.path.join(moved, os.path.relpath(records, str(work)))
    manifest = cache_builder.build_cache(moved_records, os.path.join(moved, "cache"), backbone, batch_size=50,
                                         progress=False)
    assert manifest["num_images"] == 100 and len(before) == 2 + 2 + 2  # records, cache, subset: two shards each
    feature_cache.write_subset(os.path.join(moved, "cache"), os.path.join(moved, "subset"),
                               lambda name: name.endswith("1.jpg") or name.endswith("2.jpg"),
                               "names ending in 1 or 2", pooled_channels=128)
    assert times(moved) == before


def test_a_shard_goes_through_the_backbone_a_bounded_number_of_faces_at_a_time_whatever_the_copies(
        tmp_path, monkeypatch):
    """build_cache's memory is bounded by FACES_PER_RUN, not by a shard's images times its copies (a 4-copy
    cache of LFW once held 10 k faces and their 25 k-float maps at once): the backbone never gets much more
    than FACES_PER_RUN faces in one call, and the cache equals one made with the whole shard in one call
    (same names, copies drawn in the same order, features within float16 storage)."""
    records, _, _ = lfw_subset_records(tmp_path, "112x112")  # 100 faces in two shards of about 50
    backbone = backbones.Backbone("onnx:" + shared_path(*SFACE))
    tagged = lambda face, rng: (face[::-1].copy(), "blur-%d" % (1 + rng.randint(4)))  # noqa: E731
    calls = []
    run = backbone_runtimes.TensorflowRunner.run

    def counted(self, faces, batch_size, progress=None, **kwargs):
        calls.append(len(faces))
        return run(self, faces, batch_size, progress, **kwargs)
    monkeypatch.setattr(backbone_runtimes.TensorflowRunner, "run", counted)
    largest = max(3 * len(r["encoded"]) for shard in os.listdir(records) if shard.endswith(".tfrecord")
                  for r in tfrecord_schema.read_identities(os.path.join(records, shard)))
    monkeypatch.setattr(cache_builder, "FACES_PER_RUN", 32)
    cache_builder.build_cache(records, str(tmp_path / "bounded"), backbone, batch_size=16, progress=False,
                              degraded_copies=2, degrade=tagged, degradation="tagged flips")
    assert len(calls) > 4 and max(calls) < 32 + largest  # a shard of 150 faces in several runs
    monkeypatch.setattr(cache_builder, "FACES_PER_RUN", 10 ** 6)
    del calls[:]
    cache_builder.build_cache(records, str(tmp_path / "whole"), backbone, batch_size=16, progress=False,
                              degraded_copies=2, degrade=tagged, degradation="tagged flips")
    assert len(calls) == 4  # two shards, each image and mirror run whole
    bounded = feature_cache.read_cache_arrays(str(tmp_path / "bounded"))
    whole = feature_cache.read_cache_arrays(str(tmp_path / "whole"))
    assert bounded[0] == whole[0] and len(whole[0]) == 300
    np.testing.assert_allclose(bounded[1], whole[1], rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(bounded[2], whole[2], rtol=2e-3, atol=2e-3)


def test_a_cache_of_copies_takes_the_originals_from_the_clean_cache_and_runs_sface_on_the_copies_alone(
        tmp_path, monkeypatch):
    """The same cache, built with the clean cache's outputs of the originals: a third of a two-copy cache's
    passes saved, its content equal (the originals' outputs bit for bit as the clean cache stores them, the
    copies' within float16 storage); a clean cache made otherwise (here: stored in another dtype) is refused."""
    records, _, _ = lfw_subset_records(tmp_path, "112x112")  # 100 faces
    backbone = backbones.Backbone("onnx:" + shared_path(*SFACE))
    draw = kinds.random_degradation(degradations.KINDS, (1, 2))
    degrade = lambda face, rng: draw(face, np.zeros((5, 2)), rng)  # noqa: E731
    clean = str(tmp_path / "clean")
    cache_builder.build_cache(records, clean, backbone, progress=False)
    passes = []
    run = backbone_runtimes.TensorflowRunner.run

    def counted(self, faces, batch_size, progress=None, **kwargs):
        passes.append(len(faces))
        return run(self, faces, batch_size, progress, **kwargs)
    monkeypatch.setattr(backbone_runtimes.TensorflowRunner, "run", counted)
    for name, source in (("shared", clean), ("alone", None)):
        del passes[:]
        cache_builder.build_cache(records, str(tmp_path / name), backbone, progress=False, degraded_copies=2,
                                  degrade=degrade, degradation="test", clean_cache=source)
        assert sum(passes) == (400 if source else 600)  # 100 faces x 2 copies (x 3 alone) and their mirrors
    shared, alone = (feature_cache.read_cache_arrays(str(tmp_path / name)) for name in ("shared", "alone"))
    assert shared[0] == alone[0]
    np.testing.assert_allclose(shared[1], alone[1], atol=2e-3)
    np.testing.assert_allclose(shared[2], alone[2], atol=1e-5)
    stored = feature_cache.read_cache_arrays(clean)
    originals = [shared[0].index(name) for name in stored[0]]
    np.testing.assert_array_equal(shared[1][originals], stored[1])
    with pytest.raises(outputs.errors.UserError, match="not a clean cache of these records by this backbone \\(it "
                                                       "differs in features_dtype\\)"):
        cache_builder.build_cache(records, str(tmp_path / "refused"), backbone, progress=False, degraded_copies=1,
                                  degrade=degrade, degradation="test", clean_cache=clean, features_dtype="float32")

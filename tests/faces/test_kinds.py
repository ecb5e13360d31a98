"""The one registry of degradation kinds: every kind of the three families by name, copies named after the
kind and severity drawn, a repeated severity weighted."""
import numpy as np

from pfe_estimator.data import feature_cache
from pfe_estimator.faces import alignment
from pfe_estimator.faces import camera_degradations
from pfe_estimator.faces import degradations
from pfe_estimator.faces import kinds
from pfe_estimator.faces import lens_degradations
from pfe_estimator.inference import cache_builder


def test_the_registry_holds_the_three_families_and_degrades_with_each():
    assert kinds.KINDS == degradations.KINDS + camera_degradations.KINDS + lens_degradations.KINDS
    assert kinds.GENERATOR_KINDS == degradations.KINDS and len(kinds.KINDS) == 11
    face = np.random.RandomState(0).randint(0, 255, (112, 112, 3)).astype(np.uint8)
    points = alignment.template("112x112")[1]
    for kind in kinds.KINDS:
        degraded = kinds.degrade(face, kind, 4, points, np.random.RandomState(1))
        assert degraded.shape == face.shape and degraded.dtype == np.uint8 and (degraded != face).any(), kind


def test_copies_are_named_after_their_kind_and_drawn_among_the_allowed_severities():
    face = np.full((112, 112, 3), 128, np.uint8)
    face[30:80, 30:80] = 40
    points = alignment.template("112x112")[1]
    draw = kinds.random_degradation(kinds.KINDS, (1, 2))
    tags = [draw(face, points, np.random.RandomState(seed))[1] for seed in range(200)]
    assert {tag.rsplit("-", 1)[0] for tag in tags} == set(kinds.KINDS)
    assert {tag.rsplit("-", 1)[1] for tag in tags} == {"1", "2"}
    name = cache_builder.degraded_copy_name("Ann/Ann_0001.jpg", 1, "motion_blur-2")
    assert name == "Ann/Ann_0001_q1_motion_blur-2.jpg" and feature_cache.copy_quality(name) == ("motion_blur", 2)
    weighted = kinds.random_degradation(kinds.KINDS, (2, 3, 4, 4))
    tags = [weighted(face, points, np.random.RandomState(seed))[1] for seed in range(200)]
    counts = [sum(tag.endswith("-%d" % s) for tag in tags) for s in (1, 2, 3, 4)]
    assert counts[0] == 0 and counts[3] > counts[2] and counts[3] > counts[1]  # a repeat weights its severity

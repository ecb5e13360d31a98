"""The degradations held out from training: a camera's kinds and the numpy-only lens family, on a real
aligned LFW face."""
import ast
import os

import cv2
import numpy as np
import pytest

from pfe_estimator.faces import alignment
from pfe_estimator.faces import camera_degradations
from pfe_estimator.faces import degradations
from pfe_estimator.faces import lens_degradations
from tests.conftest import ROOT, shared_path

MODULES = [(camera_degradations, kind) for kind in camera_degradations.KINDS] + [
    (lens_degradations, kind) for kind in lens_degradations.KINDS]


@pytest.fixture(scope="module")
def face():
    """A real LFW face aligned to the 112x112 template (uint8 RGB)."""
    image = cv2.cvtColor(cv2.imread(shared_path("data", "lfw", "images", "Aaron_Eckhart", "Aaron_Eckhart_0001.jpg")),
                         cv2.COLOR_BGR2RGB)
    landmarks = alignment.read_landmark_file(shared_path("data", "lfw", "ldmark_lfw_mtcnncaffe.txt"))
    points = alignment.scale_landmarks(landmarks["Aaron_Eckhart/Aaron_Eckhart_0001.jpg"], (250, 250),
                                       image.shape[:2])
    return alignment.align_face(image, points, "112x112")[0]


def error(a, b):
    return float(np.mean(np.abs(a.astype(np.float64) - b)))


@pytest.mark.parametrize("module,kind", MODULES)
def test_every_held_out_kind_degrades_more_with_severity_and_repeats_for_a_seed(face, module, kind):
    points = alignment.template("112x112")[1]
    outputs = [module.degrade(face, kind, s, points, np.random.RandomState(7)) for s in module.SEVERITIES]
    assert all(o.shape == face.shape and o.dtype == np.uint8 for o in outputs)
    errors = [error(face, o) for o in outputs]
    assert errors[0] > 0.5 and errors[-1] > errors[0]  # changed at severity 1, more at 4
    again = module.degrade(face, kind, 4, points, np.random.RandomState(7))
    assert np.array_equal(again, outputs[-1])


def test_tiny_faces_have_the_eye_distance_of_their_level(face):
    """Severity 4 keeps about 8 px between the eyes: downscaled by eye distance / 8, the crop's detail
    above that scale is gone (its high-pass energy falls well below the clean face's)."""
    points = alignment.template("112x112")[1]
    eyes = np.linalg.norm(points[1] - points[0])
    tiny = camera_degradations.degrade(face, "tiny", 4, points, np.random.RandomState(0))
    assert abs(eyes / camera_degradations.level_of("tiny", 4) - eyes / 8.0) < 1e-9

    def detail(image):
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64)
        return np.mean(np.abs(gray - cv2.GaussianBlur(gray, (0, 0), 1.0)))
    assert detail(tiny) < 0.5 * detail(face)


def test_exposure_moves_brightness_the_way_it_says(face):
    points = alignment.template("112x112")[1]
    rng = np.random.RandomState(0)
    bright = camera_degradations.degrade(face, "overexposure", 2, points, rng)
    dark = camera_degradations.degrade(face, "underexposure", 2, points, rng)
    assert bright.mean() > face.mean() + 20 and dark.mean() < face.mean() - 40


def test_the_lens_family_shares_no_code_with_the_training_degradations_or_opencv():
    path = os.path.join(ROOT, "pfe_estimator", "faces", "lens_degradations.py")
    imported = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported |= {"%s.%s" % (node.module, alias.name) for alias in node.names}
    assert imported == {"numpy", "pfe_estimator.errors"}
    assert not set(lens_degradations.KINDS) & set(degradations.KINDS + camera_degradations.KINDS)


def test_the_disk_psf_is_a_normalised_disk_and_the_fft_convolution_matches_a_direct_one():
    psf = lens_degradations.disk_psf(2.5)
    assert psf.shape == (7, 7) and abs(psf.sum() - 1) < 1e-12 and psf[3, 3] == psf.max() and psf[0, 0] == 0
    rng = np.random.RandomState(1)
    image = rng.uniform(size=(9, 11, 1))
    direct = np.zeros_like(image)
    padded = np.pad(image, ((3, 3), (3, 3), (0, 0)), mode="edge")
    for y in range(9):
        for x in range(11):
            direct[y, x, 0] = np.sum(padded[y:y + 7, x:x + 7, 0] * psf[::-1, ::-1])
    np.testing.assert_allclose(lens_degradations.convolve(image, psf), direct, atol=1e-12)


def test_unknown_kinds_and_severities_are_one_line():
    with pytest.raises(ValueError, match="camera degradation 'fog' severity 1"):
        camera_degradations.level_of("fog", 1)
    with pytest.raises(ValueError, match="lens degradation 'defocus' severity 5"):
        lens_degradations.level_of("defocus", 5)

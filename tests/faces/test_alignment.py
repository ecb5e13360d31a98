"""5-point alignment: exact on synthetic similarity images, least squares on real LFW landmarks."""
import os
import re

import cv2
import numpy as np
import pytest

from pfe_estimator.faces import alignment
from tests.conftest import ROOT, shared_path


def _random_similarity(rng):
    angle = rng.uniform(-0.5, 0.5)
    scale = rng.uniform(1.2, 2.2)
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return np.hstack([rotation, rng.uniform(10, 40, size=(2, 1))])


@pytest.mark.parametrize("template_name", ["112x96", "112x112", "56x48"])
def test_exact_similarity_images_land_on_the_template(template_name):
    """Dots drawn at a similarity image of the template land within 1 px of the template after alignment."""
    (height, width), points = alignment.template(template_name)
    rng = np.random.RandomState(0)
    for _ in range(5):
        forward = _random_similarity(rng)
        landmarks = alignment.apply_transform(forward, points)
        image = np.zeros((300, 300, 3), np.uint8)
        for x, y in landmarks:
            cv2.circle(image, (int(round(x * 16)), int(round(y * 16))), 5 * 16, (255, 255, 255), -1,
                       lineType=cv2.LINE_AA, shift=4)
        crop, matrix = alignment.align_face(image, landmarks, template_name)
        assert crop.shape == (height, width, 3)
        np.testing.assert_allclose(alignment.apply_transform(matrix, landmarks), points, atol=1e-6)
        gray = crop[:, :, 0].astype(np.float64)
        for x, y in points:
            x0, y0 = int(round(x)), int(round(y))
            window = gray[y0 - 4:y0 + 5, x0 - 4:x0 + 5]
            ys, xs = np.mgrid[y0 - 4:y0 + 5, x0 - 4:x0 + 5]
            centroid = np.array([(xs * window).sum(), (ys * window).sum()]) / window.sum()
            assert np.linalg.norm(centroid - [x, y]) < 1.0


def _independent_least_squares(source, target):
    """Solves [x -y 1 0; y x 0 1] [a b tx ty]^T = [u v]^T by lstsq; returns the [2, 3] matrix."""
    rows, values = [], []
    for (x, y), (u, v) in zip(source, target):
        rows += [[x, -y, 1, 0], [y, x, 0, 1]]
        values += [u, v]
    a, b, tx, ty = np.linalg.lstsq(np.array(rows), np.array(values), rcond=None)[0]
    return np.array([[a, -b, tx], [b, a, ty]])


def test_real_lfw_landmarks_give_the_least_squares_similarity(tmp_path):
    root = shared_path("data", "lfw_raw250_subset")
    landmarks = alignment.read_landmark_file(shared_path("data", "lfw", "ldmark_lfw_mtcnncaffe.txt"))
    _, points = alignment.template("112x96")
    crops = []
    names = sorted(n for n in landmarks if os.path.exists(os.path.join(root, n)))
    assert len(names) == 100
    for name in names:
        matrix = alignment.similarity_transform(landmarks[name], points, method="umeyama")
        independent = _independent_least_squares(landmarks[name], points)
        np.testing.assert_allclose(matrix, independent, atol=1e-8)
        residual = np.sum((alignment.apply_transform(matrix, landmarks[name]) - points) ** 2)
        rng = np.random.RandomState(len(crops))
        for _ in range(5):  # any other similarity fits worse
            a, b, tx, ty = np.array([matrix[0, 0], matrix[1, 0], matrix[0, 2], matrix[1, 2]]) + \
                rng.normal(0, [1e-3, 1e-3, 0.1, 0.1])
            other = np.array([[a, -b, tx], [b, a, ty]])
            assert np.sum((alignment.apply_transform(other, landmarks[name]) - points) ** 2) > residual
        image = cv2.imread(os.path.join(root, name))
        crop, _ = alignment.align_face(image, landmarks[name], "112x96")
        crops.append(crop)
    sheet = np.vstack([np.hstack(crops[row * 10:(row + 1) * 10]) for row in range(10)])
    artifacts = os.path.join(ROOT, "tests", "artifacts")
    os.makedirs(artifacts, exist_ok=True)
    cv2.imwrite(os.path.join(artifacts, "lfw_raw250_aligned_112x96.png"), sheet)
    # eyes of an aligned face are darker than the forehead above them on average over 100 faces
    mean = np.mean([cv2.cvtColor(c, cv2.COLOR_BGR2GRAY).astype(np.float64) for c in crops], axis=0)
    assert mean[50:54, 28:34].mean() < mean[20:26, 40:56].mean()


def test_landmark_lines_parse_paths_with_spaces_and_reject_short_lines(tmp_path):
    path = tmp_path / "landmarks.txt"
    path.write_text(u"Jos\u00e9 M/a b.jpg 1 2 3 4 5 6 7 8 9 10\n", encoding="utf-8")
    parsed = alignment.read_landmark_file(str(path))
    np.testing.assert_array_equal(parsed[u"Jos\u00e9 M/a b.jpg"][:, 0], [1, 2, 3, 4, 5])
    path.write_text(u"x.jpg 1 2 3\n", encoding="utf-8")
    with pytest.raises(ValueError, match="landmarks.txt:1: expected a path and 10 coordinates"):
        alignment.read_landmark_file(str(path))


def test_landmarks_scale_from_their_resolution():
    scaled = alignment.scale_landmarks([[125.0, 250.0]] * 5, (250, 250), (150, 150))
    np.testing.assert_allclose(scaled[0], [75.0, 150.0])
    # (H, W) sizes, (x, y) points: x follows the widths, y the heights
    np.testing.assert_allclose(alignment.scale_landmarks([[100, 30]] * 5, (60, 200), (120, 100))[0], [50.0, 60.0])


@pytest.mark.parametrize("point,inside", [
    ((0.0, 0.0), True), ((199.0, 99.0), True), ((-0.01, 50.0), False), ((50.0, -0.01), False),
    ((199.01, 50.0), False), ((50.0, 99.01), False), ((150.0, 50.0), True), ((50.0, 150.0), False)])
def test_landmarks_inside_is_the_closed_pixel_range_on_each_axis(point, inside):
    """An image of H=100, W=200: x in [0, 199], y in [0, 99]; one point outside is enough to refuse."""
    points = [[100.0, 50.0]] * 4 + [list(point)]
    assert alignment.landmarks_inside(points, (100, 200)) is inside


def test_landmark_file_skips_blank_and_comment_lines_and_takes_windows_paths(tmp_path):
    path = tmp_path / "landmarks.txt"
    path.write_text(u"# comment\n\n  # indented comment\na.jpg 1 2 3 4 5 6 7 8 9 10\n\n"
                    u"dir\\b.jpg 1 2 3 4 5 6 7 8 9 10\n", encoding="utf-8")
    assert sorted(alignment.read_landmark_file(str(path))) == ["a.jpg", "dir/b.jpg"]
    with pytest.raises(ValueError, match=r"^%s:1: expected a path and 10 coordinates, got 10 fields$"
                       % re.escape(str(path))):
        path.write_text(u"1 2 3 4 5 6 7 8 9 10\n", encoding="utf-8")
        alignment.read_landmark_file(str(path))


def test_umeyama_recovers_a_similarity_and_never_reflects():
    rng = np.random.RandomState(3)
    source = rng.uniform(0, 100, size=(5, 2))
    matrix = _random_similarity(rng)
    target = source @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(alignment.similarity_transform(source, target, "umeyama"), matrix, atol=1e-9)
    # a mirror image has no exact similarity: the fit stays a rotation (positive determinant)
    fitted = alignment.similarity_transform(source, target * [-1.0, 1.0], "umeyama")
    (a, b), (c, d) = fitted[:, :2]
    assert a == pytest.approx(d) and b == pytest.approx(-c) and a * d - b * c > 0  # s * rotation


def test_degenerate_landmarks_are_named_with_their_widest_pair():
    assert alignment.degenerate_landmarks([[1, 2], [np.nan, 0]] + [[0, 0]] * 3) == "non-finite coordinates"
    exactly = [[100, 100], [100, 104]] + [[100, 100]] * 3  # widest pair MIN_LANDMARK_SPAN = 4 px apart
    assert alignment.degenerate_landmarks(exactly) is None
    close = [[100, 100], [101.5, 102]] + [[100, 100]] * 3  # 2.5 px apart
    assert alignment.degenerate_landmarks(close) == "all 5 points within 2.5 px"
    spread = [[100, 100], [101, 100], [102, 100], [100, 101], [100, 102]]  # widest pair 2.8 px
    assert alignment.degenerate_landmarks(spread) == "all 5 points within 2.8 px"


def test_unknown_template_method_and_border_are_one_line_each():
    image = np.zeros((120, 120, 3), np.uint8)
    _, points = alignment.template("112x96")
    cases = [(lambda: alignment.template("64x64"), "unknown template '64x64': expected one of 112x112, 112x96, 56x48"),
             (lambda: alignment.similarity_transform(points, points, "affine"),
              "alignment method 'affine': expected one of cp2tform, umeyama"),
             (lambda: alignment.align_face(image, points, border="wrap"),
              "border 'wrap': expected one of black, reflect")]
    for action, message in cases:
        with pytest.raises(ValueError) as error:
            action()
        assert str(error.value) == message


def test_the_method_reaches_the_fit_and_cp2tform_is_the_default():
    _, points = alignment.template("112x96")
    noisy = points * 1.7 + np.random.RandomState(3).normal(0, 4.0, points.shape) + [40, 60]
    np.testing.assert_array_equal(alignment.similarity_transform(noisy, points),
                                  alignment.similarity_transform(noisy, points, "cp2tform"))
    image = np.zeros((250, 250, 3), np.uint8)
    _, matrix = alignment.align_face(image, noisy, "112x96", method="umeyama")
    np.testing.assert_array_equal(matrix, alignment.similarity_transform(noisy, points, "umeyama"))
    assert np.abs(matrix - alignment.similarity_transform(noisy, points)).max() > 1e-3


def test_the_template_is_found_by_crop_size():
    assert [alignment.template_for_size(size) for size in ((112, 96), (112, 112), (56, 48))] == [
        "112x96", "112x112", "56x48"]
    with pytest.raises(ValueError) as error:
        alignment.template_for_size((100, 90))
    assert str(error.value) == "no alignment template is 100x90 (templates: 112x112, 112x96, 56x48)"

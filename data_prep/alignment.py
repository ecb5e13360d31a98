"""5-point face alignment: least-squares similarity transform onto a template, warped with OpenCV.

Points are (x, y) in the order left eye, right eye, nose tip, left mouth corner, right mouth corner.
"""
import cv2
import numpy as np

# The SphereFace / PFE 96x112 template, the ArcFace 112x112 one (the same points shifted 8 px right), and
# half of the PFE template for quick CPU runs (the built-in demo).
_SPHEREFACE_POINTS = np.array([[30.2946, 51.6963], [65.5318, 51.5014], [48.0252, 71.7366],
                               [33.5493, 92.3655], [62.7299, 92.2041]], np.float64)
TEMPLATES = {
    "112x96": ((112, 96), _SPHEREFACE_POINTS),
    "112x112": ((112, 112), _SPHEREFACE_POINTS + [8.0, 0.0]),
    "56x48": ((56, 48), _SPHEREFACE_POINTS / 2.0),
}


def template(name):
    """Returns ((height, width), points float64 [5, 2]) of a template name ('112x96' or '112x112')."""
    if name not in TEMPLATES:
        raise ValueError("unknown template %r: expected one of %s" % (name, ", ".join(sorted(TEMPLATES))))
    return TEMPLATES[name]


def similarity_transform(source, target):
    """Least-squares similarity (rotation, uniform scale, translation; no reflection) mapping source to target.

    Umeyama's closed form: minimises sum_i |s R source_i + t - target_i|^2.

    Args:
      source: float [N, 2] points, N >= 2.
      target: float [N, 2] points.

    Returns:
      float64 [2, 3] affine matrix M with target ~ M @ [x, y, 1].
    """
    source = np.asarray(source, np.float64)
    target = np.asarray(target, np.float64)
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    source_centered, target_centered = source - source_mean, target - target_mean
    covariance = target_centered.T @ source_centered / len(source)
    u, singular_values, vt = np.linalg.svd(covariance)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1.0
    rotation = u @ sign @ vt
    source_variance = (source_centered ** 2).sum() / len(source)
    scale = np.trace(np.diag(singular_values) @ sign) / source_variance
    translation = target_mean - scale * rotation @ source_mean
    return np.hstack([scale * rotation, translation[:, None]])


def apply_transform(matrix, points):
    """Applies a [2, 3] affine matrix to float [N, 2] points."""
    points = np.asarray(points, np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def align_face(image, landmarks, template_name="112x96"):
    """Warps a face so that its 5 landmarks land on the template.

    Args:
      image: uint8 [H, W, 3].
      landmarks: float [5, 2] (x, y) in the image's pixel coordinates.
      template_name: '112x96' or '112x112'.

    Returns:
      (crop uint8 [th, tw, 3], matrix float64 [2, 3]).
    """
    (height, width), points = template(template_name)
    matrix = similarity_transform(landmarks, points)
    crop = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return crop, matrix


def parse_landmark_line(line):
    """Parses 'relative/path x1 x2 x3 x4 x5 y1 y2 y3 y4 y5' (the PFE authors' format).

    The path may contain spaces: the last ten fields are the coordinates.

    Returns:
      (path str, landmarks float64 [5, 2]).

    Raises:
      ValueError: fewer than 11 fields or a non-numeric coordinate.
    """
    fields = line.split()
    if len(fields) < 11:
        raise ValueError("expected a path and 10 coordinates, got %d fields" % len(fields))
    path = line.rsplit(None, 10)[0].strip()
    values = np.array([float(v) for v in fields[-10:]], np.float64)
    return path, np.stack([values[:5], values[5:]], axis=1)


def read_landmark_file(path):
    """Reads a landmark file into {relative path: float64 [5, 2]}.

    Raises:
      ValueError: a malformed line, naming the file and line number.
    """
    landmarks = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                name, points = parse_landmark_line(line)
            except ValueError as error:
                raise ValueError("%s:%d: %s" % (path, number, error))
            landmarks[name.replace("\\", "/")] = points
    return landmarks


def scale_landmarks(landmarks, from_size, to_size):
    """Rescales float [5, 2] (x, y) landmarks given for an image of from_size (H, W) to one of to_size."""
    scale = np.array([to_size[1] / float(from_size[1]), to_size[0] / float(from_size[0])])
    return np.asarray(landmarks, np.float64) * scale


MIN_LANDMARK_SPAN = 4.0  # pixels: five points closer together than this cannot define a face's pose


def degenerate_landmarks(landmarks):
    """A reason when float [5, 2] landmarks cannot define an alignment (non-finite, or all within
    MIN_LANDMARK_SPAN px of each other, e.g. ten equal coordinates), else None."""
    landmarks = np.asarray(landmarks, np.float64)
    if not np.all(np.isfinite(landmarks)):
        return "non-finite coordinates"
    span = float(np.max(np.linalg.norm(landmarks[:, None] - landmarks[None], axis=-1)))
    if span < MIN_LANDMARK_SPAN:
        return "all 5 points within %.1f px" % span
    return None


def landmarks_inside(landmarks, image_size):
    """Whether every (x, y) landmark lies inside an image of image_size (H, W)."""
    landmarks = np.asarray(landmarks)
    height, width = image_size
    return bool(np.all(landmarks[:, 0] >= 0) and np.all(landmarks[:, 0] <= width - 1) and
                np.all(landmarks[:, 1] >= 0) and np.all(landmarks[:, 1] <= height - 1))

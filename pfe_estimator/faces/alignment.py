"""5-point face alignment: least-squares similarity transform onto a template, warped with OpenCV.

OpenCV is imported where it is used, so that main.py can define its --alignment flag from this module on
an Ascend training image without OpenCV.

The default is what the released PFE did (align/align_dataset.py): MATLAB cp2tform's nonreflective
similarity and black borders; Umeyama's fit and reflected borders are options.

Points are (x, y) in the order left eye, right eye, nose tip, left mouth corner, right mouth corner.
"""
import numpy as np

from pfe_estimator import errors

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
        raise errors.UserError("unknown template %r: expected one of %s" % (name, ", ".join(sorted(TEMPLATES))))
    return TEMPLATES[name]


ALIGNMENT_METHODS = ("cp2tform", "umeyama")
BORDERS = {"black": "BORDER_CONSTANT", "reflect": "BORDER_REFLECT"}  # cv2 constants' names


def _umeyama(source, target):
    """Least-squares similarity mapping source to target: minimises sum_i |s R source_i + t - target_i|^2
    (Umeyama's closed form). float64 [2, 3]."""
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


def _cp2tform(source, target):
    """MATLAB cp2tform's 'nonreflective similarity', as the released align_dataset.py computes it: the
    least-squares similarity from the TARGET points to the SOURCE points (u = a x + b y + c,
    v = -b x + a y + d), then inverted. float64 [2, 3] mapping source to target."""
    x, y = target[:, 0], target[:, 1]
    ones, zeros = np.ones_like(x), np.zeros_like(x)
    design = np.concatenate([np.stack([x, y, ones, zeros], 1), np.stack([y, -x, zeros, ones], 1)])
    a, b, c, d = np.linalg.lstsq(design, np.concatenate([source[:, 0], source[:, 1]]), rcond=None)[0]
    target_to_source = np.array([[a, b, c], [-b, a, d], [0.0, 0.0, 1.0]])
    return np.linalg.inv(target_to_source)[:2]


def template_for_size(image_size):
    """The name of the template whose crop size is image_size (H, W).

    Raises:
      ValueError: no template of that size.
    """
    for name, (size, _) in sorted(TEMPLATES.items()):
        if tuple(size) == tuple(image_size):
            return name
    raise errors.UserError("no alignment template is %dx%d (templates: %s)" % (image_size[0], image_size[1],
                                                                         ", ".join(sorted(TEMPLATES))))


def similarity_transform(source, target, method="cp2tform"):
    """Least-squares similarity (rotation, uniform scale, translation; no reflection) mapping source to target.

    The two methods agree when an exact similarity exists and differ on noisy points, because they
    minimise the residual on different sides: 'cp2tform' (default, what the released PFE models were
    trained on) fits target -> source and inverts; 'umeyama' fits source -> target.

    Args:
      source: float [N, 2] points (a face's landmarks), N >= 2.
      target: float [N, 2] points (the template).
      method: 'cp2tform' or 'umeyama'.

    Returns:
      float64 [2, 3] affine matrix M with target ~ M @ [x, y, 1].
    """
    if method not in ALIGNMENT_METHODS:
        raise errors.UserError("alignment method %r: expected one of %s" % (method, ", ".join(ALIGNMENT_METHODS)))
    source = np.asarray(source, np.float64)
    target = np.asarray(target, np.float64)
    return (_cp2tform if method == "cp2tform" else _umeyama)(source, target)


def apply_transform(matrix, points):
    """Applies a [2, 3] affine matrix to float [N, 2] points."""
    points = np.asarray(points, np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def align_face(image, landmarks, template_name="112x96", method="cp2tform", border="black"):
    """Warps a face so that its 5 landmarks land on the template.

    Args:
      image: uint8 [H, W, 3].
      landmarks: float [5, 2] (x, y) in the image's pixel coordinates.
      template_name: a TEMPLATES key.
      method: 'cp2tform' (released) or 'umeyama' (see similarity_transform).
      border: 'black' (released) or 'reflect': how pixels outside the image are filled.

    Returns:
      (crop uint8 [th, tw, 3], matrix float64 [2, 3]).
    """
    import cv2  # pylint: disable=import-outside-toplevel  # the training path imports this module's names only
    (height, width), points = template(template_name)
    if border not in BORDERS:
        raise errors.UserError("border %r: expected one of %s" % (border, ", ".join(sorted(BORDERS))))
    matrix = similarity_transform(landmarks, points, method)
    crop = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=getattr(cv2, BORDERS[border]))
    return crop, matrix


_DETECTORS = {}


def detect_landmarks(image_rgb, detector_model, score_threshold=0.6):
    """YuNet's 5 points (eyes, nose, mouth corners) of the largest face, float64 [5, 2], or None (detect_faces)."""
    found = detect_faces(image_rgb, detector_model, score_threshold)
    return found[0] if found else None


def detect_faces(image_rgb, detector_model, score_threshold=0.6):
    """(YuNet's 5 points of the largest face float64 [5, 2], how many faces it found, the largest's box (x, y, w,
    h) in pixels), or None when it finds none.

    The largest face, not the most confident: in a photo of one person with others behind (LFW), the
    subject is the largest (on the 100 native LFW images the most confident face is another person's
    once, 120 px off the file's landmarks; the largest is within 9 px on all 100).

    Args:
      image_rgb: uint8 [H, W, 3] RGB.
      detector_model: path of OpenCV Zoo's YuNet .onnx (face_detection_yunet_2023mar*.onnx).
      score_threshold: minimum detection score.
    """
    import cv2  # pylint: disable=import-outside-toplevel
    height, width = image_rgb.shape[:2]
    key = (detector_model, score_threshold)
    try:
        if key not in _DETECTORS:
            _DETECTORS[key] = cv2.FaceDetectorYN.create(detector_model, "", (width, height), score_threshold)
        detector = _DETECTORS[key]
        detector.setInputSize((width, height))
        _, faces = detector.detect(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
    except cv2.error as error:  # a file that is no YuNet model: not an ONNX file, or another network
        raise errors.UserError("--detector_model=%s: OpenCV cannot run it as YuNet's face detector (%s); give "
                               "face_detection_yunet_2023mar*.onnx (scripts/fetch_models.py)" % (
                                   detector_model, errors.first_line(str(error).strip())[:200]))
    if faces is not None and len(faces) and (faces.ndim != 2 or faces.shape[1] < 15):
        raise errors.UserError("--detector_model=%s: its output is not YuNet's (faces x 15); give "
                               "face_detection_yunet_2023mar*.onnx (scripts/fetch_models.py)" % detector_model)
    if faces is None or len(faces) == 0:
        return None
    largest = faces[np.argmax(faces[:, 2] * faces[:, 3])]
    return largest[4:14].reshape(5, 2).astype(np.float64), len(faces), tuple(int(round(v)) for v in largest[:4])


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
    values = np.array([float(v) for v in fields[-10:]])
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
                raise errors.UserError("%s:%d: %s" % (path, number, error))
            landmarks[name.replace("\\", "/")] = points
    return landmarks


def scale_landmarks(landmarks, from_size, to_size):
    """Rescales float [5, 2] (x, y) landmarks given for an image of from_size (H, W) to one of to_size."""
    scale = np.array([to_size[1] / float(from_size[1]), to_size[0] / float(from_size[0])])
    return np.asarray(landmarks) * scale


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

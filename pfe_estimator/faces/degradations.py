"""Graded image degradations of real faces: Gaussian blur, downscale-then-upscale, JPEG re-compression,
occlusion. Applied to the original photo before alignment, so its landmarks stay valid.

Levels are given for LFW's images as stored here (150x150, a face about 60 px wide); severity 1..4 picks
one of four levels per kind, from mild to one where recognition mostly fails.
"""
import cv2
import numpy as np

KINDS = ("blur", "downscale", "jpeg", "occlusion")
SEVERITIES = (1, 2, 3, 4)
LEVELS = {
    "blur": (1.0, 2.0, 3.0, 4.5),        # Gaussian sigma, pixels
    "downscale": (2, 3, 4, 6),           # factor down, then bilinear back up
    "jpeg": (30, 15, 8, 4),              # JPEG quality
    "occlusion": (0.6, 0.9, 1.2, 1.6),   # side of a black square / distance between the eyes
}


def level_of(kind, severity):
    """The degradation level (sigma, factor, quality or relative size) of a kind at severity 1..4."""
    if kind not in LEVELS or severity not in SEVERITIES:
        raise ValueError("degradation %r severity %r: expected a kind of %s and a severity of %s"
                         % (kind, severity, ", ".join(KINDS), SEVERITIES))
    return LEVELS[kind][severity - 1]


def degrade(image_rgb, kind, severity, landmarks=None, occluded_point=0):
    """Degrades a uint8 [H, W, 3] RGB image.

    Args:
      image_rgb: the original photo.
      kind: one of KINDS.
      severity: 1..4.
      landmarks: float [5, 2] (x, y) in the image's pixels, needed for occlusion (the square's size is
        relative to the eye distance, its centre a landmark).
      occluded_point: 0..4, the landmark the occluding square is centred on.

    Returns:
      uint8 [H, W, 3] RGB of the same size.
    """
    level = level_of(kind, severity)
    if kind == "blur":
        return cv2.GaussianBlur(image_rgb, (0, 0), level)
    if kind == "downscale":
        height, width = image_rgb.shape[:2]
        small = cv2.resize(image_rgb, (max(1, width // level), max(1, height // level)), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    if kind == "jpeg":
        encoded = cv2.imencode(".jpg", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, level])[1]
        return cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    landmarks = np.asarray(landmarks, np.float64)
    side = level * np.linalg.norm(landmarks[1] - landmarks[0])
    centre = landmarks[occluded_point]
    top_left = np.round(centre - side / 2).astype(int)
    bottom_right = np.round(centre + side / 2).astype(int)
    occluded = image_rgb.copy()
    cv2.rectangle(occluded, tuple(int(v) for v in top_left), tuple(int(v) for v in bottom_right), (0, 0, 0), -1)
    return occluded

"""Degradations a camera produces, held out from training (faces/degradations.py's kinds train the head):
tiny faces, motion blur, sensor noise after downscaling, over- and under-exposure, downscale + JPEG.

They apply to an aligned crop, whose template points give the eye distance the tiny-face levels are set
in. Severity 1..4 picks one of four levels per kind, from mild to one where recognition mostly fails.
Exposure is changed in linear light (sRGB's gamma taken as 2.2), as a sensor sees it.
"""
import cv2
import numpy as np

from pfe_estimator import errors

KINDS = ("tiny", "motion_blur", "noisy_downscale", "overexposure", "underexposure", "downscale_jpeg")
SEVERITIES = (1, 2, 3, 4)
LEVELS = {
    "tiny": (16.0, 12.0, 10.0, 8.0),             # eye distance after downscaling, pixels
    "motion_blur": (5, 9, 13, 19),               # length of the linear motion, pixels (random direction)
    "noisy_downscale": ((2, 6.0), (3, 10.0), (4, 14.0), (5, 20.0)),   # (factor, noise sigma at low resolution)
    "overexposure": (1.7, 2.3, 3.0, 4.0),        # gain in linear light, clipped at white
    "underexposure": (0.3, 0.15, 0.08, 0.04),    # gain in linear light, then 8-bit read noise and rounding
    "downscale_jpeg": ((2, 40), (2, 20), (3, 12), (4, 6)),            # (factor, JPEG quality at low resolution)
}
GAMMA = 2.2
READ_NOISE = 1.5  # underexposure: sensor read noise in 8-bit units


def level_of(kind, severity):
    if kind not in LEVELS or severity not in SEVERITIES:
        raise errors.UserError("camera degradation %r severity %r: expected a kind of %s and a severity of %s"
                               % (kind, severity, ", ".join(KINDS), SEVERITIES))
    return LEVELS[kind][severity - 1]


def _resized(image, size, interpolation):
    return cv2.resize(image, (int(size[1]), int(size[0])), interpolation=interpolation)


def _linear(image_rgb):
    return (image_rgb.astype(np.float64) / 255.0) ** GAMMA


def _srgb(linear):
    return np.clip(np.round(255.0 * np.clip(linear, 0.0, 1.0) ** (1.0 / GAMMA)), 0, 255).astype(np.uint8)


def _motion_kernel(length, angle):
    kernel = np.zeros((length, length), np.float32)
    centre = (length - 1) / 2.0
    dx, dy = np.cos(angle), np.sin(angle)
    for t in np.linspace(-centre, centre, 4 * length):
        kernel[int(round(centre + t * dy)), int(round(centre + t * dx))] = 1.0
    return kernel / kernel.sum()


def degrade(face_rgb, kind, severity, landmarks, rng):
    """Degrades a uint8 [H, W, 3] RGB aligned crop.

    Args:
      kind: one of KINDS; severity: 1..4.
      landmarks: float [5, 2] (x, y) of the crop's template (the eyes first), for the tiny-face scale.
      rng: numpy RandomState (motion direction, noise).

    Returns:
      uint8 [H, W, 3] of the same size.
    """
    level = level_of(kind, severity)
    height, width = face_rgb.shape[:2]
    if kind == "tiny":
        eyes = float(np.linalg.norm(np.asarray(landmarks, np.float64)[1] - np.asarray(landmarks, np.float64)[0]))
        factor = max(1.0, eyes / level)
        # optics blur then point sampling (no area averaging, as a sensor's pixels), bicubic back up
        blurred = cv2.GaussianBlur(face_rgb, (0, 0), 0.5 * factor)
        small = _resized(blurred, (max(2, round(height / factor)), max(2, round(width / factor))), cv2.INTER_NEAREST)
        return _resized(small, (height, width), cv2.INTER_CUBIC)
    if kind == "motion_blur":
        return cv2.filter2D(face_rgb, -1, _motion_kernel(level, rng.uniform(0, np.pi)), borderType=cv2.BORDER_REFLECT)
    if kind == "noisy_downscale":
        factor, sigma = level
        small = _resized(face_rgb, (height // factor, width // factor), cv2.INTER_AREA).astype(np.float64)
        noisy = np.clip(np.round(small + rng.normal(0.0, sigma, small.shape)), 0, 255).astype(np.uint8)
        return _resized(noisy, (height, width), cv2.INTER_LINEAR)
    if kind == "overexposure":
        return _srgb(_linear(face_rgb) * level)
    if kind == "underexposure":
        dark = 255.0 * np.clip(_linear(face_rgb) * level, 0.0, 1.0) ** (1.0 / GAMMA)
        return np.clip(np.round(dark + rng.normal(0.0, READ_NOISE, dark.shape)), 0, 255).astype(np.uint8)
    factor, quality = level
    small = _resized(face_rgb, (height // factor, width // factor), cv2.INTER_AREA)
    encoded = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
    decoded = cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return _resized(decoded, (height, width), cv2.INTER_LINEAR)

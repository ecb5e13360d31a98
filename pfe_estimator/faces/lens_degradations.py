"""A degradation family that shares no code with the training degradations (faces/degradations.py) or
with OpenCV: a defocused lens in low light, in numpy alone.

The crop is blurred by a disk point-spread function (a defocused lens, convolved through the FFT with edge
padding), then photon shot noise is drawn: each pixel's linear intensity times the photons a white pixel
collects, Poisson-sampled. Severity 1..4: (disk radius px, photons at white) from mild to severe.
"""
import numpy as np

from pfe_estimator import errors

KINDS = ("defocus",)
SEVERITIES = (1, 2, 3, 4)
LEVELS = {"defocus": ((1.5, 400.0), (2.5, 200.0), (3.5, 100.0), (5.0, 50.0))}
GAMMA = 2.2


def level_of(kind, severity):
    if kind not in LEVELS or severity not in SEVERITIES:
        raise errors.UserError("lens degradation %r severity %r: expected a kind of %s and a severity of %s"
                               % (kind, severity, ", ".join(KINDS), SEVERITIES))
    return LEVELS[kind][severity - 1]


def disk_psf(radius):
    """float64 [2r+1, 2r+1]: a uniform disk of `radius` pixels (anti-aliased by 4x4 supersampling), sum 1."""
    half = int(np.ceil(radius))
    offsets = (np.arange(4) + 0.5) / 4.0 - 0.5
    grid = np.arange(-half, half + 1)
    y = (grid[:, None, None, None] + offsets[None, None, :, None]) ** 2
    x = (grid[None, :, None, None] + offsets[None, None, None, :]) ** 2
    psf = ((x + y) <= radius ** 2).mean(axis=(2, 3))
    return psf / psf.sum()


def convolve(image, psf):
    """Each channel of float64 [H, W, C] convolved with psf [k, k] (edge padding, same size) by the FFT."""
    pad = psf.shape[0] // 2
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    height, width = padded.shape[:2]
    kernel = np.zeros((height, width))
    kernel[:psf.shape[0], :psf.shape[1]] = psf
    kernel = np.roll(kernel, (-pad, -pad), axis=(0, 1))
    spectrum = np.fft.rfft2(kernel)
    out = np.stack([np.fft.irfft2(np.fft.rfft2(padded[:, :, c]) * spectrum, s=(height, width))
                    for c in range(image.shape[2])], axis=2)
    return out[pad:height - pad, pad:width - pad]


def degrade(face_rgb, kind, severity, landmarks, rng):
    """Degrades a uint8 [H, W, 3] RGB crop (landmarks unused: the same signature as camera_degradations)."""
    del landmarks
    radius, photons = level_of(kind, severity)
    linear = (face_rgb.astype(np.float64) / 255.0) ** GAMMA
    blurred = np.clip(convolve(linear, disk_psf(radius)), 0.0, 1.0)
    noisy = rng.poisson(blurred * photons) / photons
    return np.clip(np.round(255.0 * np.clip(noisy, 0.0, 1.0) ** (1.0 / GAMMA)), 0, 255).astype(np.uint8)

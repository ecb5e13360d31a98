"""The one registry of degradation kinds: eleven kinds in three families, each graded by severity 1..4.

  the generator (faces/degradations.py)    blur, downscale, jpeg, occlusion: what quality-aware training and
                                           the calibration pairs degrade with by default
  a camera (faces/camera_degradations.py)  tiny, motion_blur, noisy_downscale, overexposure, underexposure,
                                           downscale_jpeg
  a lens (faces/lens_degradations.py)      defocus (numpy alone, no code shared with the others)

`degrade` applies any kind to an aligned crop; `random_degradation` draws a kind and a severity per image
(seeded by the caller's RandomState) and names the copy after them, e.g. 'motion_blur-2'.
"""
from pfe_estimator.faces import camera_degradations
from pfe_estimator.faces import degradations
from pfe_estimator.faces import lens_degradations

GENERATOR_KINDS = degradations.KINDS
KINDS = degradations.KINDS + camera_degradations.KINDS + lens_degradations.KINDS
SEVERITIES = degradations.SEVERITIES
FAMILIES = (degradations, camera_degradations, lens_degradations)


def family(kind):
    """The module that implements `kind` (its LEVELS are the kind's levels)."""
    return next(module for module in FAMILIES if kind in module.KINDS)


def check_kinds(kinds, what):
    """Raises a one-line ValueError naming `what` (a flag or field) when a name is not a kind of KINDS."""
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError("%s: %s is not one of %s" % (what, ",".join(unknown), ",".join(KINDS)))


def degrade(face_rgb, kind, severity, points, rng):
    """A degradation of an aligned uint8 [H, W, 3] RGB crop by any of KINDS at severity 1..4.

    Args:
      points: float [5, 2], the crop's template points (occlusion and the tiny-face scale use them).
      rng: numpy RandomState (the occluded landmark, motion direction, noise).
    """
    if kind in degradations.KINDS:
        return degradations.degrade(face_rgb, kind, severity, points, rng.randint(5))
    return family(kind).degrade(face_rgb, kind, severity, points, rng)


def random_degradation(kinds, severities):
    """degrade(face, points, rng) -> (crop, 'kind-severity'): a kind among `kinds` and a severity among
    `severities` (uniformly: a repeat weights its entry), drawn from rng, then the degradation itself."""
    def draw(face_rgb, points, rng):
        kind, severity = kinds[rng.randint(len(kinds))], int(severities[rng.randint(len(severities))])
        return degrade(face_rgb, kind, severity, points, rng), "%s-%d" % (kind, severity)
    return draw


def copies_description(kinds, severities):
    """What degraded copies drawn among `kinds` x `severities` are, for the fingerprint of a cache of them
    (inference/cache_builder.py: a resume with other copies is refused): each kind with the levels of the
    severities drawn, in drawing order, and the naming."""
    drawn = sorted(set(severities))
    return "kinds %s; severities %s; named kind-severity" % (
        ",".join("%s %s" % (kind, "/".join(str(family(kind).LEVELS[kind][s - 1]) for s in drawn)) for kind in kinds),
        ",".join(map(str, severities)))

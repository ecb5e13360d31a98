"""The image files a mode reads, as the model's input: aligned crops or detected and aligned raw photos,
and the training degradations placed by a record's template."""
import os

import tensorflow.compat.v1 as tf

from pfe_estimator.data import manifest as manifests
from pfe_estimator.faces import alignment
from pfe_estimator.faces import image_io
from pfe_estimator.modes import settings as run_settings


def face_loader(settings):
    """callable(path) -> float32 [H, W, 3]: an image file as the network's input, --align and --resize applied."""
    from pfe_estimator.faces import network_input  # pylint: disable=import-outside-toplevel  # OpenCV
    size = run_settings.image_size(settings)
    align = None
    if settings.align == "detect":
        if not (settings.detector_model and os.path.isfile(settings.detector_model)):
            raise run_settings.FlagError("--align=detect needs --detector_model=PATH of a YuNet .onnx file "
                                         "(data_prep/README: scripts/fetch_models.py brings one)")
        template = settings.record.get("template") or alignment.template_for_size(size)

        def align(image, path):
            landmarks = alignment.detect_landmarks(image, settings.detector_model)
            if landmarks is None:
                raise image_io.ImageError("%s: no face detected" % path, "no_face_detected")
            return alignment.align_face(image, landmarks, template, settings.alignment)[0]
    return lambda path: network_input.load_network_input(path, size, settings.resize, align)


def warn_about_raw_photos(settings, paths):
    """Says so when images are much larger (over twice each side) than the model's input without --align:
    centre-cropping a raw photo to the model's size keeps a patch of it, not the face."""
    if settings.align != "none" or settings.resize:
        return
    height, width = run_settings.image_size(settings)
    sizes = [(path, image_io.file_declared_size(path)) for path in paths]
    large = [(path, size) for path, size in sizes if size and size[0] > 2 * height and size[1] > 2 * width]
    if large:
        tf.logging.warning("%d of %d images are over twice the model's %dx%d input (e.g. %s, %dx%d): centre-cropping "
                           "a raw photo keeps no face; use --align=detect for raw photos, or --resize for larger "
                           "aligned crops", len(large), len(paths), height, width, large[0][0], large[0][1][0],
                           large[0][1][1])


def random_degradation(data_dir):
    """degrade(uint8 aligned crop, numpy RandomState) -> (crop, 'kind-severity') for the records of data_dir
    (their template's points place the occlusions)."""
    from pfe_estimator.faces import kinds  # pylint: disable=import-outside-toplevel  # OpenCV: only when asked
    points = alignment.template(manifests.read(data_dir)["template"])[1]
    draw = kinds.random_degradation(kinds.GENERATOR_KINDS, kinds.SEVERITIES)
    return lambda face, rng: draw(face, points, rng)

"""The image files a mode reads, as the model's input: aligned crops or detected and aligned raw photos,
and the training degradations placed by a record's template."""
import os

import tensorflow.compat.v1 as tf

from pfe_estimator import errors
from pfe_estimator.data import manifest as manifests
from pfe_estimator.faces import alignment
from pfe_estimator.faces import image_io


def face_loader(config):
    """callable(path) -> float32 [H, W, 3]: an image file as the network's input, --align and --resize applied."""
    load = crop_loader(config)
    return lambda path: image_io.standardize(load(path))


def crop_loader(config):
    """callable(path) -> uint8 [H, W, 3] RGB: an image file aligned (--align) and at the model's input size
    (--resize, or centre-cropped)."""
    from pfe_estimator.faces import network_input  # pylint: disable=import-outside-toplevel  # OpenCV
    options, size = config.options, config.image_size
    align = None
    if options.align == "detect":
        detector = config.paths.detector_model
        if not (detector and os.path.isfile(detector)):
            raise errors.UserError("--align=detect needs --detector_model=PATH of a YuNet .onnx file "
                                   "(scripts/fetch_models.py brings one; docs/data.md)")
        template = config.record.get("template") or alignment.template_for_size(size)

        def align(image, path):
            landmarks = alignment.detect_landmarks(image, detector)
            if landmarks is None:
                raise image_io.ImageError("%s: no face detected" % path, "no_face_detected")
            return alignment.align_face(image, landmarks, template, options.alignment)[0]
    return lambda path: network_input.load_crop(path, size, options.resize, align)


def warn_about_raw_photos(config, paths):
    """Says so when images are much larger (over twice each side) than the model's input without --align:
    centre-cropping a raw photo to the model's size keeps a patch of it, not the face."""
    if config.options.align != "none" or config.options.resize:
        return
    height, width = config.image_size
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

"""The image files a mode reads, as the model's input: aligned crops or detected and aligned raw photos,
and the training degradations placed by a record's template."""
import os

import tensorflow.compat.v1 as tf

from pfe_estimator import errors
from pfe_estimator.data import manifest as manifests
from pfe_estimator.faces import alignment
from pfe_estimator.faces import image_io


def face_loader(config, notices=None):
    """callable(path) -> float32 [H, W, 3]: an image file as the network's input, --align and --resize applied
    (crop_loader)."""
    load = crop_loader(config, notices)
    return lambda path: image_io.standardize(load(path))


def crop_loader(config, notices=None):
    """callable(path) -> uint8 [H, W, 3] RGB: an image file aligned (--align) and at the model's input size
    (--resize, or centre-cropped). `notices`: a list that gets one line for each image whose face was chosen
    among several, or that was centre-cropped (what was done to it that the user did not see)."""
    from pfe_estimator.faces import network_input  # pylint: disable=import-outside-toplevel  # OpenCV
    options, size = config.options, config.image_size
    notices = [] if notices is None else notices
    align = None
    if options.align == "detect":
        detector = config.paths.detector_model
        if not (detector and os.path.isfile(detector)):
            raise errors.UserError("--align=detect needs --detector_model=PATH of a YuNet .onnx file "
                                   "(scripts/fetch_models.py brings one; docs/data.md)")
        template = config.record.get("template") or alignment.template_for_size(size)

        def align(image, path):
            found = alignment.detect_faces(image, detector)
            if found is None:
                raise image_io.ImageError("%s: no face detected" % path, "no_face_detected")
            landmarks, count, (x, y, width, height) = found
            if count > 1:
                notices.append("%s: %d faces found; decided on the largest, at x %d, y %d, %dx%d" % (
                    path, count, x, y, width, height))
            return alignment.align_face(image, landmarks, template, options.alignment)[0]

    def load(path):
        crop = network_input.load_crop(path, size, options.resize, align)
        declared = image_io.file_declared_size(path)
        if align is None and not options.resize and declared and tuple(declared) != tuple(size):
            notices.append("%s: %dx%d, centre-cropped to the model's %dx%d input (--resize resizes it instead; "
                           "--align=detect finds the face in a photo)" % ((path,) + tuple(declared) + tuple(size)))
        return crop
    return load


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

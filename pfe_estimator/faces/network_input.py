"""Face images as the network's input: decoded, centre-cropped (or resized, or refused), standardised."""
import cv2
import tensorflow.compat.v1 as tf

from pfe_estimator.faces import image_io


def fit_crop(image_rgb, image_size, resize=False):
    """uint8 [h, w, 3] RGB -> uint8 [H, W, 3]: the model's input size.

    An image of another size is centre-cropped when larger, as the released evaluation does; a smaller
    one is refused (ImageError, kind 'too_small') unless `resize`, which resizes any size to image_size.
    """
    height, width = image_size
    image_height, image_width = image_rgb.shape[:2]
    if (image_height, image_width) == (height, width):
        return image_rgb
    if resize:
        return cv2.resize(image_rgb, (width, height), interpolation=cv2.INTER_AREA)
    if image_height >= height and image_width >= width:
        top, left = int(round(0.5 * (image_height - height))), int(round(0.5 * (image_width - width)))
        return image_rgb[top:top + height, left:left + width]
    raise image_io.ImageError("%dx%d is smaller than the model's %dx%d input; give aligned crops of that "
                              "size, raw photos with --align=detect, or --resize"
                              % (image_height, image_width, height, width), "too_small")


def network_input(image_rgb, image_size, resize=False):
    """uint8 [h, w, 3] RGB -> float32 [H, W, 3] standardised (fit_crop, then standardised)."""
    return image_io.standardize(fit_crop(image_rgb, image_size, resize))


def load_crop(path, image_size, resize=False, align=None):
    """Reads a face file -> uint8 [H, W, 3] RGB at the model's input size (fit_crop).

    Args:
      path: an image file.
      image_size: (H, W) of the network input.
      resize: resize instead of centre-cropping or refusing another size.
      align: optional callable(uint8 RGB image, path) -> aligned uint8 RGB crop (raw photos).

    Raises:
      image_io.ImageError: unreadable, no face found, or too small; the message names the file.
    """
    image = image_io.read_rgb(path)
    if align is not None:
        image = align(image, path)
    try:
        return fit_crop(image, image_size, resize)
    except image_io.ImageError as error:
        raise image_io.ImageError("%s: %s" % (path, error), error.kind)


def load_network_input(path, image_size, resize=False, align=None):
    """Reads a face file -> float32 [H, W, 3] standardised (load_crop, then standardised)."""
    return image_io.standardize(load_crop(path, image_size, resize, align))


def decode_network_input(jpeg, image_size):
    """JPEG bytes (an aligned crop from the TFRecords) -> float32 [H, W, 3] standardised."""
    return network_input(image_io.decode_rgb(jpeg), image_size)


def readable_images(paths, load_face, kept, skipped):
    """Yields load_face(path) (standardised images) of the usable `paths`; appends used paths to `kept` and
    (path, reason) of unusable ones to `skipped`, logging each."""
    for path in paths:
        try:
            image = load_face(path)
        except image_io.ImageError as error:
            tf.logging.warning("skipped: %s", error)
            skipped.append((path, str(error).split(": ", 1)[-1]))
            continue
        kept.append(path)
        yield image

"""Reading face images with OpenCV, whatever their encoding, into 8-bit RGB."""
import os

import cv2
import numpy as np

from pfe_estimator import errors

# Beyond this a file's declared size is no face photo (a 200-megapixel phone photo is 2e8): decoding it would
# take gigabytes, so it is skipped before decoding.
MAX_IMAGE_PIXELS = 250 * 10 ** 6
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


class ImageError(errors.UserError):
    """An image that cannot be used; str() is a one-line reason naming the file, `kind` a short category."""

    def __init__(self, message, kind):
        super(ImageError, self).__init__(message)
        self.kind = kind


def to_rgb_uint8(image, path="<array>"):
    """Converts a decoded OpenCV array to 8-bit RGB.

    Handles grayscale [H, W] or [H, W, 1], BGR, BGRA (alpha composited on black is not needed for faces;
    alpha is dropped), and 16-bit or float images (scaled to 0..255).

    Args:
      image: numpy array from cv2.imdecode/imread with IMREAD_UNCHANGED.
      path: the file's name, for error messages.

    Returns:
      uint8 [H, W, 3] RGB.

    Raises:
      ImageError: an unsupported layout.
    """
    if image.dtype == np.uint16:
        image = (image / 257.0).round().astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image.astype(np.float64) * (255.0 if image.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    raise ImageError("%s: unsupported image layout %s %s" % (path, image.shape, image.dtype), "unsupported_layout")


def _jpeg_size(data):
    """(height, width) from a JPEG's first start-of-frame marker, or None."""
    position = 2
    while position + 9 < len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:
            position += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
            position += 2
            continue
        length = int.from_bytes(data[position + 2:position + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return (int.from_bytes(data[position + 5:position + 7], "big"),
                    int.from_bytes(data[position + 7:position + 9], "big"))
        position += 2 + length
    return None


def declared_size(data):
    """(height, width) an encoded image declares in its header (PNG, JPEG, BMP, GIF), without decoding it;
    None for other formats or a header too short to say."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[20:24], "big"), int.from_bytes(data[16:20], "big")
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    if data[:2] == b"BM" and len(data) >= 26:
        return (abs(int.from_bytes(data[22:26], "little", signed=True)),
                abs(int.from_bytes(data[18:22], "little", signed=True)))
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return int.from_bytes(data[8:10], "little"), int.from_bytes(data[6:8], "little")
    return None


def file_declared_size(path, header_bytes=2 ** 16):
    """declared_size of an image file from its first bytes; None when unreadable or unknown."""
    try:
        with open(path, "rb") as f:
            return declared_size(f.read(header_bytes))
    except (IOError, OSError):
        return None


def read_rgb(path):
    """Decodes an image file to uint8 [H, W, 3] RGB.

    Raises:
      ImageError: unreadable, empty, truncated or not an image; the message names the file.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except (IOError, OSError) as error:
        raise ImageError("%s: cannot read (%s)" % (path, error.strerror or error), "unreadable")
    return decode_rgb(data, path)


def decode_rgb(data, path="<bytes>"):
    """Encoded image bytes (a file's, or an aligned crop from the TFRecords) -> uint8 [H, W, 3] RGB: the one
    OpenCV decode of the project (training decodes the same JPEGs in the graph, pk_sampling.decode_face,
    with libjpeg's accurate DCT as OpenCV does; tests/test_pinned.py checks they agree).

    Raises:
      ImageError: empty, truncated or not an image; the message names `path`.
    """
    if not data:
        raise ImageError("%s: empty file" % path, "empty")
    size = declared_size(data)
    if size and size[0] * size[1] > MAX_IMAGE_PIXELS:
        raise ImageError("%s: declares %dx%d pixels in %d bytes, beyond the %d-megapixel limit of a face photo; "
                         "skipped without decoding" % (path, size[0], size[1], len(data), MAX_IMAGE_PIXELS // 10 ** 6),
                         "too_large")
    if data[:2] == b"\xff\xd8" and not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise ImageError("%s: truncated JPEG (no end-of-image marker)" % path, "truncated")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise ImageError("%s: not a decodable image" % path, "not_an_image")
    return to_rgb_uint8(image, path)


def laplacian_variance(image_rgb):
    """A no-reference sharpness measure of a uint8 RGB image: the variance of its grey image's Laplacian."""
    return float(cv2.Laplacian(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def standardize(image_rgb):
    """uint8 [H, W, 3] -> float32 [H, W, 3] as (x - 127.5) / 128, the network's input scale."""
    return (image_rgb.astype(np.float32) - 127.5) / 128.0


def list_images(directory):
    """Sorted paths, relative to `directory`, of the image files under it (recursively)."""
    found = []
    for root, dirnames, filenames in os.walk(directory):
        dirnames.sort()
        for name in filenames:
            if name.lower().endswith(IMAGE_EXTENSIONS):
                found.append(os.path.relpath(os.path.join(root, name), directory))
    return sorted(found)

"""The exported model's bytes input, in the graph: encoded JPEG or PNG crops -> the network's input, as
--mode=predict reads image files (faces/network_input.py): RGB, centre-cropped when larger than the model's
input, refused when smaller, standardised as (x - 127.5) / 128.

JPEGs decode with libjpeg's accurate integer DCT, as training decodes its records (data/pk_sampling.py). A
string that is not a JPEG or PNG, an empty one, or a crop smaller than the input fails the request with an
InvalidArgument error naming the problem; the server keeps serving.
"""
import tensorflow.compat.v1 as tf

BYTES_INPUT = "image_bytes"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def decode_crop(encoded, image_size):
    """One encoded image (string []) -> float32 [H, W, 3] standardised (see module doc)."""
    height, width = image_size
    is_jpeg = tf.image.is_jpeg(encoded)
    is_png = tf.equal(tf.strings.substr(encoded, 0, len(PNG_SIGNATURE)), PNG_SIGNATURE)
    readable = tf.Assert(tf.logical_or(is_jpeg, is_png), [
        "image_bytes: an element is neither a JPEG nor a PNG; its length in bytes:", tf.strings.length(encoded)])
    with tf.control_dependencies([readable]):
        image = tf.cond(is_jpeg, lambda: tf.image.decode_jpeg(encoded, channels=3, dct_method="INTEGER_ACCURATE"),
                        lambda: tf.image.decode_png(encoded, channels=3))
    shape = tf.shape(image)
    fits = tf.logical_and(shape[0] >= height, shape[1] >= width)
    check = tf.Assert(fits, ["image_bytes: a crop is smaller than the model input of %dx%d (height x width); this "
                             "one is" % (height, width), shape[0], shape[1], "; send aligned crops of that size or "
                             "larger"])
    with tf.control_dependencies([check]):
        top = tf.cast(tf.round(0.5 * tf.cast(shape[0] - height, tf.float32)), tf.int32)
        left = tf.cast(tf.round(0.5 * tf.cast(shape[1] - width, tf.float32)), tf.int32)
        crop = tf.slice(image, tf.stack([top, left, 0]), [height, width, 3])
    return (tf.cast(crop, tf.float32) - 127.5) / 128.0


def decode_crops(image_bytes, image_size):
    """string [N] -> float32 [N, H, W, 3]: every element through decode_crop."""
    height, width = image_size
    images = tf.map_fn(lambda encoded: decode_crop(encoded, image_size), image_bytes, dtype=tf.float32,
                       back_prop=False)
    images.set_shape([None, height, width, 3])
    return images

"""mu and sigma^2 for a list of aligned face images, through the Estimator's PREDICT mode."""
import os

import cv2
import numpy as np
import tensorflow.compat.v1 as tf

from pfe_estimator import checkpoints
from pfe_estimator import image_io


def load_network_input(path, image_size):
    """Reads an aligned face and returns float32 [H, W, 3], standardised, resized to image_size if needed."""
    image = image_io.read_rgb(path)
    height, width = image_size
    if image.shape[:2] != (height, width):
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return image_io.standardize(image)


def image_input_fn_builder(paths, image_size, batch_size, kept, skipped):
    """Returns an input_fn yielding {'images': [batch_size, H, W, 3]} batches of the readable `paths`.

    Unreadable images are left out: their (path, reason) go to `skipped`, and the paths that were used
    are appended to `kept` in output order while the Estimator pulls batches. The last batch is padded
    with zero images to a full batch (static shapes for the NPU); the caller keeps the first len(kept)
    outputs.
    """
    height, width = image_size

    def generate():
        count = 0
        for path in paths:
            try:
                image = load_network_input(path, image_size)
            except image_io.ImageError as error:
                tf.logging.warning("skipped: %s", error)
                skipped.append((path, str(error).split(": ", 1)[-1]))
                continue
            kept.append(path)
            count += 1
            yield image
        padding = (-count) % batch_size
        for _ in range(padding):
            yield np.zeros((height, width, 3), np.float32)

    def input_fn(params=None):  # pylint: disable=unused-argument
        dataset = tf.data.Dataset.from_generator(generate, tf.float32, tf.TensorShape([height, width, 3]))
        dataset = dataset.batch(batch_size, drop_remainder=True)
        return dataset.map(lambda images: {"images": images}).prefetch(1)

    return input_fn


def predict_images(estimator, paths, image_size, batch_size, checkpoint_path=None):
    """Runs the PFE model over image files.

    Args:
      estimator: an Estimator built with the PFE model_fn.
      paths: image file paths.
      image_size: (H, W).
      batch_size: images per device step.
      checkpoint_path: a folder or checkpoint prefix (see `checkpoints.resolve_checkpoint`), else the
        estimator's model_dir.

    Returns:
      (kept_paths, mu float32 [N, D], sigma_sq float32 [N, D], skipped [(path, reason)]).
    """
    checkpoint = checkpoints.resolve_checkpoint(checkpoint_path or estimator.model_dir)
    kept, skipped = [], []
    input_fn = image_input_fn_builder(paths, image_size, batch_size, kept, skipped)
    mus, sigma_sqs = [], []
    for prediction in estimator.predict(input_fn, checkpoint_path=checkpoint, yield_single_examples=True):
        mus.append(prediction["mu"])
        sigma_sqs.append(prediction["sigma_sq"])
    count = len(kept)
    return kept, np.array(mus[:count], np.float32), np.array(sigma_sqs[:count], np.float32), skipped


def save_features(path, names, mu, sigma_sq):
    """Writes {'names', 'mu', 'sigma_sq'} to an .npz atomically (temporary file, then rename)."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory)
    temporary = path + ".partial.npz"
    np.savez(temporary, names=np.array(names), mu=mu, sigma_sq=sigma_sq)
    os.replace(temporary, path)

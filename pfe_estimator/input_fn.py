"""input_fn builders: P x K batches with static shapes, laid out identity by identity."""
import numpy as np
import tensorflow.compat.v1 as tf


def class_balanced_labels(num_classes_per_batch, images_per_class):
    """Labels of a P x K batch laid out identity by identity: int32 [P * K] = [0]*K + [1]*K + ..."""
    return np.repeat(np.arange(num_classes_per_batch, dtype=np.int32), images_per_class)


def synthetic_input_fn_builder(num_classes_per_batch, images_per_class, image_size, seed=0):
    """Returns an input_fn of one random batch repeated forever, for smoke and throughput runs.

    The batch is drawn once and cached, as ModelZoo performance scripts do, so the measured rate is the
    model's, not the random generator's.

    Yields:
      ({'images': float32 [P * K, H, W, 3] uniform in [-1, 1)}, labels int32 [P * K]).
    """
    batch_size = num_classes_per_batch * images_per_class
    height, width = image_size
    labels = class_balanced_labels(num_classes_per_batch, images_per_class)

    def make_batch(_):
        images = tf.random.uniform([batch_size, height, width, 3], -1.0, 1.0, seed=seed)
        return {"images": images}, tf.constant(labels)

    def input_fn(params=None):  # pylint: disable=unused-argument
        return tf.data.Dataset.range(1).map(make_batch).cache().repeat()

    return input_fn

"""input_fn builders: P x K batches with static shapes, laid out identity by identity."""
import numpy as np
import tensorflow.compat.v1 as tf

from pfe_estimator import errors
from pfe_estimator.data import manifest as manifests
from pfe_estimator.data import tfrecord_schema


def pk_labels(num_classes_per_batch, images_per_class):
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
    labels = pk_labels(num_classes_per_batch, images_per_class)

    def make_batch(_):
        images = tf.random.uniform([batch_size, height, width, 3], -1.0, 1.0, seed=seed)
        return {"images": images}, tf.constant(labels)

    def input_fn(params=None):  # pylint: disable=unused-argument
        return tf.data.Dataset.range(1).map(make_batch).cache().repeat()

    return input_fn


def check_training_data(data_dir, manifest, num_classes_per_batch, include_labels=None):
    """Checks a TFRecord or cache folder before training starts, so that a bad shard is named now, not hours in.

    Raises:
      ValueError: a shard missing or of another length than recorded (truncated, replaced), or fewer
        identities with two or more images (among include_labels, when given) than the P identities a
        batch draws.
    """
    manifests.check(data_dir, manifest)
    manifests.check_shards(data_dir, manifest)
    allowed = None if include_labels is None else {int(label) for label in include_labels}
    trainable = sum(1 for identity in manifest["identities"]
                    if identity["images"] >= 2 and (allowed is None or identity["label"] in allowed))
    if trainable < num_classes_per_batch:
        raise errors.UserError("%s: %d identities with 2 or more images, fewer than the %d a batch needs "
                               "(--num_classes_per_batch; an experiment's protocol.head.recipe.num_classes_per_batch); "
                               "lower it or add data" % (data_dir, trainable, num_classes_per_batch))


# The per-image draws are stateless, keyed on (seed, element index): one seed gives the same batches
# whatever order tf.data's parallel map calls run in, and the index runs on across passes, so an identity
# gets new draws every pass. Each kind of draw has its own stream of keys: drawing flips and indices from
# one key would tie an image's flip to its index.
INDEX_STREAM, FLIP_STREAM, DEGRADE_STREAM = 0, 1, 2
NUM_STREAMS = 3


def draw_key(key, stream):
    """The stateless seed of one kind of draw: int64 [2] (seed, element index) -> int64 [2]."""
    return key * tf.constant([1, NUM_STREAMS], tf.int64) + tf.constant([0, stream], tf.int64)


def sample_indices(count, images_per_class, key):
    """K indices into an identity's `count` images: without replacement when count >= K, else with.

    Args:
      key: int64 [2] (seed, element index).

    Returns int32 [K].
    """
    key = draw_key(key, INDEX_STREAM)
    without = lambda: tf.argsort(tf.random.stateless_uniform([count], key))[:images_per_class]  # noqa: E731
    with_replacement = lambda: tf.random.stateless_uniform(  # noqa: E731
        [images_per_class], key, minval=0, maxval=count, dtype=tf.int32)
    return tf.reshape(tf.cond(count >= images_per_class, without, with_replacement), [images_per_class])


def random_flips(images_per_class, key, flip):
    """Whether to mirror each of K images, each independently with probability 1/2 (as the released
    code flips every image of a batch on its own): bool [K], all False when not `flip`.

    Args:
      key: int64 [2] (seed, element index).
    """
    if not flip:
        return tf.zeros([images_per_class], tf.bool)
    return tf.random.stateless_uniform([images_per_class], draw_key(key, FLIP_STREAM)) < 0.5


def transform_seeds(images_per_class, key):
    """A 62-bit seed per image for a host transform: int64 [K], from key int64 [2] (seed, element index)."""
    return tf.random.stateless_uniform([images_per_class], draw_key(key, DEGRADE_STREAM), minval=0,
                                       maxval=2 ** 62, dtype=tf.int64)


def host_degradation(degrade, probability):
    """A decode_face `transform` that, with `probability`, applies degrade(uint8 [H, W, 3], numpy RandomState)
    -> uint8 [H, W, 3] to an image on the host (tf.py_func inside tf.data, outside the model graph).

    Returns:
      callable(uint8 [H, W, 3] tensor, int64 [] seed tensor) -> uint8 [H, W, 3] tensor.
    """
    def apply(image, seed):
        rng = np.random.RandomState(seed % (2 ** 31))
        return degrade(image, rng) if rng.uniform() < probability else image

    def transform(image, seed):
        result = tf.py_func(apply, [image, seed], tf.uint8, stateful=False)
        result.set_shape(image.shape)
        return result
    return transform


def decode_face(encoded, image_size, mirror=False, transform=None, transform_seed=None):
    """JPEG bytes -> float32 [H, W, 3] standardised as (x - 127.5) / 128, mirrored when `mirror` (bool []),
    after transform(uint8 image, transform_seed) when given (quality-aware training's degradations)."""
    # INTEGER_ACCURATE is libjpeg's ISLOW, what OpenCV decodes with at serving; TensorFlow's default
    # (INTEGER_FAST) differs by up to 5 grey levels on a third of the pixels
    image = tf.image.decode_jpeg(encoded, channels=3, dct_method="INTEGER_ACCURATE")
    image.set_shape([image_size[0], image_size[1], 3])
    if transform is not None:
        image = transform(image, transform_seed)
    image = tf.cond(tf.convert_to_tensor(mirror), lambda: tf.reverse(image, [1]), lambda: image)
    return (tf.cast(image, tf.float32) - 127.5) / 128.0


def tfrecord_input_fn_builder(data_dir, num_classes_per_batch, images_per_class, image_size, seed=0,
                              flip=True, shuffle_buffer=4096, cycle_length=8, transform=None):
    """Returns an input_fn of P x K batches from identity records.

    K images are drawn per identity (with replacement when it has fewer than K), decoded in parallel,
    each mirrored independently with probability 1/2 and standardised; P identities make a batch laid out
    identity by identity, as the MLS loss expects (see pk_input_fn_builder). Only tf.data ops,
    static shapes.

    Yields:
      ({'images': float32 [P * K, H, W, 3]}, labels int32 [P * K]).

    transform: optional callable(uint8 image, int64 seed) -> uint8 image applied before flipping, e.g.
      host_degradation(...) for quality-aware training; its seeds come from the pipeline's seed.

    Raises:
      ValueError: the records were aligned to another size than image_size.
    """
    manifest = manifests.read(data_dir)
    if tuple(manifest["image_size"]) != tuple(image_size):
        raise errors.UserError("%s: records are %dx%d (template %s), the model expects %dx%d (--image_size)" % (
            data_dir, manifest["image_size"][0], manifest["image_size"][1], manifest["template"],
            image_size[0], image_size[1]))
    check_training_data(data_dir, manifest, num_classes_per_batch)
    files = manifests.shard_files(data_dir, manifest)

    def sample_identity(key, serialized):
        record = tfrecord_schema.parse_identity(serialized)
        indices = sample_indices(tf.size(record["encoded"]), images_per_class, key)
        encoded = tf.gather(record["encoded"], indices)
        mirrored = random_flips(images_per_class, key, flip)
        seeds = [None] * images_per_class if transform is None else transform_seeds(images_per_class, key)
        images = tf.stack([decode_face(encoded[k], image_size, mirrored[k], transform, seeds[k])
                           for k in range(images_per_class)])
        return {"images": images}, tf.fill([images_per_class], tf.cast(record["label"], tf.int32))

    return pk_input_fn_builder(files, sample_identity, num_classes_per_batch, seed=seed, shuffle_buffer=shuffle_buffer,
                               cycle_length=cycle_length)


def pk_input_fn_builder(files, sample_identity, num_classes_per_batch, seed, shuffle_buffer, cycle_length,
                        include_labels=None):
    """The P x K pipeline over identity records, shared by image TFRecords and the feature cache.

    Each pass over the data shuffles the shard files, reads them interleaved, shuffles the identity
    records (seeded, reshuffled every pass) and cuts them into batches of P with drop_remainder, so a
    batch never holds an identity twice (the released sampler draws P distinct identities) and the few
    identities a pass leaves over differ from pass to pass; passes repeat forever. `sample_identity`
    turns one record into K examples in parallel, its random draws keyed on (seed, the record's index in
    the stream), so one seed gives the same batches run to run; a batch is laid out identity by identity;
    shapes are static.

    Args:
      files: shard paths.
      sample_identity: (key int64 [2] = (seed, element index), serialized record) ->
        ({name: float32 [K, ...]}, labels int32 [K]).
      num_classes_per_batch: P, at most the number of identity records drawn (check_training_data).
      seed: shuffling seed and the first half of every draw's key.
      include_labels: when given, only records with these labels are drawn.

    Returns:
      input_fn yielding ({name: [P * K, ...]}, labels int32 [P * K]).
    """
    def flatten_identities(tensor):
        shape = tensor.shape.as_list()
        return tf.reshape(tensor, [shape[0] * shape[1]] + shape[2:])

    def to_batch(features, labels):
        return {name: flatten_identities(value) for name, value in features.items()}, flatten_identities(labels)

    def keyed_sample(index, serialized):
        return sample_identity(tf.stack([tf.constant(seed, tf.int64), index]), serialized)

    def input_fn(params=None):  # pylint: disable=unused-argument
        dataset = tf.data.Dataset.from_tensor_slices(tf.constant(files))
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
        dataset = dataset.interleave(tf.data.TFRecordDataset, cycle_length=min(cycle_length, len(files)),
                                     block_length=1, num_parallel_calls=tf.data.experimental.AUTOTUNE)
        if include_labels is not None:
            allowed = tf.constant(sorted(int(label) for label in include_labels), tf.int64)
            dataset = dataset.filter(
                lambda serialized: tf.reduce_any(tf.equal(tfrecord_schema.parse_label(serialized), allowed)))
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        # passes of whole batches of P, then one stream of records numbered across passes
        dataset = dataset.batch(num_classes_per_batch, drop_remainder=True).repeat()
        dataset = dataset.flat_map(tf.data.Dataset.from_tensor_slices)
        dataset = tf.data.Dataset.zip((tf.data.Dataset.range(np.iinfo(np.int64).max), dataset))
        dataset = dataset.map(keyed_sample, num_parallel_calls=tf.data.experimental.AUTOTUNE)
        dataset = dataset.batch(num_classes_per_batch, drop_remainder=True)
        dataset = dataset.map(to_batch, num_parallel_calls=tf.data.experimental.AUTOTUNE)
        return dataset.prefetch(tf.data.experimental.AUTOTUNE)

    return input_fn

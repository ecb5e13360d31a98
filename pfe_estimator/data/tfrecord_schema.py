"""The TFRecord schema shared by data_prep (writing) and the input_fns (parsing).

One record holds one identity: all of its aligned face crops, under the conventional image keys with the
per-image ones as lists. Drawing P identities x K images is then one shuffle over records plus K picks
inside each, whatever the number of identities (10k-100k), with a fixed number of shard files.

  image/encoded      bytes list  [n]  JPEG crops, all of the template's size
  image/filename     bytes list  [n]  source paths relative to the dataset root (UTF-8)
  image/format       bytes            b"jpeg"
  image/height       int64            template height
  image/width        int64            template width
  image/class/label  int64            0..C-1
  image/class/text   bytes            identity name (UTF-8)
"""
import tensorflow.compat.v1 as tf

from pfe_estimator import errors

SHARD_PATTERN = "faces-%05d-of-%05d.tfrecord"


def shard_name(index, count):
    return SHARD_PATTERN % (index, count)


def _bytes_feature(values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=list(values)))


def _int64_feature(value):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


def identity_example(encoded_images, filenames, label, identity, height, width):
    """Serialises one identity's aligned crops.

    Args:
      encoded_images: list of JPEG bytes, one per image.
      filenames: list of str, the images' source paths (same order).
      label: int class id.
      identity: str identity name.
      height, width: the crops' size.

    Returns:
      bytes, a serialised tf.train.Example.
    """
    return labelled_example(unlabelled_example(encoded_images, filenames, identity, height, width), label)


def _varint(value):
    """Protobuf's base-128 varint of a non-negative int."""
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


def _read_varint(buffer, position):
    value, shift = 0, 0
    while True:
        byte = buffer[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, position


def _features(features):
    return tf.train.Features(feature=features).SerializeToString()


def unlabelled_example(encoded_images, filenames, identity, height, width):
    """identity_example's bytes around its label, made where the images are (a make_tfrecords worker)
    before the label is known (the parent numbers the identities it keeps).

    Returns:
      (bytes before the label's entry, bytes after it) of the serialised Features: the serialiser's own
      output for the whole example with label 0, its label entry cut out, so the entries keep the order
      the serialiser gives them.
    """
    example = tf.train.Example(features=tf.train.Features(feature={
        "image/encoded": _bytes_feature(encoded_images),
        "image/filename": _bytes_feature(name.encode("utf-8") for name in filenames),
        "image/format": _bytes_feature([b"jpeg"]),
        "image/height": _int64_feature(height),
        "image/width": _int64_feature(width),
        "image/class/label": _int64_feature(0),
        "image/class/text": _bytes_feature([identity.encode("utf-8")]),
    })).SerializeToString()
    length, start = _read_varint(example, 1)  # Example: tag 0x0a, length, the Features
    features = example[start:start + length]
    label_entry = _features({"image/class/label": _int64_feature(0)})
    position = 0
    while position < len(features):  # the map's entries: tag 0x0a, length, entry
        length, start = _read_varint(features, position + 1)
        if features[position:start + length] == label_entry:
            return features[:position], features[start + length:]
        position = start + length
    raise AssertionError("no label entry in the serialised example")


def labelled_example(parts, label):
    """The serialised tf.train.Example of unlabelled_example's parts with this label (byte-identical to
    serialising the whole example at once)."""
    before, after = parts
    features = before + _features({"image/class/label": _int64_feature(label)}) + after
    return b"\x0a" + _varint(len(features)) + features


def parse_identity(serialized):
    """Parses one serialised identity record (graph ops, usable inside tf.data).

    Returns:
      dict: 'encoded' string [n], 'filename' string [n], 'label' int64 [], 'identity' string [],
      'height' int64 [], 'width' int64 [].
    """
    parsed = tf.io.parse_single_example(serialized, {
        "image/encoded": tf.io.VarLenFeature(tf.string),
        "image/filename": tf.io.VarLenFeature(tf.string),
        "image/height": tf.io.FixedLenFeature([], tf.int64),
        "image/width": tf.io.FixedLenFeature([], tf.int64),
        "image/class/label": tf.io.FixedLenFeature([], tf.int64),
        "image/class/text": tf.io.FixedLenFeature([], tf.string),
    })
    return {
        "encoded": tf.sparse.to_dense(parsed["image/encoded"], default_value=""),
        "filename": tf.sparse.to_dense(parsed["image/filename"], default_value=""),
        "label": parsed["image/class/label"],
        "identity": parsed["image/class/text"],
        "height": parsed["image/height"],
        "width": parsed["image/width"],
    }


def _records(path, cache=False):
    """The serialized records of a shard; a damaged file (a CRC mismatch, a cut record) is a one-line
    UserError naming it and what to do."""
    try:
        for serialized in tf.io.tf_record_iterator(path):
            yield serialized
    except tf.errors.DataLossError as error:
        raise errors.UserError(damaged_shard_message(path, errors.first_line(error.message), cache))


def damaged_shard_message(path, reason, cache=False):
    """What to do about a shard damaged after it was written: an image shard is rebuilt by make_tfrecords,
    a feature cache's by --mode=cache_features (the other shards are kept either way)."""
    if cache:
        return ("%s: damaged after it was written (%s); delete it and rerun --mode=cache_features with the same "
                "flags (the other shards are kept)" % (path, reason))
    return ("%s: damaged after it was written (%s); delete it and its .json sidecar and rerun make_tfrecords "
            "with the same flags (the other shards are kept)" % (path, reason))


def read_identities(path):
    """Reads a shard in Python: yields dicts of the record's fields (lists of bytes, ints, str)."""
    for serialized in _records(path):
        example = tf.train.Example.FromString(serialized)
        feature = example.features.feature
        yield {
            "encoded": list(feature["image/encoded"].bytes_list.value),
            "filename": [f.decode("utf-8") for f in feature["image/filename"].bytes_list.value],
            "label": feature["image/class/label"].int64_list.value[0],
            "identity": feature["image/class/text"].bytes_list.value[0].decode("utf-8"),
            "height": feature["image/height"].int64_list.value[0],
            "width": feature["image/width"].int64_list.value[0],
        }


def find_damage(path, cache=False):
    """The first damage in a shard, found by reading all of it: a record that fails its checksum or does
    not parse, or (image shards) a JPEG that does not decode. For naming the culprit once reading failed.

    Returns:
      None, or a one-line message naming the shard, the record's index and identity, and the image.
    """
    with tf.Graph().as_default(), tf.Session() as session:
        encoded = tf.placeholder(tf.string, [])
        decoded = tf.image.decode_jpeg(encoded, channels=3)
        index = -1
        try:
            for index, serialized in enumerate(tf.io.tf_record_iterator(path)):
                feature = tf.train.Example.FromString(serialized).features.feature
                identity = feature["image/class/text"].bytes_list.value[0].decode("utf-8", "replace")
                filenames = [f.decode("utf-8", "replace") for f in feature["image/filename"].bytes_list.value]
                for filename, jpeg in zip(filenames, feature["image/encoded"].bytes_list.value):
                    try:
                        session.run(decoded, {encoded: jpeg})
                    except tf.errors.InvalidArgumentError as error:
                        return ("%s: record %d (identity %s) holds an image that does not decode, %s (%s); rebuild "
                                "the records with make_tfrecords" % (path, index, identity, filename,
                                                                     errors.first_line(error.message)))
        except tf.errors.DataLossError as error:
            return damaged_shard_message(path, "after record %d: %s" % (index, errors.first_line(error.message)),
                                         cache)
        except Exception as error:  # pylint: disable=broad-except  # a record that does not parse
            return "%s: record %d does not parse as a face record (%s); rebuild the records" % (
                path, index + 1, error)
    return None


# ---------------------------------------------------------------- feature cache records
#
# One record per identity, as above, with the frozen backbone's outputs instead of images:
#   cache/features          bytes  float16 or float32 [n, F] raw, the head's input for each image
#   cache/features_flipped  bytes  the same for the mirrored image
#   cache/mu                bytes  float32 [n, D] raw (L2-normalised embeddings)
#   cache/mu_flipped        bytes  float32 [n, D] raw
#   image/filename, image/class/label, image/class/text as above


def cache_example(features, features_flipped, mu, mu_flipped, filenames, label, identity, features_dtype="float16"):
    """Serialises one identity's cached backbone outputs (numpy arrays [n, F] and [n, D])."""
    record = {
        "cache/features": _bytes_feature([features.astype(features_dtype, copy=False).tobytes()]),
        "cache/features_flipped": _bytes_feature([features_flipped.astype(features_dtype, copy=False).tobytes()]),
        "cache/mu": _bytes_feature([mu.astype("float32").tobytes()]),
        "cache/mu_flipped": _bytes_feature([mu_flipped.astype("float32").tobytes()]),
        "image/filename": _bytes_feature(name.encode("utf-8") for name in filenames),
        "image/class/label": _int64_feature(label),
        "image/class/text": _bytes_feature([identity.encode("utf-8")]),
    }
    return tf.train.Example(features=tf.train.Features(feature=record)).SerializeToString()


def parse_cache(serialized, feature_size, embedding_size, features_dtype="float16", with_filenames=False):
    """Parses a cache record (graph ops): 'features', 'features_flipped' float32 [n, F], 'mu', 'mu_flipped'
    float32 [n, D], 'label' int64 [], and with_filenames 'filename' string [n]."""
    spec = {
        "cache/features": tf.io.FixedLenFeature([], tf.string),
        "cache/features_flipped": tf.io.FixedLenFeature([], tf.string),
        "cache/mu": tf.io.FixedLenFeature([], tf.string),
        "cache/mu_flipped": tf.io.FixedLenFeature([], tf.string),
        "image/class/label": tf.io.FixedLenFeature([], tf.int64),
    }
    if with_filenames:
        spec["image/filename"] = tf.io.VarLenFeature(tf.string)
    parsed = tf.io.parse_single_example(serialized, spec)
    result = {"label": parsed["image/class/label"]}
    if with_filenames:
        result["filename"] = tf.sparse.to_dense(parsed["image/filename"], default_value="")
    stored = tf.float16 if features_dtype == "float16" else tf.float32
    for key, dtype, width in (("features", stored, feature_size), ("features_flipped", stored, feature_size),
                              ("mu", tf.float32, embedding_size), ("mu_flipped", tf.float32, embedding_size)):
        result[key] = tf.cast(tf.reshape(tf.io.decode_raw(parsed["cache/" + key], dtype), [-1, width]), tf.float32)
    return result


def parse_label(serialized):
    """The int64 [] label of an identity or cache record, parsing nothing else."""
    return tf.io.parse_single_example(serialized, {"image/class/label": tf.io.FixedLenFeature([], tf.int64)})[
        "image/class/label"]


def read_cache_identities(path, features_dtype="float16"):
    """Reads a cache shard in Python: yields dicts of numpy arrays, filenames, label, identity."""
    import numpy as np  # pylint: disable=import-outside-toplevel
    for serialized in _records(path, cache=True):
        feature = tf.train.Example.FromString(serialized).features.feature
        filenames = [f.decode("utf-8") for f in feature["image/filename"].bytes_list.value]
        record = {"filename": filenames, "label": feature["image/class/label"].int64_list.value[0],
                  "identity": feature["image/class/text"].bytes_list.value[0].decode("utf-8")}
        for key, dtype in (("features", features_dtype), ("features_flipped", features_dtype), ("mu", np.float32),
                           ("mu_flipped", np.float32)):
            record[key] = np.frombuffer(feature["cache/" + key].bytes_list.value[0], dtype).reshape(len(filenames), -1)
        yield record

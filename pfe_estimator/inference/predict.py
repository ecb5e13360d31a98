"""mu and sigma^2 of face images (faces/network_input.py makes their input), through the Estimator's PREDICT mode
or an exported SavedModel."""
import itertools
import os

import numpy as np
import tensorflow.compat.v1 as tf

from pfe_estimator.data import embedding_files

from pfe_estimator import errors
from pfe_estimator.data import manifest as manifests
from pfe_estimator.storage import checkpoints
from pfe_estimator.data import tfrecord_schema
from pfe_estimator.training import devices
from pfe_estimator.training import pfe_model


def in_batches(examples, batch_size):
    """Lists of batch_size consecutive examples of an iterable, consumed lazily; the last may be shorter."""
    batch = []
    for example in examples:
        batch.append(example)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def padded_batches(examples, shapes, batch_size):
    """Yields the `examples` (dicts of float32 arrays), then all-zero ones up to a whole number of batches
    (the NPU needs static shapes); the caller keeps the first outputs."""
    count = 0
    for example in examples:
        count += 1
        yield example
    for _ in range((-count) % batch_size):
        yield {key: np.zeros(shape, np.float32) for key, shape in shapes.items()}


def prediction_input_fn_builder(examples, shapes, batch_size):
    """The input_fn of a prediction: `examples` (dicts of float32 arrays of `shapes`, an iterable read once)
    padded to whole batches of batch_size (padded_batches). Without tf.data's autotuning, which has nothing to tune
    here: the end of an iterator waits for its thread to wake up, which made a predict's end stall up to 10 s."""
    def input_fn(params=None):  # pylint: disable=unused-argument
        dataset = tf.data.Dataset.from_generator(
            lambda: padded_batches(examples, shapes, batch_size), {key: tf.float32 for key in shapes},
            {key: tf.TensorShape(shape) for key, shape in shapes.items()})
        options = tf.data.Options()
        if hasattr(options, "autotune"):  # TF 2.x
            options.autotune.enabled = False
        else:  # TF 1.15
            options.experimental_optimization.autotune = False
        return dataset.batch(batch_size, drop_remainder=True).prefetch(1).with_options(options)
    return input_fn


def estimator_predictions(estimator, examples, shapes, batch_size, checkpoint_path=None):
    """Runs an Estimator built with the PFE model_fn in PREDICT mode.

    Args:
      estimator: the Estimator.
      examples: iterable of feature dicts, e.g. {'images': [H, W, 3]} or from the feature cache
        {'features': [F], 'mu': [D]}; consumed lazily.
      shapes: {key: shape} of one example.
      batch_size: examples per device step.
      checkpoint_path: folder or prefix (see `checkpoints.resolve_checkpoint`), else the model_dir.

    Returns:
      {prediction key: float32 [N, ...]} for the N examples given ('mu' and 'sigma_sq' for PFE).
    """
    checkpoint = checkpoints.intact_checkpoint(checkpoint_path or estimator.model_dir)
    counter, raised = [], []

    def counted():
        try:
            for example in examples:
                counter.append(1)
                yield example
        except Exception as error:  # pylint: disable=broad-except  # re-raised below, not wrapped by tf.data
            raised.append(error)
            raise

    outputs = {}
    try:
        predictions = estimator.predict(prediction_input_fn_builder(counted(), shapes, batch_size),
                                        checkpoint_path=checkpoint, yield_single_examples=True)
        with devices.xla_notices_held_back():  # the graph runs first (and XLA compiles) for the first batch
            first = list(itertools.islice(predictions, 1))
        for prediction in itertools.chain(first, predictions):
            for key, value in prediction.items():
                outputs.setdefault(key, []).append(value)
    except tf.errors.OpError:
        if raised:  # the examples' own error (an unreadable image, ...), not tf.data's wrapping of it
            raise raised[0]
        raise
    count = len(counter)
    return {key: np.array(values[:count], np.float32) for key, values in outputs.items()}


def _mu_and_sigma_sq(outputs):
    """(mu, sigma_sq) of estimator_predictions' outputs; empty [0, 0] arrays when there were no examples."""
    empty = np.zeros((0, 0), np.float32)
    return outputs.get("mu", empty), outputs.get("sigma_sq", empty)


def estimator_embeddings(estimator, images, image_size, batch_size, checkpoint_path=None):
    """(mu, sigma^2) of an iterable of standardised float32 [H, W, 3] images (see estimator_predictions)."""
    outputs = estimator_predictions(estimator, ({"images": image} for image in images),
                                    {"images": [image_size[0], image_size[1], 3]}, batch_size, checkpoint_path)
    return _mu_and_sigma_sq(outputs)


def cached_embeddings(estimator, features, mu, batch_size, checkpoint_path=None):
    """(mu, sigma^2) from cached backbone outputs: float32 [N, F] features and [N, D] mu."""
    examples = ({"features": f, "mu": m} for f, m in zip(features, mu))
    outputs = estimator_predictions(estimator, examples, {"features": [features.shape[1]], "mu": [mu.shape[1]]},
                                    batch_size, checkpoint_path)
    return _mu_and_sigma_sq(outputs)


class HeadRunner(object):
    """A trained head alone, restored from its model folder's newest intact checkpoint into a session of its
    own: run(features, mu) gives what the Estimator's PREDICT gives on cached backbone outputs (the same
    graph and batches, without an input pipeline per call). Used as a context manager."""

    def __init__(self, model_dir, feature_size, embedding_size, batch_size=256):
        checkpoint = checkpoints.intact_checkpoint(model_dir)
        self.batch_size = batch_size
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.features = tf.placeholder(tf.float32, [batch_size, feature_size], name="features")
            self.mu = tf.placeholder(tf.float32, [batch_size, embedding_size], name="mu")
            mu, log_sigma_sq = pfe_model.head_outputs(self.mu, self.features, training=False)
            self.outputs = (mu, tf.exp(log_sigma_sq))
            self.session = tf.Session(graph=self.graph)
            checkpoints.restore_variables(self.session, checkpoint, pfe_model.network_variables(include_backbone=False))

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.session.close()

    def run(self, features, mu):
        """(mu, sigma_sq) float32 [N, D] of cached outputs: features float [N, F], mu float [N, D]."""
        count, size = len(features), self.batch_size
        outputs = []
        for start in range(0, count, size):
            rows = slice(start, min(start + size, count))
            padding = ((0, size - (rows.stop - rows.start)), (0, 0))
            outputs.append(self.session.run(self.outputs, {
                self.features: np.pad(np.asarray(features[rows], np.float32), padding),
                self.mu: np.pad(np.asarray(mu[rows], np.float32), padding)}))
        if not outputs:
            return np.zeros((0, mu.shape[1]), np.float32), np.zeros((0, mu.shape[1]), np.float32)
        trimmed = [(o[0][:min(size, count - i * size)], o[1][:min(size, count - i * size)])
                   for i, o in enumerate(outputs)]
        return np.concatenate([t[0] for t in trimmed]), np.concatenate([t[1] for t in trimmed])


def saved_model_embeddings(export_dir, images, batch_size):
    """Runs an exported PFE SavedModel ('serving_default': images -> mu, sigma_sq) over standardised images.

    Returns:
      (mu float32 [N, D], sigma_sq float32 [N, D]).
    """
    mus, sigma_sqs = [], []
    with tf.Graph().as_default(), tf.Session() as session:
        signature_defs = load_saved_model(session, export_dir).signature_def
        signature = signature_defs[tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY]
        fetches = [signature.outputs["mu"].name, signature.outputs["sigma_sq"].name]
        for batch in in_batches(images, batch_size):
            mu, sigma_sq = session.run(fetches, {signature.inputs["images"].name: np.stack(batch)})
            mus.append(mu)
            sigma_sqs.append(sigma_sq)
    if not mus:
        return np.zeros((0, 0), np.float32), np.zeros((0, 0), np.float32)
    return np.concatenate(mus), np.concatenate(sigma_sqs)


def load_saved_model(session, export_dir):
    """Loads an exported SavedModel into `session`; a missing, truncated or foreign one is a one-line
    UserError saying to export it again."""
    try:
        return tf.saved_model.loader.load(session, [tf.saved_model.SERVING], export_dir)
    except (tf.errors.OpError, IOError, OSError, RuntimeError, ValueError) as error:
        message = error.message if isinstance(error, tf.errors.OpError) else str(error)
        raise errors.UserError("--saved_model=%s: cannot be loaded (%s); export it again with --mode=export" % (
            export_dir, (errors.first_line(message) or type(error).__name__)[:300]))


def read_tfrecord_faces(data_dir, wanted_names=None, limit=None):
    """The aligned crops of a TFRecord folder from data_prep, by image name (e.g. Aaron_Peirsol_0001).

    Args:
      data_dir: folder with manifest.json and shards.
      wanted_names: optional set; only these names are kept.
      limit: optional; stop after this many crops (the first in record order).

    Returns:
      (names [N], JPEG bytes [N]) in record order.
    """
    manifest = manifests.read(data_dir)
    names, encoded = [], []
    for shard in manifest["shards"]:
        for record in tfrecord_schema.read_identities(os.path.join(data_dir, shard["file"])):
            for filename, jpeg in zip(record["filename"], record["encoded"]):
                name = embedding_files.image_name(filename)
                if wanted_names is None or name in wanted_names:
                    names.append(name)
                    encoded.append(jpeg)
                if len(names) == limit:
                    return names, encoded
    return names, encoded

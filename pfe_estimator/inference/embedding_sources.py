"""Where evaluation's mu and sigma^2 come from: an embeddings file, a feature cache, aligned TFRecords or image
files, run through an exported SavedModel or the PFE Estimator."""

from pfe_estimator.faces import network_input

from pfe_estimator.data import embedding_files

from pfe_estimator import errors
from pfe_estimator.data import feature_cache
from pfe_estimator.data import manifest as manifests
from pfe_estimator.faces import image_io
from pfe_estimator.inference import predict


class EmbeddingExtractor(object):
    """Turns standardised images, or a feature cache's backbone outputs, into (mu, sigma^2).

    Images go through the SavedModel at `saved_model` when given, else through the Estimator that
    make_estimator() builds on first use (after check_model(), which raises a one-line UserError when the
    checkpoint does not fit the network). Cached outputs always go through the Estimator (its head alone).
    """

    def __init__(self, image_size, batch_size, make_estimator, check_model=None, saved_model=None):
        self.image_size = image_size
        self.batch_size = batch_size
        self.make_estimator = make_estimator
        self.check_model = check_model
        self.saved_model = saved_model

    def images(self, images):
        """(mu, sigma_sq) float32 [N, D] each of an iterable of float32 [H, W, 3] images."""
        if self.saved_model:
            return predict.saved_model_embeddings(self.saved_model, images, self.batch_size)
        if self.check_model:
            self.check_model()
        return predict.estimator_embeddings(self.make_estimator(), images, self.image_size, self.batch_size)

    def cached(self, features, mu):
        """(mu, sigma_sq) from cached backbone outputs: float32 [N, F] features and [N, D] mu."""
        return predict.cached_embeddings(self.make_estimator(), features, mu, self.batch_size)


def pair_embeddings(wanted_names, extractor, data_dir=None, embeddings_path=None, embeddings_output=None, model=None):
    """mu and sigma^2 of the images a pair list names, from the first source that applies:

    1. a feature cache at data_dir (the head runs over its cached backbone outputs);
    2. an embeddings file at embeddings_path (data_dir, when given, still provides the faces for the plots);
    3. aligned TFRecords at data_dir, run through the extractor.

    Args:
      wanted_names: set of image names (embedding_files.image_name) the pairs use.
      extractor: a EmbeddingExtractor.
      embeddings_output: when given, the embeddings computed by (1) or (3) are saved there (.npz), recording
        `model` (the identity of the model that made them).

    Returns:
      (names [N], mu float32 [N, D], sigma_sq float32 [N, D], load_face: callable(name) -> uint8 RGB crop
       for the plots, or None when no faces are at hand).

    Raises:
      UserError: neither data_dir nor embeddings_path.
    """
    if data_dir and not embeddings_path and feature_cache.is_cache(data_dir):
        names, cached, cached_mu = feature_cache.read_cache_arrays(data_dir, wanted_names)
        mu, sigma_sq = extractor.cached(cached, cached_mu)
        load_face = None
    elif embeddings_path or data_dir:
        load_face = None
        if data_dir:
            names, jpegs = predict.read_tfrecord_faces(data_dir, wanted_names)
            by_name = dict(zip(names, jpegs))
            load_face = lambda name: image_io.decode_rgb(by_name[name], name)  # noqa: E731
        if embeddings_path:
            names, mu, sigma_sq = embedding_files.load(embeddings_path)
            return names, mu, sigma_sq, load_face
        mu, sigma_sq = extractor.images(record_faces(data_dir, names, jpegs, extractor.image_size))
    else:
        raise errors.UserError("pair embeddings need an embeddings file or a folder of aligned TFRecords or cached "
                               "features")
    if embeddings_output:
        embedding_files.save(embeddings_output, names, mu, sigma_sq, model)
    return names, mu, sigma_sq, load_face


def record_faces(data_dir, names, jpegs, image_size):
    """Yields the network input of each aligned crop read from data_dir's records; a crop that does not
    decode is a one-line UserError naming its shard, record and identity."""
    for name, jpeg in zip(names, jpegs):
        try:
            yield network_input.decode_network_input(jpeg, image_size)
        except image_io.ImageError as error:
            damage = manifests.find_damage(data_dir, manifests.read(data_dir))
            raise errors.UserError(damage or "%s: image %s in its records: %s" % (data_dir, name, error))


def image_file_embeddings(paths, load_face, extractor):
    """mu and sigma^2 of image files (a template list's, for instance); unusable files are skipped with a log
    line.

    Returns:
      (names [N] as embedding_files.image_name, mu float32 [N, D], sigma_sq float32 [N, D]).
    """
    kept = []
    mu, sigma_sq = extractor.images(network_input.readable_images(sorted(set(paths)), load_face, kept, []))
    return [embedding_files.image_name(path) for path in kept], mu, sigma_sq

"""Feature cache, reading: the frozen backbone's outputs cached once (inference/cache_builder.py) feed head
training and evaluation.

The backbone is frozen, so its outputs for an image never change: caching (features, mu) for every image
and its mirror image turns head training on a CPU from backbone-bound to seconds. The cache mirrors the
source layout (one record per identity, same shard names, manifest.json with a "cache" section), so the
same P x K sampling applies; features are stored as float16 by default to halve the disk.
"""
import os
import re

import numpy as np
import tensorflow.compat.v1 as tf

from pfe_estimator import errors
from pfe_estimator.data import embedding_files
from pfe_estimator.data import manifest as manifests

from pfe_estimator.data import pk_sampling
from pfe_estimator.data import tfrecord_schema
from pfe_estimator.storage import atomic_files
from pfe_estimator.storage import outputs

OUTPUT_KIND = "feature_cache"
# A degraded copy's name in a cache (inference/cache_builder.degraded_copy_name): ROOT_q<copy>[_<kind>-<severity>].EXT;
# groups: 1 the source's root, 3 the kind, 4 the severity.
COPY_NAME = r"^(.*)_q[0-9]+(_([a-z_]+)-([0-9]+))?(\.[^./]*)?$"


def has_degraded_copies(data_dir):
    """Whether a TFRecord folder is a feature cache holding degraded copies of its images."""
    return bool(manifests.read(data_dir).get("cache", {}).get("degraded_copies"))


def copy_quality(filename):
    """(kind or None, severity) of a cached image: (None, 0) for an original, (None, 1) for a copy whose
    name does not say what degraded it, (kind, severity) for a tagged one."""
    match = re.match(COPY_NAME, filename)
    if not match:
        return None, 0
    return match.group(3), int(match.group(4)) if match.group(4) else 1


def copy_ranks(filenames):
    """What a quality ranking compares, from cached names (graph ops): a degraded copy is worse than its own
    source image, and a tagged copy of higher severity worse than one of lower.

    Args:
      filenames: string [n].

    Returns:
      (severity int32 [n]: 0 for originals, as copy_quality; source int64 [n]: a hash of the source image's
      root, equal for an original and its copies).
    """
    is_copy = tf.strings.regex_full_match(filenames, COPY_NAME)
    severity_text = tf.strings.regex_replace(filenames, COPY_NAME, r"\4")
    severity = tf.where(is_copy, tf.strings.to_number(
        tf.where(tf.logical_and(is_copy, tf.not_equal(severity_text, "")), severity_text,
                 tf.fill(tf.shape(filenames), "1")), tf.int32), tf.zeros(tf.shape(filenames), tf.int32))
    source = tf.where(is_copy, tf.strings.regex_replace(filenames, COPY_NAME, r"\1"),
                      tf.strings.regex_replace(filenames, r"\.[^./]*$", ""))
    return severity, tf.strings.to_hash_bucket_fast(source, 2 ** 62)


def is_cache(data_dir):
    """Whether a TFRecord folder holds a feature cache rather than images."""
    return "cache" in manifests.read(data_dir)


def cache_input_fn_builder(cache_dir, num_classes_per_batch, images_per_class, seed=0, flip=True,
                           shuffle_buffer=256, cycle_length=8, include_labels=None, quality_ranks=False):
    """Returns an input_fn of P x K batches from the cache, as tfrecord_input_fn_builder does from images;
    with `flip`, each sample takes the mirrored image's outputs independently with probability 1/2 (the
    same draws as the image path's flips). With include_labels, only
    those identities are drawn (e.g. the training folds of a cross-validation). With quality_ranks, each
    sample also says what a quality ranking compares (copy_ranks of its name).

    Yields:
      ({'features': float32 [P * K, F], 'mu': float32 [P * K, D]} and with quality_ranks 'severity' int32
      [P * K], 'source' int64 [P * K]), labels int32 [P * K].
    """
    manifest = manifests.read(cache_dir)
    pk_sampling.check_training_data(cache_dir, manifest, num_classes_per_batch, include_labels)
    cache = manifest["cache"]
    feature_size, dims = cache["feature_size"], cache["embedding_size"]

    def sample_identity(key, serialized):
        record = tfrecord_schema.parse_cache(serialized, feature_size, dims, cache["features_dtype"],
                                             with_filenames=quality_ranks)
        indices = pk_sampling.sample_indices(tf.shape(record["mu"])[0], images_per_class, key)
        mirrored = pk_sampling.random_flips(images_per_class, key, flip)[:, None]
        features = tf.where(tf.tile(mirrored, [1, feature_size]), tf.gather(record["features_flipped"], indices),
                            tf.gather(record["features"], indices))
        mu = tf.where(tf.tile(mirrored, [1, dims]), tf.gather(record["mu_flipped"], indices),
                      tf.gather(record["mu"], indices))
        sample = {"features": features, "mu": mu}
        if quality_ranks:
            sample["severity"], sample["source"] = copy_ranks(tf.gather(record["filename"], indices))
        return sample, tf.fill([images_per_class], tf.cast(record["label"], tf.int32))

    return pk_sampling.pk_input_fn_builder(manifests.shard_files(cache_dir, manifest), sample_identity,
                                           num_classes_per_batch, seed=seed, shuffle_buffer=shuffle_buffer,
                                           cycle_length=cycle_length, include_labels=include_labels)


def read_cache_arrays(cache_dir, wanted_names=None):
    """The unflipped cached outputs by image name.

    Returns:
      (names [N], features float32 [N, F], mu float32 [N, D]).
    """
    manifest = manifests.read(cache_dir)
    names, features, mu = [], [], []
    for shard in manifest["shards"]:
        for record in tfrecord_schema.read_cache_identities(os.path.join(cache_dir, shard["file"]),
                                                            manifest["cache"]["features_dtype"]):
            for index, filename in enumerate(record["filename"]):
                name = embedding_files.image_name(filename)
                if wanted_names is None or name in wanted_names:
                    names.append(name)
                    features.append(record["features"][index].astype(np.float32))
                    mu.append(record["mu"][index])
    return names, np.array(features, np.float32), np.array(mu, np.float32)


def pooled(features, channels):
    """Flattened [C, H, W] conv maps (an ONNX backbone's, as cached) averaged over their positions: the
    features of --head_input=pooled. [N, C * H * W] -> float32 [N, C]."""
    return np.asarray(features, np.float32).reshape(len(features), channels, -1).mean(axis=2)


def write_subset(cache_dir, target_dir, keep_image, description, pooled_channels=None):
    """A cache holding only the images of cache_dir that keep_image(filename) keeps, its shards and manifest
    written as a cache of its own, no backbone run (every identity keeps its label, so it must keep an
    image). A rerun with the same source (by its fingerprint, wherever it sits) and description resumes.

    Args:
      keep_image: callable(filename as cached) -> bool.
      description: what the subset is (in the fingerprint), e.g. "without copies of kind blur".
      pooled_channels: None, or C of an ONNX backbone's cached [C, H, W] maps: the subset then holds them
        averaged over positions (`pooled`), as that backbone with head_input 'pooled' caches them.

    Returns:
      the subset's manifest dict.
    """
    manifest = manifests.read(cache_dir)
    fingerprint = {"source_fingerprint": manifest.get("fingerprint"),
                   "description": description, "pooled_channels": pooled_channels}
    if pooled_channels and (manifest["cache"].get("backbone_options") or {}).get("head_input", "flattened") != \
            "flattened":
        raise errors.UserError("%s already holds pooled features; pool a cache of flattened maps" % cache_dir)
    features_of = (lambda f: pooled(f, pooled_channels)) if pooled_channels else (lambda f: f)
    outputs.check_run_paths({"target_dir": target_dir}, {"cache_dir": cache_dir})
    with outputs.claimed_directory(target_dir, OUTPUT_KIND, "target_dir", fingerprint) as state:
        if state == "resume" and manifests.exists(target_dir):
            return manifests.read(target_dir)  # an earlier run wrote this subset
        return _write_subset(cache_dir, target_dir, manifest, keep_image, description, fingerprint, features_of,
                             pooled_channels)


def _write_subset(cache_dir, target_dir, manifest, keep_image, description, fingerprint, features_of,
                  pooled_channels):
    """write_subset's work once the folder is claimed: the shards, then the manifest."""
    dtype = manifest["cache"]["features_dtype"]
    shards, kept_of = [], {}
    for shard in manifest["shards"]:
        target = os.path.join(target_dir, shard["file"])
        kept_images = 0
        with tf.io.TFRecordWriter(atomic_files.partial_path(target)) as writer:
            for record in tfrecord_schema.read_cache_identities(os.path.join(cache_dir, shard["file"]), dtype):
                kept = [i for i, name in enumerate(record["filename"]) if keep_image(name)]
                if not kept:
                    raise errors.UserError("%s: the subset (%s) keeps no image of %s; every identity must keep one"
                                           % (cache_dir, description, record["identity"]))
                writer.write(tfrecord_schema.cache_example(
                    features_of(record["features"][kept]), features_of(record["features_flipped"][kept]),
                    record["mu"][kept],
                    record["mu_flipped"][kept], [record["filename"][i] for i in kept], record["label"],
                    record["identity"], dtype))
                kept_of[record["label"]] = len(kept)
                kept_images += len(kept)
        os.replace(atomic_files.partial_path(target), target)
        shards.append(dict(shard, images=kept_images, bytes=os.path.getsize(target)))
    identities = [dict(identity, images=kept_of[identity["label"]]) for identity in manifest["identities"]]
    subset = dict(manifest, shards=shards, identities=identities, num_images=sum(s["images"] for s in shards),
                  fingerprint=fingerprint)
    if pooled_channels:
        subset["cache"] = dict(manifest["cache"], feature_size=pooled_channels, backbone_options=dict(
            manifest["cache"].get("backbone_options") or {}, head_input="pooled"))
    manifests.write(target_dir, subset)
    return subset

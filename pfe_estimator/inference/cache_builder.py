"""Building a feature cache: the frozen backbone run once over a TFRecord set (data/feature_cache.py reads
it). Every image and its mirror image get (head input, mu); the cache mirrors the source layout (one record
per identity, same shard names, manifest.json with a "cache" section)."""
import os

import numpy as np
import tensorflow.compat.v1 as tf

from pfe_estimator import errors
from pfe_estimator.data import feature_cache
from pfe_estimator.data import manifest as manifests
from pfe_estimator.data import tfrecord_schema
from pfe_estimator.faces import image_io
from pfe_estimator.faces import network_input
from pfe_estimator.inference import predict
from pfe_estimator.model import backbones
from pfe_estimator.storage import atomic_files
from pfe_estimator.storage import checkpoints
from pfe_estimator.storage import outputs


# Faces a shard sends through the backbone in one go (whole identities, so a little more): what bounds
# build_cache's memory (about 0.4 GB for SFace's maps and their mirrors), whatever the shard's size or copies.
FACES_PER_RUN = 1024


def cache_fingerprint(data_dir, manifest, backbone, checkpoint, features_dtype):
    """What decides a cache's content: the source records (by their fingerprint, not their path: a moved work
    folder keeps its caches), the backbone (ONNX file hash, or the checkpoint's path and index hash), its
    options and the storage dtype."""
    fingerprint = {"source_fingerprint": manifest.get("fingerprint") or outputs.file_digest(
                       manifests.path(data_dir)),
                   "backbone": backbone.name, "backbone_options": backbone.options,
                   "embedding_size": backbone.embedding_size, "features_dtype": features_dtype, "checkpoint": None}
    if backbones.is_onnx(backbone.name):
        fingerprint["onnx_sha256"] = outputs.file_digest(backbone.name[len(backbones.ONNX_PREFIX):])
    if checkpoint:
        fingerprint["checkpoint"] = os.path.abspath(checkpoint)
        fingerprint["checkpoint_index_sha256"] = outputs.file_digest(checkpoint + ".index")
    return fingerprint


def degraded_copy_name(filename, copy, tag=None):
    """The cache's name of a degraded copy: Person/Person_0001.jpg, 2 -> Person/Person_0001_q2.jpg; with a
    tag (what made it, e.g. blur-3): Person/Person_0001_q2_blur-3.jpg."""
    root, extension = os.path.splitext(filename)
    return "%s_q%d%s%s" % (root, copy, "_" + tag if tag else "", extension)


class BackboneRunner(object):
    """The frozen backbone in a session of its own: run(standardised images) -> (features [N, F], mu [N, D]),
    and with with_norms the norm [N] of the embedding mu was normalised from (MagFace's quality).

    Used as a context manager (the session closes at exit). checkpoint: the SphereNet weights (None for ONNX).
    """

    def __init__(self, backbone, image_size, checkpoint=None):
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.images = tf.placeholder(tf.float32, [None, image_size[0], image_size[1], 3], name="images")
            self.mu, self.features = backbones.frozen_backbone(self.images, backbone)
            self.norms = backbones.embedding_norm(self.mu)
            self.session = tf.Session(graph=self.graph)
            scope = backbones.variable_scope(backbone.name)
            if scope:
                checkpoints.restore_variables(self.session, checkpoint, tf.global_variables(scope + "/"))
        self.feature_size, self.embedding_size = int(self.features.shape[-1]), int(self.mu.shape[-1])

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.session.close()

    def run(self, faces, batch_size, progress=None, with_norms=False):
        """(features float32 [N, F], mu float32 [N, D][, norms float32 [N]]) of float32 [N, H, W, 3]
        standardised images; progress(count) is called after each batch."""
        fetches = [self.features, self.mu] + ([self.norms] if with_norms else [])
        outputs = []
        for batch in predict.in_batches(faces, batch_size):
            outputs.append(self.session.run(fetches, {self.images: np.stack(batch)}))
            if progress:
                progress(len(batch))
        return tuple(np.concatenate([o[i] for o in outputs]) for i in range(len(fetches)))


def _tagged(degraded):
    """(crop, tag or None) of what a degrade callable returned."""
    return degraded if isinstance(degraded, tuple) else (degraded, None)


def _add_copies(record, degraded_copies, degrade, rng):
    """Sets record["faces"] (its decoded uint8 RGB crops, then degraded_copies rounds of copies of them) and
    extends record["filename"] with the copies' names (degraded_copy_name)."""
    faces = [image_io.decode_rgb(j) for j in record["encoded"]]
    degraded = [_tagged(degrade(face, rng)) for _ in range(degraded_copies) for face in faces]
    record["faces"] = faces + [face for face, _ in degraded]
    record["filename"] = record["filename"] + [
        degraded_copy_name(name, 1 + index // len(faces), degraded[index][1])
        for index, name in enumerate(record["filename"] * degraded_copies)]


def _identity_groups(identities, faces_per_identity, faces_per_run):
    """Consecutive identities in groups of about faces_per_run faces: a group closes at the first identity that
    brings it to faces_per_run (an identity is never split)."""
    group, faces = [], 0
    for record in identities:
        group.append(record)
        faces += faces_per_identity(record)
        if faces >= faces_per_run:
            yield group
            group, faces = [], 0
    if group:
        yield group


def build_cache(data_dir, cache_dir, backbone, pretrained_checkpoint=None, batch_size=64, features_dtype="float16",
                progress=True, overwrite=False, degraded_copies=0, degrade=None, degradation=None):
    """Writes the cache of a TFRecord folder; shards an interrupted run of the same job finished are kept.
    The backbone sees about FACES_PER_RUN faces at a time (whole identities), so memory does not grow with a
    shard's size or its copies.

    The cache folder must be new, empty or an earlier cache with the same fingerprint (see
    cache_fingerprint); anything else is refused (outputs.OutputError) unless `overwrite` clears it.

    Args:
      data_dir: aligned-face TFRecords from data_prep/make_tfrecords.py.
      cache_dir: output folder.
      backbone: the frozen backbone, a backbones.Backbone.
      pretrained_checkpoint: SphereNet weights (required for a SphereNet backbone).
      batch_size: images per backbone run.
      features_dtype: 'float16' (half the disk; features within ~1e-3 relative) or 'float32' (exact).
      overwrite: rebuild a cache_dir made from other inputs, or holding files this pipeline did not write.
      degraded_copies: for quality-aware head training, this many degraded copies of every image are
        cached beside it, as further images of its identity (named <name>_q<copy>), drawn with
        degrade(uint8 RGB crop, numpy RandomState) -> uint8 RGB crop, or (crop, tag) to name the copy after
        what made it (degraded_copy_name); seeded per shard: reproducible.
      degradation: what degrade draws (a short text), kept in the fingerprint with degraded_copies, so that
        an interrupted cache is never finished with copies of another generator or naming.

    Returns:
      the cache's manifest dict.
    """
    manifest = manifests.read(data_dir)
    scope = backbones.variable_scope(backbone.name)
    if scope and not pretrained_checkpoint:
        raise errors.UserError("caching a %s backbone needs --pretrained_ckpt (a random backbone is not worth caching)"
                         % backbone.name)
    checkpoint = checkpoints.resolve_checkpoint(pretrained_checkpoint) if scope else None
    outputs.check_run_paths({"cache_dir": cache_dir}, {"data_dir": data_dir,
                                                       "pretrained_ckpt": pretrained_checkpoint if scope else None})
    fingerprint = cache_fingerprint(data_dir, manifest, backbone, checkpoint, features_dtype)
    fingerprint["degraded_copies"] = degraded_copies
    if degraded_copies:
        if not degradation:
            raise ValueError("build_cache: degraded copies need the degradation that makes them")
        fingerprint["degradation"] = degradation
    with outputs.claimed_directory(cache_dir, feature_cache.OUTPUT_KIND, "cache_dir", fingerprint, overwrite,
                                   "cache_features"):
        return _write_cache(data_dir, cache_dir, manifest, backbone, checkpoint, fingerprint, batch_size,
                            features_dtype, progress, degraded_copies, degrade)


def _write_cache(data_dir, cache_dir, manifest, backbone, checkpoint, fingerprint, batch_size, features_dtype,
                 progress, degraded_copies, degrade):
    """build_cache's work once the folder is claimed: the shards not written yet, then the manifest."""
    from tqdm import tqdm  # pylint: disable=import-outside-toplevel
    height, width = manifest["image_size"]
    copies = 1 + degraded_copies
    with BackboneRunner(backbone, (height, width), checkpoint) as runner:
        bar = tqdm(total=2 * copies * sum(s["images"] for s in manifest["shards"]), unit="img", desc="cache_features "
                   "(images and mirrors)", disable=not progress, mininterval=1.0)

        def run(faces):
            return runner.run(faces, batch_size, bar.update)

        for shard_index, shard in enumerate(manifest["shards"]):
            target = os.path.join(cache_dir, shard["file"])
            if os.path.exists(target):
                bar.update(2 * copies * shard["images"])
                continue
            identities = tfrecord_schema.read_identities(os.path.join(data_dir, shard["file"]))
            rng = np.random.RandomState(shard_index)  # drawn identity by identity, in the shard's order
            with tf.io.TFRecordWriter(atomic_files.partial_path(target)) as writer:
                for group in _identity_groups(identities, lambda r: copies * len(r["encoded"]), FACES_PER_RUN):
                    for record in group:
                        _add_copies(record, degraded_copies, degrade, rng)
                    batch = np.stack([network_input.network_input(face, (height, width))
                                      for record in group for face in record["faces"]])
                    plain_features, plain_mu = run(batch)
                    flipped_features, flipped_mu = run(batch[:, :, ::-1, :])
                    start = 0
                    for record in group:
                        rows = slice(start, start + len(record["faces"]))
                        start = rows.stop
                        writer.write(tfrecord_schema.cache_example(
                            plain_features[rows], flipped_features[rows], plain_mu[rows], flipped_mu[rows],
                            record["filename"], record["label"], record["identity"], features_dtype))
            os.replace(atomic_files.partial_path(target), target)
        bar.close()
        feature_size, dims = runner.feature_size, runner.embedding_size
    cache_manifest = dict(manifest)
    cache_manifest["shards"] = [dict(shard, images=copies * shard["images"],
                                     bytes=os.path.getsize(os.path.join(cache_dir, shard["file"])))
                                for shard in manifest["shards"]]
    cache_manifest["identities"] = [dict(identity, images=copies * identity["images"])
                                    for identity in manifest["identities"]]
    cache_manifest["num_images"] = copies * manifest["num_images"]
    cache_manifest["fingerprint"] = fingerprint
    cache_manifest["cache"] = {"source": os.path.abspath(data_dir), "backbone": backbone.name,
                               "backbone_options": backbone.options, "feature_size": feature_size,
                               "embedding_size": dims, "features_dtype": features_dtype,
                               "checkpoint": fingerprint["checkpoint"], "degraded_copies": degraded_copies}
    manifests.write(cache_dir, cache_manifest)
    return cache_manifest

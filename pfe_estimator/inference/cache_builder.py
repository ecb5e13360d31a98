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
from pfe_estimator.inference import backbone_runtimes
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
    options, the storage dtype, TensorFlow's version and XLA where the runner compiles the backbone with it (other
    bits: backbone_runtimes.runtime_key)."""
    fingerprint = {"source_fingerprint": manifest.get("fingerprint") or outputs.file_digest(
                       manifests.path(data_dir)),
                   "backbone": backbone.name, "backbone_options": backbone.options,
                   "embedding_size": backbone.embedding_size, "features_dtype": features_dtype, "checkpoint": None}
    fingerprint.update(backbone_runtimes.runtime_key(backbone))
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


def _group_outputs(group, originals, run, image_size):
    """Per identity of a group, (features, features of the mirrors, mu, mu of the mirrors) of its faces (the
    originals, then their copies): run through the backbone, or the originals' taken from the clean cache's
    records (`originals`, an iterator in the same identity order) and only the copies run."""
    skip = [len(record["encoded"]) if originals is not None else 0 for record in group]
    kept = [next(originals) for _ in group] if originals is not None else [None] * len(group)
    for record, stored in zip(group, kept):
        if stored is not None and stored["filename"] != record["filename"][:len(stored["filename"])]:
            raise errors.UserError("the clean cache's record of %s lists other images than the records; rebuild "
                                   "the clean cache" % record["identity"])
    batch = np.stack([network_input.network_input(face, image_size) for record, first in zip(group, skip)
                      for face in record["faces"][first:]])
    plain_features, plain_mu = run(batch)
    flipped_features, flipped_mu = run(batch[:, :, ::-1, :])
    start = 0
    for record, first, stored in zip(group, skip, kept):
        rows = slice(start, start + len(record["faces"]) - first)
        start = rows.stop
        computed = (plain_features[rows], flipped_features[rows], plain_mu[rows], flipped_mu[rows])
        if stored is None:
            yield computed
        else:
            yield tuple(np.concatenate([stored[key].astype(part.dtype), part]) for key, part in zip(
                ("features", "features_flipped", "mu", "mu_flipped"), computed))


def build_cache(data_dir, cache_dir, backbone, pretrained_checkpoint=None, batch_size=64, features_dtype="float16",
                progress=True, overwrite=False, degraded_copies=0, degrade=None, degradation=None, clean_cache=None):
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
      clean_cache: a cache of the same records by the same backbone without copies: the original images' outputs
        (and their mirrors') are taken from it, and only the copies run (the same content, a third of a
        two-copy cache's passes saved); refused when it was made from other records or another backbone.

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
    if clean_cache:
        check_clean_cache(clean_cache, fingerprint)
    with outputs.claimed_directory(cache_dir, feature_cache.OUTPUT_KIND, "cache_dir", fingerprint, overwrite,
                                   "cache_features"):
        return _write_cache(data_dir, cache_dir, manifest, backbone, checkpoint, fingerprint, batch_size,
                            features_dtype, progress, degraded_copies, degrade, clean_cache)


def check_clean_cache(clean_cache, fingerprint):
    """Raises a one-line UserError unless clean_cache holds the same records' outputs by the same backbone, no
    copies: what a cache with copies may take its originals' outputs from."""
    made = manifests.read(clean_cache).get("fingerprint") or {}
    changed = sorted(key for key in set(made) | set(fingerprint) if key not in ("degraded_copies", "degradation")
                     and made.get(key) != fingerprint.get(key))
    if changed or made.get("degraded_copies"):
        raise errors.UserError("%s: not a clean cache of these records by this backbone (it differs in %s); build "
                               "the copies without it" % (clean_cache, ", ".join(changed or ["degraded_copies"])))


def _write_cache(data_dir, cache_dir, manifest, backbone, checkpoint, fingerprint, batch_size, features_dtype,
                 progress, degraded_copies, degrade, clean_cache=None):
    """build_cache's work once the folder is claimed: the shards not written yet, then the manifest."""
    from tqdm import tqdm  # pylint: disable=import-outside-toplevel
    height, width = manifest["image_size"]
    copies = 1 + degraded_copies
    run_per_image = 2 * (degraded_copies if clean_cache else copies)  # passes (a face and its mirror) per image
    images = sum(s["images"] for s in manifest["shards"])
    if clean_cache:
        print("cache_features: %d passes to run (%d copies of each image and their mirrors); %d reused from the "
              "clean cache %s" % (run_per_image * images, degraded_copies, 2 * images, clean_cache))
    with backbone_runtimes.runner(backbone, (height, width), checkpoint) as runner:
        bar = tqdm(total=run_per_image * images, unit="img", desc="cache_features (images and mirrors)",
                   disable=not progress, mininterval=1.0)

        def run(faces):  # features kept in the cache's dtype as they come (float16: half the copying)
            return runner.run(faces, batch_size, bar.update, features_dtype=features_dtype)

        for shard_index, shard in enumerate(manifest["shards"]):
            target = os.path.join(cache_dir, shard["file"])
            if os.path.exists(target):
                bar.update(run_per_image * shard["images"])
                continue
            identities = tfrecord_schema.read_identities(os.path.join(data_dir, shard["file"]))
            originals = (tfrecord_schema.read_cache_identities(os.path.join(clean_cache, shard["file"]),
                                                               features_dtype) if clean_cache else None)
            rng = np.random.RandomState(shard_index)  # drawn identity by identity, in the shard's order
            with tf.io.TFRecordWriter(atomic_files.partial_path(target)) as writer:
                for group in _identity_groups(identities, lambda r: copies * len(r["encoded"]), FACES_PER_RUN):
                    for record in group:
                        _add_copies(record, degraded_copies, degrade, rng)
                    for record, outputs_ in zip(group, _group_outputs(group, originals, run, (height, width))):
                        writer.write(tfrecord_schema.cache_example(*outputs_, filenames=record["filename"],
                                                                   label=record["label"], identity=record["identity"],
                                                                   features_dtype=features_dtype))
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

"""The manifest: one JSON value beside a folder of shards that says what the folder holds.

Every folder of identity records has `manifest.json` (image TFRecords from data/record_writer.py, feature
caches from inference/cache_builder.py, subsets of a cache from data/feature_cache.py): its template and
image size, the fingerprint of what made it, its shards (file, identities, images, bytes) and identities
(name, label, images); a cache adds a `cache` section (backbone, sizes, dtype, degraded copies).

Imported as `manifests` (a folder's dict is a `manifest`). Reading checks it; a shard that is missing, of
another length, or damaged is named with what to do.
"""
import json
import os

import tensorflow.compat.v1 as tf

from pfe_estimator import errors
from pfe_estimator.data import tfrecord_schema
from pfe_estimator.storage import atomic_files

NAME = "manifest.json"


def path(folder):
    return os.path.join(folder, NAME)


def exists(folder):
    return bool(folder) and tf.gfile.Exists(path(folder))


def read(folder):
    """The manifest dict of a folder of records.

    Raises:
      UserError: no manifest there, or not JSON, naming the folder or file.
    """
    if not tf.gfile.Exists(path(folder)):
        raise errors.UserError("%s: no %s (make it with data_prep/make_tfrecords.py)" % (folder, NAME))
    with tf.gfile.GFile(path(folder)) as f:
        try:
            return json.load(f)
        except ValueError as error:
            raise errors.UserError("%s: not valid JSON (%s); rebuild the folder with data_prep/make_tfrecords.py"
                                   % (path(folder), error))


def write(folder, manifest):
    """Writes the manifest dict atomically (the folder is finished when it is there)."""
    atomic_files.write_json(path(folder), manifest)


def check(folder, manifest):
    """Raises a one-line UserError when the manifest contradicts itself or its shards' sidecars: identity
    and image counts that do not add up, labels that are not 0..C-1, a sidecar listing other identities.
    (A hand-edited or mixed manifest would otherwise train silently on other data than it says.)"""
    where = path(folder)
    identities, shards = manifest.get("identities", []), manifest.get("shards", [])

    def total(entries, key):  # None where the entries do not all say (a hand-written manifest)
        return sum(entry[key] for entry in entries) if all(key in entry for entry in entries) else None

    counts = {"num_identities": (manifest.get("num_identities"), len(identities), total(shards, "identities")),
              "num_images": (manifest.get("num_images"), total(identities, "images"), total(shards, "images"))}
    for key, (stated, listed, by_shard) in sorted(counts.items()):
        if len({value for value in (stated, listed, by_shard) if value is not None}) > 1:
            raise errors.UserError("%s: %s is %s, its identity list adds up to %s and its shards to %s; the manifest "
                                   "was edited or mixed: rebuild the folder" % (where, key, stated, listed, by_shard))
    if sorted(i["label"] for i in identities) != list(range(len(identities))):
        raise errors.UserError("%s: the identity labels are not 0..%d; rebuild the folder"
                               % (where, len(identities) - 1))
    for shard in shards:
        sidecar = os.path.join(folder, shard["file"]) + ".json"
        if not tf.gfile.Exists(sidecar):
            continue
        with tf.gfile.GFile(sidecar) as f:
            try:
                listed = json.load(f).get("identities", [])
            except ValueError:
                continue
        if len(listed) != shard.get("identities", len(listed)):
            raise errors.UserError("%s: lists %d identities, %s records %d for this shard; rebuild the folder"
                                   % (sidecar, len(listed), where, shard["identities"]))


def check_shards(folder, manifest):
    """Raises a one-line UserError naming a shard that is missing or of another length than recorded
    (truncated, replaced), before anything reads it."""
    for shard in manifest["shards"]:
        shard_path = os.path.join(folder, shard["file"])
        if not tf.gfile.Exists(shard_path):
            raise errors.UserError("%s: missing (listed in %s); rebuild the folder" % (shard_path, NAME))
        if "bytes" in shard and tf.gfile.Stat(shard_path).length != shard["bytes"]:
            raise errors.UserError("%s: %d bytes, the manifest recorded %d (truncated or replaced); rebuild the folder"
                                   % (shard_path, tf.gfile.Stat(shard_path).length, shard["bytes"]))


def shard_files(folder, manifest):
    """Paths of the manifest's non-empty shards."""
    return [os.path.join(folder, shard["file"]) for shard in manifest["shards"] if shard["identities"]]


def find_damage(folder, manifest):
    """The first damaged record or image of the folder's shards (tfrecord_schema.find_damage), or None."""
    for shard_path in shard_files(folder, manifest):
        damage = tfrecord_schema.find_damage(shard_path, cache="cache" in manifest)
        if damage:
            return damage
    return None

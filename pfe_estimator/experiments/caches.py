"""SFace's outputs the protocols share, in the work folder keyed by what made them (experiments/work_folder.py),
and one value for the faces of any of them (CachedFaces).

  cache             every record image (and degraded copies of each) through SFace: a training cache
  head_cache        a cache as a head reads it (its map averaged over positions, derived once)
  training_cache    the held-out schemes' training cache: copies of every kind at the scheme's severities
  training_subset   a training cache without a held-out kind's copies (dropped once its heads are trained)
  per_image_draws   the kind and severity of each image's degraded copy
  degraded_copies   the degraded sides of the pairs a protocol scores or calibrates on, drawn per image, each
                    copy kept once for every protocol (copy_store)
  clean_qualities   SFace's embedding norm and the sharpness of clean crops
  faces             a cache's faces as CachedFaces
"""
import collections
import os
import shutil

import numpy as np

from pfe_estimator.data import feature_cache
from pfe_estimator.data import manifest as manifests
from pfe_estimator.experiments import copy_store
from pfe_estimator.experiments import fold_heads
from pfe_estimator.experiments import lfw_data
from pfe_estimator.experiments import work_folder
from pfe_estimator.faces import alignment
from pfe_estimator.faces import image_io
from pfe_estimator.faces import kinds
from pfe_estimator.faces import network_input
from pfe_estimator.inference import cache_builder
from pfe_estimator.inference import predict
from pfe_estimator.storage import atomic_files

BATCH = 64  # faces per SFace run


class CachedFaces(collections.namedtuple("CachedFaces", ["names", "features", "mu", "norm", "sharpness"])):
    """SFace's outputs of a set of faces: names [N], features [N, F] (what a head reads; float16 or float32),
    mu [N, D]; norm [N] (the norm of the embedding mu was normalised from: MagFace's quality) and sharpness [N]
    (the variance of the crop's Laplacian), None where not measured."""
    __slots__ = ()

    def rows(self, rows):
        """The faces at `rows` (int [M])."""
        return CachedFaces(*(value if value is None else np.asarray(value)[rows] for value in self))

    def as_head_reads(self, head_input, channels):
        """The faces with their features as a head reading `head_input` takes them: the map averaged over its
        positions (float32), or as stored (a flattened map stays float16 until a fold's rows are read)."""
        if head_input == "pooled" and self.features.shape[1] != channels:
            return self._replace(features=feature_cache.pooled(self.features, channels))
        return self


def faces(cache_dir, wanted_names=None):
    """CachedFaces of a cache's images (the unmirrored outputs), optionally only `wanted_names`."""
    names, features, mu = feature_cache.read_cache_arrays(cache_dir, wanted_names)
    return CachedFaces(list(names), features, mu, None, None)


def cache(records, sface, work_dir, copies=0, copy_kinds=(), severities=()):
    """SFace's outputs of every record image (and `copies` degraded copies of each, of `copy_kinds` at
    `severities`, each named after its kind and severity), its map flattened, in
    WORK_DIR/caches/<what>-<key> (built once, resumed after an interruption). A cache with copies takes the
    images' own outputs from the clean cache (built first when missing): SFace runs on the copies alone.
    Returns the cache folder."""
    key = {"records": records.key, "sface": sface.key(), "copies": copies}
    degrade = description = None
    if copies:
        description = kinds.copies_description(copy_kinds, severities)
        key["degradation"] = description
        draw, points = kinds.random_degradation(copy_kinds, severities), alignment.template(lfw_data.TEMPLATE)[1]
        degrade = lambda face, rng: draw(face, points, rng)  # noqa: E731
    folder = work_folder.path(work_dir, "caches", "%dcopies" % copies if copies else "clean", key)
    if manifests.exists(folder):
        print("cache_features: reused %s (%d images)" % (folder, manifests.read(folder)["num_images"]))
    else:
        cache_builder.build_cache(records.folder, folder, sface.backbone(), batch_size=BATCH, degraded_copies=copies,
                                  degrade=degrade, degradation=description,
                                  clean_cache=cache(records, sface, work_dir) if copies else None)
    return folder


def head_cache(cache_dir, head_input, sface):
    """The cache a head reading `head_input` trains on: cache_dir, or for 'pooled' its features averaged over
    SFace's map positions, derived once beside it (no SFace run; keyed by its source)."""
    if head_input == "flattened":
        return cache_dir
    return subset(cache_dir, lambda filename: True, "features averaged over positions", sface.channels)


def subset(cache_dir, keep_image, description, pooled_channels=None):
    """cache_dir's images that keep_image(filename) keeps, as a cache beside it named after what it keeps
    (feature_cache.write_subset); with pooled_channels, their features averaged over positions."""
    folder = "%s-%s" % (cache_dir, work_folder.digest({"keeps": description, "pooled": pooled_channels})[:12])
    feature_cache.write_subset(cache_dir, folder, keep_image, description, pooled_channels=pooled_channels)
    return folder


def copy_kind(filename):
    """The kind a cached copy was degraded by (None for an original image)."""
    return feature_cache.copy_quality(filename)[0]


def training_cache(context, head, scheme):
    """The cache of every image and head.copies copies of any kind at the scheme's training severities."""
    return cache(context.records, context.sface, context.inputs.work_dir, head.copies, kinds.KINDS,
                 fold_heads.training_severities(head, scheme))


def training_subset(context, head, cache_dir, excluded):
    """What a held-out run's heads train on: cache_dir without copies of the `excluded` kinds, as the head
    reads it (a subset derived beside it; drop_subset removes it once the heads are trained)."""
    if not excluded:
        return head_cache(cache_dir, head.input, context.sface)
    return subset(cache_dir, lambda filename: copy_kind(filename) not in excluded,
                  "without copies of %s" % ",".join(sorted(excluded)),
                  context.sface.channels if head.input == "pooled" else None)


def drop_subset(subset_dir, excluded):
    """Removes a subset without a kind's copies (2.6 GB a kind at one copy; a rerun derives it in a minute)."""
    if excluded:
        shutil.rmtree(subset_dir)


def per_image_draws(count, kind_names, severities, seed):
    """(kinds [N], severities [N]) of N images' degraded copies, drawn with RandomState(seed)."""
    rng = np.random.RandomState(seed)
    return (np.array([kind_names[i] for i in rng.randint(len(kind_names), size=count)]),
            np.array(severities)[rng.randint(len(severities), size=count)])


def degraded_copies(records, sface, runner, names, draws, work_dir, indices=None):
    """CachedFaces of `names` degraded as `draws` says ((kinds [P], severities [P], seed): image i degraded with
    RandomState([seed, indices[i]]), indices [P] defaulting to 0..P-1, so that a subset of a list of images
    draws what the whole list would): features float16 [P, F], mu [P, D], norm [P] and sharpness [P] of the
    degraded crops. Each copy is kept once in the work folder's copy store (experiments/copy_store.py), keyed by
    its image, kind, severity and draw: SFace runs only on copies no protocol has made before."""
    kind, severity, seed = draws
    indices = np.arange(len(names)) if indices is None else np.asarray(indices)
    keys = [copy_store.copy_key(name, k, s, seed, i) for name, k, s, i in zip(names, kind, severity, indices)]
    store = copy_store.folder(work_dir, records, sface)
    held = copy_store.held(store)
    missing = [i for i, key in enumerate(keys) if key not in held]
    print("degraded copies: %d to run through SFace, %d reused from %s" % (len(missing), len(keys) - len(missing),
                                                                          store))
    if missing:
        copy_store.add(store, [keys[i] for i in missing], _degraded_outputs(
            records, runner, [names[i] for i in missing], kind[missing], severity[missing], seed, indices[missing]))
        held = copy_store.held(store)
    return CachedFaces(list(names), **copy_store.read(store, keys, held))


def _degraded_outputs(records, runner, names, kind, severity, seed, indices):
    """{features, mu, norm, sharpness} of `names` degraded as degraded_copies says, through SFace."""
    found, jpegs = predict.read_tfrecord_faces(records.folder, set(names))
    jpeg_of = dict(zip(found, jpegs))
    points, sharpness = alignment.template(lfw_data.TEMPLATE)[1], []

    def crops():
        for index, name, k, s in zip(indices, names, kind, severity):
            crop = kinds.degrade(image_io.decode_rgb(jpeg_of[name]), k, int(s), points,
                                 np.random.RandomState([seed, int(index)]))
            sharpness.append(image_io.laplacian_variance(crop))
            yield network_input.network_input(crop, lfw_data.IMAGE_SIZE)
    with _bar(len(names), "SFace on degraded copies") as bar:
        features, mu, norm = runner.run(crops(), BATCH, progress=bar.update, with_norms=True,
                                        features_dtype=np.float16)
    return {"features": features, "mu": mu, "norm": norm, "sharpness": np.array(sharpness, np.float32)}


def clean_qualities(records, sface, runner, names, work_dir):
    """CachedFaces of the clean crops of `names` with their norm and sharpness measured (no features, no mu),
    kept in WORK_DIR/qualities/clean-<key>.npz."""
    target = work_folder.path(work_dir, "qualities", "clean", {"records": records.key, "sface": sface.key(),
                                                                     "names": work_folder.digest(list(names))}, ".npz")
    if os.path.exists(target):
        return _saved(target, names)
    found, jpegs = predict.read_tfrecord_faces(records.folder, set(names))
    jpeg_of = dict(zip(found, jpegs))
    crops = [image_io.decode_rgb(jpeg_of[name]) for name in names]
    with _bar(len(names), "SFace embedding norms") as bar:
        norm = runner.run((network_input.network_input(crop, lfw_data.IMAGE_SIZE) for crop in crops), BATCH,
                          progress=bar.update, with_norms=True)[2]
    made = CachedFaces(list(names), None, None, norm,
                       np.array([image_io.laplacian_variance(c) for c in crops], np.float32))
    _save(target, made)
    return made


def _save(target, made):
    if not os.path.isdir(os.path.dirname(target)):
        os.makedirs(os.path.dirname(target))
    with atomic_files.writing(target) as temporary, open(temporary, "wb") as f:
        np.savez(f, **{name: value for name, value in made._asdict().items() if value is not None and name != "names"})


def _saved(target, names):
    with np.load(target) as saved:
        return CachedFaces(list(names), *(saved[name] if name in saved.files else None
                                          for name in CachedFaces._fields[1:]))


def _bar(total, description):
    """A progress bar over `total` faces."""
    from tqdm import tqdm  # pylint: disable=import-outside-toplevel
    return tqdm(total=total, unit="img", desc=description)

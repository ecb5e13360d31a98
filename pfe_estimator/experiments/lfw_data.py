"""What the experiments make of LFW and SFace in the work folder, each artefact keyed by what made it
(experiments/work_folder.py): aligned records, SFace's precision, its cached outputs (clean, with degraded
copies, pooled, without a kind's copies) and the degraded sides of held-out test pairs.
"""
import collections
import os

import numpy as np
import tensorflow.compat.v1 as tf

from pfe_estimator import errors
from pfe_estimator.data import feature_cache
from pfe_estimator.data import manifest as manifests
from pfe_estimator.data import record_writer
from pfe_estimator.evaluation import identity_folds
from pfe_estimator.data import pair_files
from pfe_estimator.experiments import work_folder
from pfe_estimator.faces import alignment
from pfe_estimator.faces import image_io
from pfe_estimator.faces import kinds
from pfe_estimator.faces import network_input
from pfe_estimator.inference import cache_builder
from pfe_estimator.inference import precision_check
from pfe_estimator.inference import predict
from pfe_estimator.model import backbones
from pfe_estimator.storage import atomic_files
from pfe_estimator.storage import outputs

TEMPLATE = "112x112"
IMAGE_SIZE = (112, 112)
EMBEDDING_SIZE = 128
LANDMARK_FILE = "ldmark_lfw_mtcnncaffe.txt"
LANDMARK_IMAGE_SIZE = (250, 250)  # the released landmark file is in the original photos' coordinates
BATCH = 64  # faces per SFace run
COPY_ARRAYS = ("features", "mu", "norm", "sharpness")  # what a degraded copy keeps


class Inputs(collections.namedtuple("Inputs", ["lfw_dir", "sface", "work_dir", "output_dir"])):
    """The paths an experiment reads and writes (from the command line, never from a config file).

    lfw_dir: images/, the landmark file, pairs.txt, people.txt. sface: the .onnx file. work_dir: the
    artefacts and reports. output_dir: where a reference model goes (None for the other protocols).
    """
    __slots__ = ()

    def pairs_file(self):
        return os.path.join(self.lfw_dir, "pairs.txt")

    def people_file(self):
        return os.path.join(self.lfw_dir, "people.txt")


class Context(collections.namedtuple("Context", ["config", "inputs", "records", "sface", "pairs", "people",
                                                 "protocol_key"])):
    """What every protocol starts from: the Experiment, its Inputs, aligned LFW (Records), the frozen SFace
    (Sface), pairs.txt (pair_files.LfwPairs), people.txt's folds and the protocol files' key."""
    __slots__ = ()


def context(config, inputs):
    """The Context of an experiment: LFW aligned (or found aligned) in the work folder, SFace's precision
    decided on its first faces, the protocol files read."""
    records = aligned_lfw(inputs)
    pairs, people, key = read_protocol(inputs)
    return Context(config, inputs, records, frozen_sface(inputs.sface, config.backbone_precision, records), pairs,
                   people, key)


class Records(collections.namedtuple("Records", ["folder", "manifest", "key"])):
    """Aligned face records: the folder, its manifest and its key (the photos' content fingerprint)."""
    __slots__ = ()


class Sface(collections.namedtuple("Sface", ["path", "sha256", "precision", "why", "channels"])):
    """The frozen SFace: its file, the file's sha256, the precision it computes in (and why), and C of the
    conv map its head input is made from (the width of pooled features)."""
    __slots__ = ()

    def backbone(self, head_input="flattened", precision=None):
        """The backbones.Backbone of SFace with the head reading its map `head_input`, in its precision (or
        `precision`: exports compute in fp32)."""
        options = {}
        if head_input != "flattened":
            options["head_input"] = head_input
        if (precision or self.precision) != "fp32":
            options["precision"] = precision or self.precision
        return backbones.Backbone(backbones.ONNX_PREFIX + self.path, EMBEDDING_SIZE, options or None)

    def key(self):
        return {"sha256": self.sha256, "precision": self.precision}


CROP_SETTINGS = record_writer.CropSettings(TEMPLATE, 95, LANDMARK_IMAGE_SIZE, "skip", None, 0.6)
IMAGES_PER_SHARD = 2000


def _photos(image_root, landmark_file):
    root, identities = record_writer.list_identities(image_root)
    landmarks = alignment.read_landmark_file(landmark_file)
    return root, identities, landmarks, record_writer.run_fingerprint(root, identities, landmarks, CROP_SETTINGS,
                                                                      IMAGES_PER_SHARD, 1)


def aligned(image_root, landmark_file, what, work_dir):
    """The photos under image_root aligned to the 112x112 template by their landmarks, in
    WORK_DIR/records/<what>-<key> (resumed on a rerun); the key is the photos' content fingerprint."""
    root, identities, landmarks, key = _photos(image_root, landmark_file)
    folder = work_folder.path(work_dir, "records", what, key)
    manifest = record_writer.write_records(root, identities, landmarks, folder, CROP_SETTINGS, os.cpu_count() or 1,
                                           IMAGES_PER_SHARD, 1)
    return Records(folder, manifest, work_folder.digest(key))


def lfw_paths(inputs):
    return os.path.join(inputs.lfw_dir, "images"), os.path.join(inputs.lfw_dir, LANDMARK_FILE)


def aligned_lfw(inputs):
    return aligned(*lfw_paths(inputs), what="lfw", work_dir=inputs.work_dir)


def lfw_key(inputs):
    """The key of the LFW folder's content: its photos, landmarks, pairs.txt and people.txt."""
    return {"photos": work_folder.digest(_photos(*lfw_paths(inputs))[3]),
            "pairs": outputs.file_digest(inputs.pairs_file()), "people": outputs.file_digest(inputs.people_file())}


def check_sface(path):
    """path, when it is a file; a one-line UserError otherwise."""
    if not os.path.isfile(path):
        raise errors.UserError("--sface=%s: no such file (scripts/fetch_models.py fetches SFace)" % path)
    return path


def frozen_sface(path, precision, records):
    """The Sface of the run: --backbone_precision=auto becomes a precision here (inference.precision_check,
    on the first faces of `records`), said once."""
    sface = Sface(path, outputs.file_digest(check_sface(path)), precision, "backbone_precision=" + precision,
                  map_channels(path))
    if precision != "auto":
        return sface
    device = "gpu" if tf.config.experimental.list_physical_devices("GPU") else "cpu"

    def faces():
        return precision_check.decodable_faces(predict.read_tfrecord_faces(records.folder, limit=16)[1], IMAGE_SIZE)

    choice, why = precision_check.auto_precision(device, sface.backbone(precision="fp32"), faces)
    print("SFace precision: %s (auto: %s)" % (choice, why))
    return sface._replace(precision=choice, why="auto: " + why)


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
        draw, points = kinds.random_degradation(copy_kinds, severities), alignment.template(TEMPLATE)[1]
        degrade = lambda face, rng: draw(face, points, rng)  # noqa: E731
    folder = work_folder.path(work_dir, "caches", "%dcopies" % copies if copies else "clean", key)
    if not manifests.exists(folder):
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


def map_channels(sface_path):
    """C of the conv map SFace's head input is made from."""
    with tf.Graph().as_default():
        _, features = backbones.frozen_backbone(tf.placeholder(tf.float32, [None, 112, 112, 3]), backbones.Backbone(
            backbones.ONNX_PREFIX + sface_path, EMBEDDING_SIZE, {"head_input": "pooled"}))
    return int(features.shape[-1])


def read_protocol(inputs):
    """(pairs.txt's LfwPairs, people.txt's folds) of the LFW folder, and their key (the files' digests)."""
    pairs = pair_files.read_lfw_pairs(inputs.pairs_file())
    people = pair_files.read_people_folds(inputs.people_file())
    identity_folds.check_folds(pairs, people, inputs.pairs_file(), inputs.people_file())
    return pairs, people, {"pairs": outputs.file_digest(inputs.pairs_file()),
                           "people": outputs.file_digest(inputs.people_file())}


def degraded_copies(records, sface, runner, names, draws, key, work_dir, indices=None):
    """SFace's outputs of `names` degraded as `draws` says ((kinds [P], severities [P], seed): image i degraded
    with RandomState([seed, indices[i]]), indices [P] defaulting to 0..P-1, so that a subset of a list of images
    draws what the whole list would), kept in WORK_DIR/test_sides/<key>.npz for reruns of the same names, draws,
    records and SFace: {'features': float16 [P, F], 'mu': float32 [P, D], 'norm': float32 [P], the norm of the
    embedding before normalisation, 'sharpness': float32 [P], the variance of the degraded crop's Laplacian}."""
    kind, severity, seed = draws
    indices = np.arange(len(names)) if indices is None else np.asarray(indices)
    target = work_folder.path(work_dir, "test_sides", "sides", dict(
        key, records=records.key, sface=sface.key(), seed=seed, arrays=COPY_ARRAYS,
        names=work_folder.digest([str(n) for n in names]), draws=work_folder.digest(
            [[str(k), int(s), int(i)] for k, s, i in zip(kind, severity, indices)])), ".npz")
    if os.path.exists(target):
        with np.load(target) as saved:
            return {name: saved[name] for name in COPY_ARRAYS}
    found, jpegs = predict.read_tfrecord_faces(records.folder, set(names))
    jpeg_of = dict(zip(found, jpegs))
    points, sharpness = alignment.template(TEMPLATE)[1], []

    def faces():
        for index, name, k, s in zip(indices, names, kind, severity):
            crop = kinds.degrade(image_io.decode_rgb(jpeg_of[name]), k, int(s), points,
                                 np.random.RandomState([seed, int(index)]))
            sharpness.append(image_io.laplacian_variance(crop))
            yield network_input.network_input(crop, IMAGE_SIZE)
    with _bar(len(names), "SFace on degraded copies") as bar:
        features, mu, norm = runner.run(faces(), BATCH, progress=bar.update, with_norms=True)
    arrays = {"features": features.astype(np.float16), "mu": mu, "norm": norm,
              "sharpness": np.array(sharpness, np.float32)}
    if not os.path.isdir(os.path.dirname(target)):
        os.makedirs(os.path.dirname(target))
    with atomic_files.writing(target) as temporary, open(temporary, "wb") as f:
        np.savez(f, **arrays)
    return arrays


def clean_qualities(records, sface, runner, names, work_dir):
    """{'norm', 'sharpness'} float32 [N] of the clean crops of `names` (SFace's embedding norm, the crop's
    Laplacian variance), kept in WORK_DIR/test_sides/qualities-<key>.npz."""
    target = work_folder.path(work_dir, "test_sides", "qualities", {"records": records.key, "sface": sface.key(),
                                                                     "names": work_folder.digest(list(names))}, ".npz")
    if os.path.exists(target):
        with np.load(target) as saved:
            return {"norm": saved["norm"], "sharpness": saved["sharpness"]}
    found, jpegs = predict.read_tfrecord_faces(records.folder, set(names))
    jpeg_of = dict(zip(found, jpegs))
    crops = [image_io.decode_rgb(jpeg_of[name]) for name in names]
    with _bar(len(names), "SFace embedding norms") as bar:
        norm = runner.run((network_input.network_input(crop, IMAGE_SIZE) for crop in crops), BATCH,
                          progress=bar.update, with_norms=True)[2]
    arrays = {"norm": norm, "sharpness": np.array([image_io.laplacian_variance(c) for c in crops], np.float32)}
    if not os.path.isdir(os.path.dirname(target)):
        os.makedirs(os.path.dirname(target))
    with atomic_files.writing(target) as temporary, open(temporary, "wb") as f:
        np.savez(f, **arrays)
    return arrays


def _bar(total, description):
    """A progress bar over `total` faces (SFace runs about 20 faces a second on 2 cores)."""
    from tqdm import tqdm  # pylint: disable=import-outside-toplevel
    return tqdm(total=total, unit="img", desc=description)

"""What every experiment starts from (a Context): LFW aligned to 112x112 in the work folder, keyed by its content
(experiments/work_folder.py), the frozen SFace and the precision it computes in, and LFW's protocol files; the
caches made from them are experiments/caches.py's.
"""
import collections
import os

import tensorflow.compat.v1 as tf

from pfe_estimator import errors
from pfe_estimator.data import record_writer
from pfe_estimator.evaluation import identity_folds
from pfe_estimator.data import pair_files
from pfe_estimator.experiments import work_folder
from pfe_estimator.faces import alignment
from pfe_estimator.inference import backbone_runtimes
from pfe_estimator.inference import precision_check
from pfe_estimator.inference import predict
from pfe_estimator.model import backbones
from pfe_estimator.storage import outputs

TEMPLATE = "112x112"
IMAGE_SIZE = (112, 112)
EMBEDDING_SIZE = 128
LANDMARK_FILE = "ldmark_lfw_mtcnncaffe.txt"
LANDMARK_IMAGE_SIZE = (250, 250)  # the released landmark file is in the original photos' coordinates


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
                                                 "files_key"])):
    """What every protocol starts from: its protocol's config, the Inputs, aligned LFW (Records), the frozen SFace
    (Sface), pairs.txt (pair_files.LfwPairs), people.txt's folds and the key of those two files."""
    __slots__ = ()


def context(config, inputs):
    """The Context of an experiment (an experiments.config.Experiment): LFW aligned (or found aligned) in the
    work folder, SFace's precision decided on its first faces, pairs.txt and people.txt read."""
    records = aligned_lfw(inputs)
    pairs, people, key = read_pair_files(inputs)
    return Context(config.protocol, inputs, records, frozen_sface(inputs.sface, config.backbone_precision, records),
                   pairs, people, key)


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
        """What decides SFace's outputs: its file, its precision, TensorFlow's version and whether XLA compiles it
        (backbone_runtimes.runtime_key)."""
        return dict({"sha256": self.sha256, "precision": self.precision},
                    **backbone_runtimes.runtime_key(self.backbone()))


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


def map_channels(sface_path):
    """C of the conv map SFace's head input is made from."""
    with tf.Graph().as_default():
        _, features = backbones.frozen_backbone(tf.placeholder(tf.float32, [None, 112, 112, 3]), backbones.Backbone(
            backbones.ONNX_PREFIX + sface_path, EMBEDDING_SIZE, {"head_input": "pooled"}))
    return int(features.shape[-1])


def read_pair_files(inputs):
    """(pairs.txt's LfwPairs, people.txt's folds) of the LFW folder, and their key (the files' digests)."""
    pairs = pair_files.read_lfw_pairs(inputs.pairs_file())
    people = pair_files.read_people_folds(inputs.people_file())
    identity_folds.check_folds(pairs, people, inputs.pairs_file(), inputs.people_file())
    return pairs, people, {"pairs": outputs.file_digest(inputs.pairs_file()),
                           "people": outputs.file_digest(inputs.people_file())}

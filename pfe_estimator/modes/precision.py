"""--backbone_precision=auto, decided once per run for the modes that run the frozen backbone here: bf16 where
the hardware has it and mu stays within cosine 0.999 of fp32 on the run's first GUARD_FACES faces
(inference/precision_check.py), fp32 elsewhere. The only step of a run's configuration that runs a model, so
it comes after the mode's own checks and is said in one line."""
import os

import numpy as np
import tensorflow.compat.v1 as tf

from pfe_estimator.data import manifest as manifests
from pfe_estimator.inference import precision_check
from pfe_estimator.inference import predict
from pfe_estimator.modes import records
from pfe_estimator.modes import run_config
from pfe_estimator.storage import checkpoints

GUARD_FACES = 16


def decide(config):
    """config with an 'auto' backbone precision decided (and its backbone built in it); others unchanged. A
    resumed training continues in the precision its model folder records (its record refuses any other)."""
    if config.backbone_precision[0] != "auto":
        return config
    recorded = (config.record.get("backbone_precision") or {}) if config.mode == "train" else {}
    if isinstance(recorded, dict) and recorded.get("used"):
        choice, why = recorded["used"], "the model folder's, a resumed training continues in it"
    else:
        choice, why = precision_check.auto_precision(config.options.device, config.backbone,
                                                     lambda: guard_faces(config), guard_checkpoint(config))
    tf.logging.info("backbone precision: %s (auto: %s)", choice, why)
    return run_config.with_backbone(config._replace(backbone_precision=(choice, "auto: " + why)))


def guard_faces(config):
    """The faces the check runs on: the first GUARD_FACES of the run's image records (--data_dir, else
    --lfw_dir), else seeded random images. float32 [N, H, W, 3] standardised."""
    data_dir = config.paths.data_dir if config.options.data == "tfrecord" else None
    for folder in (data_dir, config.paths.lfw_dir):
        if folder and manifests.exists(folder) and not records.is_cache(folder):
            faces = precision_check.decodable_faces(predict.read_tfrecord_faces(folder, limit=GUARD_FACES)[1],
                                                    config.image_size)
            if len(faces):
                return faces
    return np.random.RandomState(0).uniform(-1, 1, (GUARD_FACES,) + config.image_size + (3,)).astype(np.float32)


def guard_checkpoint(config):
    """The SphereNet weights the run's backbone has: --model_dir's checkpoint, else --pretrained_ckpt, else
    None (random: a run from scratch)."""
    model_dir = config.paths.model_dir
    latest = tf.train.latest_checkpoint(model_dir) if model_dir and os.path.isdir(model_dir) else None
    if latest:
        return latest
    return checkpoints.resolve_checkpoint(config.paths.pretrained_ckpt) if config.paths.pretrained_ckpt else None

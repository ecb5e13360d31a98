"""--mode=calibrate: P(same) and the thresholds at each FAR refitted on a user's own pairs (--pairs_csv with
--image_root or --embeddings, or --calibration_pairs over --lfw_dir), into the model folder (calibration.json)
or an export folder (pfe_export.json and what its serving_verify signature decides), without retraining;
the previous calibration is kept beside it (calibration.previous-N.json, pfe_export.previous-N.json).

After --mode=train, --calibration_pairs fits the model folder's first calibration the same way: the pairs
of an LFW-format file over --lfw_dir's records and, for each pair, one side degraded by the generator
(faces/degradations.py's kinds at severities 1-4, seeded per pair) against the other side clean; when the
file holds fewer impostor pairs than the lowest FAR needs (10 / FAR), every pair of its images is used.
Every score of model/verification.py is fitted (the quality-aware one is the default decision).
"""
import os

import numpy as np
import tensorflow.compat.v1 as tf

from pfe_estimator import errors
from pfe_estimator.evaluation import calibration
from pfe_estimator.evaluation import protocols
from pfe_estimator.faces import alignment
from pfe_estimator.faces import image_io
from pfe_estimator.faces import kinds
from pfe_estimator.faces import network_input
from pfe_estimator.inference import export
from pfe_estimator.inference import predict
from pfe_estimator.model import verification
from pfe_estimator.modes import embeddings
from pfe_estimator.modes import records

OUTPUTS = ()  # it writes one file into the model or export folder it reads, keeping the earlier one
MODEL = "pfe"
MODEL_DIR = "always"
SAVED_MODEL = True


def runs_backbone(config):
    return not (config.paths.saved_model or config.paths.embeddings)


def check(config):
    paths = config.paths
    if bool(paths.pairs_csv) == bool(paths.calibration_pairs):
        raise errors.UserError("--mode=calibrate needs --pairs_csv (image_a,image_b,same lines) or "
                               "--calibration_pairs (LFW's format over --lfw_dir), one of them")
    if paths.calibration_pairs and not paths.lfw_dir:
        raise errors.UserError("--calibration_pairs needs --lfw_dir (the aligned TFRecords of its images)")
    if paths.saved_model:
        export.check_recalibration(paths.saved_model, fars(config))


def fars(config):
    """The FARs a calibration keeps thresholds at: 1e-3, 1e-2 and --far."""
    return sorted(set(calibration.MODEL_CALIBRATION_FARS + (config.options.far,)))


def run(config):
    if config.paths.pairs_csv:
        pairs = protocols.read_pairs_csv(config.paths.pairs_csv)
        mu, sigma_sq, first, second = embeddings.csv_pair_embeddings(config, pairs)
        values = verification.pair_values(mu[first], sigma_sq[first], mu[second], sigma_sq[second])
        fitted = calibration.fit_model_calibration(values, pairs.same, fars(config),
                                                   os.path.abspath(config.paths.pairs_csv), "as the pairs give them")
    else:
        fitted = from_calibration_pairs(config)
    keep(config, fitted)


def fit_calibration_pairs(config):
    """After training: the model folder's calibration from --calibration_pairs (see the module doc)."""
    keep(config, from_calibration_pairs(config))


def keep(config, fitted):
    """Writes the calibration where the run's model is, the earlier one kept beside it, and says so."""
    if config.paths.saved_model:
        path, kept = export.recalibrate(config.paths.saved_model, fitted)
    else:
        path, kept = calibration.save_model_calibration(config.paths.model_dir, fitted)
    scores = fitted["scores"]["quality"]
    print("calibration: P(same) from %d pairs (%d impostor pairs: thresholds at FAR %s) -> %s%s" % (
        fitted["pairs"], scores["impostors"], ", ".join(
            str(far) for far in fitted["fars"] if scores["impostors"] >= calibration.impostors_needed(far)) or "none",
        path, "; the earlier one kept as %s" % kept if kept else ""))


def from_calibration_pairs(config):
    """The calibration of an LFW-format pairs file over --lfw_dir (clean pairs, and each pair with one side
    degraded), every pair of its images when the file holds too few impostors."""
    pairs = protocols.read_lfw_pairs(config.paths.calibration_pairs)
    names, mu, sigma_sq, _ = embeddings.pair_embeddings(config, pairs)
    first, second = protocols.pair_indices(names, pairs)
    person = np.array([protocols.person_of(name) for name in names])
    if (person[first] != person[second]).sum() < calibration.impostors_needed(min(fars(config))):
        used = np.union1d(first, second)
        first, second = (used[rows] for rows in np.triu_indices(len(used), 1))
    degraded = degraded_embeddings(config, names)
    side = np.random.RandomState(config.options.random_seed or 0).randint(2, size=len(first))
    values = [verification.pair_values(mu[first], sigma_sq[first], mu[second], sigma_sq[second])]
    qualities = "clean only (--lfw_dir is a feature cache: no pixels to degrade)"
    if degraded is not None:
        clean_rows, degraded_rows = np.where(side == 0, second, first), np.where(side == 0, first, second)
        values.append(verification.pair_values(mu[clean_rows], sigma_sq[clean_rows], degraded[0][degraded_rows],
                                               degraded[1][degraded_rows]))
        qualities = "clean, and each pair with one side degraded: %s at severities %s" % (
            ",".join(kinds.GENERATOR_KINDS), ",".join(map(str, kinds.SEVERITIES)))
    same = np.concatenate([person[first] == person[second]] * len(values))
    gathered = {key: np.concatenate([part[key] for part in values]) for key in values[0]}
    return calibration.fit_model_calibration(gathered, same, fars(config), os.path.abspath(
        config.paths.calibration_pairs), qualities)


def degraded_embeddings(config, names):
    """(mu, sigma_sq) [N, D] of each image of --lfw_dir's records degraded once by the generator (seeded per
    image), or None when --lfw_dir is a feature cache."""
    if records.is_cache(config.paths.lfw_dir):
        tf.logging.warning("--lfw_dir=%s is a feature cache: the calibration is fitted on clean pairs only",
                           config.paths.lfw_dir)
        return None
    found, jpegs = predict.read_tfrecord_faces(config.paths.lfw_dir, set(names))
    jpeg_of = dict(zip(found, jpegs))
    points = alignment.template(alignment.template_for_size(config.image_size))[1]
    draw, seed = kinds.random_degradation(kinds.GENERATOR_KINDS, kinds.SEVERITIES), config.options.random_seed or 0
    crops = (draw(image_io.decode_rgb(jpeg_of[name]), points, np.random.RandomState([seed, index]))[0]
             for index, name in enumerate(names))
    return embeddings.extractor(config).images(network_input.network_input(crop, config.image_size)
                                               for crop in crops)

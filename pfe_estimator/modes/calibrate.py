"""After --mode=train with --calibration_pairs: P(same | MLS) and the MLS thresholds at
calibration.MODEL_CALIBRATION_FARS and --far, fitted on those pairs with the trained model and kept in
model_dir/calibration.json for --mode=verify."""
import os

from pfe_estimator.evaluation import calibration
from pfe_estimator.evaluation import metrics
from pfe_estimator.evaluation import protocols
from pfe_estimator.modes import embeddings


def fit_calibration_pairs(config):
    pairs = protocols.read_lfw_pairs(config.paths.calibration_pairs)
    names, mu, sigma_sq, _ = embeddings.pair_embeddings(config, pairs)
    first, second = protocols.pair_indices(names, pairs)
    scores = metrics.mls_pair_scores(mu[first], sigma_sq[first], mu[second], sigma_sq[second])
    fitted = calibration.fit_verification_calibration(
        scores, pairs.same, sorted(set(calibration.MODEL_CALIBRATION_FARS + (config.options.far,))))
    fitted["source"] = os.path.abspath(config.paths.calibration_pairs)
    path = calibration.save_model_calibration(config.paths.model_dir, fitted)
    print("calibration: P(same | MLS) from %d pairs -> %s" % (len(scores), path))

"""--mode=verify: are --image_a and --image_b the same person? MLS, each face's mean sigma^2, and with a
calibrated model P(same) and the decision at --far."""
from pfe_estimator import errors
from pfe_estimator.evaluation import calibration
from pfe_estimator.evaluation import metrics
from pfe_estimator.modes import embeddings
from pfe_estimator.modes import images

OUTPUTS = ()
MODEL = "pfe"
MODEL_DIR = "always"
SAVED_MODEL = True


def runs_backbone(config):
    return not config.paths.saved_model


def check(config):
    if not (config.paths.image_a and config.paths.image_b):
        raise errors.UserError("--mode=verify needs --image_a and --image_b")


def run(config):
    paths = config.paths
    fitted = config.record.get("calibration") if paths.saved_model else \
        calibration.read_model_calibration(paths.model_dir)
    load_face = images.face_loader(config)
    mu, sigma_sq = embeddings.extractor(config).images(load_face(image) for image in (paths.image_a, paths.image_b))
    score = float(metrics.mls_pair_scores(mu[:1], sigma_sq[:1], mu[1:], sigma_sq[1:])[0])
    print("MLS %.4f" % score)
    for name, sigma in zip((paths.image_a, paths.image_b), sigma_sq):
        print("mean sigma^2 %.4e  %s" % (sigma.mean(), name))
    if fitted is None:
        print("P(same) and decision: no calibration in %s (train with --calibration_pairs)" % (
            paths.saved_model or paths.model_dir))
        return
    probability, threshold = calibration.verification_decision(fitted, score, config.options.far)
    print("P(same) %.4f (%s, %d pairs)" % (probability, fitted["method"], fitted["pairs"]))
    print("decision at FAR %s: %s (MLS threshold %.4f)" % (config.options.far, "same person" if score >= threshold
                                                           else "different people", threshold))

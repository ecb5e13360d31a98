"""--mode=verify: are --image_a and --image_b the same person? MLS, cosine, each face's mean sigma^2, and with
a calibrated model P(same) under --score (the quality-aware score by default) and the decision at --far,
saying how many impostor pairs its threshold rests on (refused below 10 / FAR)."""
from pfe_estimator import errors
from pfe_estimator.evaluation import calibration
from pfe_estimator.model import verification
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


def model_calibration(config):
    """The run's model's calibration (the export's, or the model folder's) deciding with --score (default: its
    own default score), or None; a calibration without that score is refused in one line."""
    paths = config.paths
    if paths.saved_model:
        fitted = verification.as_current(config.record.get("calibration"))
    else:
        fitted = calibration.read_model_calibration(paths.model_dir)
    if fitted is None:
        return None
    score = config.options.score or fitted["default_score"]
    if score not in fitted["scores"]:
        raise errors.UserError("--score=%s: the calibration in %s holds %s only (an earlier version's); refit it with "
                               "--mode=calibrate" % (score, paths.saved_model or paths.model_dir,
                                                     ", ".join(fitted["scores"])))
    return dict(fitted, default_score=score)


def run(config):
    paths, options = config.paths, config.options
    fitted = model_calibration(config)
    load_face = images.face_loader(config)
    mu, sigma_sq = embeddings.extractor(config).images(load_face(image) for image in (paths.image_a, paths.image_b))
    values = verification.pair_values(mu[:1], sigma_sq[:1], mu[1:], sigma_sq[1:])
    print("MLS %.4f  cosine %.4f" % (values["mls"][0], values["cosine"][0]))
    for name, sigma in zip((paths.image_a, paths.image_b), sigma_sq):
        print("mean sigma^2 %.4e  %s" % (sigma.mean(), name))
    if fitted is None:
        print("P(same) and decision: no calibration in %s (train with --calibration_pairs, or --mode=calibrate)"
              % (paths.saved_model or paths.model_dir))
        return
    score = fitted["default_score"]
    probability = calibration.accepts(fitted, score, values, fitted["fars"][0])[0]
    print("P(same) %.4f (%s score: logistic on %s; %d calibration pairs, %s)" % (
        probability[0], score, ", ".join(fitted["scores"][score]["features"]), fitted["pairs"],
        fitted["qualities"]))
    _, threshold, accept, impostors = calibration.decision(fitted, score, values, options.far)
    print("decision at FAR %s: %s (P(same) threshold %.4f, resting on %d impostor pairs)" % (
        options.far, "same person" if accept[0] else "different people", threshold, impostors))

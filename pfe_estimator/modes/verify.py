"""--mode=verify: are --image_a and --image_b the same person? What was done to each image the user did not see
(a crop centre-cropped to the model's input, the face chosen among several); MLS, cosine, each face's mean sigma^2
and, with a calibration fitted for this model (model/calibration.py), P(same) with the prior it assumes and the
likelihood ratio, and the decision at --far of --score (the calibration's default score): its statistic against the
threshold these two faces' quality gets, the distinct impostor pairs it rests on and where they come from."""
from pfe_estimator import errors
from pfe_estimator.model import calibration
from pfe_estimator.model import verification
from pfe_estimator.modes import embeddings
from pfe_estimator.modes import images
from pfe_estimator.modes import models

OUTPUTS = ()
MODEL = "pfe"
MODEL_DIR = "always"
SAVED_MODEL = True


def runs_backbone(config):
    return not config.paths.saved_model


def check(config):
    if not (config.paths.image_a and config.paths.image_b):
        raise errors.UserError("--mode=verify needs --image_a and --image_b")
    calibrated = models.calibration_of(config)
    if calibrated is not None:
        calibrated.check_far(config.options.far)


def run(config):
    paths, options = config.paths, config.options
    calibrated = models.calibration_of(config)
    notices = []
    load_face = images.face_loader(config, notices)
    mu, sigma_sq = embeddings.extractor(config).images(load_face(image) for image in (paths.image_a, paths.image_b))
    for line in notices:
        print(line)
    values = verification.pair_values(mu[:1], sigma_sq[:1], mu[1:], sigma_sq[1:])
    print("MLS %.4f  cosine %.4f" % (values["mls"][0], values["cosine"][0]))
    for name, sigma in zip((paths.image_a, paths.image_b), sigma_sq):
        print("mean sigma^2 %.4e  %s" % (sigma.mean(), name))
    if calibrated is None:
        print("P(same) and decision: no calibration in %s (train with --calibration_pairs, or --mode=calibrate)"
              % (paths.saved_model or paths.model_dir))
        return
    for line in decision_lines(calibrated, values, options.far):
        print(line)


def decision_lines(calibrated, values, far):
    """What verify says of one pair under a calibration: P(same) and the decision at `far`."""
    lines = []
    probability = calibrated.probability(values)
    if probability is not None:
        lines.append("P(same) %.4f at the calibration's prior of %.2f %% same-person pairs; likelihood ratio %.3g "
                     "(how much likelier these two faces are if the same person; monotone logistic)" % (
                         probability[0], 100 * calibrated.prior, calibrated.likelihood_ratio(probability)[0]))
    decision = calibrated.decide(values, far)
    score = calibrated.default_score
    if calibration.SCORES[score].statistic == "union":
        parts = [calibrated.decide(values, far, name) for name in ("monotone_logistic", "cosine")]
        threshold = (" %s " % ("or" if decision.accept[0] else "and")).join(
            "%s %.4f %s %.4f" % (name, part.statistic[0], ">=" if part.accept[0] else "<", part.threshold[0])
            for name, part in zip(("logit", "cosine"), parts))
    else:
        threshold = "%s %.4f %s %.4f" % (calibration.SCORES[score].statistic, decision.statistic[0],
                                         ">=" if decision.accept[0] else "<", decision.threshold[0])
    if calibration.SCORES[score].by_quality:
        threshold += ", the threshold for a worse face of log sigma^2 %.2f" % calibration.quality(values)[0]
    lines.append("decision at FAR %s: %s (%s: %s; resting on at least %d distinct impostor pairs)" % (
        far, "same person" if decision.accept[0] else "different people", score, threshold, calibrated.rests_on(far)))
    lines.append(calibrated.describe())
    return lines

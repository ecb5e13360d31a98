"""--mode=verify: are --image_a and --image_b the same person? MLS, each face's mean sigma^2, and with a
calibrated model P(same) and the decision at --far."""
from pfe_estimator.evaluation import calibration
from pfe_estimator.evaluation import metrics
from pfe_estimator.modes import embeddings
from pfe_estimator.modes import images
from pfe_estimator.modes import settings as run_settings


def run(settings):
    if not (settings.image_a and settings.image_b):
        raise run_settings.FlagError("--mode=verify needs --image_a and --image_b")
    fitted = settings.record.get("calibration") if settings.saved_model else \
        calibration.read_model_calibration(settings.model_dir)
    source = settings.saved_model or settings.model_dir
    load_face = images.face_loader(settings)
    mu, sigma_sq = embeddings.extractor(settings).images(load_face(image) for image in (settings.image_a,
                                                                                          settings.image_b))
    score = float(metrics.mls_pair_scores(mu[:1], sigma_sq[:1], mu[1:], sigma_sq[1:])[0])
    print("MLS %.4f" % score)
    for name, sigma in zip((settings.image_a, settings.image_b), sigma_sq):
        print("mean sigma^2 %.4e  %s" % (sigma.mean(), name))
    if fitted is None:
        print("P(same) and decision: no calibration in %s (train with --calibration_pairs)" % source)
        return
    probability, threshold = calibration.verification_decision(fitted, score, settings.far)
    print("P(same) %.4f (%s, %d pairs)" % (probability, fitted["method"], fitted["pairs"]))
    print("decision at FAR %s: %s (MLS threshold %.4f)" % (settings.far, "same person" if score >= threshold
                                                           else "different people", threshold))

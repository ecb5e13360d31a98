"""--mode=predict: mu and sigma^2 of every image under --predict_dir into an embeddings file."""
import os

from pfe_estimator import errors
from pfe_estimator.data import embedding_files
from pfe_estimator.faces import image_io
from pfe_estimator.faces import network_input
from pfe_estimator.modes import embeddings
from pfe_estimator.modes import images
from pfe_estimator.modes import models

OUTPUTS = ("predict_output",)
MODEL = "pfe"
MODEL_DIR = "always"
SAVED_MODEL = True


def runs_backbone(config):
    return not config.paths.saved_model


def check(config):
    if not config.paths.predict_dir:
        raise errors.UserError("--mode=predict needs --predict_dir")
    embeddings.check_embeddings_output(config, "predict_output")


def run(config):
    folder = config.paths.predict_dir
    names = image_io.list_images(folder)
    if not names:
        raise errors.UserError("--predict_dir=%s: no image files (%s)" % (folder, ", ".join(image_io.IMAGE_EXTENSIONS)))
    paths = [os.path.join(folder, name) for name in names]
    images.warn_about_raw_photos(config, paths)
    kept, skipped = [], []
    mu, sigma_sq = embeddings.extractor(config).images(  # the model is checked before the first image is read
        network_input.readable_images(paths, images.face_loader(config), kept, skipped))
    if not kept:
        raise errors.UserError("--predict_dir=%s: none of its %d images could be used (first: %s: %s)"
                               % (folder, len(skipped), skipped[0][0], skipped[0][1]))
    kept_names = [os.path.relpath(path, folder) for path in kept]
    embedding_files.save(config.paths.predict_output, kept_names, mu, sigma_sq, models.identity(config))
    print("predict: %d images -> %s, %d skipped" % (len(kept_names), config.paths.predict_output, len(skipped)))

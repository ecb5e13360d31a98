"""--mode=predict: mu and sigma^2 of every image under --predict_dir into an embeddings file."""
import os

from pfe_estimator.data import embedding_files
from pfe_estimator.faces import image_io
from pfe_estimator.faces import network_input
from pfe_estimator.modes import embeddings
from pfe_estimator.modes import images
from pfe_estimator.modes import settings as run_settings


def run(settings):
    if not settings.predict_dir:
        raise run_settings.FlagError("--mode=predict needs --predict_dir")
    embeddings.check_embeddings_output(settings, "predict_output")
    names = image_io.list_images(settings.predict_dir)
    if not names:
        raise run_settings.FlagError("--predict_dir=%s: no image files (%s)" % (
            settings.predict_dir, ", ".join(image_io.IMAGE_EXTENSIONS)))
    paths = [os.path.join(settings.predict_dir, name) for name in names]
    images.warn_about_raw_photos(settings, paths)
    kept, skipped = [], []
    mu, sigma_sq = embeddings.extractor(settings).images(  # the model is checked before the first image is read
        network_input.readable_images(paths, images.face_loader(settings), kept, skipped))
    if not kept:
        raise run_settings.FlagError("--predict_dir=%s: none of its %d images could be used (first: %s: %s)"
                                     % (settings.predict_dir, len(skipped), skipped[0][0], skipped[0][1]))
    kept_names = [os.path.relpath(path, settings.predict_dir) for path in kept]
    embedding_files.save(settings.predict_output, kept_names, mu, sigma_sq)
    print("predict: %d images -> %s, %d skipped" % (len(kept_names), settings.predict_output, len(skipped)))

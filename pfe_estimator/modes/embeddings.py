"""mu and sigma^2 for a mode: of the images LFW's pairs name, or of template image files, through
--saved_model or the Estimator on --model_dir (inference.embedding_sources)."""
import os

from pfe_estimator.data import embedding_files
from pfe_estimator.evaluation import protocols
from pfe_estimator.inference import embedding_sources
from pfe_estimator.modes import images
from pfe_estimator.modes import models
from pfe_estimator.modes import settings as run_settings
from pfe_estimator.storage import outputs


def extractor(settings):
    """Images -> (mu, sigma^2) with --saved_model, or the Estimator on --model_dir (checked against the flags)."""
    return embedding_sources.EmbeddingExtractor(
        run_settings.image_size(settings), settings.batch_size, lambda: models.pfe_estimator(settings),
        lambda: models.check_model_fits(settings), settings.saved_model)


def pair_embeddings(settings, pairs):
    """(names, mu, sigma_sq, load_face) for the images LFW's pairs name (embedding_sources.pair_embeddings)."""
    if not (settings.lfw_dir or settings.embeddings):
        raise run_settings.FlagError("--mode=%s needs --embeddings or --lfw_dir" % settings.mode)
    return embedding_sources.pair_embeddings(set(pairs.first) | set(pairs.second), extractor(settings),
                                             settings.lfw_dir, settings.embeddings, settings.embeddings_output)


def template_embeddings(settings):
    """(names, mu, sigma_sq) of the images --templates_csv lists: from --embeddings, else through the model."""
    if settings.embeddings:
        return embedding_files.load(settings.embeddings)
    if not settings.template_image_root:
        raise run_settings.FlagError("template evaluation needs --embeddings or --template_image_root")
    paths = [os.path.join(settings.template_image_root, path)
             for _, path in protocols.read_csv_rows(settings.templates_csv, 2)]
    return embedding_sources.image_file_embeddings(paths, images.face_loader(settings), extractor(settings))


def check_embeddings_output(settings, flag):
    """Refuses, before any work, an embeddings target without the .npz suffix numpy would add, or one that
    exists and is not an embeddings file (unless --overwrite)."""
    path = getattr(settings, flag)
    if not path.endswith(".npz"):
        raise run_settings.FlagError("--%s=%s: an embeddings file is an .npz (numpy adds the suffix); give %s.npz"
                                     % (flag, path, path))
    outputs.check_replaceable_file(path, flag, embedding_files.is_embedding_file, settings.overwrite)

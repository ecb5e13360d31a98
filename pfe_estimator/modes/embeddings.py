"""mu and sigma^2 for a mode: of the images LFW's pairs name, a pairs CSV names, or template image files,
through --saved_model or the Estimator on --model_dir (inference.embedding_sources), or from an embeddings file
(--embeddings) that the run's model made: a file recording another model, or without that record and of another
embedding size, is refused."""
import os

import numpy as np

from pfe_estimator import errors
from pfe_estimator.data import embedding_files
from pfe_estimator.data import pair_files
from pfe_estimator.faces import image_io
from pfe_estimator.inference import embedding_sources
from pfe_estimator.modes import images
from pfe_estimator.modes import models
from pfe_estimator.storage import outputs


def extractor(config):
    """Images -> (mu, sigma^2) with --saved_model, or the Estimator on --model_dir (checked against the config)."""
    return embedding_sources.EmbeddingExtractor(
        config.image_size, config.options.batch_size, lambda: models.pfe_estimator(config),
        lambda: models.check_model_fits(config), config.paths.saved_model)


def pair_embeddings(config, pairs):
    """(names, mu, sigma_sq, load_face) for the images LFW's pairs name (embedding_sources.pair_embeddings)."""
    paths = config.paths
    if not (paths.lfw_dir or paths.embeddings):
        raise errors.UserError("--mode=%s needs --embeddings or --lfw_dir" % config.mode)
    if paths.embeddings:
        check_made_by_the_model(config)
    return embedding_sources.pair_embeddings(set(pairs.first) | set(pairs.second), extractor(config), paths.lfw_dir,
                                             paths.embeddings, paths.embeddings_output,
                                             models.identity(config) if paths.embeddings_output else None)


def template_embeddings(config):
    """(names, mu, sigma_sq) of the images --templates_csv lists: from --embeddings, else through the model."""
    paths = config.paths
    if paths.embeddings:
        check_made_by_the_model(config)
        return embedding_files.load(paths.embeddings)
    if not paths.template_image_root:
        raise errors.UserError("template evaluation needs --embeddings or --template_image_root")
    files = [os.path.join(paths.template_image_root, path) for _, path in pair_files.read_csv_rows(paths.templates_csv,
                                                                                                 2)]
    return embedding_sources.image_file_embeddings(files, images.face_loader(config), extractor(config))


def csv_pair_embeddings(config, pairs):
    """mu and sigma^2 of the images a pairs CSV names: (mu [N, D], sigma_sq [N, D], first [P], second [P] rows),
    from --embeddings (the CSV's names as the file holds them) or the image files under --image_root.

    Raises:
      UserError: an image the CSV names that is missing or unreadable, naming it and its line.
    """
    paths = config.paths
    names = sorted(set(pairs.first) | set(pairs.second))
    line_of = {}
    for name, line in zip(np.concatenate([pairs.first, pairs.second]), np.concatenate([pairs.line, pairs.line])):
        line_of.setdefault(name, line)
    if paths.embeddings:
        check_made_by_the_model(config)
        stored, mu, sigma_sq = embedding_files.load(paths.embeddings)
        row_of = {name: row for row, name in enumerate(stored)}
        missing = [name for name in names if name not in row_of]
        if missing:
            raise errors.UserError("%s:%d: %s is not in --embeddings=%s" % (
                paths.pairs_csv, line_of[missing[0]], missing[0], paths.embeddings))
        rows = np.array([row_of[name] for name in names])
        mu, sigma_sq = mu[rows], sigma_sq[rows]
    elif paths.image_root:
        load_face = images.face_loader(config)

        def faces():
            for name in names:
                try:
                    yield load_face(os.path.join(paths.image_root, name))
                except image_io.ImageError as error:
                    raise errors.UserError("%s:%d: %s" % (paths.pairs_csv, line_of[name], error))
        mu, sigma_sq = extractor(config).images(faces())
    else:
        raise errors.UserError("--pairs_csv needs --image_root (its paths are relative to it) or --embeddings")
    index = {name: row for row, name in enumerate(names)}
    return mu, sigma_sq, np.array([index[n] for n in pairs.first]), np.array([index[n] for n in pairs.second])


def check_made_by_the_model(config):
    """Refuses, in one line, --embeddings that the run's model (--model_dir's checkpoint or the export) did not
    make: a file that records another model, or one without that record whose embedding size is not the model's.
    A run without a model (eval of an embeddings file alone) takes the file as it is."""
    paths = config.paths
    if not (paths.saved_model or outputs.is_model_folder(paths.model_dir)):
        return
    made_by, model = embedding_files.model_of(paths.embeddings), models.identity(config)
    size = (config.record or {}).get("embedding_size") or config.backbone.embedding_size
    if made_by is not None and model is not None and any(
            made_by.get(key) != model.get(key) for key in ("checkpoint_sha256", "backbone_sha256")):
        raise errors.UserError("--embeddings=%s was made by %s (checkpoint %s), not by this model, %s (checkpoint %s): "
                               "compute them with this model (--mode=predict)" % (
                                   paths.embeddings, made_by.get("checkpoint"), made_by.get("checkpoint_sha256",
                                                                                            "")[:12],
                                   model.get("checkpoint"), model.get("checkpoint_sha256", "")[:12]))
    with np.load(paths.embeddings) as data:
        width = data["mu"].shape[1] if "mu" in data.files and data["mu"].ndim == 2 else None
    if made_by is None and width is not None and width != size:
        raise errors.UserError("--embeddings=%s holds %d-d embeddings, this model's are %d-d: another model made them; "
                               "compute them with this model (--mode=predict)" % (paths.embeddings, width, size))


def check_embeddings_output(config, flag):
    """Refuses, before any work, an embeddings target without the .npz suffix numpy would add, or one that
    exists and is not an embeddings file (unless --overwrite)."""
    path = getattr(config.paths, flag)
    if not path.endswith(".npz"):
        raise errors.UserError("--%s=%s: an embeddings file is an .npz (numpy adds the suffix); give %s.npz"
                               % (flag, path, path))
    outputs.check_replaceable_file(path, flag, embedding_files.is_embedding_file, config.options.overwrite)

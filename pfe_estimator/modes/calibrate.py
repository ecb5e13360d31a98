"""--mode=calibrate: the model's calibration (model/calibration.py) fitted anew, without retraining, into the model
folder (calibration.json, under the folder's lock: never beside a running training) or an export (pfe_export.json
and serving_verify's constants); the earlier one is kept beside it (calibration.previous-N.json,
pfe_export.previous-N.json), and a failed calibrate leaves it in place. Three sources of pairs:

  --pairs_csv (image_a,image_b,same; --image_root or --embeddings)  labelled pairs, each distinct pair once
  --calibration_pairs over --lfw_dir                                the images an LFW-format pairs file names (at
      most MAX_IMAGES, drawn seeded): every pair of them clean, and every image against every other image's copy
      degraded by the generator (every kind, severities 1-4, seeded per image); what --mode=train fits after
      training with the same flags
  --gallery_dir (one folder per enrolled person, --align as verify)  an operator's own people: impostor pairs
      across people only (different folders are different people; no other label), clean and against
      --gallery_copies degraded copies of every photo, so that low qualities are calibrated from clean photos; the
      logistic (P(same)) is kept from the model's calibration on labelled pairs when it has one
"""
import contextlib
import os

import numpy as np
import tensorflow.compat.v1 as tf

from pfe_estimator import errors
from pfe_estimator.evaluation import all_pairs
from pfe_estimator.data import pair_files
from pfe_estimator.faces import alignment
from pfe_estimator.faces import image_io
from pfe_estimator.faces import kinds
from pfe_estimator.inference import export
from pfe_estimator.inference import predict
from pfe_estimator.model import calibration
from pfe_estimator.model import verification
from pfe_estimator.modes import embeddings
from pfe_estimator.modes import images
from pfe_estimator.modes import models
from pfe_estimator.modes import records
from pfe_estimator.storage import model_dir_lock

OUTPUTS = ()  # it writes one file into the model or export folder it reads, keeping the earlier one
MODEL = "pfe"
MODEL_DIR = "always"
SAVED_MODEL = True
MAX_IMAGES = 3000  # of --calibration_pairs: 13.5 M pairs
SOURCES = ("pairs_csv", "calibration_pairs", "gallery_dir")


def runs_backbone(config):
    return not (config.paths.saved_model or config.paths.embeddings)


def check(config):
    paths = config.paths
    given = [flag for flag in SOURCES if getattr(paths, flag)]
    if len(given) != 1:
        raise errors.UserError("--mode=calibrate needs one of --pairs_csv (image_a,image_b,same lines), "
                               "--calibration_pairs (LFW's format over --lfw_dir) or --gallery_dir (one folder per "
                               "person)%s" % ("; given: " + ", ".join("--" + flag for flag in given) if given else ""))
    if paths.calibration_pairs and not paths.lfw_dir:
        raise errors.UserError("--calibration_pairs needs --lfw_dir (the aligned TFRecords of its images)")
    if paths.gallery_dir:
        gallery_photos(paths.gallery_dir)
    if paths.saved_model:
        export.check_recalibration(paths.saved_model, fars(config))


def fars(config):
    """The FARs a calibration keeps thresholds at: model.calibration.FARS and --far."""
    return sorted(set(calibration.FARS + (config.options.far,)))


def run(config):
    with lock(config):
        if config.paths.pairs_csv:
            fitted = from_pairs_csv(config)
        elif config.paths.gallery_dir:
            fitted = from_gallery(config)
        else:
            fitted = from_calibration_pairs(config)
        keep(config, fitted)


def lock(config):
    """The model folder's lock (an export's writer lock is taken where it is rewritten)."""
    if config.paths.saved_model:
        return contextlib.nullcontext()
    return model_dir_lock.locked(config.paths.model_dir, "calibrate")


def fit_calibration_pairs(config):
    """After training: the model folder's calibration from --calibration_pairs (see the module doc)."""
    with lock(config):
        keep(config, from_calibration_pairs(config))


def keep(config, fitted):
    """Writes the calibration where the run's model is, the earlier one kept beside it, and says so."""
    if config.paths.saved_model:
        path, kept = export.recalibrate(config.paths.saved_model, fitted)
    else:
        path, kept = calibration.save(config.paths.model_dir, fitted)
    population = fitted.population
    undecided = fitted.undecided()
    print("calibration: %d distinct pairs (%d impostors) from %s; %s decides at FAR %s%s -> %s%s" % (
        population["pairs"], population["impostors"], population["name"], fitted.default_score,
        ", ".join(map(str, fitted.decided_fars())) or "none",
        "; no decision at FAR %s" % ", ".join("%s (%s)" % item for item in sorted(undecided.items()))
        if undecided else "", path, "; the earlier one kept as %s" % kept if kept else ""))


def population(config, name, qualities, **refit):
    """A calibration's population: where its pairs come from, and the flags that fit it again."""
    return {"name": name, "qualities": qualities, "refit": {flag: value for flag, value in refit.items() if value}}


def from_pairs_csv(config):
    """The calibration of labelled pairs, each distinct pair once."""
    paths = config.paths
    pairs = pair_files.read_pairs_csv(paths.pairs_csv)
    rows = calibration.distinct(pairs.first, pairs.second, pairs.same, paths.pairs_csv)
    if len(rows) < len(pairs.same):
        print("%s: %d line(s) repeat an earlier pair; each pair counts once" % (paths.pairs_csv,
                                                                              len(pairs.same) - len(rows)))
    pairs = pair_files.PairList(*(np.asarray(field)[rows] for field in pairs))
    mu, sigma_sq, first, second = embeddings.csv_pair_embeddings(config, pairs)
    values = verification.pair_values(mu[first], sigma_sq[first], mu[second], sigma_sq[second])
    source = population(config, "the pairs of %s" % os.path.abspath(paths.pairs_csv), "as the pairs give them",
                        pairs_csv=os.path.abspath(paths.pairs_csv), image_root=_absolute(paths.image_root),
                        embeddings=_absolute(paths.embeddings))
    return calibration.fit(values, pairs.same, fars(config), models.identity(config), source)


def _absolute(path):
    return os.path.abspath(path) if path else None


def from_calibration_pairs(config):
    """The calibration of every pair of the images an LFW-format pairs file names over --lfw_dir, clean and against
    degraded copies (see the module doc)."""
    paths = config.paths
    pairs = pair_files.read_lfw_pairs(paths.calibration_pairs)
    names, mu, sigma_sq, _ = embeddings.pair_embeddings(config, pairs)
    rows = np.arange(len(names))
    if len(rows) > MAX_IMAGES:
        rows = np.sort(np.random.RandomState(config.runtime.random_seed).choice(len(rows), MAX_IMAGES,
                                                                                replace=False))
    names = [names[i] for i in rows]
    person = np.array([pair_files.person_of(name) for name in names])
    copies = degraded_copies(config, names)
    values, same = all_pairs.calibration_pairs((mu[rows], sigma_sq[rows]), copies, person)
    qualities = "clean only (--lfw_dir is a feature cache: no pixels to degrade)" if not copies else (
        "clean, and every image against every other image's copy degraded by the generator (%s)"
        % kinds.copies_description(kinds.KINDS, kinds.SEVERITIES))
    source = population(config, "every pair of %d images %s names" % (len(names), os.path.abspath(
        paths.calibration_pairs)), qualities, calibration_pairs=os.path.abspath(paths.calibration_pairs),
        lfw_dir=os.path.abspath(paths.lfw_dir), random_seed=config.runtime.random_seed)
    return calibration.fit(values, same, fars(config), models.identity(config), source)


def degraded_copies(config, names):
    """[(mu, sigma_sq) [N, D]]: each of --lfw_dir's record images `names` degraded once by the generator (seeded per
    image), or [] when --lfw_dir is a feature cache."""
    if records.is_cache(config.paths.lfw_dir):
        tf.logging.warning("--lfw_dir=%s is a feature cache: the calibration is fitted on clean pairs only",
                           config.paths.lfw_dir)
        return []
    found, jpegs = predict.read_tfrecord_faces(config.paths.lfw_dir, set(names))
    jpeg_of = dict(zip(found, jpegs))
    return copies_of(config, [image_io.decode_rgb(jpeg_of[name]) for name in names], 1)


def copies_of(config, crops, count):
    """[(mu, sigma_sq) [N, D]] of `count` sets of degraded copies of aligned uint8 crops [N]: copy i of crop j of
    a kind among every kind and a severity 1-4, drawn with RandomState([--random_seed, i, j])."""
    points = alignment.template(alignment.template_for_size(config.image_size))[1]
    draw, extractor = kinds.random_degradation(kinds.KINDS, kinds.SEVERITIES), embeddings.extractor(config)
    seed = config.runtime.random_seed
    return [extractor.images(image_io.standardize(draw(crop, points, np.random.RandomState([seed, i, j]))[0])
                             for j, crop in enumerate(crops)) for i in range(count)]


def gallery_photos(gallery_dir):
    """[(person, photo path)] of a gallery: each sub-folder one person, its image files (searched recursively).

    Raises:
      UserError: no such folder, or fewer than two people with photos.
    """
    if not os.path.isdir(gallery_dir):
        raise errors.UserError("--gallery_dir=%s: no such folder (one sub-folder per person, with their photos)"
                               % gallery_dir)
    photos = [(person, os.path.join(gallery_dir, person, path)) for person in sorted(os.listdir(gallery_dir))
              if os.path.isdir(os.path.join(gallery_dir, person))
              for path in image_io.list_images(os.path.join(gallery_dir, person))]
    people = sorted(set(person for person, _ in photos))
    if len(people) < 2:
        raise errors.UserError("--gallery_dir=%s: %d person folder(s) with photos; impostor pairs need at least two "
                               "people (one sub-folder each)" % (gallery_dir, len(people)))
    return photos


def from_gallery(config):
    """The calibration of a gallery's impostor pairs (see the module doc)."""
    paths, options = config.paths, config.options
    photos = gallery_photos(paths.gallery_dir)
    load = images.crop_loader(config)
    crops, person = [], []
    for name, path in photos:
        try:
            crops.append(load(path))
        except image_io.ImageError as error:
            raise errors.UserError("--gallery_dir: %s; remove the photo or fix it" % error)
        person.append(name)
    clean = embeddings.extractor(config).images(image_io.standardize(crop) for crop in crops)
    values, same = all_pairs.calibration_pairs(clean, copies_of(config, crops, options.gallery_copies),
                                               np.array(person))
    impostors = {key: value[~same] for key, value in values.items()}
    earlier = calibration.read(paths.model_dir) if not paths.saved_model else export.read_calibration(
        paths.saved_model, config.record)
    source = population(config, "the gallery %s (%d people, %d photos)" % (
        os.path.abspath(paths.gallery_dir), len(set(person)), len(photos)),
        "clean, and every photo against %d degraded copies of every other person's photos (%s)" % (
            options.gallery_copies, kinds.copies_description(kinds.KINDS, kinds.SEVERITIES)),
        gallery_dir=os.path.abspath(paths.gallery_dir), gallery_copies=str(options.gallery_copies),
        align=options.align, detector_model=_absolute(paths.detector_model), random_seed=config.runtime.random_seed)
    return calibration.fit(impostors, None, fars(config), models.identity(config), source, earlier=earlier)

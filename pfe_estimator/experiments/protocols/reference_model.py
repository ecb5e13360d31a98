"""A reference model (protocol 'reference_model'): one head on real LFW faces, calibrated on people it never
saw, exported (SavedModel with image and JPEG-bytes signatures, ONNX, frozen graph).

LFW is aligned to 112x112 and SFace's outputs are cached with head.copies degraded copies of every image (the
generator's kinds). The head (the quality-aware head by default) trains on the identities of people.txt's
folds other than config.calibration_fold (at least 2 images each); its calibration (model/calibration.py, every
score, thresholds at FAR 1e-3 and 1e-2) is fitted on every pair of that fold's images, clean and against a copy
of every other image degraded by any of the eleven kinds at severities 1-4 (seeded per image), tied to the
checkpoint trained. OUTPUT_DIR/model holds the checkpoint, its record and calibration.json; OUTPUT_DIR/export the
folder --saved_model takes, with its serving_verify signature.
"""
import collections
import os

import numpy as np

from pfe_estimator import errors
from pfe_estimator.data import pair_files
from pfe_estimator.evaluation import all_pairs
from pfe_estimator.evaluation import identity_folds
from pfe_estimator.evaluation import metrics
from pfe_estimator.experiments import caches
from pfe_estimator.experiments import fold_heads
from pfe_estimator.experiments import lfw_data
from pfe_estimator.experiments.protocols import fields
from pfe_estimator.faces import kinds
from pfe_estimator.inference import backbone_runtimes
from pfe_estimator.inference import export
from pfe_estimator.model import calibration
from pfe_estimator.storage import checkpoints
from pfe_estimator.storage import model_config


class Config(collections.namedtuple("Config", ["head", "calibration_fold", "test_seed", "fars"])):
    """head: the model's head; calibration_fold: the people.txt fold (0-based) whose people it never trains on
    and is calibrated on; test_seed: of the calibration copies' draws; fars: protocols/fields.py."""
    __slots__ = ()


Config.__new__.__defaults__ = (fold_heads.QUALITY_AWARE_HEAD, 9, 0, fields.FARS)


def check(config):
    problems = fold_heads.head_problems("head", config.head, copies_needed=True) + fields.problems(config)
    if config.calibration_fold not in fields.FOLDS:
        problems.append("calibration_fold=%s: expected a fold among 0..9" % config.calibration_fold)
    return problems


def run(context, report_dir):
    """Trains, calibrates and exports the reference model into inputs.output_dir; returns its report."""
    del report_dir  # the model and export are the outputs; the report says where they are
    config, inputs, pairs = context.config, context.inputs, context.pairs
    if not inputs.output_dir:
        raise errors.UserError("the reference_model protocol needs --output_dir (the model and its export go there)")
    head, fold = config.head, config.calibration_fold
    model_dir, export_dir = os.path.join(inputs.output_dir, "model"), os.path.join(inputs.output_dir, "export")
    training_cache = caches.head_cache(caches.cache(context.records, context.sface, inputs.work_dir, head.copies,
                                                    kinds.GENERATOR_KINDS, fold_heads.training_severities(head)),
                                       head.input, context.sface)
    labels = identity_folds.fold_training_labels(pairs, context.people, context.records.manifest,
                                                 head.identity_share)[fold]
    fold_heads.train(context.sface, head, training_cache, labels, model_dir)

    # calibration on every pair of one fold's images, clean and against a degraded copy, people never trained on
    fitted, auc = calibrate(context, model_dir, head, fold)
    calibration.save(model_dir, fitted)
    record = model_config.read(model_dir)
    # the export computes in fp32, so that it runs anywhere (as main.py's --mode=export)
    _, problem, _ = export.export_pfe(model_dir, export_dir, context.sface.backbone(head.input, precision="fp32"),
                                      lfw_data.IMAGE_SIZE, record={"template": record["template"],
                                                                   "recipe": record["recipe"]}, calibrated=fitted)
    size = sum(os.path.getsize(os.path.join(export_dir, name)) for name in os.listdir(export_dir)
               if os.path.isfile(os.path.join(export_dir, name)))
    return {"identities": len(labels), "steps": head.recipe.max_steps, "calibration_pairs": fitted.population["pairs"],
            "calibration_impostors": fitted.population["impostors"], "calibration_auc": auc,
            "default_score": fitted.default_score, "model_dir": model_dir, "export_dir": export_dir,
            "export_megabytes": size / 1e6, "onnx_problem": problem}


def calibrate(context, model_dir, head, fold):
    """The model's calibration on fold `fold`'s images (evaluation.all_pairs.calibration_pairs: every clean pair,
    and every clean image against every other image's copy degraded by any kind, seeded per image), and its
    decision's AUC there (ranked by its margin at FAR 1e-3)."""
    everyone = caches.faces(caches.cache(context.records, context.sface, context.inputs.work_dir))
    people = context.people[fold]
    rows = np.array([i for i, name in enumerate(everyone.names) if pair_files.person_of(name) in people])
    chosen = [everyone.names[i] for i in rows]
    seed = context.config.test_seed
    kind, severity = caches.per_image_draws(len(rows), kinds.KINDS, kinds.SEVERITIES, seed)
    with backbone_runtimes.runner(context.sface.backbone(), lfw_data.IMAGE_SIZE) as runner:
        copies = caches.degraded_copies(context.records, context.sface, runner, chosen, (kind, severity, seed),
                                        context.inputs.work_dir)
    clean, degraded = (fold_heads.sigma_sq(model_dir, side.as_head_reads(head.input, context.sface.channels)
                                           .features.astype(np.float32), side.mu)
                       for side in (everyone.rows(rows), copies))
    person = np.array([pair_files.person_of(name) for name in chosen])
    values, same = all_pairs.calibration_pairs(clean, [degraded], person)
    identity = model_config.model_identity(checkpoints.intact_checkpoint(model_dir), model_config.read(model_dir))
    fitted = calibration.fit(values, same, context.config.fars, identity, {
        "name": "LFW people.txt fold %d: every pair of its %d images (people not trained on)" % (fold + 1, len(rows)),
        "qualities": "clean, and every image against every other's copy degraded by any kind (%s)"
                     % kinds.copies_description(kinds.KINDS, kinds.SEVERITIES), "refit": {}})
    return fitted, metrics.roc_auc(fitted.ranking(values), same)


def summary(result):
    return ("reference model: %d identities, %d steps; calibrated on %d pairs of unseen people, %d impostors "
            "(%s, AUC %.4f)\n"
            "export: %s (%.1f MB of files beside variables/%s)\n"
            "verify two photos:\n  python main.py --mode=verify --saved_model=%s --image_a=A.jpg --image_b=B.jpg "
            "--align=detect --detector_model=YUNET.onnx" % (
                result["identities"], result["steps"], result["calibration_pairs"], result["calibration_impostors"],
                result["default_score"], result["calibration_auc"],
                result["export_dir"], result["export_megabytes"],
                "; " + result["onnx_problem"] if result["onnx_problem"] else "", result["export_dir"]))

"""Fold heads: one uncertainty head per people.txt fold, trained on a feature cache's identities of the other
folds, kept in the work folder by everything that made it, and their sigma^2 of cached SFace outputs; and the
Head value that says how a family of them trains.

Each head trains through training/fit.py, as --mode=train does: the folder's lock, a resume only from an
intact checkpoint of the same job, and its record (storage/model_config.py), whose `trained_on` names the
training cache, the identities and the head's settings; a finished head is reused by a rerun.
"""
import collections
import math
import os
import time

from pfe_estimator.data import feature_cache
from pfe_estimator.data import manifest as manifests
from pfe_estimator.evaluation import held_out
from pfe_estimator.experiments import lfw_data
from pfe_estimator.experiments import work_folder
from pfe_estimator.faces import kinds
from pfe_estimator.inference import predict
from pfe_estimator.model import backbones
from pfe_estimator.training import devices
from pfe_estimator.training import estimators
from pfe_estimator.training import fit
from pfe_estimator.training import recipe as recipes


class Head(collections.namedtuple("Head", ["input", "recipe", "copies", "train_severities", "identity_share",
                                           "seed"])):
    """One family of fold heads and what they train on.

    Fields:
      input: 'flattened' or 'pooled' (backbones.HEAD_INPUTS): SFace's conv map as the head reads it.
      recipe: the training.recipe.Recipe, under the names main.py's flags give it (max_steps,
        num_classes_per_batch, images_per_class, learning_rates, weight_decay, quality_ranking_weight, ...);
        without learning_rate_boundaries the rate drops at int(2/3) of max_steps, as the figures were measured.
      copies: degraded copies of every training image (0: clean faces, the released PFE).
      train_severities: the severities the copies are drawn from (a repeat weights one), or None for the
        scheme's (1-4; unseen severities: 1-2).
      identity_share: the share of each fold's training identities the heads train on, drawn per fold.
      seed: the heads' graph seed and their batches' (the P x K sampler's).
    """
    __slots__ = ()


# The released PFE head at the LFW protocols' size (32 x 4 batches, 400 steps).
RELEASED_HEAD = Head(input="flattened", recipe=recipes.Recipe(num_classes_per_batch=32, images_per_class=4,
                                                              max_steps=400), copies=0, train_severities=None,
                     identity_share=1.0, seed=0)
# The quality-aware head, chosen on the held-out protocols (docs/results.md, "Making the head generalise"):
# SFace's map averaged over positions, the quality ranking loss at weight 100, 2 degraded copies.
QUALITY_AWARE_HEAD = RELEASED_HEAD._replace(input="pooled", copies=2,
                                            recipe=RELEASED_HEAD.recipe._replace(quality_ranking_weight=100.0))


def head_problems(name, head, copies_needed=False):
    """What no run can train: [one line naming the field] (empty when the head can train)."""
    recipe, problems = head.recipe, []
    if head.input not in backbones.HEAD_INPUTS:
        problems.append("%s.input=%s: expected one of %s" % (name, head.input, ", ".join(backbones.HEAD_INPUTS)))
    for field in ("max_steps", "num_classes_per_batch"):
        if getattr(recipe, field) < 1:
            problems.append("%s.recipe.%s=%s: expected a positive integer" % (name, field, getattr(recipe, field)))
    if recipe.images_per_class < 2:
        problems.append("%s.recipe.images_per_class=%d: MLS compares images of one identity; give 2 or more"
                        % (name, recipe.images_per_class))
    if not all(math.isfinite(rate) and rate > 0 for rate in recipe.learning_rates):
        problems.append("%s.recipe.learning_rates=%s: expected positive numbers" % (name, recipe.learning_rates))
    for field in ("weight_decay", "quality_ranking_weight"):
        if not (math.isfinite(getattr(recipe, field)) and getattr(recipe, field) >= 0):
            problems.append("%s.recipe.%s=%s: expected a number >= 0" % (name, field, getattr(recipe, field)))
    if head.copies < (1 if copies_needed else 0):
        problems.append("%s.copies=%d: expected %s" % (name, head.copies, "1 or more: these heads train on "
                                                       "degraded copies" if copies_needed else "a number >= 0"))
    if recipe.quality_ranking_weight > 0 and head.copies < 1:
        problems.append("%s.recipe.quality_ranking_weight=%g ranks degraded copies against their source; the head "
                        "has no copies: set it to 0 or give copies" % (name, recipe.quality_ranking_weight))
    if not 0.0 < head.identity_share <= 1.0:
        problems.append("%s.identity_share=%s: give a share in (0, 1], e.g. 0.5" % (name, head.identity_share))
    if head.train_severities is not None and not (head.train_severities and set(head.train_severities) <= set(
            kinds.SEVERITIES)):
        problems.append("%s.train_severities=%s: give severities 1-4, e.g. 1,2,3,4,4" % (name, head.train_severities))
    return problems


def training_severities(head, scheme=None):
    """The severities `head`'s copies are drawn from: its own, else the held-out scheme's, else 1-4."""
    if head.train_severities:
        return tuple(head.train_severities)
    return held_out.SCHEMES[scheme]["train"] if scheme else kinds.SEVERITIES


def scheme_severities(head, scheme):
    """{'test': the held-out scheme's test severities, 'train': those `head`'s copies are drawn from}."""
    return dict(held_out.SCHEMES[scheme], train=training_severities(head, scheme))


def head_folder(work_dir, what, training_cache, head, labels, fold):
    """WORK_DIR/heads/<what>-fold<k>-<key>: the key is the training cache's fingerprint, the head's settings
    and the identities it trains on."""
    return work_folder.path(work_dir, "heads", "%s-fold%d" % (what, fold), trained_on(training_cache, head, labels))


def trained_on(training_cache, head, labels):
    """What a fold head trains on and how: the key of its folder and record."""
    return {"cache": manifests.read(training_cache)["fingerprint"],
            "head": dict(head._asdict(), recipe=head.recipe.as_record()),
            "labels": work_folder.digest(sorted(int(label) for label in labels))}


def record(sface, head, training_cache, labels):
    """The fold head's model record (storage/model_config.py): the network, its recipe, what it trained on."""
    backbone = sface.backbone(head.input)
    return {"model": "pfe", "template": lfw_data.TEMPLATE, "backbone": backbone.name,
            "image_size": list(lfw_data.IMAGE_SIZE), "embedding_size": backbone.embedding_size,
            "pretrained_ckpt": None, "head_input": head.input,
            "backbone_precision": {"used": sface.precision, "why": sface.why},
            "recipe": head.recipe.as_record(), "onnx_sha256": sface.sha256,
            "trained_on": work_folder.digest(trained_on(training_cache, head, labels))}


def train(sface, head, training_cache, labels, model_dir):
    """Trains (or finishes, or finds finished) one fold head in model_dir; returns model_dir."""
    recipe = head.recipe
    runtime = devices.Runtime(save_checkpoints_steps=recipe.max_steps, random_seed=head.seed)
    estimator = estimators.pfe_estimator(sface.backbone(head.input), model_dir, recipe, runtime)
    input_fn = feature_cache.cache_input_fn_builder(training_cache, recipe.num_classes_per_batch,
                                                    recipe.images_per_class, seed=head.seed, include_labels=labels,
                                                    quality_ranks=recipe.quality_ranking_weight > 0)
    fit.fit(estimator, input_fn, recipe.max_steps, model_dir, runtime, record(sface, head, training_cache, labels),
            mode="fold head")
    return model_dir


def train_fold(context, what, training_cache, head, labels, fold):
    """The model folder of fold `fold`'s head on `labels` of training_cache, trained or found finished in
    the work folder; `context` gives SFace and the work folder (lfw_data.Context)."""
    start = time.time()
    folder = head_folder(context.inputs.work_dir, what, training_cache, head, labels, fold)
    finished = os.path.exists(os.path.join(folder, "model.ckpt-%d.index" % head.recipe.max_steps))
    train(context.sface, head, training_cache, labels, folder)
    print("  %s fold %d: %d training identities (%s)" % (what, fold + 1, len(labels), "found trained" if finished
                                                          else "trained in %.0f s" % (time.time() - start)))
    return folder


def train_folds(context, what, training_cache, head, fold_labels, folds):
    """{fold: model folder} of one head per fold on its training identities of training_cache."""
    return {k: train_fold(context, what, training_cache, head, fold_labels[k], k) for k in folds}


def sigma_sq(model_dir, features, mu):
    """(mu, sigma_sq) float32 [N, D] of cached outputs (features [N, F], mu [N, D]) by the head in model_dir."""
    with predict.HeadRunner(model_dir, features.shape[1], mu.shape[1]) as runner:
        return runner.run(features, mu)

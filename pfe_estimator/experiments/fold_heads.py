"""Fold heads: one uncertainty head per people.txt fold, trained on a feature cache's identities of the other
folds, kept in the work folder by everything that made it, and their sigma^2 of cached SFace outputs.

Each head trains through training/fit.py, as --mode=train does: the folder's lock, a resume only from an
intact checkpoint of the same job, and its record (storage/model_config.py), whose `trained_on` names the
training cache, the identities and the head's settings; a finished head is reused by a rerun.
"""
import time

from pfe_estimator.data import feature_cache
from pfe_estimator.data import manifest as manifests
from pfe_estimator.experiments import lfw_data
from pfe_estimator.experiments import work_folder
from pfe_estimator.inference import predict
from pfe_estimator.training import devices
from pfe_estimator.training import estimators
from pfe_estimator.training import fit

RANDOM_SEED = 0  # the graph seed of every fold head, as the published figures were measured


def head_folder(work_dir, what, training_cache, head, labels, fold):
    """WORK_DIR/heads/<what>-fold<k>-<key>: the key is the training cache's fingerprint, the head's settings
    and the identities it trains on."""
    return work_folder.path(work_dir, "heads", "%s-fold%d" % (what, fold), trained_on(training_cache, head, labels))


def trained_on(training_cache, head, labels):
    """What a fold head trains on and how: the key of its folder and record."""
    return {"cache": manifests.read(training_cache)["fingerprint"], "head": head._asdict(),
            "labels": work_folder.digest(sorted(int(label) for label in labels))}


def record(sface, head, training_cache, labels):
    """The fold head's model record (storage/model_config.py): the network, its recipe, what it trained on."""
    backbone = sface.backbone(head.input)
    return {"model": "pfe", "template": lfw_data.TEMPLATE, "backbone": backbone.name,
            "image_size": list(lfw_data.IMAGE_SIZE), "embedding_size": backbone.embedding_size,
            "pretrained_ckpt": None, "head_input": head.input,
            "backbone_precision": {"used": sface.precision, "why": sface.why},
            "recipe": head.recipe().as_record(), "onnx_sha256": sface.sha256,
            "trained_on": work_folder.digest(trained_on(training_cache, head, labels))}


def train(sface, head, training_cache, labels, model_dir):
    """Trains (or finishes, or finds finished) one fold head in model_dir; returns model_dir."""
    recipe = head.recipe()
    runtime = devices.Runtime(save_checkpoints_steps=head.steps, random_seed=RANDOM_SEED)
    estimator = estimators.pfe_estimator(sface.backbone(head.input), model_dir, recipe, runtime)
    input_fn = feature_cache.cache_input_fn_builder(training_cache, head.classes_per_batch, head.images_per_class,
                                                    include_labels=labels, quality_ranks=head.ranking_weight > 0)
    fit.fit(estimator, input_fn, head.steps, model_dir, runtime, record(sface, head, training_cache, labels),
            mode="fold head")
    return model_dir


def train_fold(context, what, training_cache, head, labels, fold):
    """The model folder of fold `fold`'s head on `labels` of training_cache, trained or found finished in
    the work folder; `context` gives SFace and the work folder (lfw_data.Context)."""
    start = time.time()
    folder = head_folder(context.inputs.work_dir, what, training_cache, head, labels, fold)
    train(context.sface, head, training_cache, labels, folder)
    print("  %s fold %d: %d training identities (%.0f s)" % (what, fold + 1, len(labels), time.time() - start))
    return folder


def train_folds(context, what, training_cache, head, fold_labels, folds):
    """{fold: model folder} of one head per fold on its training identities of training_cache."""
    return {k: train_fold(context, what, training_cache, head, fold_labels[k], k) for k in folds}


def sigma_sq(model_dir, features, mu):
    """(mu, sigma_sq) float32 [N, D] of cached outputs (features [N, F], mu [N, D]) by the head in model_dir."""
    with predict.HeadRunner(model_dir, features.shape[1], mu.shape[1]) as runner:
        return runner.run(features, mu)

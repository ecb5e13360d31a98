"""Where a training run is wired, once: model_fn and Estimator from (recipe, backbone, runtime, model_dir).

main.py's modes, the scripts, the benches and the tests build their Estimators here, so the released
recipe, the device's optimizer wrapper and the throughput log's batch arithmetic have one place.
"""
from pfe_estimator.training import devices
from pfe_estimator.training import optimization
from pfe_estimator.training import pfe_model
from pfe_estimator.training import pretrain
from pfe_estimator.training import recipe as recipes


def optimizer_config(recipe, runtime):
    """The recipe's learning rates, boundaries and momentum, the optimizer wrapped for runtime's device."""
    return optimization.OptimizerConfig(
        [float(rate) for rate in recipe.learning_rates], recipe.boundaries(), recipe.momentum,
        devices.optimizer_wrapper(runtime.device, runtime.precision, runtime.loss_scale, runtime.workers))


def pfe_model_fn(backbone, recipe=recipes.Recipe(), runtime=devices.Runtime(), pretrained_checkpoint=None):
    """The PFE model_fn (pfe_model.pfe_model_fn_builder) training the head as `recipe` says on `runtime`."""
    return pfe_model.pfe_model_fn_builder(
        backbone=backbone, num_classes_per_batch=recipe.num_classes_per_batch,
        images_per_class=recipe.images_per_class, optimizer_config=optimizer_config(recipe, runtime),
        weight_decay=recipe.weight_decay, pretrained_checkpoint=pretrained_checkpoint,
        log_every_n_steps=runtime.log_every_n_steps, num_replicas=runtime.num_devices * runtime.workers,
        steps_per_run=runtime.steps_per_run,
        quality_ranking=(recipe.quality_ranking_weight, recipe.quality_ranking_margin))


def pfe_estimator(backbone, model_dir, recipe=recipes.Recipe(), runtime=devices.Runtime(), pretrained_checkpoint=None):
    """The device's Estimator of the PFE model in model_dir (training, or predicting with any batch size)."""
    return devices.build_estimator(pfe_model_fn(backbone, recipe, runtime, pretrained_checkpoint), model_dir, runtime)


def pretrain_estimator(backbone, num_classes, model_dir, recipe=recipes.PretrainRecipe(), runtime=devices.Runtime()):
    """The device's Estimator pretraining a SphereNet backbone with AM-softmax over num_classes identities."""
    model_fn = pretrain.pretrain_model_fn_builder(
        backbone, num_classes, optimizer_config(recipe, runtime), recipe.weight_decay, recipe.am_scale,
        recipe.am_margin, recipe.batch_size * runtime.num_devices * runtime.workers, runtime.log_every_n_steps,
        runtime.steps_per_run)
    return devices.build_estimator(model_fn, model_dir, runtime)

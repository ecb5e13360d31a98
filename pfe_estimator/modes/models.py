"""The model a mode runs, from its Settings: the PFE Estimator on --model_dir (the head's recipe when
training, any batch size otherwise), and the check that --model_dir's checkpoint fits the network."""
from pfe_estimator.inference import export
from pfe_estimator.modes import settings as run_settings
from pfe_estimator.storage import checkpoints
from pfe_estimator.training import estimators
from pfe_estimator.training import recipe as recipes


def pfe_estimator(settings):
    """The device's Estimator of the PFE model in --model_dir; training mode trains it with the flags' recipe."""
    recipe = run_settings.recipe(settings) if settings.mode == "train" else recipes.Recipe()
    return estimators.pfe_estimator(run_settings.backbone(settings), settings.model_dir, recipe,
                                    run_settings.runtime(settings), settings.pretrained_ckpt)


def check_model_fits(settings):
    """One line, before any image is read, when --model_dir's checkpoint does not fit the flags' network."""
    export.check_checkpoint_fits(checkpoints.intact_checkpoint(settings.model_dir), run_settings.backbone(settings),
                                 run_settings.image_size(settings), settings.pretrained_ckpt)

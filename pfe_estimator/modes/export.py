"""--mode=export: the newest intact checkpoint of --model_dir as a SavedModel and a frozen GraphDef."""
import os

from pfe_estimator.inference import export
from pfe_estimator.modes import settings as run_settings
from pfe_estimator.storage import model_dir_lock


def run(settings):
    lock_dir = settings.model_dir if os.path.isdir(settings.model_dir) else os.path.dirname(settings.model_dir)
    with model_dir_lock.locked(lock_dir, "export"):
        checkpoint = export.export_pfe(settings.model_dir, settings.export_dir, run_settings.backbone(settings),
                                       run_settings.image_size(settings), overwrite=settings.overwrite,
                                       pretrained_checkpoint=settings.pretrained_ckpt)
    print("exported %s -> %s (SavedModel, %s)" % (checkpoint, settings.export_dir, export.FROZEN_GRAPH_NAME))

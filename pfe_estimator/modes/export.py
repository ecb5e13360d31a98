"""--mode=export: the newest intact checkpoint of --model_dir as a folder that predicts and verifies on its
own (inference/export.py): SavedModel with an images and a JPEG/PNG bytes signature, frozen GraphDef, ONNX,
and pfe_export.json with the image size, template, backbone, calibration and recipe."""
import os

import tensorflow.compat.v1 as tf

from pfe_estimator.evaluation import calibration
from pfe_estimator.inference import export
from pfe_estimator.modes import settings as run_settings
from pfe_estimator.storage import model_dir_lock


def run(settings):
    lock_dir = settings.model_dir if os.path.isdir(settings.model_dir) else os.path.dirname(settings.model_dir)
    record = {"template": settings.record.get("template"), "recipe": settings.record.get("recipe"),
              "calibration": calibration.read_model_calibration(settings.model_dir)
              if os.path.isdir(settings.model_dir) else None}
    with model_dir_lock.locked(lock_dir, "export"):
        checkpoint, onnx_problem = export.export_pfe(
            settings.model_dir, settings.export_dir, run_settings.backbone(settings), run_settings.image_size(settings),
            overwrite=settings.overwrite, pretrained_checkpoint=settings.pretrained_ckpt, record=record)
    if onnx_problem:
        tf.logging.warning(onnx_problem)
    written = [export.FROZEN_GRAPH_NAME] + ([] if onnx_problem else [export.ONNX_NAME])
    print("exported %s -> %s (SavedModel with serving_default and %s, %s)" % (
        checkpoint, settings.export_dir, export.BYTES_SIGNATURE, ", ".join(written)))

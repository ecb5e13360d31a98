"""--mode=export: the newest intact checkpoint of --model_dir as a folder that predicts and verifies on its
own (inference/export.py): SavedModel with an images and a JPEG/PNG bytes signature, frozen GraphDef, ONNX,
and pfe_export.json with the image size, template, backbone, calibration and recipe. The export computes in
fp32, so that it runs anywhere."""
import os

import tensorflow.compat.v1 as tf

from pfe_estimator.inference import export
from pfe_estimator.model import calibration
from pfe_estimator.storage import model_dir_lock

OUTPUTS = ("export_dir",)
MODEL = "pfe"
MODEL_DIR = "always"
SAVED_MODEL = False


def runs_backbone(config):
    return False  # an export runs anywhere: its backbone computes in fp32


def run(config):
    model_dir = config.paths.model_dir
    lock_dir = model_dir if os.path.isdir(model_dir) else os.path.dirname(model_dir)
    record = {"template": config.record.get("template"), "recipe": config.record.get("recipe")}
    with model_dir_lock.locked(lock_dir, "export"):
        calibrated = calibration.read(model_dir) if os.path.isdir(model_dir) else None
        checkpoint, onnx_problem, decides = export.export_pfe(
            model_dir, config.paths.export_dir, config.backbone, config.image_size, overwrite=config.options.overwrite,
            pretrained_checkpoint=config.paths.pretrained_ckpt, record=record, calibrated=calibrated)
    if onnx_problem:
        tf.logging.warning(onnx_problem)
    written = [export.FROZEN_GRAPH_NAME] + ([] if onnx_problem else [export.ONNX_NAME])
    signatures = ["serving_default", export.BYTES_SIGNATURE] + ([export.VERIFY_SIGNATURE] if decides else [])
    print("exported %s -> %s (SavedModel with %s; %s)" % (checkpoint, config.paths.export_dir, ", ".join(signatures),
                                                         ", ".join(written)))
    if decides:
        print("serving_verify decides with %s at FAR %s; %s%s" % (
            decides.default_score, ", ".join(map(str, decides.decided_fars())) or "none", decides.describe(),
            "" if decides is calibrated else " (the export's own calibration, kept)"))

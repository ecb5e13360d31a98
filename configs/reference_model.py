"""The reference model: the quality-aware SFace head on LFW's people.txt folds 1-9, calibrated on every pair of
fold 10's images (people it never saw), clean and against a degraded copy of every other image (the eleven
kinds, severities 1-4), exported (SavedModel with image and JPEG-bytes signatures, ONNX, frozen graph) for
`python main.py --mode=verify --saved_model=OUT/export ...`.

  python -m scripts.run_experiment configs/reference_model.py --lfw_dir LFW --sface SFACE.onnx --output_dir OUT

Measured 2026-12-07 from an empty work folder: 18 min 29 s (target 20 min), peak 6.9 GB; 79,392 SFace passes;
remeasured 2026-12-08: 17 min 50 s, peak 6.8 GB, the same calibration;
calibrated on 4,765,959 pairs (4,325,361 impostors), quality_thresholds' margin AUC 0.9927; a 117.1 MB export.
"""
from configs import base
from pfe_estimator.experiments.protocols import reference_model


def get_config():
    return base.experiment(reference_model.Config(), "fp32")

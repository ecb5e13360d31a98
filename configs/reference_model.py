"""The reference model: the quality-aware SFace head on LFW's people.txt folds 1-9, calibrated on the 600
pairs of fold 10 (people it never saw), exported (SavedModel with image and JPEG-bytes signatures, ONNX,
frozen graph) for `python main.py --mode=verify --saved_model=reference/export ...`.

  python -m scripts.run_experiment configs/reference_model.py --lfw_dir LFW --sface SFACE.onnx --output_dir OUT

Measured (before configs were files): 42 s with the
2-copy SFace cache in place (it takes about 65 min from nothing); a 113 MB export; verify of two raw photos
6.7-7.7 s.
"""
from configs import base
from pfe_estimator.experiments.protocols import reference_model


def get_config():
    return base.experiment(reference_model.Config(), "fp32")

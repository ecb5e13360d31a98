"""The released head (flattened map, MLS alone) on two degraded copies of every training image.

  python -m scripts.run_experiment configs/held_out_flattened_2copies.py --lfw_dir LFW --sface SFACE.onnx

Measured with SFace fp32 (2026-12-02..05, before configs were files;
reports in docs/results/held_out_flattened_2copies/):
Figures (the legend: configs/base.py):
  kinds held out   +0.0106 (+0.0089..+0.0123) on 0.9833; 7 / 1 of 8; 0.753; normalised +0.0105 (1616 s)
  unseen severities +0.0114 (+0.0091..+0.0140) on 0.9723; 10 / 1 of 22; 0.758; normalised +0.0115 (1970 s)
"""
from configs import base
from pfe_estimator.experiments.protocols import held_out


def get_config():
    return base.experiment(held_out.Config(
        head=base.RELEASED_HEAD._replace(copies=2), held_out_kinds=base.MOTION_BLUR_AND_DEFOCUS))

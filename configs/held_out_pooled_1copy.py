"""The pooled head (SFace's map averaged over positions) on one copy, no ranking loss.

  python -m scripts.run_experiment configs/held_out_pooled_1copy.py --lfw_dir LFW --sface SFACE.onnx

Measured with SFace fp32 (2026-12-02..05, before configs were files;
reports in docs/results/held_out_pooled_1copy/):
Figures (the legend: configs/base.py):
  kinds held out   +0.0050 (+0.0043..+0.0057) on 0.9833; 7 / 0 of 8; 0.800; normalised +0.0092 (209 s)
  unseen severities -0.0002 (-0.0004..+0.0001) on 0.9723; 7 / 1 of 22; 0.369; normalised -0.0017 (96 s)
"""
from configs import base
from pfe_estimator.experiments.protocols import held_out


def get_config():
    return base.experiment(held_out.Config(
        head=base.RELEASED_HEAD._replace(input="pooled", copies=1), held_out_kinds=base.MOTION_BLUR_AND_DEFOCUS))

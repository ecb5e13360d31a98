"""The pooled head on two copies without the ranking loss.

  python -m scripts.run_experiment configs/held_out_pooled_2copies.py --lfw_dir LFW --sface SFACE.onnx

Measured with SFace fp32 (2026-12-02..05, before configs were files;
reports in docs/results/held_out_pooled_2copies/):
Figures (the legend: configs/base.py):
  kinds held out   +0.0057 (+0.0049..+0.0065) on 0.9833; 7 / 0 of 8; 0.797; normalised +0.0100 (248 s)
  unseen severities -0.0002 (-0.0005..-0.0000) on 0.9723; 6 / 0 of 22; 0.236; normalised -0.0003 (128 s)
"""
from configs import base
from pfe_estimator.experiments.protocols import held_out


def get_config():
    return base.experiment(held_out.Config(
        head=base.with_recipe(base.QUALITY_AWARE_HEAD, quality_ranking_weight=0.0),
        held_out_kinds=base.MOTION_BLUR_AND_DEFOCUS))

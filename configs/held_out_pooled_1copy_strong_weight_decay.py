"""The pooled head on one copy with ten times the weight decay (5e-3).

  python -m scripts.run_experiment configs/held_out_pooled_1copy_strong_weight_decay.py --lfw_dir LFW --sface SFACE.onnx

Measured with SFace fp32 (2026-12-02..05, before configs were files;
reports in docs/results/held_out_pooled_1copy_strong_weight_decay/):
Figures (the legend: configs/base.py):
  kinds held out   +0.0050 on 0.9833; 7 / 0 of 8; 0.800 (284 s)
  unseen severities -0.0001 on 0.9723; 7 / 1 of 22; 0.379 (101 s)
"""
from configs import base
from pfe_estimator.experiments.protocols import held_out


def get_config():
    return base.experiment(held_out.Config(
        head=base.with_recipe(base.RELEASED_HEAD._replace(input="pooled", copies=1), weight_decay=5e-3),
        held_out_kinds=base.MOTION_BLUR_AND_DEFOCUS))

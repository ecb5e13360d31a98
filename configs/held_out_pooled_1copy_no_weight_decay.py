"""The pooled head on one copy without weight decay.

  python -m scripts.run_experiment configs/held_out_pooled_1copy_no_weight_decay.py --lfw_dir LFW --sface SFACE.onnx

Measured with SFace fp32 (2026-12-02..05, before configs were files;
reports in docs/results/held_out_pooled_1copy_no_weight_decay/):
Figures (the legend: configs/base.py):
  kinds held out   +0.0051 on 0.9833; 7 / 0 of 8; 0.800 (301 s)
  unseen severities -0.0002 on 0.9723; 7 / 1 of 22; 0.368 (131 s)
"""
from configs import base
from pfe_estimator.experiments.protocols import held_out


def get_config():
    return base.experiment(held_out.Config(
        head=base.with_recipe(base.RELEASED_HEAD._replace(input="pooled", copies=1), weight_decay=0.0),
        held_out_kinds=base.MOTION_BLUR_AND_DEFOCUS))

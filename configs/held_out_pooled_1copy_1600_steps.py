"""The pooled head on one copy, trained four times longer (1600 steps).

  python -m scripts.run_experiment configs/held_out_pooled_1copy_1600_steps.py --lfw_dir LFW --sface SFACE.onnx

Measured with SFace fp32 (2026-12-02..05, before configs were files;
reports in docs/results/held_out_pooled_1copy_1600_steps/):
Figures (the legend: configs/base.py):
  kinds held out   +0.0094 (+0.0076..+0.0112) on 0.9833; 3 / 2 of 8; 0.732; normalised +0.0103 (579 s)
  unseen severities +0.0107 (+0.0079..+0.0135) on 0.9723; 7 / 2 of 22; 0.756; normalised +0.0124 (256 s)
"""
from configs import base
from pfe_estimator.experiments.protocols import held_out


def get_config():
    return base.experiment(held_out.Config(
        head=base.with_recipe(base.RELEASED_HEAD._replace(input="pooled", copies=1), max_steps=1600),
        held_out_kinds=base.MOTION_BLUR_AND_DEFOCUS))

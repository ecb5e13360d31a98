"""The released PFE head (SFace's map flattened, MLS alone) on one degraded copy of every training
image, on degradations it never saw: motion blur and defocus held out in turn, and unseen severities.

  python -m scripts.run_experiment configs/held_out_released_head.py --lfw_dir LFW --sface SFACE.onnx

Measured with SFace fp32 (2026-12-02..05, before configs were files;
reports in docs/results/held_out_released_head/):
Figures (the legend: configs/base.py):
  kinds held out   +0.0098 (+0.0081..+0.0114) on cosine's 0.9833; 5 / 1 of 8; 0.729; normalised +0.0097 (3533 s)
  unseen severities +0.0100 (+0.0079..+0.0123) on 0.9723; 7 / 1 of 22; 0.748; normalised +0.0103 (1611 s)
"""
from configs import base
from pfe_estimator.experiments.protocols import held_out


def get_config():
    return base.experiment(held_out.Config(
        head=base.RELEASED_HEAD._replace(copies=1), held_out_kinds=base.MOTION_BLUR_AND_DEFOCUS))

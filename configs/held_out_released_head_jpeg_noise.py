"""The released head on one copy, with JPEG and noisy downscale held out in turn.

  python -m scripts.run_experiment configs/held_out_released_head_jpeg_noise.py --lfw_dir LFW --sface SFACE.onnx

Measured with SFace fp32 (2026-12-02..05, before configs were files;
reports in docs/results/held_out_released_head_jpeg_noise/):
Figures (the legend: configs/base.py):
  kinds held out   +0.0114 (+0.0096..+0.0133) on cosine's 0.9796; 4 / 0 of 8; 0.762; normalised +0.0114 (1266 s)
"""
from configs import base
from pfe_estimator.experiments.protocols import held_out


def get_config():
    return base.experiment(held_out.Config(
        head=base.RELEASED_HEAD._replace(copies=1), schemes=("leave_one_kind_out",),
        held_out_kinds=("jpeg", "noisy_downscale")))

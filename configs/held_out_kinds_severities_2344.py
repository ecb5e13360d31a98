"""The quality-aware head with its copies' severities drawn as 2,3,4,4 (the heavy ones weighted),
motion blur and defocus held out.

  python -m scripts.run_experiment configs/held_out_kinds_severities_2344.py --lfw_dir LFW --sface SFACE.onnx

Measured with SFace fp32 (2026-12-02..05, before configs were files;
reports in docs/results/held_out_kinds_severities_2344/):
Figures (the legend: configs/base.py):
  kinds held out   +0.0054 (+0.0046..+0.0061) on 0.9833; 7 / 0 of 8; 0.828; normalised +0.0101; 4807 s from an
                   empty work folder, 51 min of it the training cache
"""
from configs import base
from pfe_estimator.experiments.protocols import held_out


def get_config():
    return base.experiment(held_out.Config(
        head=base.QUALITY_AWARE_HEAD._replace(train_severities=(2, 3, 4, 4)), schemes=("leave_one_kind_out",),
        held_out_kinds=base.MOTION_BLUR_AND_DEFOCUS))

"""The quality-aware head on severities 2,3,4,4 trained on half of each fold's identities (a seeded
draw per fold), motion blur and defocus held out.

  python -m scripts.run_experiment configs/held_out_kinds_identities_half.py --lfw_dir LFW --sface SFACE.onnx

Measured with SFace fp32 (2026-12-02..05, before configs were files;
reports in docs/results/held_out_kinds_identities_half/):
Figures (the legend: configs/base.py):
  kinds held out   +0.0051 (+0.0044..+0.0059) on 0.9833; 7 / 0 of 8; 0.822; normalised +0.0091 (474 s, 736-765
                   identities a fold)
"""
from configs import base
from pfe_estimator.experiments.protocols import held_out


def get_config():
    return base.experiment(held_out.Config(
        head=base.QUALITY_AWARE_HEAD._replace(train_severities=(2, 3, 4, 4), identity_share=0.5),
        schemes=("leave_one_kind_out",), held_out_kinds=base.MOTION_BLUR_AND_DEFOCUS))

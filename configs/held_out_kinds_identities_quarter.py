"""The same with a quarter of each fold's identities.

  python -m scripts.run_experiment configs/held_out_kinds_identities_quarter.py --lfw_dir LFW --sface SFACE.onnx

Measured with SFace fp32 (2026-12-02..05, before configs were files;
reports in docs/results/held_out_kinds_identities_quarter/):
Figures (the legend: configs/base.py):
  kinds held out   +0.0045 (+0.0038..+0.0051) on 0.9833; 6 / 0 of 8; 0.813; normalised +0.0089 (748 s, 368-382
                   identities a fold)
"""
from configs import base
from pfe_estimator.experiments.protocols import held_out


def get_config():
    return base.experiment(held_out.Config(
        head=base.QUALITY_AWARE_HEAD._replace(train_severities=(2, 3, 4, 4), identity_share=0.25),
        schemes=("leave_one_kind_out",), held_out_kinds=base.MOTION_BLUR_AND_DEFOCUS))

"""The quality-aware head on unseen severities with its copies' severities drawn as 1,2,2.

  python -m scripts.run_experiment configs/held_out_unseen_severities_122.py --lfw_dir LFW --sface SFACE.onnx

Measured with SFace fp32 (2026-12-02..05, before configs were files;
reports in docs/results/held_out_unseen_severities_122/):
Figures (the legend: configs/base.py):
  unseen severities +0.0042 (+0.0034..+0.0050) on 0.9723; 12 / 0 of 22; 0.815; normalised +0.0081 (3509 s, 53 min of
                   it the training cache)
"""
from configs import base
from pfe_estimator.experiments.protocols import held_out


def get_config():
    return base.experiment(held_out.Config(
        head=base.QUALITY_AWARE_HEAD._replace(train_severities=(1, 2, 2)), schemes=("unseen_severities",)))

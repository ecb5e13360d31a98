"""The quality-aware head on four copies instead of two (unseen severities only).

  python -m scripts.run_experiment configs/held_out_4copies.py --lfw_dir LFW --sface SFACE.onnx

Measured with SFace fp32 (2026-12-02..05, before configs were files;
reports in docs/results/held_out_4copies/):
Figures (the legend: configs/base.py):
  unseen severities +0.0044 (+0.0037..+0.0052) on 0.9723; 11 / 0 of 22; 0.820; normalised +0.0094; 7120 s
                   from an empty work folder (a 132 k-pass training cache, 85 min)
"""
from configs import base
from pfe_estimator.experiments.protocols import held_out


def get_config():
    return base.experiment(held_out.Config(
        head=base.QUALITY_AWARE_HEAD._replace(copies=4), schemes=("unseen_severities",)))

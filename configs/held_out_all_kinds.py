"""The quality-aware head (the default) with all eleven kinds held out in turn (66000 pairs, 44 cells).

  python -m scripts.run_experiment configs/held_out_all_kinds.py --lfw_dir LFW --sface SFACE.onnx

Measured with SFace fp32 (2026-12-02..05, before configs were files;
reports in docs/results/held_out_all_kinds/):
Figures (the legend: configs/base.py):
  kinds held out   +0.0051 (+0.0046..+0.0056) on cosine's 0.9836; 40 / 0 of 44; 0.763 (overexposure 0.49,
                   underexposure 0.53); normalised +0.0096; 6309 s from an empty work folder, 45 min of it the
                   training cache
"""
from configs import base
from pfe_estimator.experiments.protocols import held_out


def get_config():
    return base.experiment(held_out.Config(schemes=("leave_one_kind_out",)))

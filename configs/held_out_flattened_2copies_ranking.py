"""The flattened head on two copies with the quality ranking loss at weight 100.

  python -m scripts.run_experiment configs/held_out_flattened_2copies_ranking.py --lfw_dir LFW --sface SFACE.onnx

Measured with SFace fp32 (2026-12-02..05, before configs were files;
reports in docs/results/held_out_flattened_2copies_ranking/):
Figures (the legend: configs/base.py):
  kinds held out   +0.0109 (+0.0091..+0.0127) on 0.9833; 6 / 1 of 8; 0.821; normalised +0.0109 (1628 s)
  unseen severities +0.0103 (+0.0080..+0.0127) on 0.9723; 9 / 1 of 22; 0.816; normalised +0.0102 (600 s)
"""
from configs import base
from pfe_estimator.experiments.protocols import held_out


def get_config():
    return base.experiment(held_out.Config(
        head=base.with_recipe(base.RELEASED_HEAD._replace(copies=2), quality_ranking_weight=100.0),
        held_out_kinds=base.MOTION_BLUR_AND_DEFOCUS))

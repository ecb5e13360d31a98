"""The pooled head on two copies with the ranking loss at weight 10 (kinds held out only).

  python -m scripts.run_experiment configs/held_out_pooled_2copies_ranking10.py --lfw_dir LFW --sface SFACE.onnx

Measured with SFace fp32 (2026-12-02..05, before configs were files;
reports in docs/results/held_out_pooled_2copies_ranking10/):
Figures (the legend: configs/base.py):
  kinds held out   +0.0056 (+0.0048..+0.0064) on 0.9833; 7 / 0 of 8; 0.810; normalised +0.0098 (224 s)
"""
from configs import base
from pfe_estimator.experiments.protocols import held_out


def get_config():
    return base.experiment(held_out.Config(
        head=base.with_recipe(base.QUALITY_AWARE_HEAD, quality_ranking_weight=10.0), schemes=("leave_one_kind_out",),
        held_out_kinds=base.MOTION_BLUR_AND_DEFOCUS))

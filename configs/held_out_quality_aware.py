"""The quality-aware head (the default) on degradations it never saw: motion blur and defocus held out in
turn, and unseen severities.

  python -m scripts.run_experiment configs/held_out_quality_aware.py --lfw_dir LFW --sface SFACE.onnx

Measured with SFace fp32 (2026-12-03/04, before configs were files; reports in
docs/results/held_out_quality_aware/): 260 s (kinds held out) and 83 s (unseen severities) with the
training caches in place; a 2-copy training cache is 79 k SFace passes, about 50 min here.
  kinds held out  MLS - cosine pooled AUC +0.0057 (+0.0049..+0.0066) on cosine's 0.9833; ahead in 7 of 8
                  cells, none significantly below; Spearman(sigma^2, severity) 0.829; normalised cosine +0.0096
  unseen          +0.0041 (+0.0033..+0.0049) on 0.9723; 11 of 22 ahead, none below; Spearman 0.813;
  severities      normalised cosine +0.0077
Reproduced 2026-12-07 with today's code (`--set backbone_precision=fp32`, 602 s with the caches in place): every
figure above to its last digit; of the reports' 856 numbers 29 moved, by at most 4.6e-5 (SFace's graph with its
batch norms folded, features within 1.2e-6).
"""
from configs import base
from pfe_estimator.experiments.protocols import held_out


def get_config():
    return base.experiment(held_out.Config(held_out_kinds=base.MOTION_BLUR_AND_DEFOCUS))

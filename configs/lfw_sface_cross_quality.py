"""Where uncertainty pays off: standard and cross-quality LFW (one side of every pair degraded by the
project's generator before alignment), each fold scored by the released head and by the quality-aware head
(pooled map, ranking loss, 2 degraded copies of every training image), SFace fp32.

  python -m scripts.run_experiment configs/lfw_sface_cross_quality.py --lfw_dir LFW --sface SFACE.onnx

Measured (2026-12-03, before configs were files; docs/results/lfw_sface_cross_quality/):
6712 s from an empty work folder (the clean SFace cache about 17 min, the 2-copy cache 48 min, the
quality-aware heads 10 min).
Accuracy of each pair at its fold's threshold, cosine / MLS released head / MLS quality-aware head:
  standard LFW        99.57 +- 0.25 / 99.25 +- 0.43 / 99.60 +- 0.26 %
  cross-quality LFW   92.43 +- 0.78 / 91.55 +- 0.74 / 93.62 +- 0.71 %; AUC 0.9728 / 0.9694 / 0.9805;
                      TAR at FAR 1e-3 0.788 / 0.678 / 0.806; Spearman(sigma^2, severity) - / 0.625 / 0.841
"""
from configs import base
from pfe_estimator.experiments.protocols import lfw_folds


def get_config():
    return base.experiment(lfw_folds.Config(cross_quality=True, quality_aware_head=base.QUALITY_AWARE_HEAD), "fp32")

"""The real result: SFace frozen on LFW's 6000 pairs, the released PFE head cross-validated by identity
(each fold's pairs scored by a head trained on the other nine people.txt folds).

  python -m scripts.run_experiment configs/lfw_sface_released.py --lfw_dir LFW --sface SFACE.onnx

Measured (before configs were files; docs/results/lfw_sface_released/):
  SFace in bf16 (auto on a CPU with AMX; 1483 s with its cache)  cosine 99.57 +- 0.26 %, MLS 99.32 +- 0.36 %
  SFace in fp32 (auto here, and --set backbone_precision=fp32)    cosine 99.57 +- 0.25 %, MLS 99.22 +- 0.45 %
  AUC 0.99914 / 0.99883, TAR at FAR 1e-3 0.9910 / 0.9813 (fp32, 1061 s with the SFace cache built; the cache
  of 26,464 SFace passes takes about 17 min on this 2-core CPU).
"""
from configs import base
from pfe_estimator.experiments.protocols import lfw_folds


def get_config():
    return base.experiment(lfw_folds.Config(
       ))

"""The real result: SFace frozen on LFW's 6000 pairs, the released PFE head cross-validated by identity
(each fold's pairs scored by a head trained on the other nine people.txt folds).

  python -m scripts.run_experiment configs/lfw_sface_released.py --lfw_dir LFW --sface SFACE.onnx

Measured (docs/results/lfw_sface_released/, before configs were files, on a CPU without AVX512_BF16 or AMX,
where auto is fp32; 2606 s from an empty work folder): cosine 99.57 +- 0.25 %, MLS 99.32 +- 0.38 %; AUC
0.99914 / 0.99885. On a CPU with AMX, auto is bf16: cosine 99.57 +- 0.26 %, MLS 99.32 +- 0.36 % (1483 s).
On this CPU (AVX512_BF16), --set backbone_precision=fp32, 2026-12-07, the SFace cache in place: cosine
99.57 +- 0.25 %, MLS 99.23 +- 0.44 %, AUC 0.99914 / 0.99883, TAR at FAR 1e-3 0.9910 / 0.9813 (380 s): every
figure of the report equal to the code before each protocol owned its config (commit 0f5e121, 409 s).
At the defaults here (bf16), from an empty work folder, 2026-12-08: SFace op by op (e3b6b3d, 796 s) cosine
99.55 +- 0.26 %, MLS 99.23 +- 0.39 %; compiled with XLA as the cache path now runs it (4bc5ee0, 671 s) cosine
99.55 +- 0.26 %, MLS 99.22 +- 0.39 %, AUC 0.99914 / 0.99880, TAR at FAR 1e-3 0.9913 / 0.9803: within tolerance
(docs/results.md#lfw, docs/results/lfw_sface_released_xla/).
"""
from configs import base
from pfe_estimator.experiments.protocols import lfw_folds


def get_config():
    return base.experiment(lfw_folds.Config())

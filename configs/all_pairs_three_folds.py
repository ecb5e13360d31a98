"""configs/all_pairs_quality_aware.py on test folds 0-2 (calibration folds 1-3) with motion blur and defocus
held out in turn, without the unseen-severities protocol: the part of the all-pairs protocol that fits in a
working session on 2 cores (the full one needs a second training cache of 79 k SFace passes).

  python -m scripts.run_experiment configs/all_pairs_three_folds.py --lfw_dir LFW --sface SFACE.onnx

Measured 2026-12-07 (SFace fp32, docs/results/all_pairs_three_folds/): 982 s with the training cache in
place (32 min more to build it). 14.8 M pairs, 9.8 M cross-quality. At the shipped FAR-1e-3 thresholds:
  FMR per cell: quality-aware largest 1.60x nominal, spread 6.84x; MLS 1.08x, 8.96x; cosine 1.25x, 35.8x
  pooled FNMR at FMR 1e-3: cosine 0.2077, MLS 0.1890, quality-aware 0.1778 (closes 14 %, 10..23 %)
  inside cells: quality-aware significantly below cosine in defocus-4, motion_blur-3, motion_blur-4
  EDC pAUC 20 % / 30 %: sigma^2 quality-aware 0.598 / 0.459, embedding norm 0.605 / 0.485, released head
  0.725 / 0.623, sharpness 0.799 / 0.773, random 0.993 / 0.998; LFW folds 1-3: 99.61 % both
"""
from configs import all_pairs_quality_aware


def get_config():
    config = all_pairs_quality_aware.get_config()
    return config._replace(protocol=config.protocol._replace(schemes=("leave_one_kind_out",), folds=(0, 1, 2)))

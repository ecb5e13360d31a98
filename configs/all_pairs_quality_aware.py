"""Every pair within each people.txt fold (BLUFR-style), cross-quality on degradations the head never saw
(motion blur and defocus held out in turn, and unseen severities): the quality-aware score shipped as a user
would ship it, its false-match rate per quality stratum, and sigma^2 as a face-image quality score (EDC).

  python -m scripts.run_experiment configs/all_pairs_quality_aware.py --lfw_dir LFW --sface SFACE.onnx

Measured 2026-12-07, all ten folds, both schemes (SFace fp32, docs/results/all_pairs_quality_aware/): 36 min 46 s
with the training caches in place, the heads trained again; peak memory 18.9 GB. Largest FMR over every cell
and quintile at the FAR-1e-3 threshold, multiples of nominal (calibration / gallery):
  leave one kind out (54.1 M pairs): quality_thresholds 1.45 / 1.64, logistic_or_cosine 1.48 / 1.64, MLS 1.16 /
  1.23, cosine 1.42 / 1.63
  unseen severities (27.1 M pairs): quality_thresholds 1.60 / 1.70, logistic_or_cosine 21.5 / 22.5 (jpeg-4),
  MLS 3.01 / 3.20, cosine 1.27 / 1.46
  then per scheme (leave one kind out / unseen severities, from the calibration), quality_thresholds (the
  default): never below cosine inside a cell; strictest cell 0.08 / 0.05 (defocus-4);
  closes 7 % (4-8 %) / 1 % (0.3-3 %) of cosine's FNMR at FMR 1e-3 (logistic_or_cosine 20 % / 10 %)
  LFW accuracy: quality_thresholds 99.59 / 99.57 %, cosine 99.53 / 99.55 %
  EDC pAUC 20 % / 30 %: sigma^2 0.546 / 0.409 and 0.613 / 0.473; embedding norm 0.560 / 0.432 and 0.595 / 0.462
From an empty work folder (2026-12-07, alone, docs/results/all_pairs_quality_aware_from_empty/): 1 h 21 min 28 s,
peak 21.7 GB; every verdict the same, figures within their last digits (quality_thresholds 1.45 / 1.65 and
1.61 / 1.72; the caches above predate SFace's folded graph).
"""
from configs import base
from pfe_estimator.experiments.protocols import all_pairs


def get_config():
    return base.experiment(all_pairs.Config(held_out_kinds=base.MOTION_BLUR_AND_DEFOCUS), "fp32")

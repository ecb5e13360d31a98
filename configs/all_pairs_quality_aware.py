"""Every pair within each people.txt fold (BLUFR-style), cross-quality on degradations the head never saw
(motion blur and defocus held out in turn, and unseen severities): the quality-aware score shipped as a user
would ship it, its false-match rate per quality stratum, and sigma^2 as a face-image quality score (EDC).

  python -m scripts.run_experiment configs/all_pairs_quality_aware.py --lfw_dir LFW --sface SFACE.onnx

Measured: not in full (the unseen-severities protocol needs a second 79 k-pass training cache); its part on
test folds 1-3 with kinds held out: configs/all_pairs_three_folds.py.
"""
from configs import base
from pfe_estimator.experiments.protocols import all_pairs


def get_config():
    return base.experiment(all_pairs.Config(held_out_kinds=base.MOTION_BLUR_AND_DEFOCUS), "fp32")

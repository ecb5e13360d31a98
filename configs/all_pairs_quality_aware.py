"""Every pair within each people.txt fold (BLUFR-style), cross-quality on degradations the head never saw
(motion blur and defocus held out in turn, and unseen severities): the quality-aware score shipped as a user
would ship it, its false-match rate per quality stratum, and sigma^2 as a face-image quality score (EDC).

  python -m scripts.run_experiment configs/all_pairs_quality_aware.py --lfw_dir ../shared/data/lfw \
      --sface ../shared/models/sface/face_recognition_sface_2021dec_int8bq.onnx --work_dir runs/lfw_sface

Measured: not in full (the unseen-severities protocol needs a second 79 k-pass training cache); its part on
test folds 1-3 with kinds held out: configs/all_pairs_three_folds.py.
"""
from configs import base


def get_config():
    return base.get_config()._replace(protocol="all_pairs", backbone_precision="fp32", head=base.QUALITY_AWARE_HEAD,
                                      held_out_kinds=base.MOTION_BLUR_AND_DEFOCUS)

"""The released PFE head (SFace's map flattened, MLS alone) on one degraded copy of every training
image, on degradations it never saw: motion blur and defocus held out in turn, and unseen severities.

  python -m scripts.run_experiment configs/held_out_released_head.py --lfw_dir ../shared/data/lfw \
      --sface ../shared/models/sface/face_recognition_sface_2021dec_int8bq.onnx --work_dir runs/lfw_sface

Measured with SFace fp32 (2026-12-02..05, the same configuration before it was a file;
reports in docs/results/held_out_released_head/):
MLS - cosine pooled AUC (subject-bootstrap 95 % interval), cells ahead / significantly below cosine,
Spearman(face sigma^2, severity), the normalised-cosine baseline:
  kinds held out   +0.0098 (+0.0081..+0.0114) on cosine's 0.9833; 5 / 1 of 8; 0.729; normalised +0.0097 (3533 s)
  unseen severities +0.0100 (+0.0079..+0.0123) on 0.9723; 7 / 1 of 22; 0.748; normalised +0.0103 (1611 s)
"""
from configs import base


def get_config():
    return base.get_config()._replace(protocol="held_out",
                                      head=base.RELEASED_HEAD._replace(copies=1),
                                      held_out_kinds=base.MOTION_BLUR_AND_DEFOCUS)

"""The pooled head on one copy without weight decay.

  python -m scripts.run_experiment configs/held_out_pooled_1copy_no_weight_decay.py --lfw_dir ../shared/data/lfw \
      --sface ../shared/models/sface/face_recognition_sface_2021dec_int8bq.onnx --work_dir runs/lfw_sface

Measured with SFace fp32 (2026-12-02..05, the same configuration before it was a file;
reports in docs/results/held_out_pooled_1copy_no_weight_decay/):
MLS - cosine pooled AUC (subject-bootstrap 95 % interval), cells ahead / significantly below cosine,
Spearman(face sigma^2, severity), the normalised-cosine baseline:
  kinds held out   +0.0051 on 0.9833; 7 / 0 of 8; 0.800 (301 s)
  unseen severities -0.0002 on 0.9723; 7 / 1 of 22; 0.368 (131 s)
"""
from configs import base


def get_config():
    return base.get_config()._replace(protocol="held_out",
                                      head=base.RELEASED_HEAD._replace(input="pooled", copies=1, weight_decay=0.0),
                                      held_out_kinds=base.MOTION_BLUR_AND_DEFOCUS)

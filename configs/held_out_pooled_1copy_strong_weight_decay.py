"""The pooled head on one copy with ten times the weight decay (5e-3).

  python -m scripts.run_experiment configs/held_out_pooled_1copy_strong_weight_decay.py --lfw_dir ../shared/data/lfw \
      --sface ../shared/models/sface/face_recognition_sface_2021dec_int8bq.onnx --work_dir runs/lfw_sface

Measured with SFace fp32 (2026-12-02..05, the same configuration before it was a file;
reports in docs/results/held_out_pooled_1copy_strong_weight_decay/):
MLS - cosine pooled AUC (subject-bootstrap 95 % interval), cells ahead / significantly below cosine,
Spearman(face sigma^2, severity), the normalised-cosine baseline:
  kinds held out   +0.0050 on 0.9833; 7 / 0 of 8; 0.800 (284 s)
  unseen severities -0.0001 on 0.9723; 7 / 1 of 22; 0.379 (101 s)
"""
from configs import base


def get_config():
    return base.get_config()._replace(protocol="held_out",
                                      head=base.RELEASED_HEAD._replace(input="pooled", copies=1, weight_decay=5e-3),
                                      held_out_kinds=base.MOTION_BLUR_AND_DEFOCUS)

"""The pooled head on two copies without the ranking loss.

  python -m scripts.run_experiment configs/held_out_pooled_2copies.py --lfw_dir ../shared/data/lfw \
      --sface ../shared/models/sface/face_recognition_sface_2021dec_int8bq.onnx --work_dir runs/lfw_sface

Measured with SFace fp32 (2026-12-02..05, the same configuration before it was a file;
reports in docs/results/held_out_pooled_2copies/):
MLS - cosine pooled AUC (subject-bootstrap 95 % interval), cells ahead / significantly below cosine,
Spearman(face sigma^2, severity), the normalised-cosine baseline:
  kinds held out   +0.0057 (+0.0049..+0.0065) on 0.9833; 7 / 0 of 8; 0.797; normalised +0.0100 (248 s)
  unseen severities -0.0002 (-0.0005..-0.0000) on 0.9723; 6 / 0 of 22; 0.236; normalised -0.0003 (128 s)
"""
from configs import base


def get_config():
    return base.get_config()._replace(protocol="held_out",
                                      head=base.QUALITY_AWARE_HEAD._replace(ranking_weight=0.0),
                                      held_out_kinds=base.MOTION_BLUR_AND_DEFOCUS)

"""The head reading SFace's map averaged over positions, one copy, no ranking loss, with JPEG and
noisy downscale held out in turn.

  python -m scripts.run_experiment configs/held_out_pooled_1copy_jpeg_noise.py --lfw_dir ../shared/data/lfw \
      --sface ../shared/models/sface/face_recognition_sface_2021dec_int8bq.onnx --work_dir runs/lfw_sface

Measured with SFace fp32 (2026-12-02..05, the same configuration before it was a file;
reports in docs/results/held_out_pooled_1copy_jpeg_noise/):
MLS - cosine pooled AUC (subject-bootstrap 95 % interval), cells ahead / significantly below cosine,
Spearman(face sigma^2, severity), the normalised-cosine baseline:
  kinds held out   +0.0072 (+0.0062..+0.0081) on cosine's 0.9796; 8 / 0 of 8; 0.819; normalised +0.0113 (563 s)
"""
from configs import base


def get_config():
    return base.get_config()._replace(protocol="held_out",
                                      head=base.RELEASED_HEAD._replace(input="pooled", copies=1),
                                      held_out_kinds=("jpeg", "noisy_downscale"),
                                      held_out_protocols=("leave_one_kind_out",))

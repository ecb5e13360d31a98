"""The quality-aware head with its copies' severities drawn as 2,3,4,4 (the heavy ones weighted),
motion blur and defocus held out.

  python -m scripts.run_experiment configs/held_out_kinds_severities_2344.py --lfw_dir ../shared/data/lfw \
      --sface ../shared/models/sface/face_recognition_sface_2021dec_int8bq.onnx --work_dir runs/lfw_sface

Measured with SFace fp32 (2026-12-02..05, the same configuration before it was a file;
reports in docs/results/held_out_kinds_severities_2344/):
MLS - cosine pooled AUC (subject-bootstrap 95 % interval), cells ahead / significantly below cosine,
Spearman(face sigma^2, severity), the normalised-cosine baseline:
  kinds held out   +0.0054 (+0.0046..+0.0061) on 0.9833; 7 / 0 of 8; 0.828; normalised +0.0101; 4807 s from an
                   empty work folder, 51 min of it the training cache
"""
from configs import base


def get_config():
    return base.get_config()._replace(protocol="held_out",
                                      head=base.QUALITY_AWARE_HEAD._replace(train_severities=(2, 3, 4, 4)),
                                      held_out_kinds=base.MOTION_BLUR_AND_DEFOCUS,
                                      held_out_protocols=("leave_one_kind_out",))

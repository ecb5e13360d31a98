"""The quality-aware head on severities 2,3,4,4 trained on half of each fold's identities (a seeded
draw per fold), motion blur and defocus held out.

  python -m scripts.run_experiment configs/held_out_kinds_identities_half.py --lfw_dir ../shared/data/lfw \
      --sface ../shared/models/sface/face_recognition_sface_2021dec_int8bq.onnx --work_dir runs/lfw_sface

Measured with SFace fp32 (2026-12-02..05, the same configuration before it was a file;
reports in docs/results/held_out_kinds_identities_half/):
MLS - cosine pooled AUC (subject-bootstrap 95 % interval), cells ahead / significantly below cosine,
Spearman(face sigma^2, severity), the normalised-cosine baseline:
  kinds held out   +0.0051 (+0.0044..+0.0059) on 0.9833; 7 / 0 of 8; 0.822; normalised +0.0091 (474 s, 736-765
                   identities a fold)
"""
from configs import base


def get_config():
    return base.get_config()._replace(protocol="held_out",
                                      head=base.QUALITY_AWARE_HEAD._replace(train_severities=(2, 3, 4, 4),
                                                                            identity_share=0.5),
                                      held_out_kinds=base.MOTION_BLUR_AND_DEFOCUS,
                                      held_out_protocols=("leave_one_kind_out",))

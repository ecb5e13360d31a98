"""The pooled head on two copies with the ranking loss at weight 10 (kinds held out only).

  python -m scripts.run_experiment configs/held_out_pooled_2copies_ranking10.py --lfw_dir ../shared/data/lfw \
      --sface ../shared/models/sface/face_recognition_sface_2021dec_int8bq.onnx --work_dir runs/lfw_sface

Measured with SFace fp32 (2026-12-02..05, the same configuration before it was a file;
reports in docs/results/held_out_pooled_2copies_ranking10/):
MLS - cosine pooled AUC (subject-bootstrap 95 % interval), cells ahead / significantly below cosine,
Spearman(face sigma^2, severity), the normalised-cosine baseline:
  kinds held out   +0.0056 (+0.0048..+0.0064) on 0.9833; 7 / 0 of 8; 0.810; normalised +0.0098 (224 s)
"""
from configs import base


def get_config():
    return base.get_config()._replace(protocol="held_out",
                                      head=base.QUALITY_AWARE_HEAD._replace(ranking_weight=10.0),
                                      held_out_kinds=base.MOTION_BLUR_AND_DEFOCUS,
                                      held_out_protocols=("leave_one_kind_out",))

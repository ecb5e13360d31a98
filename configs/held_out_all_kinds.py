"""The quality-aware head (the default) with all eleven kinds held out in turn (66000 pairs, 44 cells).

  python -m scripts.run_experiment configs/held_out_all_kinds.py --lfw_dir ../shared/data/lfw \
      --sface ../shared/models/sface/face_recognition_sface_2021dec_int8bq.onnx --work_dir runs/lfw_sface

Measured with SFace fp32 (2026-12-02..05, the same configuration before it was a file;
reports in docs/results/held_out_all_kinds/):
MLS - cosine pooled AUC (subject-bootstrap 95 % interval), cells ahead / significantly below cosine,
Spearman(face sigma^2, severity), the normalised-cosine baseline:
  kinds held out   +0.0051 (+0.0046..+0.0056) on cosine's 0.9836; 40 / 0 of 44; 0.763 (overexposure 0.49,
                   underexposure 0.53); normalised +0.0096; 6309 s from an empty work folder, 45 min of it the
                   training cache
"""
from configs import base


def get_config():
    return base.get_config()._replace(protocol="held_out",
                                      head=base.QUALITY_AWARE_HEAD,
                                      held_out_protocols=("leave_one_kind_out",))

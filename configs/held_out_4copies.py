"""The quality-aware head on four copies instead of two (unseen severities only).

  python -m scripts.run_experiment configs/held_out_4copies.py --lfw_dir ../shared/data/lfw \
      --sface ../shared/models/sface/face_recognition_sface_2021dec_int8bq.onnx --work_dir runs/lfw_sface

Measured with SFace fp32 (2026-12-02..05, the same configuration before it was a file;
reports in docs/results/held_out_4copies/):
MLS - cosine pooled AUC (subject-bootstrap 95 % interval), cells ahead / significantly below cosine,
Spearman(face sigma^2, severity), the normalised-cosine baseline:
  unseen severities +0.0044 (+0.0037..+0.0052) on 0.9723; 11 / 0 of 22; 0.820; normalised +0.0094; 7120 s
                   from an empty work folder (a 132 k-pass training cache, 85 min)
"""
from configs import base


def get_config():
    return base.get_config()._replace(protocol="held_out",
                                      head=base.QUALITY_AWARE_HEAD._replace(copies=4),
                                      held_out_protocols=("unseen_severities",))

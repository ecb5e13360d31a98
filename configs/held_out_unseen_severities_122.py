"""The quality-aware head on unseen severities with its copies' severities drawn as 1,2,2.

  python -m scripts.run_experiment configs/held_out_unseen_severities_122.py --lfw_dir ../shared/data/lfw \
      --sface ../shared/models/sface/face_recognition_sface_2021dec_int8bq.onnx --work_dir runs/lfw_sface

Measured with SFace fp32 (2026-12-02..05, the same configuration before it was a file;
reports in docs/results/held_out_unseen_severities_122/):
MLS - cosine pooled AUC (subject-bootstrap 95 % interval), cells ahead / significantly below cosine,
Spearman(face sigma^2, severity), the normalised-cosine baseline:
  unseen severities +0.0042 (+0.0034..+0.0050) on 0.9723; 12 / 0 of 22; 0.815; normalised +0.0081 (3509 s, 53 min of
                   it the training cache)
"""
from configs import base


def get_config():
    return base.get_config()._replace(protocol="held_out",
                                      head=base.QUALITY_AWARE_HEAD._replace(train_severities=(1, 2, 2)),
                                      held_out_protocols=("unseen_severities",))

"""configs/all_pairs_quality_aware.py on test folds 0-2 (calibration folds 1-3) with motion blur and defocus
held out in turn, without the unseen-severities protocol: the part of the all-pairs protocol that fits in a
working session on 2 cores (the full one needs a second training cache of 79 k SFace passes).

  python -m scripts.run_experiment configs/all_pairs_three_folds.py --lfw_dir ../shared/data/lfw \
      --sface ../shared/models/sface/face_recognition_sface_2021dec_int8bq.onnx --work_dir runs/lfw_sface

Measured: not yet.
"""
from configs import all_pairs_quality_aware


def get_config():
    return all_pairs_quality_aware.get_config()._replace(held_out_protocols=("leave_one_kind_out",), folds=(0, 1, 2))

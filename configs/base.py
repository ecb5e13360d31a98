"""What every experiment shares: SFace (OpenCV Zoo, ONNX) frozen on LFW aligned to 112x112 by the released
landmarks, the people.txt folds, the released PFE head at 400 steps of 32 x 4 (configs/*.py change it).

Not a measured run itself; the experiments start from it:

  def get_config():
      return base.get_config()._replace(protocol="held_out", head=base.QUALITY_AWARE_HEAD)
"""
from pfe_estimator.experiments import config as experiment_config

RELEASED_HEAD = experiment_config.RELEASED_HEAD
QUALITY_AWARE_HEAD = experiment_config.QUALITY_AWARE_HEAD
MOTION_BLUR_AND_DEFOCUS = ("motion_blur", "defocus")


def get_config():
    return experiment_config.DEFAULT


"""What every experiment shares, and the legend of the figures the configs' docstrings carry.

Every experiment runs SFace (OpenCV Zoo, ONNX) frozen on LFW aligned to 112x112 by the released landmarks,
cross-validated over people.txt's folds; its heads are the released PFE head at 400 steps of 32 x 4
(RELEASED_HEAD) or the quality-aware one (QUALITY_AWARE_HEAD: SFace's map averaged over positions, the quality
ranking loss at weight 100, 2 degraded copies of every training image), as a config changes them. A config file
is get_config() returning base.experiment(a protocol's Config) (pfe_estimator/experiments/protocols/); its
docstring holds its command (LFW: the LFW folder of docs/data.md; SFACE.onnx: SFace's file,
scripts/fetch_models.py; the work folder defaults to runs/lfw_sface), when it was measured and its figures.

The legend of the held_out configs' figures, one line per scheme (evaluation/held_out.py):
  MLS - cosine pooled AUC (subject-bootstrap 95 % interval) on cosine's pooled AUC; cells ahead / significantly
  below cosine; Spearman(face sigma^2, severity); the normalised-cosine baseline's gain; the run's time.
"""
from pfe_estimator.experiments import config as experiment_config
from pfe_estimator.experiments import fold_heads

RELEASED_HEAD = fold_heads.RELEASED_HEAD
QUALITY_AWARE_HEAD = fold_heads.QUALITY_AWARE_HEAD
MOTION_BLUR_AND_DEFOCUS = ("motion_blur", "defocus")


def experiment(protocol, backbone_precision="auto"):
    """The Experiment running `protocol` (a protocol's Config); loading the file names it after the file."""
    return experiment_config.Experiment("base", backbone_precision, protocol)


def with_recipe(head, **fields):
    """`head` with fields of its training.recipe.Recipe changed (max_steps=1600, weight_decay=0.0, ...)."""
    return head._replace(recipe=head.recipe._replace(**fields))

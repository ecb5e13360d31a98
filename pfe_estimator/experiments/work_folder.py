"""The experiments' work folder: every artefact is named after everything that made it.

  WORK_DIR/records/<what>-<key>/      LFW (or cross-quality photos) aligned to 112x112
  WORK_DIR/caches/<what>-<key>/       SFace's outputs of records: clean, with degraded copies, pooled, subsets
  WORK_DIR/copies/sface-<key>/        SFace's outputs of degraded copies, one per image, kind, severity and draw
  WORK_DIR/qualities/clean-<key>.npz  SFace's embedding norms and the sharpness of clean crops
  WORK_DIR/cross_quality/<key>/       the degraded photos of cross-quality LFW
  WORK_DIR/heads/<what>-<key>/        fold heads: model folders with their record (training/fit.py)
  WORK_DIR/reports/<name>/            each experiment's report, named after its config file

An artefact's key is a dict of what decides its content (the model file's sha256, the photos' fingerprint,
the seed, kinds, severities, copies, head settings, identities, the key of what it was made from); its name
ends in the key's digest, so another configuration makes (or finds) another artefact and never reuses this
one. A rerun of the same configuration finds its artefacts and resumes or reuses them.
"""
import hashlib
import json
import os
import shutil

from pfe_estimator.storage import outputs

DIGEST_LENGTH = 12
REPORT_KIND = "experiment_report"


def digest(key):
    """The sha256 hex digest of a JSON-able key (sorted, so equal keys give equal digests)."""
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode("utf-8")).hexdigest()


def path(work_dir, kind, what, key, extension=""):
    """WORK_DIR/kind/<what>-<digest of key>[extension]."""
    return os.path.join(work_dir, kind, "%s-%s%s" % (what, digest(key)[:DIGEST_LENGTH], extension))


def flat(key, prefix=""):
    """A nested key as one level of dotted names ({'protocol': {'folds': [0]}} -> {'protocol.folds': [0]}), so
    that a refusal names the field that changed."""
    flattened = {}
    for name, value in key.items():
        if isinstance(value, dict):
            flattened.update(flat(value, prefix + name + "."))
        else:
            flattened[prefix + name] = value
    return flattened


def report_folder(work_dir, name, fingerprint):
    """WORK_DIR/reports/NAME, claimed for this configuration: created and marked, or an earlier report of the
    same configuration (replaced as it is written). A folder holding another configuration's report, or
    anything else, is refused in one line naming what changed (outputs.claim_directory). Returns (the folder,
    'new' or 'resume').

    Args:
      fingerprint: the experiment (Experiment.as_dict) and the keys of its inputs.
    """
    folder = os.path.join(work_dir, "reports", name)
    return folder, outputs.claim_directory(folder, REPORT_KIND, "work_dir", fingerprint)


def release_report_folder(folder):
    """Removes a report folder this run claimed when it holds nothing but its marker (a run that failed before
    writing anything leaves nothing that would refuse its corrected rerun)."""
    if os.path.isdir(folder) and set(os.listdir(folder)) <= {outputs.MARKER_NAME}:
        shutil.rmtree(folder)

"""Embedding files: the .npz of names [N], mu [N, D] and sigma_sq [N, D] that predict and eval write and
eval and calibrate read (--predict_output, --embeddings_output, --embeddings), the image names that key them, and
the model that made them ('model': its identity, storage/model_config.py model_identity, and embedding size), so
that no other model scores them."""
import json
import os
import zipfile

import numpy as np

from pfe_estimator import errors
from pfe_estimator.storage import atomic_files


def image_name(path):
    """LFW-style image name of a path: its base name without extension (Aaron_Peirsol_0001)."""
    return os.path.splitext(os.path.basename(path))[0]


UNIT_TOLERANCE = 1e-3  # |norm of mu - 1| an embedding may have (float32 and bf16 arithmetic)


def check(names, mu, sigma_sq, source):
    """Raises a one-line UserError when mu is not finite and unit length or sigma^2 is not finite and > 0.

    Args:
      names: image names [N]; mu, sigma_sq: float [N, D].
      source: where the features came from, for the message.
    """
    norms = np.linalg.norm(mu, axis=1)
    problems = (("non-finite mu", ~np.isfinite(mu).all(axis=1)),
                ("non-finite sigma^2", ~np.isfinite(sigma_sq).all(axis=1)),
                ("sigma^2 <= 0", ~(sigma_sq > 0).all(axis=1)))
    for what, bad_rows in problems:
        if bad_rows.any():
            first_bad = names[int(np.flatnonzero(bad_rows)[0])]
            raise errors.UserError("%s: %d face(s) with %s (first: %s); these features cannot be scored, recompute them"
                             % (source, int(bad_rows.sum()), what, first_bad))
    off = np.abs(norms - 1.0) > UNIT_TOLERANCE
    if off.any():
        first_off = int(np.flatnonzero(off)[0])
        raise errors.UserError("%s: mu is not unit length (norm %.3g for %s, %d face(s) in all): not PFE embeddings "
                               "(mu is L2-normalised); compute them with --mode=predict" % (
                                   source, norms[first_off], names[first_off], int(off.sum())))


def check_names(names, source):
    """Raises a one-line UserError when a name is there twice (a second row would silently win)."""
    first_row = {}
    for row, name in enumerate(names):
        if name in first_row:
            raise errors.UserError("%s: %s is there twice (rows %d and %d); an embeddings file names each image once"
                                   % (source, name, first_row[name], row))
        first_row[name] = row


def save(path, names, mu, sigma_sq, model=None):
    """Writes {'names', 'mu', 'sigma_sq'} and the model that made them (a JSON-able dict, or None) to an .npz
    atomically (temporary file, then rename)."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory)
    arrays = {"names": np.array(names), "mu": mu, "sigma_sq": sigma_sq}
    if model is not None:
        arrays["model"] = np.array(json.dumps(dict(model, embedding_size=int(mu.shape[1])), sort_keys=True))
    with atomic_files.writing(path) as temporary:
        write_npz(temporary, arrays)


def model_of(path):
    """The model an embeddings file records having made it ({..., 'embedding_size'}), or None (a file without)."""
    with np.load(path) as data:
        return json.loads(str(data["model"])) if "model" in data.files else None


def write_npz(path, arrays):
    """np.savez's format (one .npy per array in a zip), closing the zip file on an error as savez does not:
    a failed write (a full disk) raises once, without a second traceback from the zip file's clean-up."""
    archive = zipfile.ZipFile(path, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True)
    try:
        for name, value in arrays.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)
        archive.close()
    except BaseException:
        handle, archive.fp = archive.fp, None  # close() must not write an end record to the failed file
        if handle is not None:
            try:
                handle.close()
            except (IOError, OSError):
                pass
        raise


def is_embedding_file(path):
    """Whether `path` is a features .npz this pipeline wrote (arrays names, mu, sigma_sq)."""
    try:
        with np.load(path) as data:
            return {"names", "mu", "sigma_sq"} <= set(data.files)
    except (IOError, OSError, ValueError):
        return False


def load(path):
    """Reads an .npz with names [N], mu [N, D], sigma_sq [N, D]; one-line ValueError when malformed."""
    try:
        data = np.load(path)
    except (IOError, OSError, ValueError) as error:
        raise errors.UserError("%s: cannot read features (%s)" % (path, error))
    for key in ("names", "mu", "sigma_sq"):
        if key not in data:
            raise errors.UserError("%s: no '%s' array (expected names, mu, sigma_sq)" % (path, key))
    names, mu, sigma_sq = [str(n) for n in data["names"]], data["mu"], data["sigma_sq"]
    if mu.ndim != 2 or mu.shape != sigma_sq.shape or len(names) != len(mu):
        raise errors.UserError("%s: names %d, mu %s and sigma_sq %s do not match" % (path, len(names), mu.shape,
                                                                               sigma_sq.shape))
    check_names(names, path)
    check(names, mu, sigma_sq, path)
    return names, mu, sigma_sq

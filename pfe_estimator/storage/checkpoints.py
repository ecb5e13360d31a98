"""Finding checkpoints and restoring part of a graph from them, with one-line errors; a checkpoint's identity."""
import os
import re

import tensorflow.compat.v1 as tf

from pfe_estimator import errors
from pfe_estimator.storage import outputs


def resolve_checkpoint(path):
    """Returns the checkpoint prefix that `path` names.

    Args:
      path: a checkpoint prefix (`dir/ckpt-3000`) or a folder. For a folder, the `checkpoint` state
        file's latest entry is used when its files exist (the released models' state files carry the
        authors' absolute paths, so they may not); otherwise the prefix with the highest step among the
        folder's `*.index` files.

    Raises:
      ValueError: nothing restorable at `path`.
    """
    if tf.gfile.Exists(path + ".index"):
        return path
    if tf.gfile.IsDirectory(path):
        latest = tf.train.latest_checkpoint(path)
        if latest and tf.gfile.Exists(latest + ".index"):
            return latest
        prefixes = [name[:-len(".index")] for name in tf.gfile.ListDirectory(path) if name.endswith(".index")]
        if prefixes:
            def step_of(prefix):
                match = re.search(r"(\d+)$", prefix)
                return int(match.group(1)) if match else -1
            return os.path.join(path, max(prefixes, key=lambda p: (step_of(p), p)))
    raise errors.UserError("%s: no checkpoint there (expected a folder with *.index files or a checkpoint prefix)"
                     % path)


def absolute_prefix(path):
    """The absolute checkpoint prefix a folder or prefix names (as records keep it), or None for None."""
    return os.path.abspath(resolve_checkpoint(path)) if path else None


def identity(prefix):
    """What tells a checkpoint from every other: {'checkpoint': its file name, 'sha256': of its .index file,
    which holds every tensor's checksum, so any change of any value (a resumed or retrained model) changes it}."""
    return {"checkpoint": os.path.basename(prefix), "sha256": outputs.file_digest(prefix + ".index")}


def list_checkpoint_variables(checkpoint):
    """[(name, shape)] of a checkpoint prefix; one-line ValueError naming it when it cannot be read."""
    try:
        return tf.train.list_variables(checkpoint)
    except tf.errors.OpError as error:
        raise errors.UserError("%s: unreadable checkpoint (%s); give an intact checkpoint"
                         % (checkpoint, errors.first_line(error.message)))


def check_variables_in_checkpoint(checkpoint, variables):
    """Raises a one-line ValueError naming the first variable `checkpoint` lacks or holds in another shape.

    Args:
      checkpoint: a checkpoint prefix.
      variables: tf.Variables whose op names must be in the checkpoint with the same shape.
    """
    stored = dict(list_checkpoint_variables(checkpoint))
    for variable in variables:
        name = variable.op.name
        shape = variable.shape.as_list()
        if name not in stored:
            raise errors.UserError("%s: checkpoint has no variable %s (shape %s)" % (checkpoint, name, shape))
        if list(stored[name]) != shape:
            raise errors.UserError("%s: variable %s has shape %s in the checkpoint, the model needs %s"
                             % (checkpoint, name, list(stored[name]), shape))


def restore_variables(session, checkpoint, variables):
    """Restores `variables` into `session` from a checkpoint prefix, checked first (one-line ValueError)."""
    check_variables_in_checkpoint(checkpoint, variables)
    tf.train.Saver(variables).restore(session, checkpoint)


def init_scope_from_checkpoint(checkpoint_path, scope):
    """Makes every global variable under `scope` initialise from the same name in a checkpoint.

    Used inside a model_fn: tf.train.init_from_checkpoint only replaces initialisers, so once the
    Estimator's model_dir holds a checkpoint of its own, that one wins on resume.

    Args:
      checkpoint_path: a folder or checkpoint prefix (see `resolve_checkpoint`).
      scope: variable scope, e.g. 'SphereNet'.

    Returns:
      The resolved checkpoint prefix.
    """
    checkpoint = resolve_checkpoint(checkpoint_path)
    variables = tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES, scope=scope + "/")
    check_variables_in_checkpoint(checkpoint, variables)
    tf.train.init_from_checkpoint(checkpoint, {scope + "/": scope + "/"})
    return checkpoint


def _step_of(prefix):
    match = re.search(r"-(\d+)$", prefix)
    return int(match.group(1)) if match else -1


def model_checkpoints(model_dir):
    """The `model.ckpt-N` prefixes in a folder that have an index file, newest (highest N) first."""
    pattern = os.path.join(model_dir, "model.ckpt-*.index")
    return sorted((path[:-len(".index")] for path in tf.gfile.Glob(pattern)), key=_step_of, reverse=True)


def checkpoint_problem(prefix):
    """None when every tensor of the checkpoint reads back, else a one-line reason."""
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except Exception as error:  # pylint: disable=broad-except  # the reader raises IndexError, OpError, ...
        return errors.first_line(getattr(error, "message", None) or str(error)) or type(error).__name__
    return None


def intact_checkpoint(path):
    """The checkpoint to read for predict, eval and export: what resolve_checkpoint names when every tensor
    reads back, else (for a folder) the newest intact model.ckpt-N, with a warning. The folder is left as it is
    (training, not a reader, moves corrupt checkpoints aside).

    Raises:
      UserError: nothing intact there, naming each corrupt checkpoint.
    """
    prefix = resolve_checkpoint(path)
    problem = checkpoint_problem(prefix)
    if problem is None:
        return prefix
    corrupt = ["%s (%s)" % (os.path.basename(prefix), problem)]
    if tf.gfile.IsDirectory(path):
        for candidate in model_checkpoints(path):
            if candidate == prefix:
                continue
            other_problem = checkpoint_problem(candidate)
            if other_problem is None:
                tf.logging.warning("%s: corrupt checkpoint %s; reading the newest intact one, %s (rerun training on "
                                   "this folder to move the corrupt one aside)", path, corrupt[0],
                                   os.path.basename(candidate))
                return candidate
            corrupt.append("%s (%s)" % (os.path.basename(candidate), other_problem))
    raise errors.UserError("%s: no intact checkpoint (%s); restore the files or train again"
                           % (path, "; ".join(corrupt)))


CORRUPT_FOLDER = "corrupt"


def recover_training_checkpoint(model_dir):
    """Makes sure an Estimator resumes where training stopped, never silently from step 0.

    Estimator resumes from the `checkpoint` state file; when that is missing, garbled or names a missing
    checkpoint, it would start at step 0 and overwrite the existing model.ckpt-* files. When the latest
    checkpoint is corrupt (a truncated data file, a garbled index), restoring it fails.

    Returns:
      None when model_dir holds no checkpoint (a new training), else the prefix training resumes from.
      A corrupt latest checkpoint is moved into model_dir/corrupt/ and the state file pointed at the
      newest intact one (logged as a warning).

    Raises:
      ValueError: checkpoints exist but the state file does not resolve to one, or none is intact.
    """
    found = model_checkpoints(model_dir)
    if not found:
        return None
    state = tf.train.get_checkpoint_state(model_dir)
    latest = state.model_checkpoint_path if state else None
    if not latest or not tf.gfile.Exists(latest + ".index"):
        raise errors.UserError(
            "%s: holds %s but its `checkpoint` state file is missing, unreadable or names a missing checkpoint, "
            "so training would restart at step 0 and overwrite them; to resume, write a `checkpoint` file with "
            "the line model_checkpoint_path: \"%s\", or use a new --model_dir"
            % (model_dir, os.path.basename(found[0]), os.path.basename(found[0])))
    candidates = [latest] + [p for p in found if _step_of(p) < _step_of(latest)]
    corrupt = []
    for prefix in candidates:
        problem = checkpoint_problem(prefix)
        if problem is None:
            break
        corrupt.append("%s (%s)" % (os.path.basename(prefix), problem))
        _move_aside(prefix, os.path.join(model_dir, CORRUPT_FOLDER))
    else:
        raise errors.UserError("%s: no intact checkpoint (%s; moved to %s/); use a new --model_dir"
                         % (model_dir, "; ".join(corrupt), CORRUPT_FOLDER))
    if corrupt:
        kept = [p for p in candidates if p not in candidates[:len(corrupt)]]
        tf.train.update_checkpoint_state(model_dir, prefix, list(reversed(kept)))
        tf.logging.warning("corrupt checkpoint %s moved to %s/; resuming from the newest intact one, %s",
                           "; ".join(corrupt), os.path.join(model_dir, CORRUPT_FOLDER), os.path.basename(prefix))
    return prefix


def _move_aside(prefix, folder):
    """Moves every file of a checkpoint prefix (index, data shards, meta) into `folder`."""
    if not tf.gfile.IsDirectory(folder):
        tf.gfile.MakeDirs(folder)
    for path in tf.gfile.Glob(prefix + ".*"):
        tf.gfile.Rename(path, os.path.join(folder, os.path.basename(path)), overwrite=True)


def kept_checkpoint(model_dir):
    """What an interrupted or failed training leaves in model_dir, and how to go on (one line)."""
    latest = tf.train.latest_checkpoint(model_dir) if os.path.isdir(model_dir) else None
    if latest:
        return "%s keeps %s; rerun the same command to resume from it" % (model_dir, os.path.basename(latest))
    return "no checkpoint was written yet"

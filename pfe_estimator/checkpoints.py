"""Finding checkpoints and restoring part of a graph from them, with one-line errors."""
import os
import re

import tensorflow.compat.v1 as tf


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
    raise ValueError("%s: no checkpoint there (expected a folder with *.index files or a checkpoint prefix)"
                     % path)


def check_variables_in_checkpoint(checkpoint, variables):
    """Raises a one-line ValueError naming the first variable `checkpoint` lacks or holds in another shape.

    Args:
      checkpoint: a checkpoint prefix.
      variables: tf.Variables whose op names must be in the checkpoint with the same shape.
    """
    stored = dict(tf.train.list_variables(checkpoint))
    for variable in variables:
        name = variable.op.name
        shape = variable.shape.as_list()
        if name not in stored:
            raise ValueError("%s: checkpoint has no variable %s (shape %s)" % (checkpoint, name, shape))
        if list(stored[name]) != shape:
            raise ValueError("%s: variable %s has shape %s in the checkpoint, the model needs %s"
                             % (checkpoint, name, list(stored[name]), shape))


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

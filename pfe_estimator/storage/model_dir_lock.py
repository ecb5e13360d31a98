"""An advisory lock on a model folder, so that two trainings (or training and export) never share one.

The lock is a file, `model_dir/.pfe_lock`, created exclusively and holding the owner's host, pid and
mode. A lock whose owner is a dead process on this host is stale and taken over; a live owner, or one on
another host (which cannot be checked from here), is reported with what to do.
"""
import contextlib
import errno
import json
import os
import socket
import time

from pfe_estimator import errors
from pfe_estimator.storage import atomic_files

LOCK_NAME = ".pfe_lock"


class LockedError(errors.UserError):
    """The folder is in use; str() names the owner and what to do."""


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except OSError as error:
        return error.errno == errno.EPERM
    return True


def _read_owner(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (IOError, OSError, ValueError):
        return None


def _is_stale(owner):
    return owner is None or (owner.get("host") == socket.gethostname() and not _process_alive(int(owner["pid"])))


def acquire(model_dir, mode, path=None):
    """Takes the lock of `model_dir` for `mode` ('train', 'export', ...); returns the lock file's path.

    Args:
      path: where the lock file goes (default model_dir/.pfe_lock; beside a folder that is replaced whole,
        storage.outputs.writer_lock).

    Raises:
      LockedError: another live process holds it.
    """
    path = path or os.path.join(model_dir, LOCK_NAME)
    if not os.path.isdir(os.path.dirname(path) or "."):
        os.makedirs(os.path.dirname(path))
    owner = {"host": socket.gethostname(), "pid": os.getpid(), "mode": mode,
             "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    for _ in range(2):
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except OSError as error:
            if error.errno != errno.EEXIST:
                raise
            holder = _read_owner(path)
            if not _is_stale(holder):
                raise LockedError(
                    "%s is in use by %s (pid %s on %s, since %s); wait for it to finish, or delete %s if that "
                    "process is gone" % (model_dir, holder.get("mode"), holder.get("pid"), holder.get("host"),
                                         holder.get("started"), path))
            os.remove(path)  # stale: its owner died without releasing it
            continue
        try:
            with atomic_files.full_disk_named(model_dir, lambda: "nothing was changed"), \
                    os.fdopen(descriptor, "w", encoding="utf-8") as f:
                json.dump(owner, f)
        except BaseException:
            os.remove(path)  # a lock that names no owner would stay as a stale one nobody can name
            raise
        return path
    raise LockedError("%s: could not take the lock %s; retry" % (model_dir, path))


def release(path):
    """Removes a lock file this process holds."""
    owner = _read_owner(path)
    if owner and owner.get("pid") == os.getpid() and owner.get("host") == socket.gethostname():
        os.remove(path)


@contextlib.contextmanager
def locked(model_dir, mode, path=None):
    """Holds the lock of `model_dir` (at `path`, see acquire) for the duration of a `with` block."""
    path = acquire(model_dir, mode, path)
    try:
        yield
    finally:
        release(path)

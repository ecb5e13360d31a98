"""Outputs that are provably the pipeline's own: an ownership marker, a fingerprint to resume, refusal otherwise.

Every folder the pipeline writes (TFRecords, feature cache, export, report) carries `pfe_output.json`
with its kind and, for resumable outputs, a fingerprint of everything that decides its content. A target
that exists and is not an output of the same kind is refused unless the user asks to overwrite it; a
resumable output whose fingerprint differs from the current run's is refused with what changed.
"""
import contextlib
import glob
import hashlib
import json
import os
import shutil
import tempfile

from pfe_estimator import errors
from pfe_estimator.storage import atomic_files
from pfe_estimator.storage import model_dir_lock

MARKER_NAME = "pfe_output.json"


class OutputError(errors.UserError):
    """A target the pipeline must not write; str() is the one-line reason and what to do."""


class MadeFromOtherInputsError(OutputError):
    """An output folder of the same kind whose fingerprint differs; `changes` names what differs."""

    def __init__(self, message, changes):
        super(MadeFromOtherInputsError, self).__init__(message)
        self.changes = changes


def file_digest(path, algorithm="sha256"):
    """Hex digest of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(2 ** 20), b""):
            digest.update(block)
    return digest.hexdigest()


def text_digest(lines):
    """sha256 hex digest of an iterable of text lines."""
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def _contents(directory):
    """A folder's entries, less the lock of the run that holds it (model_dir_lock)."""
    return [name for name in os.listdir(directory) if name != model_dir_lock.LOCK_NAME]


def _real(path):
    return os.path.realpath(os.path.abspath(os.path.normpath(path)))


def overlaps(path, other):
    """Whether `path` equals, contains or lies inside `other` (after resolving links and trailing slashes)."""
    path, other = _real(path), _real(other)
    return path == other or path.startswith(other.rstrip(os.sep) + os.sep) or \
        other.startswith(path.rstrip(os.sep) + os.sep)


def _relation(path, other):
    """How `path` overlaps `other`: 'is', 'lies inside' or 'holds' (paths resolved as in overlaps)."""
    path, other = _real(path), _real(other)
    if path == other:
        return "is"
    return "lies inside" if path.startswith(other.rstrip(os.sep) + os.sep) else "holds"


def check_run_paths(written, read):
    """The one rule for every output of every run: no output path equals, contains or lies inside a path the
    run reads or keeps as state, or another of its outputs. `--overwrite` never lifts it.

    Args:
      written: {flag name: path or None} of what the run writes, e.g. {'report_dir': 'report'}.
      read: {flag name: path or None} of what it reads or keeps (model_dir, data_dir, pretrained_ckpt, ...).
        None entries are ignored.

    Raises:
      OutputError: naming both flags, how they overlap and what the input is.
    """
    written = dict((flag, path) for flag, path in written.items() if path)
    others = dict((flag, path) for flag, path in read.items() if path and flag not in written)
    for flag, path in sorted(written.items()):
        protected = sorted(others.items()) + sorted((f, p) for f, p in written.items() if f > flag)
        for other_flag, other in protected:
            if overlaps(path, other):
                kind = "which this run also writes" if other_flag in written else "which this run reads"
                raise OutputError("--%s=%s %s --%s=%s, %s (%s); an output may not be, hold or lie inside another "
                                  "path of the run, --overwrite included: choose a path outside it" % (
                                      flag, path, _relation(path, other), other_flag, other, kind,
                                      describe(other)))


def read_marker(directory):
    """The ownership marker of a folder as a dict, or None when it has none (or an unreadable one)."""
    try:
        with open(os.path.join(directory, MARKER_NAME), encoding="utf-8") as f:
            marker = json.load(f)
    except (IOError, OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def write_marker(directory, kind, fingerprint=None, files=None):
    """Marks a folder as an output of `kind`; `files`: the entries the pipeline wrote there (a folder output
    that is replaced whole keeps the list, so that a rerun knows what is not its own)."""
    marker = {"kind": kind, "fingerprint": fingerprint}
    if files is not None:
        marker["files"] = sorted(files)
    atomic_files.write_json(os.path.join(directory, MARKER_NAME), marker)


def add_written(directory, names):
    """Adds entries the pipeline wrote into an output folder to its marker's list (a new calibration's
    earlier record kept beside it, for instance)."""
    marker = read_marker(directory) or {}
    if marker.get("files") is not None:
        write_marker(directory, marker.get("kind"), marker.get("fingerprint"), set(marker["files"]) | set(names))


def foreign_entries(directory, written):
    """The entries of an output folder that the pipeline did not write: not in `written`, the marker or a lock."""
    return sorted(name for name in _contents(directory) if name != MARKER_NAME and name not in set(written))


def _refuse_foreign(directory, flag, foreign):
    raise OutputError("--%s=%s holds %s, which this pipeline did not write; move it out of the folder (a rerun "
                      "replaces only what it wrote), or choose another folder" % (flag, directory, foreign[0]))


def writer_lock(target, mode):
    """The lock every writer of a folder output that is replaced whole holds while it writes: a file beside
    the folder (its swap would carry a lock inside it away), so a second writer is refused naming the first
    and never removes the first one's staging folder."""
    parent, name = os.path.split(os.path.normpath(target))
    return model_dir_lock.locked(target, mode, os.path.join(parent or ".", ".%s%s" % (name, model_dir_lock.LOCK_NAME)))


def fingerprint_changes(recorded, current):
    """Keys whose values differ between two fingerprint dicts, sorted; values shown when short."""
    changes = []
    for key in sorted(set(recorded or {}) | set(current or {})):
        old, new = (recorded or {}).get(key), (current or {}).get(key)
        if old != new:
            shown = json.dumps(old), json.dumps(new)
            changes.append("%s %s -> %s" % (key, shown[0], shown[1]) if max(map(len, shown)) <= 40 else key)
    return changes


def is_model_folder(directory):
    """Whether a folder holds training state: checkpoints (a `checkpoint` file, *.index) or a model record."""
    return os.path.isdir(directory) and (
        any(os.path.exists(os.path.join(directory, name)) for name in ("checkpoint", "pfe_config.json")) or
        bool(glob.glob(os.path.join(glob.escape(directory), "*.index"))))


def describe(path):
    """What a path is, for refusals: a pipeline output of some kind, a training model folder, a folder of
    foreign files, a file."""
    if not os.path.exists(path):
        return "a checkpoint" if glob.glob(glob.escape(path) + ".index") else "not created yet"
    if not os.path.isdir(path):
        return "a file"
    marker = read_marker(path)
    if marker:
        return "a %s output of this pipeline" % marker.get("kind")
    if is_model_folder(path):
        return "a training model folder (checkpoints)"
    if not _contents(path):
        return "an empty folder"
    return "a folder of files this pipeline did not write"


def _refusal(directory, kind, flag):
    """The refusal of a non-empty `directory` that is not an earlier `kind` output: what it is, and
    --overwrite only where it may apply (never to a training model folder)."""
    if is_model_folder(directory) and not read_marker(directory):
        return OutputError("--%s=%s holds a training model folder (checkpoints); --overwrite never replaces one: "
                           "choose another folder" % (flag, directory))
    return OutputError("--%s=%s already holds %s, not an earlier %s output; use a new folder, or --overwrite to "
                       "replace its contents" % (flag, directory, describe(directory), kind))


def _refuse_to_remove_the_working_folder(directory, flag):
    """--overwrite never removes the folder the user stands in, or one around it."""
    if overlaps(os.getcwd(), directory) and len(_real(directory)) <= len(_real(os.getcwd())):
        raise OutputError("--%s=%s holds the current folder; --overwrite will not remove it, choose an output "
                          "folder of its own" % (flag, directory))


def _clear(directory, flag):
    """Empties a folder, keeping the lock of the run that holds it."""
    _refuse_to_remove_the_working_folder(directory, flag)
    for name in _contents(directory):
        path = os.path.join(directory, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


def claim_directory(directory, kind, flag, fingerprint=None, overwrite=False):
    """Makes `directory` ready to hold an output of `kind`, refusing anything that is not its own.

    A missing or empty folder is created and marked. A folder marked with the same kind is resumed when
    its fingerprint equals `fingerprint`; with another fingerprint it is refused, naming what changed.
    Anything else (a file, a foreign folder, another kind) is refused. `overwrite` clears a refused folder
    and starts anew (never a file).

    Args:
      directory: the output folder.
      kind: 'tfrecords', 'feature_cache', 'report', ...
      flag: the flag that named the folder, for messages.
      fingerprint: JSON-able dict of what decides the content, or None for outputs rewritten whole.
      overwrite: the user's --overwrite.

    Returns:
      'new' (empty and marked) or 'resume' (same kind, same fingerprint).

    Raises:
      OutputError: refused, with the reason and what to do.
    """
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise OutputError("--%s=%s is a file, not a folder; give a folder path" % (flag, directory))
    if os.path.isdir(directory) and _contents(directory):
        marker = read_marker(directory)
        if marker and marker.get("kind") == kind and marker.get("fingerprint") == fingerprint:
            return "resume"
        if not overwrite:
            if marker and marker.get("kind") == kind:
                changes = "; ".join(fingerprint_changes(marker.get("fingerprint"), fingerprint))
                raise MadeFromOtherInputsError("--%s=%s was made from other inputs or settings (changed: %s); use a "
                                               "new folder, or --overwrite to rebuild it" % (flag, directory, changes),
                                               changes)
            raise _refusal(directory, kind, flag)
        if is_model_folder(directory) and not read_marker(directory):
            raise _refusal(directory, kind, flag)
        _clear(directory, flag)
    try:
        if not os.path.isdir(directory):
            os.makedirs(directory)
        write_marker(directory, kind, fingerprint)
    except (IOError, OSError) as error:
        raise OutputError("--%s=%s cannot be written (%s); choose a writable folder"
                          % (flag, directory, error.strerror or error))
    return "new"


@contextlib.contextmanager
def claimed_directory(directory, kind, flag, fingerprint=None, overwrite=False, mode=None):
    """claim_directory under the folder's lock (model_dir_lock), held for the `with` block: one writer of a
    resumable output at a time, a second refused naming the first. Yields claim_directory's 'new' or 'resume'."""
    try:
        lock = model_dir_lock.acquire(directory, mode or kind)
    except OSError:  # a file there, or no way to create the folder: claim_directory names the reason
        claim_directory(directory, kind, flag, fingerprint, overwrite)
        raise
    try:
        yield claim_directory(directory, kind, flag, fingerprint, overwrite)
    finally:
        model_dir_lock.release(lock)


def check_replaceable_directory(directory, kind, flag, overwrite=False):
    """Raises OutputError unless `directory` is absent, empty or an earlier output of `kind` (or overwrite)."""
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise OutputError("--%s=%s is a file, not a folder; give a folder path" % (flag, directory))
    if not os.path.isdir(directory) or not _contents(directory):
        return
    marker = read_marker(directory)
    if marker and marker.get("kind") == kind:
        return
    if not overwrite or (is_model_folder(directory) and not marker):
        raise _refusal(directory, kind, flag)


def check_replaceable_file(path, flag, is_own, overwrite=False):
    """Raises OutputError unless `path` is absent or `is_own(path)` says it is an earlier output (or overwrite).

    Also refuses a folder at `path`, and creates the parent folder.
    """
    if os.path.isdir(path):
        raise OutputError("--%s=%s is a folder; give a file path" % (flag, path))
    if os.path.exists(path) and not overwrite and not is_own(path):
        raise OutputError("--%s=%s exists and is not an output of this pipeline; use a new name, or --overwrite "
                          "to replace it" % (flag, path))
    parent = os.path.dirname(os.path.abspath(path))
    try:
        if not os.path.isdir(parent):
            os.makedirs(parent)
    except (IOError, OSError) as error:
        raise OutputError("--%s=%s: cannot create its folder (%s)" % (flag, path, error.strerror or error))


def staging_directory(target):
    """A new hidden folder beside `target` to build a replacement in; removes those killed runs left.

    The caller builds inside it (e.g. in a sub-folder), then moves the result with replace_path.
    """
    parent, name = os.path.split(os.path.normpath(target))
    prefix = ".%s.partial-" % name
    for leftover in glob.glob(os.path.join(parent or ".", prefix + "*")):
        shutil.rmtree(leftover, ignore_errors=True)
    if parent and not os.path.isdir(parent):
        os.makedirs(parent)
    return tempfile.mkdtemp(prefix=prefix, dir=parent or ".")


def replace_path(source, destination):
    """Moves a finished file or folder to `destination`; an earlier one stays intact until then: it is
    renamed aside, the new one renamed in, and only then the earlier one removed, so at every moment either
    the old or the new complete one exists (under its name or the aside name)."""
    aside = source + ".replaced"
    if os.path.exists(destination):
        os.rename(destination, aside)
    os.rename(source, destination)
    if os.path.isdir(aside):
        shutil.rmtree(aside)
    elif os.path.exists(aside):
        os.remove(aside)


@contextlib.contextmanager
def replacing_directory(target, kind, flag, fingerprint=None, overwrite=False):
    """Builds a folder output whole, then swaps it in: `with replacing_directory(...) as staging:`.

    Checks that `target` may be replaced (check_replaceable_directory) and holds nothing the pipeline did not
    write (its marker lists what it wrote; anything else is refused, naming it, unless `overwrite`), takes
    the writers' lock (writer_lock), yields a path beside it that does not exist yet for the caller to create
    and fill; when the block completes, marks it with the entries written and moves it to `target`
    (replace_path). If the block fails, or the process dies, the earlier `target` is intact and the staging
    folder is removed (now, or by the next writer).
    """
    check_replaceable_directory(target, kind, flag, overwrite)
    if overwrite and os.path.isdir(target):
        _refuse_to_remove_the_working_folder(target, flag)
    marker = read_marker(target) if os.path.isdir(target) and not overwrite else None
    written = (marker or {}).get("files")
    if written is not None and foreign_entries(target, written):
        _refuse_foreign(target, flag, foreign_entries(target, written))
    with writer_lock(target, kind):
        staging_root = staging_directory(target)
        try:
            staging = os.path.join(staging_root, os.path.basename(os.path.normpath(target)))
            yield staging
            files = os.listdir(staging)
            if marker and written is None and foreign_entries(target, files):  # marked before it kept a list
                _refuse_foreign(target, flag, foreign_entries(target, files))
            write_marker(staging, kind, fingerprint, files)
            replace_path(staging, target)
        finally:
            shutil.rmtree(staging_root, ignore_errors=True)

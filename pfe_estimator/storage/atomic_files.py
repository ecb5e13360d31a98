"""Writing outputs so that a reader never sees half a file: write under a temporary name, then rename."""
import contextlib
import json
import math
import os
import shutil

from pfe_estimator import errors

PARTIAL_SUFFIX = ".partial"


def partial_path(path):
    """The temporary name a file is written under before `os.replace` moves it to `path`."""
    return path + PARTIAL_SUFFIX


FULL_DISK_WORDS = ("No space left", "File too large", "Disk quota")


def is_full_disk(error):
    """Whether an error (OSError, or TensorFlow's error on a file it writes) says the disk or a quota is full."""
    if isinstance(error, OSError) and error.errno in errors.FULL_DISK_ERRNOS:
        return True
    return any(words in str(getattr(error, "message", None) or error) for words in FULL_DISK_WORDS)


@contextlib.contextmanager
def full_disk_named(path, kept):
    """Turns a disk that fills while `path` is written into one UserError naming it and what is `kept`
    (callable() -> text, asked when it happens); anything else passes on unchanged."""
    try:
        yield
    except Exception as error:  # pylint: disable=broad-except  # OSError, TensorFlow's errors: re-raised unless full
        if isinstance(error, errors.UserError) or not is_full_disk(error):
            raise
        reason = getattr(error, "strerror", None) or errors.first_line(getattr(error, "message", None) or error)
        raise errors.UserError("%s: cannot be written, the disk is full (%s); %s" % (path, reason, kept())) from error


def strict_json_value(value):
    """`value` with every non-finite float (NaN, inf) replaced by None, so that it dumps as strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: strict_json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json_value(item) for item in value]
    return value


@contextlib.contextmanager
def writing(path):
    """Yields the temporary path to write `path`'s content to (beside it, same extension, so writers that go
    by the extension work); when the block ends without an error it replaces `path`, else it is removed.

      with atomic_files.writing("report/roc.png") as temporary:
          figure.savefig(temporary)
    """
    temporary = partial_path(path) + os.path.splitext(path)[1]
    try:
        with full_disk_named(path, lambda: "the earlier file is kept" if os.path.exists(path) else
                             "nothing was written"):
            yield temporary
            os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_text(path, text):
    """Writes UTF-8 `text` to `path` atomically ('\n' line ends on every platform)."""
    with writing(path) as temporary, open(temporary, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def _json_text(content):
    """`content` as indented strict JSON text (non-finite numbers as null)."""
    try:  # the common case: nothing non-finite, no walk over the content in Python
        return json.dumps(content, indent=1, ensure_ascii=False, sort_keys=True, allow_nan=False)
    except ValueError:
        return json.dumps(strict_json_value(content), indent=1, ensure_ascii=False, sort_keys=True, allow_nan=False)


def write_json(path, content):
    """Writes `content` as indented UTF-8 strict JSON (non-finite numbers as null) to `path` atomically."""
    write_text(path, _json_text(content))


def previous_name(path):
    """<name>.previous-N<ext> with the first N no file has: where an earlier version of `path` is kept."""
    root, extension = os.path.splitext(path)
    number = 1
    while os.path.exists("%s.previous-%d%s" % (root, number, extension)):
        number += 1
    return "%s.previous-%d%s" % (root, number, extension)


def keep_previous(path):
    """Renames an existing file to previous_name(path), so that what replaces it never loses it; returns that
    name, or None when there is no such file."""
    if not os.path.exists(path):
        return None
    kept = previous_name(path)
    os.rename(path, kept)
    return kept


def write_json_keeping_previous(path, content):
    """Replaces `path` with JSON `content` and keeps the file it replaces as previous_name(path): the new file is
    written whole first, then the earlier one copied aside, then the new one renamed in, so that at every moment
    (a full disk, Ctrl-C) `path` holds the earlier or the new content. Returns the copy's name or None.

    Raises:
      UserError: the disk filled, naming `path` and saying the earlier file is kept.
    """
    partial = partial_path(path)
    kept = None
    try:
        with full_disk_named(path, lambda: "the earlier file is kept" if os.path.exists(path) else
                             "nothing was written"):
            with open(partial, "w", encoding="utf-8", newline="") as f:
                f.write(_json_text(content))
            if os.path.exists(path):
                kept = previous_name(path)
                with open(path, "rb") as source, open(kept + PARTIAL_SUFFIX, "wb") as copy:
                    shutil.copyfileobj(source, copy)
                os.replace(kept + PARTIAL_SUFFIX, kept)
            os.replace(partial, path)
    finally:
        for leftover in (partial, (kept or "") + PARTIAL_SUFFIX):
            if os.path.exists(leftover):
                os.remove(leftover)
    return kept

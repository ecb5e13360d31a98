"""Writing outputs so that a reader never sees half a file: write under a temporary name, then rename."""
import contextlib
import errno
import json
import math
import os

from pfe_estimator import errors

PARTIAL_SUFFIX = ".partial"
# A disk that fills (or a file size limit, or a quota) while an output is written.
FULL_DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def partial_path(path):
    """The temporary name a file is written under before `os.replace` moves it to `path`."""
    return path + PARTIAL_SUFFIX


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
        yield temporary
        os.replace(temporary, path)
    except OSError as error:
        if error.errno not in FULL_DISK_ERRNOS:
            raise
        kept = "the earlier file is kept" if os.path.exists(path) else "nothing was written"
        raise errors.UserError("%s: cannot be written, the disk is full (%s); %s" % (path, error.strerror or error,
                                                                                     kept))
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_text(path, text):
    """Writes UTF-8 `text` to `path` atomically ('\n' line ends on every platform)."""
    with writing(path) as temporary, open(temporary, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def write_json(path, content):
    """Writes `content` as indented UTF-8 strict JSON (non-finite numbers as null) to `path` atomically."""
    try:  # the common case: nothing non-finite, no walk over the content in Python
        text = json.dumps(content, indent=1, ensure_ascii=False, sort_keys=True, allow_nan=False)
    except ValueError:
        text = json.dumps(strict_json_value(content), indent=1, ensure_ascii=False, sort_keys=True, allow_nan=False)
    write_text(path, text)

"""The one base class of the errors a user's input causes (a flag, a file, the data), and what every entry point
(main.py, data_prep/, scripts/) does with an exception: such an error becomes one `error:` line naming the file,
flag or value; Ctrl-C one line saying what was kept; anything else is a bug and keeps its traceback."""
import errno
import sys

# A disk that fills (or a file size limit, or a quota) while an output is written.
FULL_DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class UserError(ValueError):
    """An input the run cannot use; str() is one line naming the flag, file or value and what to do.

    A ValueError, so code that handles bad values in general keeps handling these.
    """


class MissingDependencyError(UserError, ImportError):
    """A package the chosen option needs is not installed (e.g. npu_bridge for --device=npu)."""


# Lines of TensorFlow's error messages that say where, not what (TF 2.x graph execution errors).
_CONTEXT_LINES = ("Graph execution error:", "Detected at node", "Node:", "Original stack trace", "[[")


def first_line(message):
    """The line of an error message (TensorFlow's included) that says what went wrong."""
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    nodes = [index for index, line in enumerate(lines) if line.startswith("Node:")]
    if nodes:  # "Detected at node 'x' defined at ... (its stack) ... Node: 'x'" precedes what went wrong
        lines = lines[nodes[-1] + 1:] or lines
    meaningful = [line for line in lines if not line.startswith(_CONTEXT_LINES)]
    return (meaningful or lines or [""])[0]


def is_user_error(error):
    """Errors a user's input causes: UserError, a file the system refuses (missing, a folder, no permission, a
    full disk: OSError naming it) and TensorFlow's file errors. Anything else is a bug."""
    if isinstance(error, UserError):
        return True
    if isinstance(error, OSError):
        return bool(error.filename) or error.errno in FULL_DISK_ERRNOS + (errno.EROFS,)
    tensorflow = sys.modules.get("tensorflow")  # an error of TensorFlow's only where TensorFlow is loaded
    return bool(tensorflow) and isinstance(error, (tensorflow.errors.NotFoundError,
                                                   tensorflow.errors.PermissionDeniedError))


def one_line(error):
    """The message of a user-caused error as one line, naming the file where the error carries one."""
    if isinstance(error, OSError) and error.filename:
        return "%s: %s" % (error.filename, error.strerror or error)
    return first_line(getattr(error, "message", None) if hasattr(error, "error_code") else str(error)) or \
        type(error).__name__


def run_script(main, kept):
    """Runs an entry point's main(): a user error exits with one `error:` line, Ctrl-C with `interrupted: `
    and kept(), the line saying what the run leaves (e.g. its finished pieces, for a rerun to reuse); a bug
    re-raises."""
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted: %s" % kept())
    except Exception as error:  # pylint: disable=broad-except  # user errors become one line, bugs re-raise
        if not is_user_error(error):
            raise
        sys.exit("error: %s" % one_line(error))

"""What an entry point (main.py, the scripts) does with an exception: an error the user's input caused becomes
one `error:` line naming the file, flag or value; Ctrl-C one line saying what was kept; anything else is a bug
and keeps its traceback."""
import errno
import sys

import tensorflow.compat.v1 as tf

from pfe_estimator import errors
from pfe_estimator.storage import atomic_files


def is_user_error(error):
    """Errors a user's input causes: the project's UserError, a file the system refuses (missing, a folder,
    no permission, a full disk: OSError naming it) and TensorFlow's file errors. Anything else is a bug."""
    if isinstance(error, errors.UserError):
        return True
    if isinstance(error, OSError):
        return bool(error.filename) or error.errno in atomic_files.FULL_DISK_ERRNOS + (errno.EROFS,)
    return isinstance(error, (tf.errors.NotFoundError, tf.errors.PermissionDeniedError))


def one_line(error):
    """The message of a user-caused error as one line, naming the file where the error carries one."""
    if isinstance(error, OSError) and error.filename:
        return "%s: %s" % (error.filename, error.strerror or error)
    message = error.message if isinstance(error, tf.errors.OpError) else str(error)
    return errors.first_line(message) or type(error).__name__


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

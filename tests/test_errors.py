"""errors.run_script, the one handling of every entry point: a user error is one `error:` line,
Ctrl-C one `interrupted:` line with what the run keeps, and a bug keeps its traceback."""
import errno

import pytest

from pfe_estimator import errors


def raising(error):
    def main():
        raise error
    return main


def exit_message(main, kept=lambda: "W keeps what it finished"):
    with pytest.raises(SystemExit) as exit_info:
        errors.run_script(main, kept)
    return str(exit_info.value.code)


def test_user_errors_and_ctrl_c_are_one_line_and_bugs_keep_their_traceback():
    assert exit_message(raising(errors.UserError("--x=1: too small\ncontext"))) == "error: --x=1: too small"
    assert exit_message(raising(FileNotFoundError(errno.ENOENT, "No such file or directory", "a.jpg"))) == \
        "error: a.jpg: No such file or directory"
    assert exit_message(raising(KeyboardInterrupt())) == "interrupted: W keeps what it finished"
    with pytest.raises(ZeroDivisionError):  # a bug: re-raised, never turned into an error line
        errors.run_script(raising(ZeroDivisionError()), lambda: "")
    with pytest.raises(ValueError):  # a plain ValueError is a bug too; only UserError is the user's
        errors.run_script(raising(ValueError("x")), lambda: "")
    errors.run_script(lambda: None, lambda: "")  # a run that ends well exits nowhere

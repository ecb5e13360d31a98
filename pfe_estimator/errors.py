"""The one base class of the errors a user's input causes (a flag, a file, the data): the entry points print
these as one `error:` line; any other exception is a bug and keeps its traceback."""


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

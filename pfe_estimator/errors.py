"""The one base class of the errors a user's input causes (a flag, a file, the data): the entry points print
these as one `error:` line; any other exception is a bug and keeps its traceback."""


class UserError(ValueError):
    """An input the run cannot use; str() is one line naming the flag, file or value and what to do.

    A ValueError, so code that handles bad values in general keeps handling these.
    """


class MissingDependencyError(UserError, ImportError):
    """A package the chosen option needs is not installed (e.g. npu_bridge for --device=npu)."""

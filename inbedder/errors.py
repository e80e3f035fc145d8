"""User-facing errors.

Every problem caused by the user's input (a file, an argument, a model path) is raised as
:class:`InBedderError` with a message of one line that says what is wrong and how to fix it.
Messages speak the library's words (``batch_size must be at least 1``); an error about one
argument names it in ``parameter``, and each front end (the CLI's flags, the explorer's
controls) renames that one word in one place: :meth:`InBedderError.renamed`.
"""

from __future__ import annotations

from collections.abc import Mapping


class InBedderError(ValueError):
    """A problem with the user's input; the message says what and how to fix it.

    ``parameter`` is the argument the message is about (its Python name, which the message
    contains), or None when the problem is not one argument's (a file, a model).
    """

    def __init__(self, message: str, *, parameter: str | None = None):
        super().__init__(message)
        self.parameter = parameter

    def renamed(self, names: Mapping[str, str]) -> str:
        """The message with ``parameter`` written as a front end calls it (``--batch-size``)."""
        message = str(self)
        if self.parameter and self.parameter in names:
            message = message.replace(self.parameter, names[self.parameter])
        return message


class NotFittedError(InBedderError, AttributeError):
    """An estimator was used before ``fit`` (as in scikit-learn, also an ``AttributeError``)."""


def one_line(error: BaseException | str) -> str:
    """A library's (often multi-line) message collapsed to one line, so ours stays one line."""
    text = " ".join(str(error).split()).rstrip(".")
    return text or (type(error).__name__ if isinstance(error, BaseException) else "")

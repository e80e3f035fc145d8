"""User-facing errors.

Every problem caused by the user's input (a file, a flag, a model path) is raised as
:class:`InBedderError` with a message of one line that says what is wrong and how to fix it.
The CLI prints that line and exits non-zero instead of showing a traceback.
"""


class InBedderError(Exception):
    """A problem with the user's input; the message says what and how to fix it."""

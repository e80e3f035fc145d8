"""User-facing errors.

Every problem caused by the user's input (a file, an argument, a model path) is raised as
:class:`InBedderError` with a message of one line that says what is wrong and how to fix it.
Messages speak the library's words (``batch_size=0 is out of range``); an error about an
argument names it in ``parameter``, and each front end (the CLI's flags, the explorer's
controls) renames those words in one place: :meth:`InBedderError.renamed`.

How a parameter is written in a message, and what :meth:`~InBedderError.renamed` makes of it
with the CLI's table (``{"batch_size": "--batch-size", "cache=False": "--no-cache"}``):

* ``name=value`` becomes ``--flag value`` (quotes dropped where the shell needs none), or the
  table's entry for ``name=value`` itself when it has one (``cache=False`` -> ``--no-cache``);
* the bare word ``name`` becomes ``--flag``, except right after "a", "an" or "the", where it is
  the ordinary noun ("is not a device"); a name whose table entry is only for a value
  (``cache=False``) is never renamed bare ("the embedding cache" stays);
* where a name is also a plain word of the message ("model"), mark the parameter in backticks:
  ``pass `model` with a hub id or a local model directory``; then only the marked words are
  renamed (backticks and all), and the message reads as code in Python.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence

__all__ = ["InBedderError", "NotFittedError", "one_line", "rename"]

_VALUE = r"""'[^']*'|"[^"]*"|[^\s,;:()'"]*[^\s,;:()'".]"""
_ARTICLE = re.compile(r"\b(?:a|an|the)\s+$", re.IGNORECASE)


class InBedderError(ValueError):
    """A problem with the user's input; the message says what and how to fix it.

    ``parameter`` is the argument the message is about (its Python name, which the message
    contains), a sequence of them when the message names several, or None when the problem is
    not an argument's (a file, a model). ``parameters`` always holds them all as a tuple.
    """

    def __init__(self, message: str, *, parameter: str | Sequence[str] | None = None):
        super().__init__(message)
        names = (parameter,) if isinstance(parameter, str) else tuple(parameter or ())
        self.parameters: tuple[str, ...] = names
        self.parameter: str | None = names[0] if names else None

    def renamed(self, names: Mapping[str, str | None]) -> str:
        """The message with its parameters written as a front end calls them (``--batch-size``).

        A parameter missing from ``names`` (or mapped to None) keeps its Python name.
        """
        return rename(str(self), names, self.parameters)


class NotFittedError(InBedderError, AttributeError):
    """An estimator was used before ``fit`` (as in scikit-learn, also an ``AttributeError``)."""


def rename(text: str, names: Mapping[str, str | None], parameters: Sequence[str]) -> str:
    """``text`` with each of ``parameters`` written as ``names`` says (see the module's rules).

    For library text that is not an error, such as :attr:`inbedder.io.Corpus.notes`.
    """
    for parameter in parameters:
        text = _rename(text, parameter, names)
    return text


def _rename(message: str, parameter: str, names: Mapping[str, str | None]) -> str:
    name = re.escape(parameter)
    marked = re.compile(rf"`{name}(?:=({_VALUE}))?`")
    if marked.search(message):  # the author marked which words are the parameter
        return marked.sub(lambda match: _flag(parameter, match.group(1), names) or match.group(0), message)

    def replace(match: re.Match[str]) -> str:
        value = match.group(1)
        if value is None and _ARTICLE.search(message, 0, match.start()):
            return match.group(0)  # "is not a device": the noun, not the parameter
        return _flag(parameter, value, names) or match.group(0)

    return re.sub(rf"(?<![\w.\-='\"`]){name}(?:=({_VALUE}))?(?![\w\-='\"`])", replace, message)


def _flag(parameter: str, value: str | None, names: Mapping[str, str | None]) -> str | None:
    """How the front end writes ``parameter`` (given ``value``), or None to keep the Python words."""
    flag = names.get(parameter)
    if value is None:
        return flag
    whole = names.get(f"{parameter}={value}")
    if whole:
        return whole
    return f"{flag} {shlex.quote(_unquoted(value))}" if flag else None


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def one_line(error: BaseException | str, *, limit: int | None = None) -> str:
    """A library's (often multi-line) message collapsed to one line, so ours stays one line.

    ``limit`` shortens it to that many characters (ending in "…"): a library's message can be
    pages long, and ours must stay readable.
    """
    text = " ".join(str(error).split()).rstrip(".")
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text or (type(error).__name__ if isinstance(error, BaseException) else "")

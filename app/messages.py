"""Wording for the page: library errors name Python parameters, the page has controls.

An :class:`~inbedder.errors.InBedderError` names the parameter it is about (``text_column``,
``n_clusters=30``) and :meth:`~inbedder.errors.InBedderError.renamed` rewrites it with
:data:`PAGE_NAMES`, the one table of parameter -> control. File paths are renamed too: an
upload is read from a temporary copy, and the user knows it by its own name.
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Iterator, Mapping

from inbedder.errors import InBedderError, one_line

CONTROLS = {
    "n_clusters": "k",
    "text_column": "the 'Text column' choice",
    "label_column": "the 'Label column' choice",
    "id_column": "the id column",
    "encoding": "the 'Encoding' choice",
    "instruction": "the question",
    "instructions": "the question",
    "batch_size": "the batch size",
    "top_n_keywords": "the number of keywords",
    "top_n": "the number of keywords",
    "min_similarity": "the Outliers setting",
}
"""Parameter -> what the page calls the control that sets it."""

VALUES = {
    "n_clusters": "k = {value}",
    "encoding": "the {value} encoding",
}
"""``parameter=value`` -> how the page says that setting (else "<control> <value>")."""

VERBS = {"encoding": ("pass the ", "choose the ")}
"""Per parameter, the library's verb for setting it and the page's (a choice is chosen)."""


class _PageNames(Mapping[str, str]):
    """:data:`CONTROLS`, and ``name=value`` keys phrased by :data:`VALUES` (values are open-ended)."""

    def __getitem__(self, key: str) -> str:
        name, equals, value = key.partition("=")
        if equals and name in VALUES:
            return VALUES[name].format(value=value.strip("'\""))
        if equals:
            raise KeyError(key)
        return CONTROLS[key]

    def __iter__(self) -> Iterator[str]:
        return iter(CONTROLS)

    def __len__(self) -> int:
        return len(CONTROLS)


PAGE_NAMES: Mapping[str, str] = _PageNames()

# Fallback for messages still written with CLI flags (inbedder.io until it names parameters);
# applies to nothing once every message does, and can then be deleted.
_LEGACY_FLAGS = (
    (r"pass --encoding ([\w-]+)", r"choose the \1 encoding"),
    (r"--text-column", CONTROLS["text_column"]),
    (r"--label-column", CONTROLS["label_column"]),
    (r"--id-column", CONTROLS["id_column"]),
    (r"--k (\d+)", r"k = \1"),
    (r"--k\b", "k"),
    (r"--instruction", CONTROLS["instruction"]),
    (r"--batch-size", CONTROLS["batch_size"]),
)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>$~])")


def for_page(error: BaseException | str, paths: dict[str, str] | None = None) -> str:
    """The error's message in the page's terms: parameters named as controls, temporary paths renamed."""
    message = str(error)
    if isinstance(error, InBedderError):
        message = error.renamed(PAGE_NAMES)
        for parameter in getattr(error, "parameters", (error.parameter,)):
            if parameter in VERBS:
                message = message.replace(*VERBS[parameter])
    for path, name in (paths or {}).items():
        message = message.replace(path, name)
    for pattern, replacement in _LEGACY_FLAGS:
        message = re.sub(pattern, replacement, message)
    return message


def unexpected(error: BaseException) -> str:
    """One line for a failure we did not foresee: the page never shows a traceback."""
    detail = one_line(error) or "no details"
    return f"Something went wrong ({type(error).__name__}: {textwrap.shorten(detail, 300)}). " \
        "The details are in the terminal that runs the explorer."


def escape_markdown(text: str) -> str:
    """User text shown as markdown verbatim: no headings, links, LaTeX ($) or HTML from it."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def shorten(text: str, width: int) -> str:
    """Shorten for display only (downloads keep the whole text)."""
    return textwrap.shorten(" ".join(text.split()), width=width, placeholder="…") or text[:width]


def hover_text(text: str, width: int = 280, *, line: int = 60) -> str:
    """Plotly hover label: shortened, HTML-escaped and wrapped with <br> so it stays narrow."""
    return "<br>".join(html.escape(part) for part in textwrap.wrap(shorten(text, width), line)) or "(empty)"


def count(number: int, noun: str = "text") -> str:
    """"1 text", "12 texts": counts in the page's sentences."""
    return f"{number:,} {noun}" + ("" if number == 1 else "s")


def duration(seconds: float) -> str:
    """"42 s" or "3 min 5 s": for ETAs and timings."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"

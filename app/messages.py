"""Wording for the page: core errors are written for the command line, the page has controls.

:class:`~inbedder.errors.InBedderError` messages name CLI flags (``--text-column``) and file
paths; on the page the user picked a control and uploaded a file with its own name, so the
message is reworded to match what they see.
"""

from __future__ import annotations

import html
import re
import textwrap

# CLI flag (with an optional value pattern) -> what the page calls it.
_FLAGS = (
    (r"pass --encoding ([\w-]+)", r"choose the \1 encoding"),
    (r"--text-column", "the 'Text column' choice"),
    (r"--label-column", "the 'Label column' choice"),
    (r"--id-column", "the id column"),
    (r"lower --k to", "lower k to"),
    (r"lower --k", "lower k"),
    (r"--k (\d+)", r"k = \1"),
    (r"--k", "k"),
    (r"--instruction", "the question"),
    (r"--batch-size", "the batch size"),
)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>$~])")


def for_page(error: BaseException | str, paths: dict[str, str] | None = None) -> str:
    """The error's message in the page's terms: temporary paths renamed, flags named as controls."""
    message = str(error)
    for path, name in (paths or {}).items():
        message = message.replace(path, name)
    for pattern, replacement in _FLAGS:
        message = re.sub(pattern, replacement, message)
    return message


def unexpected(error: BaseException) -> str:
    """One line for a failure we did not foresee: the page never shows a traceback."""
    detail = " ".join(str(error).split()) or "no details"
    return f"Something went wrong ({type(error).__name__}: {textwrap.shorten(detail, 300)}). " \
        "The details are in the terminal that runs the explorer."


def escape_markdown(text: str) -> str:
    """User text shown as markdown verbatim: no headings, links, LaTeX ($) or HTML from it."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def shorten(text: str, width: int) -> str:
    """Shorten for display only (downloads keep the whole text)."""
    return textwrap.shorten(" ".join(text.split()), width=width, placeholder="…") or text[:width]


def hover_text(text: str, width: int = 280, line: int = 60) -> str:
    """Plotly hover label: shortened, HTML-escaped and wrapped with <br> so it stays narrow."""
    return "<br>".join(html.escape(part) for part in textwrap.wrap(shorten(text, width), line)) or "(empty)"


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

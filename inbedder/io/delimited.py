"""Reading .csv and .tsv files so that every row of the file is accounted for, by line number.

We parse with Python's :mod:`csv` module ourselves (strict quoting) rather than through pandas,
because the line where each row starts is what makes a quoting problem fixable. The rules:

* Standard quoting (``"..."``, a ``"`` inside doubled as ``""``); a quoted field may span lines.
  A quote that is never closed, or text after a closing quote (``"Best" pizza``), is an error
  naming the line, never a text that silently swallows the rows after it.
* A quoted field that spans lines whose every line looks like a row of its own (the right
  number of separators, and values that fit the other rows' id, number or label columns) is
  taken for an unmatched ``"`` that merged rows, and refused with the line where it starts.
  (A file of one column cannot show this: its merged lines read as one valid multi-line text.)
* .tsv: if the quotes do not pair up (never closed, text after a closing quote) but every
  non-blank line splits into exactly the header's number of tab-separated fields, the file was
  written without quoting, as most TSV files are: it is read with ``"`` as a plain character,
  one line per row, and a note says so. A TSV whose quoted fields pair up (as pandas or the
  csv module write them) is read with quoting, tabs and line breaks inside fields included;
  merged-looking rows there are refused as in a CSV, since reading such quotes as plain
  characters could split a real multi-line text.
* A header without the expected separator but with ``;``, tab, ``|`` or ``,`` is read with that
  separator (a note says so); rows with more fields than the header are an error (empty extra
  fields at the end of a line are dropped); shorter rows get empty cells; a blank line is an
  empty row (skipped and counted by the caller, so later ids do not shift).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from inbedder.errors import InBedderError

SEPARATORS = {",": "','", "\t": "tab", ";": "';'", "|": "'|'"}  # as messages name them
_FIELD_LIMIT = 2**31 - 1  # texts may be far longer than csv's default 128 KiB field limit
_TOKEN = re.compile(r"\S{1,40}")
_DIGITS = re.compile(r"\d+")
_LETTERS = re.compile(r"[^\W\d_]+")


def is_number(value: str) -> bool:
    """Whether a cell read as text is really a number (CSV cells all arrive as strings)."""
    try:
        float(value)
    except ValueError:
        return False
    return True


@dataclass
class _Record:
    cells: list[str]
    first: int  # 1-based physical line where the row starts
    last: int  # and where it ends (later than first when a quoted field spans lines)


class _QuotingProblem(Exception):
    """The quotes of a file do not pair up; the message is the user's line, the path added later."""

    def __init__(self, message: str, line: int, *, paired: bool = False) -> None:
        super().__init__(message)
        self.line = line
        self.paired = paired  # the quotes pair up, but merge lines that look like rows


def read_delimited(path: Path, text: str, sep: str, *, notes: list[str]) -> pd.DataFrame:
    """Every row of a decoded .csv/.tsv as string cells (None for empty), or a one-line error."""
    kind = "TSV" if path.suffix.lower() == ".tsv" else "CSV"
    if csv.field_size_limit() < _FIELD_LIMIT:
        csv.field_size_limit(_FIELD_LIMIT)
    lines = io.StringIO(text, newline="").readlines()
    sep, sniffed = _separator(lines[0], sep)
    where = f"{path} is not well-formed {kind}"
    if sniffed:
        where = (
            f"{path} looks {SEPARATORS[sep]}-separated (its header has no {SEPARATORS[sniffed]}) "
            "but is not well-formed"
        )
    try:
        header, rows = _table(where, lines, sep, quoting=True)
    except _QuotingProblem as problem:
        if sep != "\t" or problem.paired:  # paired quotes: reading them as plain could split a real text
            raise InBedderError(f"{where}: {problem}") from None
        try:
            header, rows = _table(where, lines, sep, quoting=False)
        except InBedderError:
            raise InBedderError(f"{where}: {problem}") from None
        notes.append(
            f"the quotes in {path} do not pair up as quoting (line {problem.line}), so it was read with "
            "'\"' as a plain character, one line per row"
        )
    if sniffed:
        notes.append(f"read {path} as {SEPARATORS[sep]}-separated: its header has no {SEPARATORS[sniffed]}")
    names = _names(path, header)
    return pd.DataFrame(rows, columns=names, dtype=object)


def _separator(header_line: str, sep: str) -> tuple[str, str | None]:
    """The file's separator, and the expected one when the header shows another instead."""
    if _field_count(header_line, sep) > 1:
        return sep, None
    counts = {other: _field_count(header_line, other) for other in SEPARATORS if other != sep}
    best = max(counts, key=lambda other: counts[other])
    return (best, sep) if counts[best] > 1 else (sep, None)


def _field_count(line: str, sep: str) -> int:
    try:
        return len(next(csv.reader([line], delimiter=sep), []))
    except csv.Error:
        return 0


def _table(where: str, lines: list[str], sep: str, *, quoting: bool) -> tuple[list[str], list[list[str | None]]]:
    """Header and rows, each row padded to the header's width; quoting problems are raised."""
    records = _records(lines, sep, quoting)
    header = records[0].cells
    if not header:
        raise InBedderError(f"{where}: its first line is empty; it must be the header with the column names")
    width = len(header)
    rows: list[list[str | None]] = []
    for record in records[1:]:
        cells = record.cells
        while len(cells) > width and not cells[-1]:
            cells = cells[:-1]  # trailing separators with nothing after them lose no data
        if not quoting and cells and len(cells) != width:  # unquoted: every line a whole row
            raise InBedderError(
                f"{where}: line {record.first} has {len(cells)} fields but the header line has {width}"
            )
        if len(cells) > width:
            spans = ""
            if record.last > record.first:
                spans = f" (a quoted field runs from line {record.first} to {record.last})"
            message = (
                f"line {record.first} has {len(cells)} fields but the header line has {width}{spans}; quote the "
                f"fields that contain a {SEPARATORS.get(sep, sep)}, or add the missing column name to the header"
            )
            if spans and quoting:
                raise _QuotingProblem(message, record.first)
            raise InBedderError(f"{where}: {message}")
        rows.append([cell or None for cell in cells] + [None] * (width - len(cells)))
    if quoting and width > 1:
        _refuse_merged_rows(lines, records, sep)
    return header, rows


def _records(lines: list[str], sep: str, quoting: bool) -> list[_Record]:
    reader = csv.reader(
        iter(lines), delimiter=sep, quotechar='"', doublequote=True, strict=True,
        quoting=csv.QUOTE_MINIMAL if quoting else csv.QUOTE_NONE,
    )
    records: list[_Record] = []
    done = 0  # lines consumed by the rows read so far
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return records
        except csv.Error as e:
            raise _QuotingProblem(_quote_message(str(e), done + 1, reader.line_num), done + 1) from None
        records.append(_Record(cells, done + 1, reader.line_num))
        done = reader.line_num


def _quote_message(error: str, first: int, last: int) -> str:
    fix = "close the quote, or double every '\"' meant literally (\"\")"
    if "unexpected end of data" in error:
        return f"the quoted field that starts on line {first} is never closed (EOF); {fix}"
    start = "" if first == last else f" of the row starting on line {first}"
    return f"on line {last}{start}, a closing '\"' is followed by more text; {fix}, or quote the whole text"


# ---------------------------------------------------------------------------- merged rows


def _refuse_merged_rows(lines: list[str], records: list[_Record], sep: str) -> None:
    """An unmatched '"' turns the following rows into one text; refuse that with its line."""
    width = len(records[0].cells)
    columns: list[_Column] | None = None  # built once, only when some row spans lines
    for record in records[1:]:
        if record.last == record.first:
            continue
        split = [line.rstrip("\r\n").split(sep) for line in lines[record.first - 1 : record.last]]
        if any(len(cells) != width for cells in split):
            continue
        columns = columns or [_Column.of([r.cells[c] for r in records[1:] if c < len(r.cells)]) for c in range(width)]
        if _looks_like_rows(split, record.cells, columns):
            raise _QuotingProblem(
                f"the quoted field that starts on line {record.first} runs over lines {record.first + 1}-"
                f"{record.last}, which look like rows of their own (an unmatched '\"'?); close that quote "
                "or double it (\"\") so no rows are merged",
                record.first,
                paired=True,
            )


@dataclass
class _Column:
    """The one-line values of a column, summarised to tell a row start from a line of prose."""

    values: set[str]
    unique: bool  # no value twice: an id column
    numbers: bool
    shapes: set[str] | None  # when every value is a short token of a few shapes (ids such as r001)
    labels: set[str] | None  # when a few values repeat (labels)

    @classmethod
    def of(cls, cells: list[str]) -> _Column:
        values = [v for cell in cells if (v := cell.strip()) and "\n" not in cell and "\r" not in cell]
        distinct = set(values)
        shapes = None
        if all(_TOKEN.fullmatch(value) for value in values):
            sample = values if len(values) <= 2000 else values[:1000] + values[-1000:]  # shapes are a hint
            shapes = {_shape(value) for value in sample}
            shapes = shapes if len(shapes) <= 3 and shapes != {"a"} else None
        return cls(
            values=distinct,
            unique=len(distinct) == len(values),
            numbers=all(is_number(value) for value in values),
            shapes=shapes,
            labels=distinct if values and len(distinct) <= 50 and len(values) >= 2 * len(distinct) else None,
        )


def _looks_like_rows(split: list[list[str]], own: list[str], columns: list[_Column]) -> bool:
    """Whether the lines of a multi-line row, each split into a whole row, read as rows of their own.

    Some column other than the one spanning the lines must, with those lines taken as rows,
    still hold what a structured column does: numbers or ids of one shape (new ones, if the
    column's values are unique), or labels seen in other rows. Prose that merely spans lines
    fails that: its line starts are not ids, numbers or labels.
    """
    for index, column in enumerate(columns):
        mine = own[index] if index < len(own) else ""
        if "\n" in mine or "\r" in mine:
            continue  # the merged texts themselves
        candidates = [cells[index].strip() for cells in split]
        if not all(candidates[1:]):
            continue
        new = [value for value in candidates if value]
        if mine.strip() in new:
            new.remove(mine.strip())  # the row's own value, already among the column's values
        if not new:
            continue
        if column.unique and (len(set(new)) != len(new) or any(value in column.values for value in new)):
            continue
        if column.numbers and all(is_number(value) for value in new):
            return True
        if column.shapes is not None and {_shape(value) for value in new} <= column.shapes:
            return True
        if column.labels is not None and set(new) <= column.labels:
            return True
    return False


def _shape(value: str) -> str:
    """``r017`` -> ``a9``: letters and digits collapse, so ids of one kind share a shape."""
    return _LETTERS.sub("a", _DIGITS.sub("9", value))


def _names(path: Path, header: list[str]) -> list[str]:
    """Column names as written (an empty one named like pandas does); a repeated name is refused."""
    names = [name if name else f"Unnamed: {index}" for index, name in enumerate(header)]
    positions: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in positions:
            raise InBedderError(
                f"the header of {path} names the column {name!r} twice (columns {positions[name] + 1} and "
                f"{index + 1}); rename one of them so each column has its own name"
            )
        positions[name] = index
    return names

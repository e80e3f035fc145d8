"""From a file's cells to the corpus: which column holds the texts, the ids, the labels.

Texts are kept whole and verbatim apart from surrounding whitespace, because the model must see
what the user wrote; empty rows are skipped, counted, and keep their original ids so results
can be joined back. No row is ever dropped without a word. Rules the user can see:

* Ids: ``id_column``, else the input's own column named ``id`` (unique and filled for every
  kept row, like any id column), else 0-based row numbers. :attr:`Corpus.id_name` says which,
  so an output never calls row numbers ``id`` beside an input that has real ids.
* Texts: ``text_column``, else ``text``, else the only text-like column that is not the id or
  label column. A list or object in the text, id or label column, or a text column of numbers
  only is an error; JSON numbers or booleans among the texts are used as text, with a note.
* Anything done on the user's behalf is told in :attr:`Corpus.notes`, one line each.

Formats and encodings are :mod:`inbedder.io.reading`'s part.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from inbedder.io.delimited import is_number
from inbedder.errors import InBedderError
from inbedder.io.reading import INPUT_SUFFIXES, check_input_file, checked_suffix, decode, is_missing, read_frame, split_lines

__all__ = ["Corpus", "read_corpus"]

_NESTED = (list, tuple, set, dict, np.ndarray)
_INT64 = range(-(2**63), 2**63)  # ids a Parquet int64 column holds; larger integers stay text


@dataclass
class Corpus:
    """The non-empty texts of a file, their original ids, and how many rows were skipped.

    ``id_name`` names what ``ids`` hold: the id column's name (``"id"`` for the input's own
    ``id`` column), or ``"row"`` for 0-based row numbers. ``notes`` are one-line notices of
    what was done on the user's behalf (a separator or encoding detected, ids taken from 'id').
    """

    texts: list[str]
    ids: list[str]
    labels: list[str | None] | None
    skipped: int
    source: str
    id_name: str = "row"
    notes: list[str] = field(default_factory=list)
    id_type: str = "str"

    def output_ids(self) -> list[Any]:
        """The ids as the input typed them, for output tables: ``ids`` are their strings (keys,
        .ids.txt), but an int64 ``id`` written back as text would not merge onto the input.

        Row numbers are ints; ``id_type`` (``"int"``, ``"float"`` or ``"str"``) says what the
        id column held (a CSV/TSV column of plain integers counts as ``"int"``, as pandas reads it).
        """
        if self.id_name == "row" or self.id_type == "int":
            return [int(value) for value in self.ids]
        if self.id_type == "float":
            return [float(value) for value in self.ids]
        return list(self.ids)


def read_corpus(
    path: str | Path,
    text_column: str | None = None,
    *,
    id_column: str | None = None,
    label_column: str | None = None,
    encoding: str = "utf-8",
) -> Corpus:
    """Read the texts to embed from a .csv/.tsv/.jsonl/.ndjson/.json/.parquet/.txt file.

    Without an id column (given, or the input's own ``id``) ids are 0-based row numbers as
    strings, so skipped rows leave gaps that still point at the right row of the source file.
    """
    path = Path(path)
    notes: list[str] = []
    check_input_file(path)
    suffix = checked_suffix(path, INPUT_SUFFIXES, "input")
    if suffix == ".txt":
        _reject_columns_for_txt(path, text_column=text_column, id_column=id_column, label_column=label_column)
        # decode already rejected a blank file, so at least one line has text.
        lines = split_lines(decode(path, encoding, notes))
        return _collect(lines, None, None, path, id_column=None, implicit=False, notes=notes)
    frame = read_frame(path, suffix, encoding, notes)
    return _corpus_from_frame(frame, path, text_column, id_column, label_column, notes)


def _reject_columns_for_txt(path: Path, **columns: str | None) -> None:
    """A .txt file has no header, so a column option means the user expected one."""
    given = [name for name, value in columns.items() if value is not None]
    if given:
        named = " and ".join(", ".join(given).rsplit(", ", 1))
        raise InBedderError(
            f"{path} is a .txt file (one text per line, no columns); drop {named}, or save it as .csv with a header",
            parameter=given,
        )


def _corpus_from_frame(
    frame: pd.DataFrame,
    path: Path,
    text_column: str | None,
    id_column: str | None,
    label_column: str | None,
    notes: list[str],
) -> Corpus:
    if len(frame) == 0:
        raise InBedderError(f"{path} has no rows; pass a file with at least one text")
    if len(frame.columns) == 0:
        raise InBedderError(f"{path} has no columns; pass a file with a column of texts")
    if id_column is not None:
        _require_column(frame, path, id_column, "id_column")
    if label_column is not None:
        _require_column(frame, path, label_column, "label_column")
    implicit = id_column is None and "id" in frame.columns and text_column != "id"
    id_name = "id" if implicit else id_column
    text_name = _resolve_text_column(frame, path, text_column, {id_name, label_column})
    for role, name in (("text", text_name), ("id", id_name), ("label", label_column)):
        if name is not None:
            _refuse_nested(frame, path, name, role)
    _check_text_types(frame, path, text_name, notes)
    ids = None if id_name is None else frame[id_name].tolist()
    labels = None if label_column is None else frame[label_column].tolist()
    if implicit:
        notes.append(f"using the 'id' column of {path} as ids (pass id_column to pick another column)")
    corpus = _collect(frame[text_name].tolist(), ids, labels, path, id_column=id_name, implicit=implicit, notes=notes)
    if not corpus.texts:
        raise InBedderError(
            f"column {text_name!r} of {path} has no non-empty texts (all {corpus.skipped} rows "
            "are empty); pass text_column with the column that holds the texts",
            parameter="text_column",
        )
    return corpus


def _resolve_text_column(frame: pd.DataFrame, path: Path, text_column: str | None, taken: set[str | None]) -> str:
    """Use the named column, else "text", else the only text-like column not used for ids or labels."""
    if text_column is not None:
        return _require_column(frame, path, text_column, "text_column")
    if "text" in frame.columns:
        return "text"
    candidates = [name for name in frame.columns if name not in taken and _is_text_like(frame[name])]
    if len(candidates) == 1:
        return candidates[0]
    found = f"{len(candidates)} text-like columns" if candidates else "no text-like column"
    raise InBedderError(
        f"cannot tell which column of {path} holds the texts ({found}); pass text_column "
        f"with one of: {_names(frame.columns)}",
        parameter="text_column",
    )


def _require_column(frame: pd.DataFrame, path: Path, name: str, parameter: str) -> str:
    if name not in frame.columns:
        raise InBedderError(
            f"column {name!r} (from {parameter}) is not in {path}; available columns: "
            f"{_names(frame.columns)}",
            parameter=parameter,
        )
    return name


def _names(columns: pd.Index) -> str:
    return ", ".join(repr(str(name)) for name in columns)


def _is_text_like(series: pd.Series) -> bool:
    """A column is text if some cell is a string that is not a number (CSV reads all as str)."""
    return any(
        isinstance(value, str) and value.strip() and not is_number(value)
        for value in series.dropna()
    )


def _refuse_nested(frame: pd.DataFrame, path: Path, name: str, role: str) -> None:
    """A list or object cell has no single text, id or label; str() of it would be garbage."""
    for row, value in enumerate(frame[name].tolist()):
        if isinstance(value, _NESTED):
            kind = "an object (key-value pairs)" if isinstance(value, dict) else "a list"
            fix = "join the list into one string" if role == "text" else f"keep one {role} per row"
            raise InBedderError(
                f"row {row} of {path} holds {kind} in the {role} column {str(name)!r}, not a single "
                f"value; put one value in each cell of that column ({fix})"
            )


def _check_text_types(frame: pd.DataFrame, path: Path, name: str, notes: list[str]) -> None:
    """A column of numbers is not texts; a few typed numbers among texts are used as text."""
    cells = [(row, value) for row, value in enumerate(frame[name].tolist()) if _cell_text(value)]
    if cells and all(_is_numeric(value) for _, value in cells):
        raise InBedderError(
            f"column {str(name)!r} of {path} holds only numbers; pass text_column with the column "
            f"that holds the texts (columns: {_names(frame.columns)})",
            parameter="text_column",
        )
    typed = [(row, value) for row, value in cells if not isinstance(value, str)]
    if typed:
        row, value = typed[0]
        notes.append(
            f"{len(typed)} cell(s) of the text column {str(name)!r} in {path} are not strings (first: "
            f"{_cell_text(value)!r} in row {row}); they are used as text as shown"
        )


def _is_numeric(value: Any) -> bool:
    """A number, boolean, or a string that spells a number."""
    if isinstance(value, str):
        return is_number(value)
    return isinstance(value, (bool, int, float, np.number))


def _collect(
    raw_texts: list[Any],
    raw_ids: list[Any] | None,
    raw_labels: list[Any] | None,
    path: Path,
    *,
    id_column: str | None,
    implicit: bool,
    notes: list[str],
) -> Corpus:
    """Keep the rows with text; carry each kept row's id and label along."""
    texts: list[str] = []
    ids: list[str] = []
    labels: list[str | None] | None = None if raw_labels is None else []
    for row, value in enumerate(raw_texts):
        text = _cell_text(value)
        if not text:
            continue
        texts.append(text)
        ids.append(str(row) if raw_ids is None else _row_id(raw_ids[row], row, path, id_column, implicit))
        if labels is not None and raw_labels is not None:
            labels.append(_cell_text(raw_labels[row]) or None)
    _check_unique(ids, path, id_column, implicit)
    kept = [] if raw_ids is None else [raw_ids[row] for row, value in enumerate(raw_texts) if _cell_text(value)]
    return Corpus(
        texts=texts, ids=ids, labels=labels, skipped=len(raw_texts) - len(texts), source=str(path),
        id_name="row" if raw_ids is None else str(id_column), notes=notes,
        id_type=_id_type(kept, delimited=path.suffix.lower() in (".csv", ".tsv")),
    )


def _id_type(values: list[Any], *, delimited: bool) -> str:
    """What the kept ids are: all integers (or, in a CSV/TSV, all written as plain integers), all numbers, or text."""
    if values and all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in values):
        return "int" if all(_INT64.start <= v < _INT64.stop for v in values) else "str"
    if values and all(isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_)) for v in values):
        return "float" if all(str(float(v)) == _cell_text(v) for v in values) else "str"
    if delimited and values and all(isinstance(v, str) and _plain_int(v.strip()) for v in values):
        return "int"
    return "str"


def _plain_int(text: str) -> bool:
    """"12" and "-3", not "007", "+4" or "1e3": only a form that reads back as the same text."""
    try:
        return str(int(text)) == text and int(text) in _INT64
    except ValueError:
        return False


def _cell_text(value: Any) -> str:
    """Missing cells become "", anything else its str() without surrounding whitespace."""
    return "" if is_missing(value) else str(value).strip()


def _id_source(path: Path, id_column: str | None, implicit: bool) -> str:
    if implicit:
        return f"the {id_column!r} column of {path} (used as ids because no id_column was given)"
    return f"id column {id_column!r} of {path}"


def _row_id(value: Any, row: int, path: Path, id_column: str | None, implicit: bool) -> str:
    text = _cell_text(value)
    if not text:
        fix = "pass id_column with a column that has an id in every row" if implicit else "drop id_column"
        raise InBedderError(
            f"row {row} has text but no value in {_id_source(path, id_column, implicit)}; fill it in or {fix}",
            parameter="id_column",
        )
    return text


def _check_unique(ids: list[str], path: Path, id_column: str | None, implicit: bool) -> None:
    """Results are joined back by id, so two rows with one id would be ambiguous."""
    seen: set[str] = set()
    for value in ids:
        if value in seen:
            fix = "pass id_column with a unique column" if implicit else "pass another id_column or none"
            raise InBedderError(
                f"{_id_source(path, id_column, implicit)} repeats the id {value!r}; ids must be unique, "
                f"so fix that column or {fix}",
                parameter="id_column",
            )
        seen.add(value)

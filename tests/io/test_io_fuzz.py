"""Fuzzing the readers and writers of inbedder.io with random tables.

Files written by the standard libraries (csv module, pandas, json, pyarrow) must read back
with exactly the rows they hold, ids and texts included; hand-broken files (a lone quote)
must either read with exactly their rows or fail with one line. Never another exception,
never fewer rows.
"""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from inbedder.errors import InBedderError
from inbedder.io import read_corpus, read_table, write_table
from inbedder.io.writing import neutralise_formulas

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Pieces of text a writer must quote or escape, plus ordinary and non-ASCII ones.
PIECES = ['"', ",", "\t", ";", "|", "\n", "\r\n", " ", "a", "Zé", "ß", "😀", "漢字", "7", "-", "'"]
SPECIAL = ["", " ", "NA", "null", "None", "nan", "NaN", "007", "1e5", "-0", "#N/A", "true", "  padded  ", '"', '""']
CELLS = st.one_of(st.sampled_from(SPECIAL), st.lists(st.sampled_from(PIECES), max_size=10).map("".join))
# Hand-written rows have no quoting, so their cells may hold no separator, quote or line break.
PLAIN = st.one_of(
    st.sampled_from(["", " ", "NA", "007", "1e5", "null", "  padded  "]),
    st.lists(st.sampled_from(["a", "Zé", "😀", "漢字", " ", "7", "-", "'"]), min_size=1, max_size=6).map("".join),
)


@st.composite
def tables(draw: st.DrawFn, cells: st.SearchStrategy[str] = CELLS) -> dict[str, Any]:
    """Columns (text, maybe id and extra, in any order) and what reading them must give."""
    rows = draw(st.integers(1, 7))
    texts = draw(st.lists(cells, min_size=rows, max_size=rows))
    id_kind = draw(st.sampled_from(["none", "numbers", "pattern", "strings"]))
    columns: dict[str, list[Any]] = {"text": texts}
    if id_kind == "numbers":
        columns["id"] = draw(st.lists(st.integers(0, 10**6), min_size=rows, max_size=rows, unique=True))
    elif id_kind == "pattern":
        columns["id"] = [f"r{number:03d}" for number in draw(st.permutations(range(rows)))]
    elif id_kind == "strings":
        ids = st.lists(cells.filter(str.strip), min_size=rows, max_size=rows, unique_by=str.strip)
        columns["id"] = draw(ids)
    if draw(st.booleans()):
        columns["extra"] = draw(st.lists(cells, min_size=rows, max_size=rows))
    order = draw(st.permutations(list(columns)))
    kept = [row for row, text in enumerate(texts) if text.strip()]
    ids = [str(columns["id"][row]).strip() if "id" in columns else str(row) for row in kept]
    return {
        "columns": {name: columns[name] for name in order},
        "texts": [texts[row].strip() for row in kept],
        "ids": ids,
        "skipped": rows - len(kept),
    }


def _write(path: Path, columns: dict[str, list[Any]], how: str) -> None:
    """Write with a standard library, never with inbedder's own writers."""
    frame = pd.DataFrame(columns)
    sep = "\t" if path.suffix == ".tsv" else ","
    if how == "pandas" and path.suffix in (".csv", ".tsv"):
        frame.to_csv(path, index=False, sep=sep)
    elif path.suffix in (".csv", ".tsv"):
        quoting, ending = {"minimal": (csv.QUOTE_MINIMAL, "\n"), "all": (csv.QUOTE_ALL, "\r\n")}[how]
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter=sep, quoting=quoting, lineterminator=ending)
            writer.writerow(columns)
            writer.writerows(zip(*columns.values()))
    elif path.suffix == ".jsonl":
        records = frame.to_dict(orient="records")
        path.write_text("".join(json.dumps(r, ensure_ascii=how == "ascii") + "\n" for r in records), encoding="utf-8")
    elif path.suffix == ".json":
        path.write_text(json.dumps(frame.to_dict(orient="records"), ensure_ascii=how == "ascii"), encoding="utf-8")
    else:
        frame.to_parquet(path, index=False)


def _read_or_one_line(path: Path) -> Any:
    """The corpus, or the message of a one-line InBedderError (any other exception fails the test)."""
    try:
        return read_corpus(path)
    except InBedderError as error:
        message = str(error)
        assert message and "\n" not in message and "\r" not in message, message
        return message


FORMATS = [
    (".csv", "pandas"), (".csv", "minimal"), (".csv", "all"), (".tsv", "pandas"), (".tsv", "minimal"),
    (".tsv", "all"), (".jsonl", "ascii"), (".jsonl", "unicode"), (".json", "unicode"), (".parquet", "pandas"),
]
# Why a correctly written file may still be refused: it is ambiguous, or holds no texts to embed.
AMBIGUOUS = ("look like rows of their own", "holds only numbers", "has no non-empty texts")


@FUZZ
@given(table=tables(), fmt=st.sampled_from(FORMATS))
def test_written_files_read_back_with_exactly_their_rows(table: dict[str, Any], fmt: tuple[str, str]) -> None:
    suffix, how = fmt
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"data{suffix}"
        _write(path, table["columns"], how)
        result = _read_or_one_line(path)
    event(next((reason for reason in AMBIGUOUS if reason in result), result) if isinstance(result, str) else "read")
    if isinstance(result, str):
        assert any(reason in result for reason in AMBIGUOUS), result
        if "rows of their own" in result:  # only a text with a line break can look like several rows
            assert any("\n" in text or "\r" in text for text in table["columns"]["text"]), result
        return
    assert result.texts == table["texts"]
    assert result.ids == table["ids"]
    assert result.skipped == table["skipped"]


@st.composite
def broken_files(draw: st.DrawFn) -> tuple[str, dict[str, Any], int]:
    """A table written by hand without quoting, one text given a lone '"' (maybe closed rows later)."""
    table = draw(tables(PLAIN))
    columns = table["columns"]
    rows = len(columns["text"])
    opened = draw(st.integers(0, rows - 1))
    columns["text"][opened] = '"' + columns["text"][opened]
    if "id" in columns and not isinstance(columns["id"][0], str) and opened < rows - 1 and draw(st.booleans()):
        closed = draw(st.integers(opened + 1, rows - 1))  # a stray '"' ending a later text closes it
        columns["text"][closed] += '"'
    return draw(st.sampled_from([",", "\t"])), columns, rows


@FUZZ
@given(broken=broken_files())
def test_a_lone_quote_reads_every_row_or_fails_in_one_line(broken: tuple[str, dict[str, Any], int]) -> None:
    sep, columns, rows = broken
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("data.csv" if sep == "," else "data.tsv")
        lines = [sep.join(columns), *(sep.join(str(c) for c in row) for row in zip(*columns.values()))]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        result = _read_or_one_line(path)
    event("refused" if isinstance(result, str) else "read")
    if isinstance(result, str):
        return
    texts = columns["text"]
    kept = [row for row in range(rows) if texts[row].strip()]
    assert result.texts == [texts[row].strip() for row in kept]  # every row, quotes as written
    assert result.skipped == rows - len(kept)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
@FUZZ
@given(table=tables())
def test_write_table_then_read_table_gives_the_same_cells(suffix: str, table: dict[str, Any]) -> None:
    frame = pd.DataFrame(table["columns"]).astype(str)
    with tempfile.TemporaryDirectory() as folder:
        path = write_table(pd.DataFrame({"previous": ["run"]}), Path(folder) / f"out{suffix}")
        previous = path.stat().st_ino
        assert write_table(frame, path) == path
        assert path.stat().st_ino != previous  # renamed into place, never written over
        assert [p.name for p in Path(folder).iterdir()] == [path.name]
        try:
            back = read_table(path)
        except InBedderError as error:  # only the ambiguity of a text whose lines look like rows
            assert "rows of their own" in str(error) and "\n" not in str(error)
            assert frame.map(lambda cell: "\n" in cell or "\r" in cell).any().any()
            return
    assert back.columns.tolist() == frame.columns.tolist()
    # CSV/TSV cells a spreadsheet would run as formulas come back with their leading ' (issue #26)
    expected = neutralise_formulas(frame) if suffix in (".csv", ".tsv") else frame
    assert _cells(back) == _cells(expected)


def _cells(frame: pd.DataFrame) -> list[list[str | None]]:
    """Cells as text, an empty cell and a missing one alike (CSV cannot tell them apart)."""
    def cell(value: Any) -> str | None:
        return None if value is None or pd.isna(value) or str(value) == "" else str(value)

    return [[cell(value) for value in row] for row in frame.itertuples(index=False)]

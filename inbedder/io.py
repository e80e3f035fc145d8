"""Reading the user's corpus and writing results.

Input files come from users, so every problem with them (missing file, wrong column, bad
encoding, malformed rows) becomes a one-line :class:`InBedderError` instead of a pandas or
pyarrow traceback. Texts are kept whole and verbatim apart from surrounding whitespace,
because the model must see what the user wrote; empty rows are skipped, counted, and keep
their original ids so results can be joined back to the source file.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from inbedder.errors import InBedderError

INPUT_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet", ".txt")
TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".parquet")
EMBEDDING_SUFFIXES = (".npy", ".safetensors")


@dataclass
class Corpus:
    """The non-empty texts of a file, their original ids, and how many rows were skipped."""

    texts: list[str]
    ids: list[str]
    labels: list[str | None] | None
    skipped: int
    source: str


# ---------------------------------------------------------------------------- reading


def read_corpus(
    path: str | Path,
    text_column: str | None = None,
    id_column: str | None = None,
    label_column: str | None = None,
    encoding: str = "utf-8",
) -> Corpus:
    """Read the texts to embed from a .csv/.tsv/.jsonl/.ndjson/.json/.parquet/.txt file.

    Ids default to the 0-based row number (as a string) so skipped rows leave gaps that
    still point at the right row of the source file.
    """
    path = Path(path)
    _check_input_file(path)
    suffix = _suffix(path, INPUT_SUFFIXES, "input")
    if suffix == ".txt":
        _reject_columns_for_txt(path, text_column, id_column, label_column)
        # _decode already rejected a blank file, so at least one line has text.
        return _collect(_split_lines(_decode(path, encoding)), None, None, path)
    frame = _read_frame(path, suffix, encoding)
    return _corpus_from_frame(frame, path, text_column, id_column, label_column)


def read_table(path: str | Path, encoding: str = "utf-8") -> pd.DataFrame:
    """Read a .csv/.tsv/.jsonl/.ndjson/.json/.parquet file into a frame of string cells."""
    path = Path(path)
    _check_input_file(path)
    suffix = _suffix(path, tuple(s for s in INPUT_SUFFIXES if s != ".txt"), "table")
    return _read_frame(path, suffix, encoding)


def _check_input_file(path: Path) -> None:
    """Fail early, with the path in the message, before any parser sees the file."""
    if not path.exists():
        raise InBedderError(f"input file {path} does not exist; check the path")
    if not path.is_file():
        raise InBedderError(f"input {path} is not a file; pass the path of a data file")
    if path.stat().st_size == 0:
        raise InBedderError(f"input file {path} is empty; pass a file with at least one text")


def _suffix(path: Path, allowed: tuple[str, ...], kind: str) -> str:
    """Return the lower-cased suffix, or say which suffixes would work."""
    suffix = path.suffix.lower()
    if suffix not in allowed:
        shown = repr(path.suffix) if path.suffix else "(no suffix)"
        raise InBedderError(
            f"unsupported {kind} file type {shown} for {path}; use one of: {', '.join(allowed)}"
        )
    return suffix


def _reject_columns_for_txt(path: Path, *columns: str | None) -> None:
    """A .txt file has no header, so a column option means the user expected one."""
    if any(column is not None for column in columns):
        raise InBedderError(
            f"{path} is a .txt file (one text per line, no columns); drop --text-column, "
            "--id-column and --label-column, or save it as .csv with a header"
        )


def _decode(path: Path, encoding: str) -> str:
    """Decode the whole file ourselves so a bad byte is reported at its absolute offset."""
    data = _read_bytes(path)
    try:
        text = data.decode(encoding)
    except LookupError as e:
        raise InBedderError(
            f"unknown encoding {encoding!r}; pass a Python codec name such as utf-8 or latin-1"
        ) from e
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise InBedderError(
            f"{path} is not valid {encoding}: byte 0x{data[e.start]:02x} at offset {e.start} "
            f"(line {line}); re-save the file as UTF-8 or pass --encoding latin-1"
        ) from e
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise InBedderError(f"input file {path} is empty; pass a file with at least one text")
    return text


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise InBedderError(f"cannot read {path}: {e.strerror or e}; check its permissions") from e


def _split_lines(text: str) -> list[str]:
    """One text per line; a final newline does not make an extra (skipped) row."""
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    return lines


def _read_frame(path: Path, suffix: str, encoding: str) -> pd.DataFrame:
    if suffix == ".parquet":
        return _read_parquet(path)
    text = _decode(path, encoding)
    if suffix in (".csv", ".tsv"):
        return _read_delimited(path, text, "," if suffix == ".csv" else "\t")
    records = _parse_json(path, text) if suffix == ".json" else _parse_jsonl(path, text)
    return _records_frame(path, records)


def _read_delimited(path: Path, text: str, sep: str) -> pd.DataFrame:
    """Read every cell as a string so texts and ids stay exactly as written ("NA", "007")."""
    kind = "CSV" if sep == "," else "TSV"
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_values=[""],
            skip_blank_lines=False,  # a blank line is an empty row: skipping it would shift every later id
        )
    except pd.errors.ParserError as e:
        raise InBedderError(
            f"{path} is not well-formed {kind}: {_one_line(e)}; check the quoting and the "
            "number of separators there"
        ) from e
    if not isinstance(frame.index, pd.RangeIndex):
        # pandas silently turns the first column into an index when rows are one field
        # longer than the header, which would shift every text into the wrong column.
        raise InBedderError(
            f"{path} is not well-formed {kind}: its rows have more fields than the header "
            "line; add the missing column name to the header"
        )
    return frame


def _parse_json(path: Path, text: str) -> list[Any]:
    try:
        records = json.loads(text)
    except json.JSONDecodeError as e:
        hint = "fix it there"
        if e.msg == "Extra data":
            hint = "if it has one record per line, rename it to .jsonl"
        raise InBedderError(
            f"{path} is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}; {hint}"
        ) from e
    if not isinstance(records, list):
        raise InBedderError(
            f"{path} holds a JSON {_json_type(records)}, not a list of records; "
            'save it as [{"text": ...}, ...]'
        )
    return records


def _parse_jsonl(path: Path, text: str) -> list[Any]:
    """Parse line by line so the error names the line; blank lines are not records."""
    records = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise InBedderError(
                f"{path} is not valid JSON Lines: {e.msg} at line {number} column {e.colno}; "
                "each line must be one JSON object"
            ) from e
    return records


def _records_frame(path: Path, records: list[Any]) -> pd.DataFrame:
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise InBedderError(
                f"record {index} of {path} is a JSON {_json_type(record)}, not an object; "
                'each record must look like {"text": ...}'
            )
    return pd.DataFrame(records)


def _json_type(value: Any) -> str:
    """Name a parsed value by its JSON type, which is what the user sees in the file."""
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow as pa  # lazily: only Parquet input needs it

    try:
        return pd.read_parquet(path)
    except (pa.ArrowException, OSError, ValueError) as e:
        raise InBedderError(
            f"cannot read {path} as Parquet: {_one_line(e)}; check that it is a complete "
            ".parquet file"
        ) from e


def _one_line(error: BaseException) -> str:
    """Collapse a library's (often multi-line) message so ours stays one line."""
    return re.sub(r"\s+", " ", str(error)).strip().rstrip(".")


def _corpus_from_frame(
    frame: pd.DataFrame,
    path: Path,
    text_column: str | None,
    id_column: str | None,
    label_column: str | None,
) -> Corpus:
    if len(frame) == 0:
        raise InBedderError(f"{path} has no rows; pass a file with at least one text")
    text_name = _resolve_text_column(frame, path, text_column)
    ids = _column_values(frame, path, id_column, "--id-column")
    labels = _column_values(frame, path, label_column, "--label-column")
    corpus = _collect(frame[text_name].tolist(), ids, labels, path, id_column)
    if not corpus.texts:
        raise InBedderError(
            f"column {text_name!r} of {path} has no non-empty texts (all {corpus.skipped} rows "
            "are empty); pass --text-column with the column that holds the texts"
        )
    return corpus


def _resolve_text_column(frame: pd.DataFrame, path: Path, text_column: str | None) -> str:
    """Use the named column, else "text", else the only text-like column."""
    if text_column is not None:
        return _require_column(frame, path, text_column, "--text-column")
    if "text" in frame.columns:
        return "text"
    candidates = [name for name in frame.columns if _is_text_like(frame[name])]
    if len(candidates) == 1:
        return candidates[0]
    found = f"{len(candidates)} text-like columns" if candidates else "no text-like column"
    raise InBedderError(
        f"cannot tell which column of {path} holds the texts ({found}); pass --text-column "
        f"with one of: {_names(frame.columns)}"
    )


def _require_column(frame: pd.DataFrame, path: Path, name: str, flag: str) -> str:
    if name not in frame.columns:
        raise InBedderError(
            f"column {name!r} (from {flag}) is not in {path}; available columns: "
            f"{_names(frame.columns)}"
        )
    return name


def _column_values(
    frame: pd.DataFrame, path: Path, name: str | None, flag: str
) -> list[Any] | None:
    if name is None:
        return None
    return frame[_require_column(frame, path, name, flag)].tolist()


def _names(columns: pd.Index) -> str:
    return ", ".join(repr(str(name)) for name in columns)


def _is_text_like(series: pd.Series) -> bool:
    """A column is text if some cell is a string that is not a number (CSV reads all as str)."""
    return any(
        isinstance(value, str) and value.strip() and not is_number(value)
        for value in series.dropna()
    )


def is_number(value: str) -> bool:
    """Whether a cell read as text is really a number (CSV cells all arrive as strings)."""
    try:
        float(value)
    except ValueError:
        return False
    return True


def _collect(
    raw_texts: list[Any],
    raw_ids: list[Any] | None,
    raw_labels: list[Any] | None,
    path: Path,
    id_column: str | None = None,
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
        ids.append(str(row) if raw_ids is None else _row_id(raw_ids[row], row, path, id_column))
        if labels is not None and raw_labels is not None:
            labels.append(_cell_text(raw_labels[row]) or None)
    _check_unique(ids, path, id_column)
    skipped = len(raw_texts) - len(texts)
    return Corpus(texts=texts, ids=ids, labels=labels, skipped=skipped, source=str(path))


def _cell_text(value: Any) -> str:
    """Missing cells become "", anything else its str() without surrounding whitespace."""
    return "" if _is_missing(value) else str(value).strip()


def _is_missing(value: Any) -> bool:
    return pd.api.types.is_scalar(value) and bool(pd.isna(value))


def _row_id(value: Any, row: int, path: Path, id_column: str | None) -> str:
    text = _cell_text(value)
    if not text:
        raise InBedderError(
            f"row {row} of {path} has text but no value in id column {id_column!r}; "
            "fill it in or drop --id-column"
        )
    return text


def _check_unique(ids: list[str], path: Path, id_column: str | None) -> None:
    """Results are joined back by id, so two rows with one id would be ambiguous."""
    seen: set[str] = set()
    for value in ids:
        if value in seen:
            raise InBedderError(
                f"id column {id_column!r} of {path} repeats the id {value!r}; ids must be "
                "unique, so pass another --id-column or none"
            )
        seen.add(value)


# ---------------------------------------------------------------------------- writing


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a results table as .csv/.tsv/.jsonl/.parquet; list cells become JSON in text files."""
    path = Path(path)
    suffix = _suffix(path, TABLE_SUFFIXES, "output table")
    with _writing(path):
        if suffix == ".parquet":
            df.to_parquet(path, index=False)
        elif suffix == ".jsonl":
            _write_jsonl(df, path)
        else:
            _json_cells(df).to_csv(path, index=False, sep="," if suffix == ".csv" else "\t")
    return path


def _json_cells(df: pd.DataFrame) -> pd.DataFrame:
    """Turn list/array/dict cells into JSON strings, which CSV readers can parse back."""
    def encode(value: Any) -> Any:
        if isinstance(value, (list, tuple, dict, np.ndarray)):
            return json.dumps(value, ensure_ascii=False, default=_json_default)
        return value

    return df.apply(lambda column: column.map(encode) if column.dtype == object else column)


def _write_jsonl(df: pd.DataFrame, path: Path) -> None:
    """One object per row; missing values become null and lists stay JSON arrays."""
    with path.open("w", encoding="utf-8") as handle:
        for record in df.to_dict(orient="records"):
            clean = {str(k): (None if _is_missing(v) else v) for k, v in record.items()}
            handle.write(json.dumps(clean, ensure_ascii=False, default=_json_default) + "\n")


def write_embeddings(embeddings: np.ndarray, ids: list[str], path: str | Path) -> Path:
    """Save the matrix as .npy (ids in ``<stem>.ids.txt`` beside it) or .safetensors.

    In .safetensors the ids travel inside the file, as JSON under the metadata key "ids".
    """
    path = Path(path)
    suffix = _suffix(path, EMBEDDING_SUFFIXES, "embeddings")
    matrix = np.ascontiguousarray(embeddings)
    if matrix.ndim != 2 or matrix.shape[0] != len(ids):
        raise ValueError(
            f"need a 2-D matrix with one row per id, got shape {matrix.shape} for {len(ids)} ids"
        )
    writer = _write_npy if suffix == ".npy" else _write_safetensors
    with _writing(path):
        writer(matrix, ids, path)
    return path


def _write_npy(matrix: np.ndarray, ids: list[str], path: Path) -> None:
    """The .ids.txt sidecar holds one id per line, so an id may not contain a line break."""
    for value in ids:
        if "\n" in value or "\r" in value:
            raise InBedderError(
                f"id {value!r} contains a line break, which {path.stem}.ids.txt cannot hold; "
                "write the embeddings as .safetensors or clean the id column"
            )
    np.save(path, matrix)
    ids_path = path.with_name(f"{path.stem}.ids.txt")
    ids_path.write_text("".join(f"{value}\n" for value in ids), encoding="utf-8")


def _write_safetensors(matrix: np.ndarray, ids: list[str], path: Path) -> None:
    from safetensors.numpy import save_file  # lazily: only this format needs it

    save_file({"embeddings": matrix}, str(path), metadata={"ids": json.dumps(ids)})


def write_json(obj: dict[str, Any], path: str | Path) -> Path:
    """Write a pretty-printed UTF-8 JSON sidecar (e.g. the parameters of a run)."""
    path = Path(path)
    with _writing(path):
        text = json.dumps(obj, indent=2, ensure_ascii=False, default=_json_default)
        path.write_text(text + "\n", encoding="utf-8")
    return path


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Create the parent folder and turn file-system failures into one-line errors."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield
    except OSError as e:
        culprit = f" ({e.filename})" if e.filename and str(e.filename) != str(path) else ""
        raise InBedderError(
            f"cannot write {path}: {e.strerror or e}{culprit}; choose a writable output path"
        ) from e


def _json_default(value: Any) -> Any:
    """Let numpy values and paths, common in results and run parameters, reach JSON."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write a {type(value).__name__} as JSON")

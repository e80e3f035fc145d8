"""Reading the user's corpus and writing results.

Input files come from users, so every problem with them (missing file, wrong column, bad
encoding, malformed rows) becomes a one-line :class:`InBedderError` instead of a pandas or
pyarrow traceback, and no row is ever dropped without a word. Texts are kept whole and
verbatim apart from surrounding whitespace, because the model must see what the user wrote;
empty rows are skipped, counted, and keep their original ids so results can be joined back.

Reading rules that the user can see:

* Ids: the ``--id-column``, else the input's own column named ``id`` (unique and filled for
  every kept row, like any id column), else 0-based row numbers. :attr:`Corpus.id_name` says
  which, so an output never calls row numbers ``id`` beside an input that has real ids.
* Encoding: a file starting with a UTF-16 or UTF-32 byte-order mark is decoded by it when the
  encoding is the default utf-8; a UTF-8 mark is dropped. .csv/.tsv quoting, separators and
  line numbers: see :mod:`inbedder.delimited`.
* Texts: ``--text-column``, else ``text``, else the only text-like column that is not the id
  or label column. A list or object in the text, id or label column, a repeated column name
  (or JSON key), or a text column of numbers only is an error; JSON numbers or booleans among
  the texts are used as text, with a note.
* Anything done on the user's behalf is told in :attr:`Corpus.notes`, one line each.

Every output is written to a temporary file beside it and renamed into place when complete,
so a failed or interrupted write never leaves half a file or destroys the previous one.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from inbedder.delimited import is_number, read_delimited
from inbedder.errors import InBedderError

__all__ = [
    "Corpus", "EMBEDDING_SUFFIXES", "INPUT_SUFFIXES", "TABLE_SUFFIXES", "check_writable", "is_number",
    "read_corpus", "read_table", "write_embeddings", "write_json", "write_table",
]

INPUT_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet", ".txt")
TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".parquet")
EMBEDDING_SUFFIXES = (".npy", ".safetensors")
_BOMS = (  # UTF-32 first: its little-endian mark starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
_NESTED = (list, tuple, set, dict, np.ndarray)


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


# ---------------------------------------------------------------------------- reading


def read_corpus(
    path: str | Path,
    text_column: str | None = None,
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
    _check_input_file(path)
    suffix = _suffix(path, INPUT_SUFFIXES, "input")
    if suffix == ".txt":
        _reject_columns_for_txt(path, text_column, id_column, label_column)
        # _decode already rejected a blank file, so at least one line has text.
        lines = _split_lines(_decode(path, encoding, notes))
        return _collect(lines, None, None, path, id_column=None, implicit=False, notes=notes)
    frame = _read_frame(path, suffix, encoding, notes)
    return _corpus_from_frame(frame, path, text_column, id_column, label_column, notes)


def read_table(path: str | Path, encoding: str = "utf-8", *, notes: list[str] | None = None) -> pd.DataFrame:
    """Read a .csv/.tsv/.jsonl/.ndjson/.json/.parquet file into a frame of its cells.

    ``notes``, when given, receives the same one-line notices :attr:`Corpus.notes` would.
    """
    path = Path(path)
    _check_input_file(path)
    suffix = _suffix(path, tuple(s for s in INPUT_SUFFIXES if s != ".txt"), "table")
    return _read_frame(path, suffix, encoding, [] if notes is None else notes)


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


def _decode(path: Path, encoding: str, notes: list[str]) -> str:
    """Decode the whole file ourselves so a bad byte is reported at its absolute offset."""
    data = _read_bytes(path)
    try:
        codec = codecs.lookup(encoding).name
    except LookupError as e:
        raise InBedderError(
            f"unknown encoding {encoding!r}; pass a Python codec name such as utf-8 or cp1252"
        ) from e
    bom = next((name for mark, name in _BOMS if data.startswith(mark)), None)
    if bom and codec == "utf-8":  # the default: trust the file's own byte-order mark
        encoding = bom
        notes.append(f"decoded {path} as {bom.upper()}, as the byte-order mark at its start says")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise InBedderError(
            f"{path} is not valid {encoding}: byte 0x{data[e.start]:02x} at offset {e.start} "
            f"(line {line}); {_encoding_advice(data, codec)}"
        ) from e
    text = text.removeprefix("\ufeff")
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise InBedderError(
            f"{path} holds NUL characters as {encoding} (first on line {line}), as a UTF-16 file without "
            f"a byte-order mark does; {_encoding_advice(data, codec)}"
        )
    if not text.strip():
        raise InBedderError(f"input file {path} is empty; pass a file with at least one text")
    return text


def _encoding_advice(data: bytes, codec: str) -> str:
    """The --encoding most likely to read these bytes, judged from the bytes themselves."""
    utf16 = next((name for mark, name in _BOMS if data.startswith(mark)), None)
    if utf16 is None and len(data) >= 4:
        if data[1::2].count(0) > len(data) // 4:
            utf16 = "utf-16-le"
        elif data[0::2].count(0) > len(data) // 4:
            utf16 = "utf-16-be"
    if utf16:
        return f"it looks like {utf16.upper()}: pass --encoding {utf16}"
    if codec != "utf-8" and _decodes(data, "utf-8"):
        return "it reads as UTF-8: pass --encoding utf-8"
    if any(0x80 <= byte <= 0x9F for byte in data) and _decodes(data, "cp1252"):
        return "re-save the file as UTF-8 or pass --encoding cp1252 (Windows)"
    return "re-save the file as UTF-8 or pass --encoding latin-1"


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


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


def _read_frame(path: Path, suffix: str, encoding: str, notes: list[str]) -> pd.DataFrame:
    if suffix == ".parquet":
        return _read_parquet(path)
    text = _decode(path, encoding, notes)
    if suffix in (".csv", ".tsv"):
        return read_delimited(path, text, "," if suffix == ".csv" else "\t", notes=notes)
    records = _parse_json(path, text) if suffix == ".json" else _parse_jsonl(path, text)
    return _records_frame(path, records)


class _RepeatedKey(Exception):
    """A JSON object names one key twice; json would silently keep only the last value."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for key, value in pairs:
        if key in record:
            raise _RepeatedKey(key)
        record[key] = value
    return record


def _repeated_key(path: Path, key: str, where: str) -> InBedderError:
    return InBedderError(
        f"{path} has a JSON object with the key {key!r} twice{where}; only one value per key is "
        "kept, so rename or remove the other"
    )


def _parse_json(path: Path, text: str) -> list[Any]:
    try:
        records = json.loads(text, object_pairs_hook=_unique_keys)
    except _RepeatedKey as e:
        raise _repeated_key(path, e.args[0], "") from e
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
            records.append(json.loads(line, object_pairs_hook=_unique_keys))
        except _RepeatedKey as e:
            raise _repeated_key(path, e.args[0], f" (line {number})") from e
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
    # object cells: pandas would turn ids 7 and null into 7.0 and NaN
    return pd.DataFrame(records, dtype=object)


def _json_type(value: Any) -> str:
    """Name a parsed value by its JSON type, which is what the user sees in the file."""
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow as pa  # lazily: only Parquet input needs them
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise InBedderError(
                f"{path} has {len(repeated)} column name(s) used twice: {', '.join(map(repr, repeated))}; "
                "rename them so each column has its own name"
            )
        # nullable dtypes keep integer ids with gaps as 7, not 7.0; then plain cells, None for missing,
        # as from every other format
        frame = pd.read_parquet(path, dtype_backend="numpy_nullable").astype(object)
        return frame.where(frame.notna(), None)
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
    notes: list[str],
) -> Corpus:
    if len(frame) == 0:
        raise InBedderError(f"{path} has no rows; pass a file with at least one text")
    if len(frame.columns) == 0:
        raise InBedderError(f"{path} has no columns; pass a file with a column of texts")
    if id_column is not None:
        _require_column(frame, path, id_column, "--id-column")
    if label_column is not None:
        _require_column(frame, path, label_column, "--label-column")
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
        notes.append(f"using the 'id' column of {path} as ids (pass --id-column to pick another column)")
    corpus = _collect(frame[text_name].tolist(), ids, labels, path, id_column=id_name, implicit=implicit, notes=notes)
    if not corpus.texts:
        raise InBedderError(
            f"column {text_name!r} of {path} has no non-empty texts (all {corpus.skipped} rows "
            "are empty); pass --text-column with the column that holds the texts"
        )
    return corpus


def _resolve_text_column(frame: pd.DataFrame, path: Path, text_column: str | None, taken: set[str | None]) -> str:
    """Use the named column, else "text", else the only text-like column not used for ids or labels."""
    if text_column is not None:
        return _require_column(frame, path, text_column, "--text-column")
    if "text" in frame.columns:
        return "text"
    candidates = [name for name in frame.columns if name not in taken and _is_text_like(frame[name])]
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
            f"column {str(name)!r} of {path} holds only numbers; pass --text-column with the column "
            f"that holds the texts (columns: {_names(frame.columns)})"
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
    return Corpus(
        texts=texts, ids=ids, labels=labels, skipped=len(raw_texts) - len(texts), source=str(path),
        id_name="row" if raw_ids is None else str(id_column), notes=notes,
    )


def _cell_text(value: Any) -> str:
    """Missing cells become "", anything else its str() without surrounding whitespace."""
    return "" if _is_missing(value) else str(value).strip()


def _is_missing(value: Any) -> bool:
    if value is None or isinstance(value, str):  # the common cells, without pandas' slower checks
        return value is None
    return pd.api.types.is_scalar(value) and bool(pd.isna(value))


def _id_source(path: Path, id_column: str | None, implicit: bool) -> str:
    if implicit:
        return f"the {id_column!r} column of {path} (used as ids because no --id-column was given)"
    return f"id column {id_column!r} of {path}"


def _row_id(value: Any, row: int, path: Path, id_column: str | None, implicit: bool) -> str:
    text = _cell_text(value)
    if not text:
        fix = "pass --id-column with a column that has an id in every row" if implicit else "drop --id-column"
        raise InBedderError(
            f"row {row} has text but no value in {_id_source(path, id_column, implicit)}; fill it in or {fix}"
        )
    return text


def _check_unique(ids: list[str], path: Path, id_column: str | None, implicit: bool) -> None:
    """Results are joined back by id, so two rows with one id would be ambiguous."""
    seen: set[str] = set()
    for value in ids:
        if value in seen:
            fix = "pass --id-column with a unique column" if implicit else "pass another --id-column or none"
            raise InBedderError(
                f"{_id_source(path, id_column, implicit)} repeats the id {value!r}; ids must be unique, "
                f"so fix that column or {fix}"
            )
        seen.add(value)


# ---------------------------------------------------------------------------- writing


def check_writable(path: str | Path) -> None:
    """Fail in one line, before any expensive work, if ``path`` could not be written later.

    The path must not be a folder, and its folder must exist or be creatable, and accept new
    files: a probe file is created in the nearest existing folder and removed again.
    """
    path = Path(path)
    try:
        if path.is_dir():
            raise InBedderError(f"output {path} is a folder; name a file inside it")
        folder = path.parent
        while not folder.exists():
            folder = folder.parent
        if not folder.is_dir():
            raise InBedderError(f"cannot write {path}: {folder} is a file, not a folder; choose another output path")
    except OSError as e:
        raise InBedderError(f"cannot write {path}: {e.strerror or e}; choose a writable output path") from e
    try:
        _temporary(folder / path.name).unlink()
    except OSError as e:
        raise InBedderError(
            f"cannot write {path}: the folder {folder} does not take new files ({e.strerror or e}); "
            "choose a writable output path"
        ) from e


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a results table as .csv/.tsv/.jsonl/.parquet; list cells become JSON in text files."""
    path = Path(path)
    suffix = _suffix(path, TABLE_SUFFIXES, "output table")
    with _writing(path) as (temp,):
        if suffix == ".parquet":
            df.to_parquet(temp, index=False)
        elif suffix == ".jsonl":
            _write_jsonl(df, temp)
        else:
            _json_cells(df).to_csv(temp, index=False, sep="," if suffix == ".csv" else "\t")
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
    if suffix == ".safetensors":
        from safetensors.numpy import save_file  # lazily: only this format needs it

        with _writing(path) as (temp,):
            save_file({"embeddings": matrix}, str(temp), metadata={"ids": json.dumps(ids)})
        return path
    ids_path = path.with_name(f"{path.stem}.ids.txt")
    for value in ids:  # checked before any file is made
        if "\n" in value or "\r" in value:
            raise InBedderError(
                f"id {value!r} contains a line break, which {ids_path.name} cannot hold; "
                "write the embeddings as .safetensors or clean the id column"
            )
    with _writing(path, ids_path) as (temp, temp_ids):
        with temp.open("wb") as handle:  # a handle: np.save would append .npy to the name
            np.save(handle, matrix)
        temp_ids.write_text("".join(f"{value}\n" for value in ids), encoding="utf-8")
    return path


def write_json(obj: dict[str, Any], path: str | Path) -> Path:
    """Write a pretty-printed UTF-8 JSON sidecar (e.g. the parameters of a run)."""
    path = Path(path)
    text = json.dumps(obj, indent=2, ensure_ascii=False, default=_json_default)
    with _writing(path) as (temp,):
        temp.write_text(text + "\n", encoding="utf-8")
    return path


@contextmanager
def _writing(*paths: Path) -> Iterator[list[Path]]:
    """Yield temporary files beside ``paths``; on success rename each into place, else remove them.

    File-system failures (unwritable folder, a folder in the way) become one-line errors.
    """
    temps: list[Path] = []
    try:
        for path in paths:
            if path.is_dir():
                raise IsADirectoryError(21, "Is a directory", str(path))
            path.parent.mkdir(parents=True, exist_ok=True)
            temps.append(_temporary(path))
        yield temps
        for temp, path in zip(temps, paths):
            _keep_mode(temp, path)
            os.replace(temp, path)
    except OSError as e:
        ours = {str(p) for p in (*paths, *temps)}
        culprit = f" ({e.filename})" if e.filename and str(e.filename) not in ours else ""
        raise InBedderError(
            f"cannot write {paths[0]}: {e.strerror or e}{culprit}; choose a writable output path"
        ) from e
    finally:
        for temp in temps:
            temp.unlink(missing_ok=True)


def _temporary(path: Path) -> Path:
    """Create a new empty file beside ``path`` (same folder, so renaming it is atomic)."""
    while True:
        temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))  # umask applies
        except FileExistsError:
            continue
        except OSError as e:  # name the folder in messages, not our temporary name
            raise OSError(e.errno, e.strerror, str(path.parent)) from e
        return temp


def _keep_mode(temp: Path, path: Path) -> None:
    """A replaced file keeps its permissions; a new one gets the usual (umask) ones."""
    try:
        os.chmod(temp, stat.S_IMODE(path.stat().st_mode))
    except OSError:
        pass


def _json_default(value: Any) -> Any:
    """Let numpy values and paths, common in results and run parameters, reach JSON."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write a {type(value).__name__} as JSON")

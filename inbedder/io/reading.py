"""Reading the user's files into frames of cells: formats, encodings, one-line errors.

Input files come from users, so every problem with them (missing file, bad encoding, malformed
rows) becomes a one-line :class:`InBedderError` naming the file, never a pandas or pyarrow
traceback. Turning a frame into texts and ids is :mod:`inbedder.io.corpus`'s part.

* Encoding: a file starting with a UTF-16 or UTF-32 byte-order mark is decoded by it when the
  encoding is the default utf-8; a UTF-8 mark is dropped. A byte that does not decode is named
  by offset and line, with the ``encoding`` most likely to read the file.
* .csv/.tsv quoting, separators and line numbers: see :mod:`inbedder.io.delimited`.
* JSON: a repeated key in an object is an error (json would keep only the last value).
"""

from __future__ import annotations

import codecs
import json
from pathlib import Path
from typing import Any

import pandas as pd

from inbedder.io.delimited import read_delimited
from inbedder.errors import InBedderError, one_line

__all__ = ["INPUT_SUFFIXES", "checked_suffix", "check_input_file", "decode", "is_missing", "read_frame", "read_table",
           "split_lines"]

INPUT_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet", ".txt")
_BOMS = (  # UTF-32 first: its little-endian mark starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)


def read_table(path: str | Path, encoding: str = "utf-8", *, notes: list[str] | None = None) -> pd.DataFrame:
    """Read a .csv/.tsv/.jsonl/.ndjson/.json/.parquet file into a frame of its cells.

    ``notes``, when given, receives the same one-line notices :attr:`Corpus.notes` would.
    """
    path = Path(path)
    check_input_file(path)
    suffix = checked_suffix(path, tuple(s for s in INPUT_SUFFIXES if s != ".txt"), "table")
    return read_frame(path, suffix, encoding, [] if notes is None else notes)


def check_input_file(path: Path) -> None:
    """Fail early, with the path in the message, before any parser sees the file."""
    if not path.exists():
        raise InBedderError(f"input file {path} does not exist; check the path")
    if not path.is_file():
        raise InBedderError(f"input {path} is not a file; pass the path of a data file")
    if path.stat().st_size == 0:
        raise InBedderError(f"input file {path} is empty; pass a file with at least one text")


def checked_suffix(path: Path, allowed: tuple[str, ...], kind: str) -> str:
    """Return the lower-cased suffix, or say which suffixes would work."""
    suffix = path.suffix.lower()
    if suffix not in allowed:
        shown = repr(path.suffix) if path.suffix else "(no suffix)"
        raise InBedderError(
            f"unsupported {kind} file type {shown} for {path}; use one of: {', '.join(allowed)}"
        )
    return suffix


def decode(path: Path, encoding: str, notes: list[str]) -> str:
    """Decode the whole file ourselves so a bad byte is reported at its absolute offset."""
    data = _read_bytes(path)
    try:
        codec = codecs.lookup(encoding).name
    except LookupError as e:
        raise InBedderError(
            f"unknown encoding {encoding!r}; pass a Python codec name such as utf-8 or cp1252", parameter="encoding"
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
            f"(line {line}); {_encoding_advice(data, codec)}",
            parameter="encoding",
        ) from e
    text = text.removeprefix("\ufeff")
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise InBedderError(
            f"{path} holds NUL characters as {encoding} (first on line {line}), as a UTF-16 file without "
            f"a byte-order mark does; {_encoding_advice(data, codec)}",
            parameter="encoding",
        )
    if not text.strip():
        raise InBedderError(f"input file {path} is empty; pass a file with at least one text")
    return text


def _encoding_advice(data: bytes, codec: str) -> str:
    """The ``encoding`` most likely to read these bytes, judged from the bytes themselves."""
    utf16 = next((name for mark, name in _BOMS if data.startswith(mark)), None)
    if utf16 is None and len(data) >= 4:
        if data[1::2].count(0) > len(data) // 4:
            utf16 = "utf-16-le"
        elif data[0::2].count(0) > len(data) // 4:
            utf16 = "utf-16-be"
    if utf16:
        return f"it looks like {utf16.upper()}: pass encoding={utf16!r}"
    if codec != "utf-8" and _decodes(data, "utf-8"):
        return "it reads as UTF-8: pass encoding='utf-8'"
    if any(0x80 <= byte <= 0x9F for byte in data) and _decodes(data, "cp1252"):
        return "re-save the file as UTF-8 or pass encoding='cp1252' (Windows)"
    return "re-save the file as UTF-8 or pass encoding='latin-1'"

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


def split_lines(text: str) -> list[str]:
    """One text per line; a final newline does not make an extra (skipped) row."""
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    return lines


def read_frame(path: Path, suffix: str, encoding: str, notes: list[str]) -> pd.DataFrame:
    """The cells of a table file (any input suffix but .txt), as objects; notes receive what was detected."""
    if suffix == ".parquet":
        return _read_parquet(path)
    text = decode(path, encoding, notes)
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
            f"cannot read {path} as Parquet: {one_line(e)}; check that it is a complete "
            ".parquet file"
        ) from e


def is_missing(value: Any) -> bool:
    """Whether a cell is missing: None, or a pandas/numpy missing scalar (NaN, NA, NaT)."""
    if value is None or isinstance(value, str):  # the common cells, without pandas' slower checks
        return value is None
    return pd.api.types.is_scalar(value) and bool(pd.isna(value))

"""Writing results: tables, embeddings and JSON sidecars, each complete or not at all.

Every output is written to a temporary file beside it and renamed into place when complete,
so a failed or interrupted write never leaves half a file and never destroys the previous one.
File-system failures (unwritable folder, a folder in the way) become one-line errors.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from inbedder.errors import InBedderError
from inbedder.io.reading import checked_suffix, is_missing

__all__ = [
    "EMBEDDING_SUFFIXES", "FORMULA_STARTS", "TABLE_SUFFIXES", "check_writable", "neutralise_formulas", "write_embeddings",
    "write_json", "write_table",
]

TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".parquet")
EMBEDDING_SUFFIXES = (".npy", ".safetensors")


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


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection")."""
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def write_table(df: pd.DataFrame, path: str | Path, *, raw_csv: bool = False) -> Path:
    """Write a results table as .csv/.tsv/.jsonl/.parquet; list cells become JSON in text files.

    In .csv/.tsv a string cell a spreadsheet would run as a formula gets a leading ``'`` (see
    :func:`neutralise_formulas`) unless ``raw_csv``; Parquet and JSONL keep every cell exact.
    """
    path = Path(path)
    suffix = checked_suffix(path, TABLE_SUFFIXES, "output table")
    with _writing(path) as (temp,):
        if suffix == ".parquet":
            df.to_parquet(temp, index=False)
        elif suffix == ".jsonl":
            _write_jsonl(df, temp)
        else:
            cells = _json_cells(df) if raw_csv else neutralise_formulas(_json_cells(df))
            cells.to_csv(temp, index=False, sep="," if suffix == ".csv" else "\t")
    return path


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose string cells starting with = + - @ tab or CR begin with ``'`` instead.

    Texts come from anyone (a review reading ``=HYPERLINK(...)``); opened from a CSV, such a
    cell would run as a formula. Numbers, and strings that are plain numbers (``-3.5``), are
    left alone: a spreadsheet shows those as numbers and runs nothing.
    """
    def neutral(value: Any) -> Any:
        if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
            return "'" + value
        return value

    def column(values: pd.Series) -> pd.Series:
        if values.dtype != object and not pd.api.types.is_string_dtype(values):
            return values
        return pd.Series([neutral(value) for value in values], index=values.index, dtype=values.dtype, name=values.name)

    return frame.apply(column) if len(frame.columns) else frame.copy()


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
            clean = {str(k): (None if is_missing(v) else v) for k, v in record.items()}
            handle.write(json.dumps(clean, ensure_ascii=False, default=_json_default) + "\n")


def write_embeddings(embeddings: np.ndarray, ids: list[str], path: str | Path) -> Path:
    """Save the matrix as .npy (ids in ``<stem>.ids.txt`` beside it) or .safetensors.

    In .safetensors the ids travel inside the file, as JSON under the metadata key "ids".
    """
    path = Path(path)
    suffix = checked_suffix(path, EMBEDDING_SUFFIXES, "embeddings")
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

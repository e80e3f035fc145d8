"""Shards: the unit of work, of output and of resumption on the cluster path.

The input is cut into shards of consecutive rows, named by the input file and the shard's
position in it, so the same input always gives the same shards. Each finished shard is one
Parquet file under ``<output_dir>/shards/``, written under a temporary name and renamed into
place, so a file that exists is complete: a restarted job skips every shard whose file
exists and recomputes nothing that was written. ``<output_dir>/run.json`` records the
parameters and the finished shards; a rerun with other parameters is refused, so one folder
never mixes two runs' embeddings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from inbedder.errors import InBedderError

SHARD_FOLDER = "shards"
STAGING_FOLDER = "input"  # the rows of a ray.data.Dataset source, one file per shard
RUN_FILE = "run.json"
READABLE = (".parquet", ".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".txt")


@dataclass(frozen=True)
class Shard:
    """Rows ``start``..``stop`` (of the non-empty rows) of one input file: a reference, no texts.

    The driver plans with these, so its memory stays flat in the number of texts; the actor
    that embeds a shard reads the rows itself (:class:`RowReader`), with the same reader and
    options as the local path. ``file_ids`` marks a folder's file without an id column, whose
    row-number ids are prefixed with the file name so that ids stay unique across files.
    """

    name: str
    file: str
    start: int
    stop: int
    text_column: str | None = None
    id_column: str | None = None
    file_ids: bool = False
    staged: bool = False  # a file of id and text columns the driver wrote from a ray.data.Dataset
    stamp: str = ""  # the file's size and mtime when planned: rows are read later, so a changed file is refused

    @property
    def rows(self) -> int:
        return self.stop - self.start

    def to_json(self) -> str:
        """The reference as one string, the form a ``map_batches`` row carries it in (a Ray column
        would turn an option's None into NaN)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Shard:
        return cls(**json.loads(str(text)))


class RowReader:
    """Reads shards' rows, keeping the last input file read, so a big file is read once per actor."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._ids: list[Any] = []
        self._texts: list[str] = []

    def rows(self, shard: Shard) -> tuple[list[Any], list[str]]:
        """The shard's ids and texts."""
        key = (shard.file, shard.text_column, shard.id_column, shard.file_ids, shard.staged)
        if key != self._key:
            self._key, self._ids, self._texts = None, [], []  # drop the previous file before reading the next
            if shard.stamp and file_stamp(Path(shard.file)) != shard.stamp:
                raise InBedderError(f"input {shard.file} changed while the run was going; rerun to plan it afresh")
            if shard.staged:
                self._ids, self._texts = read_staged(Path(shard.file))
            else:
                self._ids, self._texts = read_file_rows(Path(shard.file), text_column=shard.text_column,
                                                        id_column=shard.id_column, file_ids=shard.file_ids)
            self._key = key
        return self._ids[shard.start : shard.stop], self._texts[shard.start : shard.stop]


def file_stamp(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def read_file_rows(path: Path, *, text_column: str | None, id_column: str | None, file_ids: bool) -> tuple[list[Any], list[str]]:
    """The ids (typed as the input has them, as the local output writes them) and non-empty texts of one
    input file, exactly as the local path reads them."""
    from inbedder.io import read_corpus

    corpus = read_corpus(path, text_column=text_column, id_column=id_column)
    ids = [f"{path.name}:{i}" for i in corpus.ids] if file_ids and corpus.id_name == "row" else corpus.output_ids()
    return ids, corpus.texts


def id_array(ids: list[Any]):
    """The ids as an Arrow column of their own type (int64 ids stay int64, so outputs merge onto the input)."""
    import pyarrow as pa

    try:
        column = pa.array(ids)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):  # mixed types: text, as before
        return pa.array([str(value) for value in ids], pa.string())
    return column if column.type in (pa.int64(), pa.float64(), pa.string()) else column.cast(pa.string())


def write_staged(path: Path, ids: list[Any], texts: list[str]) -> None:
    """One shard's rows of a ``ray.data.Dataset``, as a file the actors read (renamed into place)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.stem}.partial-{os.getpid()}.parquet")
    pq.write_table(pa.table({"id": id_array(ids), "text": pa.array(texts, pa.string())}), temp)
    os.replace(temp, path)


def read_staged(path: Path) -> tuple[list[Any], list[str]]:
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["id", "text"])
    return table["id"].to_pylist(), table["text"].to_pylist()


def input_files(source: str | Path) -> list[Path]:
    """The data files of ``source``: the file itself, or a folder's files in name order."""
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in READABLE)
        if not files:
            raise InBedderError(f"folder {path} holds no data files ({', '.join(READABLE)}); pass a file or a folder of shards")
        return files
    if not path.exists():
        raise InBedderError(f"input {path} does not exist; check the path")
    return [path]


def cut(name: str, file: Path, total: int, *, rows: int, **reading: Any) -> Iterator[Shard]:
    """References to consecutive shards of ``rows`` rows, named ``<name>-00000``, ``<name>-00001``, …"""
    for number, start in enumerate(range(0, total, rows)):
        yield Shard(f"{name}-{number:05d}", str(file), start, min(start + rows, total), **reading)


def shard_path(output_dir: Path, name: str) -> Path:
    return output_dir / SHARD_FOLDER / f"{name}.parquet"


def finished(output_dir: Path) -> set[str]:
    """Names of the shards whose file exists (complete, since files are renamed into place)."""
    folder = output_dir / SHARD_FOLDER
    if not folder.is_dir():
        return set()
    return {p.stem for p in folder.glob("*.parquet") if not p.name.startswith(".")}


def check_output_dir(output_dir: str | Path) -> None:
    """Refuse, before any work, an ``output_dir`` that is a file or lies under one (mkdir would fail at the end)."""
    folder = Path(output_dir)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if folder.exists() and not folder.is_dir():
        where = "is a file" if folder == Path(output_dir) else f"lies under {folder}, a file"
        raise InBedderError(f"output_dir {output_dir} {where}; name a folder for the shards and clusters",
                            parameter="output_dir")


def start_run(output_dir: Path, parameters: dict[str, Any]) -> dict[str, Any]:
    """The run record of ``output_dir``: a new one, or the existing one if its parameters match."""
    check_output_dir(output_dir)
    record_path = output_dir / RUN_FILE
    if record_path.exists():
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise InBedderError(f"{record_path} is not readable JSON ({e}); delete it to start the run afresh") from e
        if record.get("parameters") != parameters:
            changed = sorted(k for k in set(parameters) | set(record.get("parameters", {}))
                             if parameters.get(k) != record.get("parameters", {}).get(k))
            raise InBedderError(
                f"output_dir {output_dir} holds a run with other parameters ({', '.join(changed)}); "
                "pass another output_dir, or delete it to start afresh", parameter="output_dir",
            )
        return record
    output_dir.mkdir(parents=True, exist_ok=True)
    record = {"parameters": parameters, "shards_done": [], "shards_total": None, "computed_this_run": 0}
    save_run(output_dir, record)
    return record


def save_run(output_dir: Path, record: dict[str, Any]) -> None:
    """Write the run record atomically (a killed job never leaves half a run.json)."""
    path = output_dir / RUN_FILE
    temp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    temp.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temp, path)

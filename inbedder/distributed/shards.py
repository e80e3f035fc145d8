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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inbedder.errors import InBedderError

SHARD_FOLDER = "shards"
RUN_FILE = "run.json"
READABLE = (".parquet", ".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".txt")


@dataclass(frozen=True)
class Shard:
    """Rows ``start``..``stop`` of one input file: their ids and texts, and the shard's name."""

    name: str
    ids: list[str]
    texts: list[str]

    def as_row(self) -> dict[str, Any]:
        return {"shard": self.name, "ids": self.ids, "texts": self.texts}


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


def cut(name: str, ids: Sequence[str], texts: Sequence[str], *, rows: int) -> Iterator[Shard]:
    """Consecutive shards of ``rows`` texts, named ``<name>-00000``, ``<name>-00001``, …"""
    for number, start in enumerate(range(0, len(texts), rows)):
        yield Shard(f"{name}-{number:05d}", list(ids[start : start + rows]), list(texts[start : start + rows]))


def shard_path(output_dir: Path, name: str) -> Path:
    return output_dir / SHARD_FOLDER / f"{name}.parquet"


def finished(output_dir: Path) -> set[str]:
    """Names of the shards whose file exists (complete, since files are renamed into place)."""
    folder = output_dir / SHARD_FOLDER
    if not folder.is_dir():
        return set()
    return {p.stem for p in folder.glob("*.parquet") if not p.name.startswith(".")}


def start_run(output_dir: Path, parameters: dict[str, Any]) -> dict[str, Any]:
    """The run record of ``output_dir``: a new one, or the existing one if its parameters match."""
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
                "pass another output_dir, or delete it to start afresh"
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

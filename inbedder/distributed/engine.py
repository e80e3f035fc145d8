"""``embed_dataset``: the corpus through Ray Data, shard by shard, resumable.

The driver reads the input one file at a time with the same reader (and the same one-line
errors) as the local path and cuts it into shards: references (file, row range), so the driver
holds no texts past the file it is reading. It skips the shards already written and sends the
rest through ``Dataset.map_batches`` to an actor pool of :class:`ShardEmbedder`\\ s (the model
loads once per actor; each actor reads its shards' rows from the input). Each finished shard is
recorded in ``run.json`` as it arrives, so a killed job restarted with the same call recomputes
nothing that was written.
"""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inbedder.distributed.probe import DistinctTexts, fixed_prefix, probe_prefixes
from inbedder.distributed.shards import (
    STAGING_FOLDER, Shard, cut, file_stamp, finished, input_files, read_file_rows, save_run, shard_path, start_run,
    write_staged,
)
from inbedder.errors import InBedderError
from inbedder.validation import check_instruction

INSTALL_HINT = "pip install -e '.[distributed]'"


def require_ray():
    """The ``ray`` module, or a one-line error saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        raise InBedderError(f"the Ray engine needs Ray Data; install it with: {INSTALL_HINT}") from e
    return ray


@dataclass
class EmbeddingRun:
    """What ``embed_dataset`` did: where the shards are and how many it computed or skipped."""

    output_dir: Path
    shards: list[str]
    computed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    texts: int = 0
    seconds: float = 0.0
    worker_peak_mb: float | None = None  # the largest peak resident memory any actor reported
    # where the time went (this call's shards): actors reading, embedding and writing shards, summed over
    # shards; actors loading the model, summed over actors; and from the pool's start to the first shard
    shard_seconds: float = 0.0
    load_seconds: float = 0.0
    first_shard_s: float | None = None

    def read(self, *, columns: Sequence[str] | None = None):
        """All rows of all shards in input order, as a pandas DataFrame (for small runs and tests)."""
        import pandas as pd
        import pyarrow.parquet as pq

        parts = [pq.read_table(shard_path(self.output_dir, name), columns=columns).to_pandas() for name in self.shards]
        return pd.concat(parts, ignore_index=True)


def embed_dataset(
    source: Any,
    instructions: Sequence[str],
    *,
    output_dir: str | Path,
    method: str | None = None,
    model: str | None = None,
    adapter: str | None = None,
    workers: int = 1,
    gpus_per_worker: float = 0,
    batch_size: int = 16,
    shard_rows: int = 256,
    text_column: str | None = None,
    id_column: str | None = None,
    model_options: dict[str, Any] | None = None,
    address: str | None = None,
) -> EmbeddingRun:
    """Embed every text of ``source`` under every question, writing Parquet shards to ``output_dir``.

    ``source`` is a data file, a folder of them, or a ``ray.data.Dataset`` with a ``text``
    column (and optionally ``id``). ``model_options`` are further ``InBedder`` arguments
    (template, max_new_tokens, …). Ray is started locally (and stopped again) unless it is
    running or ``address`` names a cluster (``auto``, ``host:port``, ``ray://host:port``). The
    actors read their shards' rows from the input themselves, so on a cluster of several machines
    the input, like ``output_dir``, must be at the same path on every node (a shared filesystem).
    """
    started = time.time()
    questions = _checked(instructions, workers=workers, batch_size=batch_size, shard_rows=shard_rows,
                         gpus_per_worker=gpus_per_worker)
    require_ray()
    if address not in (None, "", "local"):
        _check_reachable(address)
    output_dir = Path(output_dir)
    options = {"model": model, "adapter": adapter, **(model_options or {})}
    parameters = {"questions": questions, "method": method, "options": options, "shard_rows": shard_rows,
                  "source": _describe(source), "text_column": text_column, "id_column": id_column}
    record = start_run(output_dir, parameters)
    fixed = fixed_prefix(options)
    distinct = None if fixed is not None else DistinctTexts()  # digests only when the prefix is probed
    planned = list(_plan(source, text_column=text_column, id_column=id_column, shard_rows=shard_rows,
                         staging=output_dir / STAGING_FOLDER, distinct=distinct))
    run = EmbeddingRun(output_dir, [shard.name for shard in planned], texts=sum(shard.rows for shard in planned))
    done = finished(output_dir)
    pending = [shard for shard in planned if shard.name not in done]
    run.skipped = [shard.name for shard in planned if shard.name in done]
    record.update(shards=run.shards, shards_total=len(planned), computed_this_run=0)
    record["shards_done"] = [name for name in run.shards if name in done]
    save_run(output_dir, record)
    if pending:
        prefixes = {q: fixed for q in questions} if fixed is not None else probe_prefixes(distinct, questions, options)
        del distinct  # the digests are not needed past the probe
        with ray_session(address) as ray:
            _run_shards(ray, pending, run, record, prefixes=prefixes, options=options, method=method,
                        batch_size=batch_size, workers=workers, gpus_per_worker=gpus_per_worker)
    run.seconds = time.time() - started
    return run


def _checked(instructions: Sequence[str], *, workers: int, batch_size: int, shard_rows: int,
             gpus_per_worker: float) -> list[str]:
    """The distinct questions, after one-line errors for an empty list or an option out of range."""
    given = [instructions] if isinstance(instructions, str) else instructions
    questions = list(dict.fromkeys(check_instruction(q) for q in given))
    if not questions:
        raise InBedderError("instructions is empty; pass at least one question", parameter="instructions")
    for name, value, low in (("workers", workers, 1), ("batch_size", batch_size, 1), ("shard_rows", shard_rows, 1)):
        if value < low:
            raise InBedderError(f"{name} must be at least {low} (got {value})", parameter=name)
    if not math.isfinite(gpus_per_worker) or gpus_per_worker < 0:
        raise InBedderError(f"gpus_per_worker must be 0 or more (got {gpus_per_worker})", parameter="gpus_per_worker")
    return questions


def _describe(source: Any) -> str:
    return str(Path(source).resolve()) if isinstance(source, (str, Path)) else f"ray.data.Dataset:{type(source).__name__}"


def _plan(source: Any, *, text_column: str | None, id_column: str | None, shard_rows: int, staging: Path,
          distinct: DistinctTexts | None) -> Iterator[Shard]:
    """References to the shards of the input, in input order; one input file in memory at a time."""
    if not isinstance(source, (str, Path)):
        yield from _stage_dataset(source, text_column or "text", id_column, shard_rows=shard_rows, folder=staging,
                                  distinct=distinct)
        return
    files = input_files(source)
    for path in files:
        yield from _file_shards(path.resolve(), shard_rows=shard_rows, distinct=distinct,
                                reading={"text_column": text_column, "id_column": id_column, "file_ids": len(files) > 1})


def _file_shards(path: Path, *, shard_rows: int, distinct: DistinctTexts | None, reading: dict[str, Any]) -> list[Shard]:
    """One file read (with the local path's reader and errors), cut into references; its texts dropped on return."""
    stamp = file_stamp(path)  # taken before the read, so a change during it is caught too
    ids, texts = read_file_rows(path, **reading)
    if distinct is not None:
        distinct.add(Shard(path.stem, str(path), 0, len(texts), **reading, stamp=stamp), texts)
    return list(cut(path.stem, path, len(texts), rows=shard_rows, **reading, stamp=stamp))


def _stage_dataset(dataset, text_column: str, id_column: str | None, *, shard_rows: int, folder: Path,
                   distinct: DistinctTexts | None) -> Iterator[Shard]:
    """The dataset's non-empty rows written shard by shard under ``folder``; one shard's rows held at a time.

    Ray Data gives no stable row positions to name resumable shards by, so the driver streams
    the rows once and writes each shard's ids and texts as a small Parquet file the actors read.
    """
    columns = dataset.columns()
    for parameter, column in (("text_column", text_column), ("id_column", id_column)):
        if column is not None and column not in columns:
            raise InBedderError(f"column {column!r} is not in the dataset; available columns: {', '.join(columns)}",
                                parameter=parameter)
    ids: list[Any] = []
    texts: list[str] = []
    row_number, number = 0, 0
    wanted = [text_column] + ([id_column] if id_column and id_column != text_column else [])
    for batch in _in_order(dataset.select_columns(wanted), batch_size=shard_rows):
        for position, value in enumerate(batch[text_column]):
            text = str(value if value is not None else "").strip()
            if text:
                texts.append(text)
                ids.append(_plain(batch[id_column][position]) if id_column else row_number)
            row_number += 1
            if len(texts) == shard_rows:
                yield _staged_shard(folder, number, ids, texts, distinct)
                ids, texts, number = [], [], number + 1
    if texts:
        yield _staged_shard(folder, number, ids, texts, distinct)
    elif number == 0:
        raise InBedderError(f"column {text_column!r} of the dataset has no non-empty texts", parameter="text_column")


def _plain(value: Any) -> Any:
    """A dataset's id as a Python value of its own type (a numpy int64 id stays an int)."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # a numpy scalar
        value = value.item()
    return value if isinstance(value, (str, int, float)) and not isinstance(value, bool) else str(value)


def _in_order(dataset, *, batch_size: int) -> Iterator[dict[str, Any]]:
    """The dataset's batches in its row order. Ray Data streams blocks as they finish by default;
    under load a later block can come first, which would renumber rows and mix shards on a rerun."""
    options = dataset.context.execution_options  # a dataset keeps the context it was created in
    before, options.preserve_order = options.preserve_order, True
    try:
        yield from dataset.iter_batches(batch_size=batch_size, batch_format="numpy")
    finally:
        options.preserve_order = before


def _staged_shard(folder: Path, number: int, ids: list[Any], texts: list[str], distinct: DistinctTexts | None) -> Shard:
    """Write one shard's rows and return its reference."""
    path = (folder / f"dataset-{number:05d}.parquet").resolve()
    write_staged(path, ids, texts)
    shard = Shard(path.stem, str(path), 0, len(texts), staged=True, stamp=file_stamp(path))
    if distinct is not None:
        distinct.add(shard, texts)
    return shard


_SHARED: ContextVar[list[bool] | None] = ContextVar("inbedder_shared_ray", default=None)


@contextmanager
def ray_session(address: str | None = None) -> Iterator[Any]:
    """Ray, connected for the block: the running one, the named cluster, or a local one started (and stopped) here.

    Inside :func:`shared_ray_session` a Ray started here stays up for the next step; the
    shared block stops it at its end.
    """
    ray = require_ray()
    started = _connect(ray, address)
    shared = _SHARED.get()
    if started and shared is not None:
        shared.append(True)
        started = False
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


@contextmanager
def shared_ray_session() -> Iterator[None]:
    """One Ray session for every step run in the block, started only when a step first needs it.

    ``inbedder cluster --engine ray`` embeds and clusters every question inside one block, so
    Ray starts once; bad input still fails before Ray starts, and Ray is stopped at the end only
    if a step started it.
    """
    token = _SHARED.set([])
    try:
        yield
    finally:
        started = _SHARED.get()
        _SHARED.reset(token)
        if started:
            require_ray().shutdown()


def _connect(ray, address: str | None) -> bool:
    """Join the named cluster or start a local one; True when this call started it."""
    named = address not in (None, "", "local")
    if named:
        _check_reachable(address)
    if ray.is_initialized():
        return False
    if named:
        try:
            ray.init(address=address, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise InBedderError(f"cannot connect to the Ray cluster at {address!r}: {e}; check address", parameter="address") from e
        return True
    ray.init(include_dashboard=False, logging_level="ERROR", log_to_driver=False, _node_ip_address="127.0.0.1")
    return True


def _check_reachable(address: str) -> None:
    """A quick TCP check, so a wrong address fails in seconds instead of Ray's long retries."""
    if address == "auto":
        return
    host_port = address.removeprefix("ray://")
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        raise InBedderError(f"address {address!r} is not auto, host:port or ray://host:port", parameter="address")
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
    except OSError as e:
        raise InBedderError(f"cannot reach the Ray cluster at {address!r} ({e.strerror or e}); check address",
                            parameter="address") from e


def _run_shards(ray, pending: list[Shard], run: EmbeddingRun, record: dict, *, prefixes: dict[str, str],
                options: dict[str, Any], method: str | None, batch_size: int, workers: int, gpus_per_worker: float) -> None:
    """Send the pending shards through the actor pool; record each one as it finishes."""
    from inbedder.distributed.worker import ShardEmbedder

    dataset = ray.data.from_items([{"shard": shard.to_json()} for shard in pending], override_num_blocks=len(pending))
    results = dataset.map_batches(
        ShardEmbedder, batch_size=1, compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=1,
        num_gpus=gpus_per_worker or None,
        fn_constructor_kwargs={"model_options": options, "prefixes": prefixes, "method": method,
                               "batch_size": batch_size, "output_dir": str(run.output_dir)},
    )
    started = time.perf_counter()
    for row in results.iter_rows():
        run.first_shard_s = run.first_shard_s or time.perf_counter() - started
        run.shard_seconds += float(row["seconds"])
        run.load_seconds += float(row["load_s"])
        run.computed.append(row["shard"])
        run.worker_peak_mb = max(run.worker_peak_mb or 0.0, float(row["peak_mb"]))
        record["shards_done"].append(row["shard"])
        record["computed_this_run"] = len(run.computed)
        record["worker_peak_mb"] = round(run.worker_peak_mb, 1)
        save_run(run.output_dir, record)

"""``embed_dataset``: the corpus through Ray Data, shard by shard, resumable.

The driver reads the input one file at a time with the same reader (and the same one-line
errors) as the local path, cuts it into shards, skips the shards already written, and sends
the rest through ``Dataset.map_batches`` to an actor pool of :class:`ShardEmbedder`\\ s (the
model loads once per actor). Each finished shard is recorded in ``run.json`` as it arrives,
so a killed job restarted with the same call recomputes nothing that was written.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inbedder.distributed.shards import Shard, cut, finished, input_files, save_run, shard_path, start_run
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
    (template, max_new_tokens, …). Ray is started locally unless it is running or ``address``
    names a cluster (``auto``, ``host:port``, ``ray://host:port``).
    """
    started = time.time()
    questions = list(dict.fromkeys(check_instruction(q) for q in ([instructions] if isinstance(instructions, str) else instructions)))
    if not questions:
        raise InBedderError("instructions is empty; pass at least one question", parameter="instructions")
    for name, value, low in (("workers", workers, 1), ("batch_size", batch_size, 1), ("shard_rows", shard_rows, 1)):
        if value < low:
            raise InBedderError(f"{name} must be at least {low} (got {value})", parameter=name)
    if gpus_per_worker < 0:
        raise InBedderError(f"gpus_per_worker must be 0 or more (got {gpus_per_worker})", parameter="gpus_per_worker")
    ray = require_ray()
    if address not in (None, "", "local"):
        _check_reachable(address)
    output_dir = Path(output_dir)
    options = {"model": model, "adapter": adapter, **(model_options or {})}
    parameters = {"questions": questions, "method": method, "options": options, "shard_rows": shard_rows,
                  "source": _describe(source), "text_column": text_column, "id_column": id_column}
    record = start_run(output_dir, parameters)
    planned = list(_plan(source, text_column=text_column, id_column=id_column, shard_rows=shard_rows))
    run = EmbeddingRun(output_dir, [shard.name for shard in planned], texts=sum(len(s.texts) for s in planned))
    done = finished(output_dir)
    pending = [shard for shard in planned if shard.name not in done]
    run.skipped = [shard.name for shard in planned if shard.name in done]
    record.update(shards=run.shards, shards_total=len(planned), computed_this_run=0)
    record["shards_done"] = [name for name in run.shards if name in done]
    save_run(output_dir, record)
    if pending:
        prefixes = _answer_prefixes(planned, questions, options, method)
        started_ray = _connect(ray, address)
        try:
            _run_shards(ray, pending, run, record, prefixes=prefixes, options=options, method=method,
                        batch_size=batch_size, workers=workers, gpus_per_worker=gpus_per_worker)
        finally:
            if started_ray:
                ray.shutdown()
    run.seconds = time.time() - started
    return run


def _describe(source: Any) -> str:
    return str(Path(source).resolve()) if isinstance(source, (str, Path)) else f"ray.data.Dataset:{type(source).__name__}"


def _plan(source: Any, *, text_column: str | None, id_column: str | None, shard_rows: int):
    """The shards of the input, in input order, read one file at a time."""
    if not isinstance(source, (str, Path)):
        ids, texts = _dataset_rows(source, text_column or "text", id_column)
        yield from cut("dataset", ids, texts, rows=shard_rows)
        return
    from inbedder.io import read_corpus

    files = input_files(source)
    for path in files:
        corpus = read_corpus(path, text_column=text_column, id_column=id_column)
        ids = corpus.ids if len(files) == 1 or corpus.id_name != "row" else [f"{path.name}:{i}" for i in corpus.ids]
        yield from cut(path.stem, ids, corpus.texts, rows=shard_rows)


def _dataset_rows(dataset, text_column: str, id_column: str | None) -> tuple[list[str], list[str]]:
    columns = dataset.columns()
    if text_column not in columns:
        raise InBedderError(f"column {text_column!r} is not in the dataset; available columns: {', '.join(columns)}",
                            parameter="text_column")
    ids, texts = [], []
    for row_number, row in enumerate(dataset.iter_rows()):
        text = str(row[text_column] or "").strip()
        if text:
            texts.append(text)
            ids.append(str(row[id_column]) if id_column else str(row_number))
    if not texts:
        raise InBedderError(f"column {text_column!r} of the dataset has no non-empty texts", parameter="text_column")
    return ids, texts


def _answer_prefixes(shards: list[Shard], questions: list[str], options: dict[str, Any], method: str | None) -> dict[str, str]:
    """Each question's answer prefix, resolved once on the whole input as the local path does."""
    fixed = options.get("answer_prefix", "auto")
    if fixed != "auto":
        return {question: fixed for question in questions}
    from inbedder.models import adapter_metadata, resolve_adapter

    recorded = adapter_metadata(resolve_adapter(options.get("model"), options.get("adapter"))).get("answer_prefix")
    if isinstance(recorded, str):
        return {question: recorded for question in questions}
    from inbedder.embedder import InBedder

    probe = InBedder(**options, cache=False)
    texts = list(dict.fromkeys(text for shard in shards for text in shard.texts))
    return probe.resolve_answer_prefixes(texts, questions)  # one probe pass shared by the questions


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

    dataset = ray.data.from_items([shard.as_row() for shard in pending], override_num_blocks=len(pending))
    results = dataset.map_batches(
        ShardEmbedder, batch_size=1, compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=1,
        num_gpus=gpus_per_worker or None,
        fn_constructor_kwargs={"model_options": options, "prefixes": prefixes, "method": method,
                               "batch_size": batch_size, "output_dir": str(run.output_dir)},
    )
    for row in results.iter_rows():
        run.computed.append(row["shard"])
        run.worker_peak_mb = max(run.worker_peak_mb or 0.0, float(row["peak_mb"]))
        record["shards_done"].append(row["shard"])
        record["computed_this_run"] = len(run.computed)
        record["worker_peak_mb"] = round(run.worker_peak_mb, 1)
        save_run(run.output_dir, record)

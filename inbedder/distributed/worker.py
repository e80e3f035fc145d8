"""The Ray actor that embeds shards: the model loads once per actor, each call writes one shard.

It reads its shards' rows from the input (the driver sends references only) and runs the same
engine as the local path (``InBedder.encode_questions``: one input pass for all questions),
with the on-disk SQLite cache off — on the cluster the finished shards are the record of what
was computed. Answer prefixes arrive resolved from the driver, so every
shard is embedded exactly as one local call over the whole corpus would embed it.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np

from inbedder.distributed.shards import RowReader, Shard, id_array, shard_path


class ShardEmbedder:
    """``map_batches`` callable class: a batch of shard references in, one summary row per shard out.

    Each reference names an input file and a row range; the actor reads the rows itself and
    keeps the last file read, so consecutive shards of one big file cost one read per actor.
    """

    def __init__(
        self, *, model_options: dict[str, Any], prefixes: dict[str, str], method: str | None, batch_size: int,
        output_dir: str,
    ):
        self.model_options = model_options
        self.prefixes = prefixes  # question -> answer prefix, resolved once by the driver
        self.method = method
        self.batch_size = batch_size
        self.output_dir = Path(output_dir)
        self._models: dict[str, Any] = {}
        self._reader = RowReader()
        started = time.perf_counter()
        self._model(next(iter(prefixes.values())))  # load now: the pool waits for ready actors, shards time compute only
        self._load_seconds = time.perf_counter() - started  # reported once, with this actor's first shard

    def _model(self, prefix: str):
        """The embedder with this answer prefix: one model per actor, a view of it per prefix."""
        if not self._models:
            from inbedder.encoding.embedder import InBedder

            options = {key: value for key, value in self.model_options.items() if key != "answer_prefix"}
            self._models[prefix] = InBedder(**options, answer_prefix=prefix, cache=False)
        if prefix not in self._models:
            self._models[prefix] = next(iter(self._models.values())).with_answer_prefix(prefix)
        return self._models[prefix]

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        names, counts, seconds = [], [], []
        for reference in batch["shard"]:
            started = time.perf_counter()
            shard = Shard.from_json(reference)
            ids, texts = self._reader.rows(shard)
            _write_shard(shard_path(self.output_dir, shard.name), self._embed(ids, texts))
            names.append(shard.name)
            counts.append(len(texts))
            seconds.append(time.perf_counter() - started)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MB: this actor's peak so far
        load, self._load_seconds = [self._load_seconds] + [0.0] * (len(names) - 1), 0.0
        return {"shard": names, "texts": counts, "peak_mb": [peak] * len(names), "seconds": seconds, "load_s": load}

    def _embed(self, ids: list[Any], texts: list[str]) -> dict[str, list]:
        rows: dict[str, list] = {"id": [], "text": [], "question": [], "embedding": [], "answer": []}
        by_prefix: dict[str, list[str]] = {}
        for question, prefix in self.prefixes.items():
            by_prefix.setdefault(prefix, []).append(question)
        results = {}
        for prefix, questions in by_prefix.items():
            results.update(self._model(prefix).encode_questions(
                texts, questions, method=self.method, batch_size=self.batch_size, show_progress_bar=False,
            ))
        for question in self.prefixes:  # rows in question order, then input order
            encoded = results[question]
            rows["id"] += ids
            rows["text"] += texts
            rows["question"] += [question] * len(texts)
            rows["embedding"] += list(encoded.embeddings.astype(np.float32))
            rows["answer"] += encoded.answers
        return rows


def _write_shard(path: Path, rows: dict[str, list]) -> None:
    """One Parquet file, renamed into place once complete (an existing file is a finished shard)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    dim = len(rows["embedding"][0]) if rows["embedding"] else 0
    table = pa.table({
        "id": id_array(rows["id"]),
        "text": pa.array(rows["text"], pa.string()),
        "question": pa.array(rows["question"], pa.string()),
        "embedding": pa.FixedSizeListArray.from_arrays(
            pa.array(np.concatenate(rows["embedding"]) if dim else [], pa.float32()), dim
        ),
        "answer": pa.array(rows["answer"], pa.string()),
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.stem}.partial-{os.getpid()}.parquet")
    pq.write_table(table, temp)
    os.replace(temp, path)

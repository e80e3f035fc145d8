"""The Ray actor that embeds shards: the model loads once per actor, each call writes one shard.

It runs the same engine as the local path (``InBedder.encode_questions``: one input pass for
all questions), with the on-disk SQLite cache off — on the cluster the finished shards are
the record of what was computed. Answer prefixes arrive resolved from the driver, so every
shard is embedded exactly as one local call over the whole corpus would embed it.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path
from typing import Any

import numpy as np

from inbedder.distributed.shards import shard_path


class ShardEmbedder:
    """``map_batches`` callable class: a batch of shard rows in, one summary row per shard out."""

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

    def _model(self, prefix: str):
        """The embedder with this answer prefix: one model per actor, a view of it per prefix."""
        if not self._models:
            from inbedder.embedder import InBedder

            options = {key: value for key, value in self.model_options.items() if key != "answer_prefix"}
            self._models[prefix] = InBedder(**options, answer_prefix=prefix, cache=False)
        if prefix not in self._models:
            self._models[prefix] = next(iter(self._models.values())).with_answer_prefix(prefix)
        return self._models[prefix]

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        names, counts = [], []
        for name, ids, texts in zip(batch["shard"], batch["ids"], batch["texts"]):
            rows = self._embed(list(ids), list(texts))
            _write_shard(shard_path(self.output_dir, str(name)), rows)
            names.append(str(name))
            counts.append(len(texts))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MB: this actor's peak so far
        return {"shard": names, "texts": counts, "peak_mb": [peak] * len(names)}

    def _embed(self, ids: list[str], texts: list[str]) -> dict[str, list]:
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
        "id": pa.array(rows["id"], pa.string()),
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

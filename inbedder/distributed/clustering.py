"""Clustering at scale: centroids fitted on a seeded sample, every text assigned shard by shard.

Nothing here holds the corpus: the sample is read from the shards, assignment and keyword
counting run shard by shard in Ray Data ``map_batches`` tasks, and what the driver keeps is k
centroids and one word count table per cluster — flat in the number of texts.
Keywords are the same TF-IDF-over-answers as the local path (paper §6.1), computed from the
per-cluster word counts, which is what ``TfidfVectorizer`` computes from the documents.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from inbedder.clustering.answer_space import AnswerFrame, check_answer_settings
from inbedder.clustering.kmeans import kmeans_in_canonical_order, minibatch_kmeans_centres
from inbedder.distributed.shards import shard_path
from inbedder.errors import InBedderError
from inbedder.clustering.outliers import nearest_centres
from inbedder.stopwords import content_words
from inbedder.vectors import CorpusFrame, unit_rows

DEFAULT_SAMPLE = 100_000


@dataclass
class ScaleClusters:
    """Fitted centroids of one question, and what assigning every shard produced."""

    question: str
    centroids: np.ndarray
    frame: CorpusFrame | AnswerFrame  # fitted on the sample: texts are placed in it, as the local clusterer does
    sizes: dict[int, int]
    keywords: dict[int, list[tuple[str, float]]]
    sampled: int
    library: str


def _read_question(output_dir: Path, name: str, question: str, columns: list[str]):
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(shard_path(output_dir, name), columns=["question", *columns])
    return table.filter(pc.equal(table["question"], question))


def sample_embeddings(
    output_dir: Path, shards: list[str], question: str, *, size: int, seed: int
) -> tuple[np.ndarray, list[str], int]:
    """A seeded sample of ``size`` (embedding, text) rows across the shards, and the number of rows."""
    counts = [_read_question(output_dir, name, question, ["id"]).num_rows for name in shards]
    total = sum(counts)
    chosen = np.sort(np.random.default_rng(seed).choice(total, size=min(size, total), replace=False))
    vectors, texts, offset = [], [], 0
    for name, count in zip(shards, counts):
        local = chosen[(chosen >= offset) & (chosen < offset + count)] - offset
        offset += count
        if len(local):
            part = _read_question(output_dir, name, question, ["embedding", "text"]).take(local)
            vectors.append(np.stack(part["embedding"].to_numpy(zero_copy_only=False)).astype(np.float32))
            texts += part["text"].to_pylist()
    return np.concatenate(vectors), texts, total


def fit_centroids(vectors: np.ndarray, texts: list[str], k: int, *, seed: int, library: str = "minibatch") -> np.ndarray:
    """k centroids of the unit-normalised ``vectors`` (rows in text order, so row order never matters).

    ``minibatch`` (scikit-learn MiniBatchKMeans) is the scalable fit: measured against faiss and
    full KMeans in bench/scale.py it matched KMeans' partition at 100k rows (ARI 1.00 in 1.9 s,
    against 43 s) where faiss was faster but worse (0.3 s, ARI 0.89). ``kmeans`` is the exact fit
    the local engine uses. Both fits live in :mod:`inbedder.clustering.kmeans`; this picks one for the sample.
    """
    if k < 2 or k > len(vectors):
        raise InBedderError(f"n_clusters {k} must lie in 2..{len(vectors)} (the sampled texts)", parameter="n_clusters")
    if library == "kmeans":  # exactly the local engine's fit
        return kmeans_in_canonical_order(vectors, k, texts=texts, random_state=seed)[1]
    if library == "minibatch":
        return minibatch_kmeans_centres(vectors, k, texts=texts, random_state=seed)
    raise InBedderError(f"library {library!r} is not one of minibatch, kmeans", parameter="library")


def answer_counts(answers: Iterable[str], labels: Iterable[int], *, instruction: str) -> dict[int, Counter]:
    """Content-word counts of the answers per cluster (the question's echo left out, its offered options kept,
    as in the local keywords: :func:`inbedder.explain.keywords.question_echo`)."""
    from inbedder.explain.keywords import question_echo

    stop = question_echo(instruction)
    counts: dict[int, Counter] = {}
    for answer, label in zip(answers, labels):
        counts.setdefault(int(label), Counter()).update(content_words(answer or "", stop))
    return counts


def keywords_from_counts(counts: dict[int, Counter], *, top_n: int = 8) -> dict[int, list[tuple[str, float]]]:
    """Each cluster's words by TF-IDF weight minus the word's mean weight over clusters.

    The same figures as ``TfidfVectorizer`` (smooth idf, l2 rows) over one document per cluster.
    """
    clusters = sorted(counts)
    vocabulary = sorted({word for counter in counts.values() for word in counter})
    if not vocabulary:
        return {cluster: [] for cluster in clusters}
    index = {word: j for j, word in enumerate(vocabulary)}
    tf = np.zeros((len(clusters), len(vocabulary)))
    for row, cluster in enumerate(clusters):
        for word, count in counts[cluster].items():
            tf[row, index[word]] = count
    df = (tf > 0).sum(axis=0)
    weights = unit_rows(tf * (np.log((1 + len(clusters)) / (1 + df)) + 1), dtype=np.float64)
    scores = weights - weights.mean(axis=0) if len(clusters) > 1 else weights
    result = {}
    for row, cluster in enumerate(clusters):
        ranked = sorted(((vocabulary[j], float(scores[row, j])) for j in np.flatnonzero(scores[row] > 0)),
                        key=lambda pair: (-pair[1], pair[0]))
        result[cluster] = ranked[:top_n]
    return result


EXACT_LIMIT = 20_000
"""Up to this many texts (all of them in the sample) the centroids are fitted exactly as the
local engine fits them (scikit-learn KMeans, n_init=10, texts in sorted order), so both paths
give the same clusters; beyond it, MiniBatchKMeans on the seeded sample."""


def cluster_run(
    output_dir: str | Path, shards: list[str], question: str, n_clusters: int, *, sample_size: int = DEFAULT_SAMPLE,
    seed: int = 0, library: str = "auto", top_n: int = 8, address: str | None = None, center: bool = True,
    standardize: bool = True, answer_space: int | None = None, state_weight: float = 0.2, head: Any = None,
) -> ScaleClusters:
    """Fit on a sample in the driver, assign every shard in ``map_batches``, merge the small results.

    ``answer_space`` (with the model's LM ``head``, and shards of raw states): cluster in the
    answer space fitted on the sample, as ``InstructionClusterer(answer_space=…)`` does locally;
    the head travels to the tasks once, through Ray's object store.
    Each shard's assignment is written as ``clusters/<hash>/<shard>.parquet`` (id, cluster,
    similarity) by a Ray task; the driver receives per shard only the cluster sizes and the
    answers' word counts. Ray is joined if running, else started (as ``address`` says) and
    stopped again.
    """
    from inbedder.distributed.engine import ray_session

    if isinstance(sample_size, bool) or not isinstance(sample_size, (int, np.integer)) or sample_size < 1:
        raise InBedderError(f"sample_size must be a whole number of at least 1 (got {sample_size!r})",
                            parameter="sample_size")
    if answer_space is not None:
        check_answer_settings(answer_space, state_weight)
        if head is None:
            raise InBedderError("answer_space needs the model's LM head: pass head=model.loaded.model."
                                "get_output_embeddings()", parameter="head")
    output_dir = Path(output_dir)
    vectors, texts, total = sample_embeddings(output_dir, shards, question, size=sample_size, seed=seed)
    if library == "auto":
        library = "kmeans" if len(texts) == total <= EXACT_LIMIT else "minibatch"
    if answer_space is None:
        centred, frame = CorpusFrame.fit(vectors, center=center, standardize=standardize)
    else:
        centred, frame = AnswerFrame.fit(vectors, head, tokens=answer_space, weight=state_weight)
    del vectors
    centroids = fit_centroids(centred, texts, n_clusters, seed=seed, library=library)
    sampled = len(texts)
    del centred, texts  # the sample is not needed past the fit
    folder = output_dir / "clusters" / _slug(question)
    folder.mkdir(parents=True, exist_ok=True)
    sizes: Counter = Counter()
    counts: dict[int, Counter] = {}
    with ray_session(address) as ray:
        head_ref = None if answer_space is None else ray.put(head)
        items = ray.data.from_items([{"shard": name} for name in shards], override_num_blocks=max(1, len(shards)))
        assigned = items.map_batches(assign_shards, batch_size=1, num_cpus=1, fn_kwargs={
            "output_dir": str(output_dir), "question": question, "centroids": centroids,
            "frame": frame if head_ref is None else replace(frame, head=None), "head": head_ref,
            "folder": str(folder)})
        for row in assigned.iter_rows():
            sizes.update({int(label): size for label, size in json.loads(row["sizes"]).items()})
            for label, words in json.loads(row["counts"]).items():
                counts.setdefault(int(label), Counter()).update(words)
    keywords = keywords_from_counts(counts, top_n=top_n)
    return ScaleClusters(question, centroids, frame, dict(sorted(sizes.items())), keywords, sampled, library)


def assign_shards(batch: dict[str, np.ndarray], *, output_dir: str, question: str, centroids: np.ndarray,
                  frame: CorpusFrame | AnswerFrame, folder: str, head: Any = None) -> dict[str, list[str]]:
    """``map_batches`` function: assign each shard of the batch, write its clusters file, return its summary.

    ``head``: an object reference to the LM head of an answer-space ``frame`` (sent without it).
    The summary (cluster sizes and the answers' content-word counts per cluster, as JSON) is
    small — a vocabulary, not a row per text — so the driver's merge stays flat in the texts.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if head is not None:
        import ray

        frame = replace(frame, head=ray.get(head))
    summary: dict[str, list[str]] = {"shard": [], "sizes": [], "counts": []}
    for name in (str(value) for value in batch["shard"]):
        table = _read_question(Path(output_dir), name, question, ["id", "embedding", "answer"])
        vectors = frame.apply(np.stack(table["embedding"].to_numpy(zero_copy_only=False)))
        labels, cosine = nearest_centres(vectors, centroids)
        path = Path(folder) / f"{name}.parquet"
        temp = path.with_name(f".{path.stem}.partial-{os.getpid()}.parquet")
        pq.write_table(pa.table({"id": table["id"], "cluster": pa.array(labels, pa.int32()),
                                 "similarity": pa.array(cosine, pa.float32())}), temp)
        os.replace(temp, path)  # a clusters file that exists is complete
        summary["shard"].append(name)
        summary["sizes"].append(json.dumps(Counter(int(label) for label in labels)))
        summary["counts"].append(json.dumps(answer_counts(table["answer"].to_pylist(), labels, instruction=question)))
    return summary


def _slug(question: str) -> str:
    import hashlib

    return hashlib.sha256(question.encode()).hexdigest()[:12]

"""Running a question over a corpus for the page: embed with progress, then cluster and explain.

Embedding is one :meth:`InBedder.encode_with_answers` call over the whole corpus, whose
``progress`` callback drives the page's bar and ETA. Every batch lands in the on-disk cache as
it is done, so a run stopped half-way (Streamlit stops a script by raising from the next page
call, here the progress bar's update inside the callback) resumes where it stopped, and a second
run with another k, or a question asked before, reuses the cached embeddings, which the report
counts (``Encoded.cached``). Clustering is :class:`InstructionClusterer` itself, automatic k
and outliers (cluster -1, "other") included, so the page shows what the CLI computes;
:func:`assign` sorts texts into a saved clustering as ``inbedder assign`` does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from inbedder.errors import InBedderError

if TYPE_CHECKING:
    from inbedder.clustering.estimator import InstructionClusterer
    from inbedder.encoding.embedder import InBedder
    from inbedder.io import Corpus

# One model serves every browser tab and InBedder promises nothing about concurrent calls, so
# runs take turns (on a CPU two at once would only share the same cores anyway).
_MODEL_LOCK = threading.RLock()

Progress = Callable[[int, int, "float | None"], None]  # (texts done, total, seconds left or None)


@dataclass(frozen=True)
class RunParams:
    """What the user asked: everything that decides a clustering besides the corpus."""

    question: str
    k: int | None = None  # None: choose k by silhouette
    method: str | None = None  # None: the model's default (1st-gen for causal LMs)
    model: str | None = None  # None: the default model (inbedder.models.catalogue.default_model)
    adapter: str | None = None
    seed: int = 0
    min_similarity: float | str | None = None  # outliers: None (off), "auto" (5th percentile) or a cosine
    answer_space: int | None = None  # the answer space (inbedder.clustering.answer_space); None: the state alone

    def same_embeddings(self, other: "RunParams | None") -> bool:
        """True when only k or the outlier cut differ, so the embeddings of ``other`` are those of this run."""
        ignored = {"k": None, "min_similarity": None}
        return other is not None and asdict(self) | ignored == asdict(other) | ignored


@dataclass
class EmbedReport:
    """How much of a run was computed and how much came from the cache."""

    total: int
    reused: int
    seconds: float

    @property
    def message(self) -> str:
        if self.reused == self.total:
            return f"Reused cached embeddings for all {self.total} texts ({self.seconds:.1f} s)."
        if self.reused:
            return (f"Reused cached embeddings for {self.reused} of {self.total} texts; embedded "
                    f"{self.total - self.reused} in {self.seconds:.1f} s.")
        return f"Embedded {self.total} texts in {self.seconds:.1f} s (now cached: another k is instant)."


@dataclass
class Clustering:
    """One question's clustering of the corpus, with what the page shows about it."""

    params: RunParams
    k: int
    labels: np.ndarray
    answers: list[str]
    embeddings: np.ndarray
    info: pd.DataFrame  # inbedder.explain.cluster_table: keywords, examples, purity
    v_measure: float | None
    composition: pd.DataFrame | None
    record: dict  # the run's parameters and results, as the CLI writes beside its output
    silhouettes: dict[int, float] = field(default_factory=dict)  # k -> score, when k was "auto"
    report: EmbedReport | None = None
    clusterer: InstructionClusterer | None = None  # the fitted clusterer: names, saving, drill-down
    similarity: np.ndarray | None = None  # each text's cosine to its centroid
    outlier_threshold: float | None = None  # texts below it are cluster -1, "other"

    @property
    def names(self) -> dict[int, str]:
        """{cluster: name}: generated names where asked for, else the answers' phrase; -1 is "other"."""
        return self.clusterer.display_names() if self.clusterer is not None else {}

    @property
    def outliers(self) -> int:
        return int((self.labels == -1).sum())


def load_model(model: str | None = None, adapter: str | None = None) -> InBedder:
    """An :class:`InBedder` for the page (the caller caches it; loading takes seconds)."""
    from inbedder.cli.options import ModelOptions

    return ModelOptions(model=model or None, adapter=adapter or None).build()


def check_question(question: str) -> str:
    question = " ".join((question or "").split())
    if not question:
        raise InBedderError("type a question first, e.g. \"What is the customer complaining about?\"",
                            parameter="instruction")
    return question


def _reporter(total: int, progress: Progress | None) -> Callable[[int, int], None] | None:
    """The model's (done, to do) callback as the page's (done of total, seconds left): cached texts count as done."""
    if progress is None:
        return None
    started = time.perf_counter()

    def report(done: int, todo: int) -> None:  # the model counts only the texts it embeds
        spent = time.perf_counter() - started
        left = spent / done * (todo - done) if done else None
        progress(total - todo + done, total, left)

    return report


def embed(
    model: InBedder, texts: Sequence[str], question: str, *, method: str | None = None,
    progress: Progress | None = None, batch_size: int = 16,
) -> EmbedReport:
    """Embed (or find in the cache) every text, reporting progress after each batch.

    ``progress`` may raise to stop the run (the page's Stop does): the batches done so far are
    cached, so the next run starts from there.
    """
    question = check_question(question)
    total = len(set(texts))
    started = time.perf_counter()
    with _MODEL_LOCK:
        encoded = model.encode_with_answers(
            list(texts), question, method=method, batch_size=batch_size, show_progress_bar=False,
            progress=_reporter(total, progress),
        )
    return EmbedReport(total, encoded.cached, time.perf_counter() - started)


def cluster(
    model: InBedder, texts: Sequence[str], params: RunParams, *, labels: Sequence | None = None,
    corpus: Corpus | None = None, top_n_keywords: int = 8, n_examples: int = 4,
) -> Clustering:
    """Cluster texts whose embeddings are cached (run :func:`embed` first), explained by keywords."""
    from inbedder.clustering.estimator import InstructionClusterer
    from inbedder.cli.report import run_record

    question = check_question(params.question)
    started = time.perf_counter()
    with _MODEL_LOCK:
        clusterer = InstructionClusterer(
            model, question, n_clusters="auto" if params.k is None else params.k, method=params.method,
            random_state=params.seed, min_similarity=params.min_similarity, answer_space=params.answer_space,
            show_progress_bar=False,
        ).fit(texts, labels)
        info = clusterer.cluster_info(top_n_keywords=top_n_keywords, n_examples=n_examples)
    composition = clusterer.label_composition() if labels is not None else None
    options = asdict(params) | {"k": clusterer.n_clusters_, "k_auto": params.k is None, "method": clusterer.method_}
    record = run_record(options, model, clusterer, info, corpus, time.perf_counter() - started) if corpus else {}
    return Clustering(
        params, clusterer.n_clusters_, clusterer.labels_.astype(int), clusterer.answers_, clusterer.embeddings_, info,
        clusterer.v_measure_, composition, record, dict(clusterer.silhouette_scores_ or {}),
        clusterer=clusterer, similarity=clusterer.similarity_, outlier_threshold=clusterer.outlier_threshold_,
    )


def name_with_model(clustering: Clustering, *, top_n_keywords: int = 8, n_examples: int = 4) -> None:
    """Ask the generator for a name of at most five words per cluster; the cards and legend then show them."""
    if clustering.clusterer is None:
        raise InBedderError("this clustering has no model to write names with; run it again")
    with _MODEL_LOCK:
        clustering.clusterer.name_clusters(top_n_keywords=top_n_keywords)
        info = clustering.clusterer.cluster_info(top_n_keywords=top_n_keywords, n_examples=n_examples)
    clustering.info = info


def layers(clustering: Clustering):
    """The clusters' parents (:mod:`inbedder.clustering.layers`), built once per clustering from its centres."""
    from inbedder.clustering.layers import build_layers

    clusterer = clustering.clusterer
    if getattr(clusterer, "layers_", None) is None:
        clusterer.layers_ = build_layers(clusterer.cluster_centers_, clusterer.labels_, clusterer.answers_,
                                         instruction=clusterer.instruction, random_state=clusterer.random_state)
    return clusterer.layers_


def describe_with_model(clustering: Clustering, writer: InBedder, *, judge: bool = False, top_n_keywords: int = 8,
                        n_examples: int = 4) -> None:
    """Names and contrastive descriptions with evidence, written by ``writer`` (``judge``: then the self-check's
    judge too); the cards and metrics then show them."""
    if clustering.clusterer is None:
        raise InBedderError("this clustering has no answers to describe; run it again")
    with _MODEL_LOCK:
        if judge:
            clustering.clusterer.judge(writer=writer)  # describes first when needed
        else:
            clustering.clusterer.describe_clusters(writer=writer)
        info = clustering.clusterer.cluster_info(top_n_keywords=top_n_keywords, n_examples=n_examples)
    clustering.info = info


def assign(
    clusterer: InstructionClusterer, corpus: Corpus, *, progress: Progress | None = None, batch_size: int = 16,
) -> pd.DataFrame:
    """Sort a corpus into a saved clustering: id, text, cluster (-1: other), answer, cluster_name, similarity.

    Embedded with the saved settings (through the cache, with progress), as ``inbedder assign`` does.
    """
    from inbedder.cli.report import id_column

    texts = list(corpus.texts)
    with _MODEL_LOCK:
        encoded = clusterer.model.encode_with_answers(  # raw rows, as assign: the answer space reads their length
            texts, clusterer.instruction, method=clusterer.method_, batch_size=batch_size,
            show_progress_bar=False, normalize_embeddings=False, progress=_reporter(len(set(texts)), progress),
        )
        labels, similarity = clusterer.predict(texts, embeddings=encoded.embeddings, return_similarity=True)
    names = clusterer.display_names() | {-1: "other"}
    return pd.DataFrame({
        id_column(corpus): corpus.output_ids(), "text": texts, "cluster": labels.astype(int), "answer": encoded.answers,
        "cluster_name": [names.get(int(c), "") for c in labels], "similarity": np.round(similarity, 6),
    })


def assigned_sizes(frame: pd.DataFrame, names: dict[int, str], n_clusters: int) -> pd.DataFrame:
    """Texts per saved cluster (empty ones included, "other" last when present): cluster, name, texts, share."""
    counts = frame["cluster"].value_counts()
    clusters = list(range(n_clusters)) + ([-1] if -1 in counts.index else [])
    sizes = [int(counts.get(c, 0)) for c in clusters]
    return pd.DataFrame({
        "cluster": clusters, "name": [names.get(c, "other" if c == -1 else "") for c in clusters],
        "texts": sizes, "share": [round(n / max(1, len(frame)), 4) for n in sizes],
    })


def crosstab(first: np.ndarray, second: np.ndarray) -> pd.DataFrame:
    """Texts per (cluster under question 1, cluster under question 2)."""
    return pd.crosstab(
        pd.Series(first, name="question 1"), pd.Series(second, name="question 2")
    )


def search(frame: pd.DataFrame, query: str, *, columns: Sequence[str] = ("text", "answer")) -> pd.DataFrame:
    """Rows whose text or answer contains every word of ``query`` (case-insensitive)."""
    words = query.lower().split()
    if not words:
        return frame
    haystack = frame[list(columns)].astype(str).agg(" ".join, axis=1).str.lower()
    mask = np.ones(len(frame), dtype=bool)
    for word in words:
        mask &= haystack.str.contains(word, regex=False).to_numpy()
    return frame[mask]

"""Running a question over a corpus for the page: embed with progress, then cluster and explain.

Embedding goes through :meth:`InBedder.encode_with_answers` in chunks of texts so the page can
show progress and an ETA and can be stopped between chunks; every chunk lands in the on-disk
cache, so a stopped run resumes where it stopped, and a second run with another k (or a
question asked before) reuses the cached embeddings, which the returned report counts.
Clustering is :class:`InstructionClusterer` itself, so the page shows what the CLI computes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from inbedder.errors import InBedderError

CHUNK = 32  # texts per progress step: a few seconds on a CPU, so Stop answers quickly
AUTO_K_RANGE = (2, 10)
SILHOUETTE_SAMPLE = 3000  # silhouette is O(n²); a sample ranks k as well as the full corpus
DEFAULT_METHOD = "1st-gen"  # the paper's best; masked LMs have no generation step (avg-gen)

# One model serves every browser tab; torch on CPU is not safe to share across concurrent calls
# and the answer prefix is set on the model during a run.
_MODEL_LOCK = threading.RLock()

Progress = Callable[[int, int, float | None], None]  # (texts done, total, seconds left or None)


@dataclass(frozen=True)
class RunParams:
    """What the user asked: everything that decides a clustering besides the corpus."""

    question: str
    k: int | None = None  # None: choose k by silhouette
    method: str | None = None  # None: the model's default (1st-gen for causal LMs)
    model: str | None = None  # None: the embedded SmolLM2-135M-Instruct
    adapter: str | None = None
    seed: int = 0

    def same_embeddings(self, other: "RunParams | None") -> bool:
        """True when only k differs, so the embeddings of ``other`` are those of this run."""
        return other is not None and asdict(self) | {"k": None} == asdict(other) | {"k": None}


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


def load_model(model: str | None = None, adapter: str | None = None):
    """An :class:`InBedder` for the page (the caller caches it; loading takes seconds)."""
    from inbedder.embedder import InBedder

    return InBedder(model or None, adapter or None)


def _own_cache_connection(model) -> None:
    """Give the model a cache connection opened in this thread.

    SQLite connections may only be used by the thread that opened them, and Streamlit runs
    every rerun of the page in a thread of its own, while the model is shared between reruns.
    Call with the model lock held.
    """
    from inbedder.cache import EmbeddingCache

    if getattr(model, "_app_cache_thread", None) != threading.get_ident():
        model.cache = EmbeddingCache(model.cache.path)
        model._app_cache_thread = threading.get_ident()


def check_question(question: str) -> str:
    question = " ".join((question or "").split())
    if not question:
        raise InBedderError("type a question first, e.g. \"What is the customer complaining about?\"")
    return question


@contextmanager
def _fixed_answer_prefix(model, prefix: str) -> Iterator[None]:
    """Use one answer prefix (found on the whole corpus) for every chunk.

    With "auto", each chunk would look for its own prefix on its own texts; fixing the one the
    whole corpus gives makes every chunk's embedding, and cache key, what one call would give.
    """
    saved = model.answer_prefix
    model.answer_prefix = prefix
    try:
        yield
    finally:
        model.answer_prefix = saved


def embed(
    model,
    texts: Sequence[str],
    question: str,
    method: str | None = None,
    progress: Progress | None = None,
    chunk: int = CHUNK,
    batch_size: int = 16,
) -> EmbedReport:
    """Embed (or find in the cache) every text, reporting progress after each chunk.

    A chunk whose texts were all cached adds no row to the cache; counting the rows each chunk
    adds tells cached from computed without re-deriving the cache's keys.
    """
    question = check_question(question)
    unique = list(dict.fromkeys(texts))
    started = time.perf_counter()
    computed, compute_seconds = 0, 0.0
    with _MODEL_LOCK:
        _own_cache_connection(model)
        method = model.check_method(method or model.method)
        prefix = model.resolve_answer_prefix(unique, question)
        with _fixed_answer_prefix(model, prefix):
            for start in range(0, len(unique), chunk):
                part = unique[start : start + chunk]
                before, tick = len(model.cache), time.perf_counter()
                model.encode_with_answers(part, question, method=method, batch_size=batch_size, show_progress_bar=False)
                added = min(len(part), max(0, len(model.cache) - before))
                if added:
                    computed += added
                    compute_seconds += time.perf_counter() - tick
                done = start + len(part)
                if progress is not None:
                    rate = compute_seconds / computed if computed else None
                    left = None if rate is None else rate * (len(unique) - done)
                    progress(done, len(unique), left)
    return EmbedReport(len(unique), len(unique) - computed, time.perf_counter() - started)


def choose_k(embeddings: np.ndarray, k_range: tuple[int, int] = AUTO_K_RANGE, seed: int = 0) -> dict[int, float]:
    """Silhouette of k-means for each k in range (cosine on unit vectors): the best k scores highest."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    distinct = len(np.unique(np.asarray(embeddings).round(6), axis=0))
    high = min(k_range[1], distinct - 1, len(embeddings) - 1)
    if high < k_range[0]:
        raise InBedderError(
            f"only {distinct} distinct answers/embeddings: too few to choose k automatically; set k to 2"
        )
    scores: dict[int, float] = {}
    sample = min(len(embeddings), SILHOUETTE_SAMPLE)
    for k in range(k_range[0], high + 1):
        labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(embeddings)
        if len(set(labels)) < 2:
            continue
        scores[k] = float(silhouette_score(embeddings, labels, sample_size=sample, random_state=seed))
    if not scores:
        raise InBedderError("k-means found a single cluster for every k; set k by hand")
    return scores


def cluster(
    model,
    texts: Sequence[str],
    params: RunParams,
    labels: Sequence | None = None,
    corpus=None,
    top_n_keywords: int = 8,
    n_examples: int = 4,
) -> Clustering:
    """Cluster texts whose embeddings are cached (run :func:`embed` first), explained by keywords."""
    from inbedder.clustering import InstructionClusterer, check_k
    from inbedder.report import run_record

    question = check_question(params.question)
    started = time.perf_counter()
    with _MODEL_LOCK:
        _own_cache_connection(model)
        method = model.check_method(params.method or model.method)
        silhouettes: dict[int, float] = {}
        k = params.k
        if k is None:
            encoded = model.encode_with_answers(texts, question, method=method, normalize_embeddings=True)
            silhouettes = choose_k(encoded.embeddings, seed=params.seed)
            k = max(silhouettes, key=silhouettes.get)
        check_k(k, len(texts))
        clusterer = InstructionClusterer(
            model, question, n_clusters=k, method=method, random_state=params.seed, show_progress_bar=False
        ).fit(texts, labels)
        info = clusterer.cluster_info(top_n_keywords=top_n_keywords, n_examples=n_examples)
        composition = clusterer.label_composition() if labels is not None else None
        options = asdict(params) | {"k": k, "k_auto": params.k is None, "method": method}
        record = run_record(options, model, clusterer, info, corpus, time.perf_counter() - started) if corpus else {}
    if silhouettes:
        record["silhouette_by_k"] = silhouettes
    return Clustering(
        params, k, clusterer.labels_.astype(int), clusterer.answers_, clusterer.embeddings_, info,
        clusterer.v_measure_, composition, record, silhouettes,
    )


def crosstab(first: np.ndarray, second: np.ndarray) -> pd.DataFrame:
    """Texts per (cluster under question 1, cluster under question 2)."""
    return pd.crosstab(
        pd.Series(first, name="question 1"), pd.Series(second, name="question 2")
    )


def search(frame: pd.DataFrame, query: str, columns: Sequence[str] = ("text", "answer")) -> pd.DataFrame:
    """Rows whose text or answer contains every word of ``query`` (case-insensitive)."""
    words = query.lower().split()
    if not words:
        return frame
    haystack = frame[list(columns)].astype(str).agg(" ".join, axis=1).str.lower()
    mask = np.ones(len(frame), dtype=bool)
    for word in words:
        mask &= haystack.str.contains(word, regex=False).to_numpy()
    return frame[mask]

"""The paper's scores (§3.2–3.3), as pure functions of embeddings and labels.

Nothing here embeds text, so every score can be checked on hand-made vectors.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from inbedder.errors import InBedderError
from inbedder.explain import v_measure
from inbedder.vectors import CorpusFrame, unit_rows

__all__ = [
    "clustering_v_measure", "cosine_similarity_rows", "harmonic_mean", "instruction_sts_spearman", "kmeans_labels",
    "robustness_summary", "triplet_success_rate", "v_measure",
]


def cosine_similarity_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """cos(a[i], b[i]) for every row i."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 2:
        raise InBedderError(f"paired embeddings must have the same 2-D shape (got {a.shape} and {b.shape})")
    return np.einsum("ij,ij->i", unit_rows(a, dtype=np.float64), unit_rows(b, dtype=np.float64))


def triplet_success_rate(anchor: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> float:
    """Share of triplets with d(anchor, positive) < d(anchor, negative), d = cosine distance.

    A tie is a failure: an embedder that ignores the difference has not ranked the positive first.
    """
    closer_positive = 1 - cosine_similarity_rows(anchor, positive)
    closer_negative = 1 - cosine_similarity_rows(anchor, negative)
    if len(closer_positive) == 0:
        raise InBedderError("there are no triplets to score")
    return float(np.mean(closer_positive < closer_negative))


def harmonic_mean(values: Sequence[float]) -> float:
    """Harmonic mean of non-negative scores; 0 when any score is 0 (one failed criterion sinks it)."""
    values = [float(v) for v in values]
    if not values:
        raise InBedderError("harmonic mean of no scores")
    if any(v < 0 for v in values):
        raise InBedderError(f"the harmonic mean needs non-negative scores (got {values})")
    if any(v == 0 for v in values):
        return 0.0
    return len(values) / sum(1 / v for v in values)


def instruction_sts_spearman(first: np.ndarray, second: np.ndarray, labels: Sequence[float]) -> float:
    """Spearman correlation between the pairs' cosine similarity and their 0/1 same-answer label.

    Constant similarities rank nothing, so they score 0 rather than an undefined correlation.
    """
    from scipy.stats import spearmanr

    labels = np.asarray(labels, dtype=np.float64)
    similarity = cosine_similarity_rows(first, second)
    if len(labels) != len(similarity):
        raise InBedderError(f"{len(labels)} labels for {len(similarity)} sentence pairs")
    if len(np.unique(labels)) < 2:
        raise InBedderError("instruction STS needs pairs of both labels (same and different answers)")
    if np.ptp(similarity) <= 1e-12:
        return 0.0
    return float(spearmanr(similarity, labels).statistic)


def kmeans_labels(
    embeddings: np.ndarray, k: int, *, seed: int = 0, n_init: int = 10, texts: Sequence[str] | None = None,
    center: bool = True, standardize: bool = True,
) -> np.ndarray:
    """The clusterer's k-means (:func:`inbedder.clustering.kmeans.kmeans_in_canonical_order`), seeded.

    Unit rows centred and standardised on the corpus (``center``, ``standardize``: the clusterer's
    defaults, :class:`~inbedder.vectors.CorpusFrame`) in a canonical order:
    by ``texts`` when given (as :class:`~inbedder.clustering.estimator.InstructionClusterer` does), else by
    the vectors; the evaluation passes its texts, so its V-measure is the clusterer's on the same
    embeddings.
    """
    from inbedder.clustering.kmeans import kmeans_in_canonical_order

    if not 2 <= k <= len(embeddings):
        raise InBedderError(f"cannot make {k} clusters of {len(embeddings)} texts; need 2 ≤ k ≤ number of texts",
                            parameter="k")
    rows = CorpusFrame.fit(embeddings, center=center, standardize=standardize)[0]
    return kmeans_in_canonical_order(rows, k, texts=texts, n_init=n_init, random_state=seed)[0]


def clustering_v_measure(
    embeddings: np.ndarray, true_labels: Sequence, *, k: int | None = None, seed: int = 0,
    texts: Sequence[str] | None = None, center: bool = True, standardize: bool = True,
) -> float:
    """k-means with k = number of gold classes (unless given), scored by :func:`v_measure`."""
    import pandas as pd

    classes = pd.Series(list(true_labels), dtype=object).dropna().astype(str).nunique()  # v_measure's rule
    labels = kmeans_labels(embeddings, k or classes, seed=seed, texts=texts, center=center, standardize=standardize)
    return v_measure(true_labels, labels)


def robustness_summary(correct: Sequence[float], implicit: Sequence[float], incorrect: Sequence[float]) -> dict[str, float]:
    """Mean score of each instruction set and the separations between them (paper §3.3).

    ``delta_ci`` = mean(correct) − mean(incorrect) and ``delta_ii`` = mean(implicit) − mean(incorrect)
    as the paper's text defines them; ``strict_ci`` = min(correct) − max(incorrect) and
    ``strict_ii`` = min(implicit) − max(incorrect), positive only when every correct (implicit)
    instruction beats every incorrect one.
    """
    sets = {"correct": list(correct), "implicit": list(implicit), "incorrect": list(incorrect)}
    for name, scores in sets.items():
        if not scores:
            raise InBedderError(f"no {name} instructions were scored")
    means = {name: float(np.mean(scores)) for name, scores in sets.items()}
    return {
        **means,
        "delta_ci": means["correct"] - means["incorrect"],
        "delta_ii": means["implicit"] - means["incorrect"],
        "strict_ci": float(min(sets["correct"]) - max(sets["incorrect"])),
        "strict_ii": float(min(sets["implicit"]) - max(sets["incorrect"])),
    }

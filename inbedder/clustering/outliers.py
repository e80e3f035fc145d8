"""Outliers: texts that fit their cluster poorly are labelled ``-1`` ("other"), never dropped.

k-means puts every text in some cluster, so a review about parking lands in "food" if there
is no parking cluster. Each text's cosine similarity to its own centroid says how well it fits;
below a threshold (given, or ``"auto"``: the 5th percentile of the fitted texts' similarities)
the text is relabelled ``-1``. The threshold is learned at ``fit`` and reused by ``predict``,
so new texts are judged by the same standard.
"""

from __future__ import annotations

from typing import Literal, Union

import numpy as np

from inbedder.errors import InBedderError
from inbedder.vectors import unit_rows

OUTLIER = -1
AUTO_PERCENTILE = 5.0
MinSimilarity = Union[float, Literal["auto"], None]


def check_min_similarity(min_similarity: MinSimilarity) -> None:
    """None, "auto", or a number in [-1, 1] (a cosine); refused in one line otherwise."""
    if min_similarity is None or min_similarity == "auto":
        return
    if isinstance(min_similarity, bool) or not isinstance(min_similarity, (int, float, np.floating)):
        raise InBedderError(f"min_similarity={min_similarity!r} is not a cosine similarity; use a number in -1..1 "
                            "such as 0.5, or 'auto'", parameter="min_similarity")
    if not -1.0 <= float(min_similarity) <= 1.0:
        raise InBedderError(f"min_similarity must lie in -1..1 (a cosine similarity), got {min_similarity}",
                            parameter="min_similarity")


def nearest_centres(vectors: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's nearest centre (Euclidean between unit rows, as k-means assigns) and its cosine to it."""
    unit = unit_rows(vectors, dtype=np.float64)
    centres = np.asarray(centres, dtype=np.float64)
    labels = ((centres**2).sum(axis=1)[None, :] - 2 * unit @ centres.T).argmin(axis=1).astype(int)
    return labels, similarity_to(unit, centres, labels)


def similarity_to(vectors: np.ndarray, centres: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Cosine similarity of each row to the centre of its own label (labels ≥ 0)."""
    unit = unit_rows(vectors, dtype=np.float64)
    return (unit * unit_rows(np.asarray(centres, dtype=np.float64))[np.asarray(labels, dtype=int)]).sum(axis=1)


def threshold(similarity: np.ndarray, min_similarity: MinSimilarity) -> float | None:
    """The cosine below which a text is an outlier: None (no outliers), given, or the fit's 5th percentile."""
    check_min_similarity(min_similarity)
    if min_similarity is None:
        return None
    if min_similarity == "auto":
        return float(np.percentile(similarity, AUTO_PERCENTILE)) if len(similarity) else None
    return float(min_similarity)


def mark(labels: np.ndarray, similarity: np.ndarray, cutoff: float | None) -> np.ndarray:
    """``labels`` with every text below ``cutoff`` set to -1 (a copy; unchanged when cutoff is None)."""
    marked = np.asarray(labels, dtype=int).copy()
    if cutoff is not None:
        marked[np.asarray(similarity) < cutoff] = OUTLIER
    return marked

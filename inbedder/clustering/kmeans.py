"""The one home of k-means: every fit runs in an order that depends on the corpus alone.

k-means' seeding picks rows by position; fitting the rows in a canonical order (by text, or by
the vectors themselves) makes the partition and the cluster numbers a function of the corpus,
not of how the file was sorted. Three fits, all on the unit rows (float64):

* :func:`kmeans_in_canonical_order`: the plain fit (the clusterer, the evaluation, the Ray
  engine's exact fit);
* :func:`kmeans_from_centres`: started from given centres (the seed answers',
  :mod:`inbedder.clustering.seeding`);
* :func:`minibatch_kmeans_centres`: the scalable fit of the Ray engine's sample
  (:mod:`inbedder.distributed.clustering`).

The clusterer's checks on k and its silhouette curve for ``n_clusters="auto"`` live here too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from inbedder.errors import InBedderError
from inbedder.vectors import unit_rows


def canonical_order(embeddings: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
    """Row indices in an order that depends on the corpus alone, not on how the file was ordered.

    By text when the texts are known (identical texts have identical vectors), else by the
    vectors themselves (lexicographically), so callers without texts are order-free too.
    """
    if texts is not None:
        return np.array(sorted(range(len(texts)), key=list(texts).__getitem__), dtype=int)
    matrix = np.asarray(embeddings)
    return np.lexsort(matrix.T[::-1]).astype(int) if matrix.size else np.arange(len(matrix))


def kmeans_in_canonical_order(
    embeddings: np.ndarray, n_clusters: int, *, texts: Sequence[str] | None = None, n_init: int = 10,
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """k-means on the unit rows (float64), fitted in :func:`canonical_order`: (labels, centres).

    k-means' seeding picks rows by position; fitting in a canonical order makes the partition
    and the cluster numbers a function of the corpus alone. The evaluation's V-measure and the
    clusterer both come through here, so they agree on the same embeddings.
    """
    from sklearn.cluster import KMeans

    unit = unit_rows(embeddings, dtype=np.float64)
    kmeans = KMeans(n_clusters=n_clusters, n_init=n_init, random_state=random_state)
    return _fit_predict_in_canonical_order(kmeans, unit, texts), kmeans.cluster_centers_


def kmeans_from_centres(
    embeddings: np.ndarray, starts: np.ndarray, *, texts: Sequence[str] | None = None, random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """k-means on the unit rows (float64) from given starting centres, one run, in canonical order: (labels, centres).

    One run (``n_init=1``) from explicit starts keeps their order: cluster i grows from ``starts[i]``,
    which is what lets seed i name cluster i.
    """
    from sklearn.cluster import KMeans

    unit = unit_rows(embeddings, dtype=np.float64)
    kmeans = KMeans(n_clusters=len(starts), init=starts, n_init=1, random_state=random_state)
    return _fit_predict_in_canonical_order(kmeans, unit, texts), kmeans.cluster_centers_


def minibatch_kmeans_centres(
    embeddings: np.ndarray, n_clusters: int, *, texts: Sequence[str] | None = None, random_state: int = 0,
    n_init: int = 3, batch_size: int = 4096,
) -> np.ndarray:
    """Centres of MiniBatchKMeans on the unit rows (float64) in canonical order: the fit that scales.

    Measured in bench/scale.py (docs/scale.md), it matches full k-means' partition at 100k rows in
    a fraction of the time; only the centres are kept, as every text is assigned afterwards.
    """
    from sklearn.cluster import MiniBatchKMeans

    unit = unit_rows(embeddings, dtype=np.float64)
    unit = unit[canonical_order(unit, texts)]
    kmeans = MiniBatchKMeans(n_clusters=n_clusters, random_state=random_state, n_init=n_init, batch_size=batch_size)
    return kmeans.fit(unit).cluster_centers_


def _fit_predict_in_canonical_order(estimator: Any, unit: np.ndarray, texts: Sequence[str] | None) -> np.ndarray:
    """``estimator.fit_predict`` on the rows in :func:`canonical_order`, labels returned in the given order."""
    order = canonical_order(unit, texts)
    labels = np.empty(len(unit), dtype=int)
    labels[order] = estimator.fit_predict(unit[order])
    return labels


def member_means(unit: np.ndarray, found: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels renumbered 0..m-1 (in the order of the labels found) and the mean unit vector of each:
    the centres of a partition that another clusterer made."""
    values, labels = np.unique(found, return_inverse=True)
    centres = np.stack([unit[labels == cluster].mean(axis=0) for cluster in range(len(values))])
    return labels.astype(int), centres


def silhouette_curve(
    partition: Callable[[int], tuple[np.ndarray, np.ndarray]], unit: np.ndarray, ks: range, *, random_state: int,
    sample_size: int,
) -> tuple[dict[int, float], dict[int, tuple[np.ndarray, np.ndarray]]]:
    """({k: silhouette}, {k: (labels, centres)}) of ``partition(k)`` for each k that gives 2+ clusters.

    Euclidean on the unit rows, over a seeded sample of at most ``sample_size`` rows (silhouette
    is O(n²); a sample ranks k as well as the whole corpus).
    """
    from sklearn.metrics import silhouette_score

    scores: dict[int, float] = {}
    fits: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for k in ks:
        labels, centres = partition(k)
        if len(set(labels.tolist())) < 2:
            continue
        fits[k] = (labels, centres)
        scores[k] = float(silhouette_score(unit, labels, sample_size=min(len(unit), sample_size),
                                           random_state=random_state))
    return scores, fits


def distinct_rows(unit: np.ndarray) -> int:
    """How many different rows (to 6 decimals): k-means cannot make more clusters than that."""
    return len(np.unique(np.asarray(unit).round(6), axis=0))


def too_few_embeddings(count: int, distinct: int, problem: str, advice: str) -> InBedderError:
    """The texts differ but their answers do not: say so, with advice that would work."""
    if distinct < 2:
        advice = "ask another question or add different texts"
    return InBedderError(
        f"the {count} texts give only {distinct} different embedding(s) under this question, {problem}; {advice}",
        parameter="n_clusters",
    )

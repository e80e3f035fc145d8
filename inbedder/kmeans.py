"""k-means in an order that depends on the corpus alone, so the same corpus gives the same clusters.

k-means' seeding picks rows by position; fitting the rows in a canonical order (by text, or by
the vectors themselves) makes the partition and the cluster numbers a function of the corpus,
not of how the file was sorted. The clusterer, the evaluation and the scale path all fit here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

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
    order = canonical_order(unit, texts)
    kmeans = KMeans(n_clusters=n_clusters, n_init=n_init, random_state=random_state)
    labels = np.empty(len(unit), dtype=int)
    labels[order] = kmeans.fit_predict(unit[order])
    return labels, kmeans.cluster_centers_


def member_means(unit: np.ndarray, found: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels renumbered 0..m-1 (in the order of the labels found) and the mean unit vector of each:
    the centres of a partition that another clusterer made."""
    values, labels = np.unique(found, return_inverse=True)
    centres = np.stack([unit[labels == cluster].mean(axis=0) for cluster in range(len(values))])
    return labels.astype(int), centres

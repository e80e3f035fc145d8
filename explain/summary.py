"""Per-cluster summaries: representative texts, label purity and the explanation table.

These put the keywords next to evidence a user can check: the texts nearest each centroid and,
when gold labels exist, how pure each cluster is (the paper's Table 3 lists clusters from the
lowest label entropy up).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import v_measure_score

from inbedder.errors import InBedderError
from inbedder.vectors import unit_rows

from .keywords import as_cluster_labels, cluster_keywords


def representative_indices(
    embeddings: np.ndarray,
    labels: Sequence[int] | np.ndarray,
    centroids: np.ndarray,
    *,
    n: int = 3,
) -> dict[int, list[int]]:
    """Indices of the ``n`` members of each cluster closest (cosine) to its centroid, nearest first.

    ``centroids[k]`` is the centroid of cluster ``k`` (as in k-means ``cluster_centers_``);
    label ``-1`` marks outliers, listed from the best fitting.
    """
    embeddings = np.asarray(embeddings, dtype=float)
    centroids = np.asarray(centroids, dtype=float)
    if embeddings.ndim != 2 or centroids.ndim != 2 or embeddings.shape[1] != centroids.shape[1]:
        raise InBedderError(
            f"embeddings {embeddings.shape} and centroids {centroids.shape} must be 2-D "
            "with the same number of columns"
        )
    cluster_of = as_cluster_labels(labels, len(embeddings))
    if len(cluster_of) and (cluster_of.min() < -1 or cluster_of.max() >= len(centroids)):
        raise InBedderError(
            f"cluster labels must lie in 0..{len(centroids) - 1} (one per centroid row), or -1 for outliers"
        )
    similarity = unit_rows(embeddings) @ unit_rows(centroids).T
    result: dict[int, list[int]] = {}
    for cluster in sorted(int(c) for c in np.unique(cluster_of)):
        members = np.flatnonzero(cluster_of == cluster)
        # outliers (-1) have no centroid: the ones nearest to any centroid come first
        fit = similarity[members].max(axis=1) if cluster < 0 else similarity[members, cluster]
        order = np.argsort(-fit, kind="stable")
        result[cluster] = [int(i) for i in members[order[:n]]]
    return result


def _known_pairs(labels: Sequence[int] | np.ndarray, true_labels: Sequence[Any]) -> pd.DataFrame:
    """(cluster, true) pairs, without those whose true label is missing (None, NaN, pd.NA)."""
    true = pd.Series(list(true_labels), dtype=object)
    pairs = pd.DataFrame({"cluster": as_cluster_labels(labels, len(true)), "true": true})
    return pairs[~true.isna()]


def label_composition(
    labels: Sequence[int] | np.ndarray, true_labels: Sequence[Any]
) -> pd.DataFrame:
    """Counts of each true label (columns) inside each cluster (rows); missing labels skipped."""
    pairs = _known_pairs(labels, true_labels)
    return pd.crosstab(pairs["cluster"], pairs["true"])


def label_entropy(
    labels: Sequence[int] | np.ndarray, true_labels: Sequence[Any]
) -> dict[int, float]:
    """Shannon entropy (nats) of the true labels in each cluster: 0 for a pure cluster."""
    composition = label_composition(labels, true_labels)
    result: dict[int, float] = {}
    for cluster, row in zip(composition.index, composition.to_numpy(dtype=float)):
        p = row[row > 0] / row.sum()
        result[int(cluster)] = float(p @ np.log(1 / p))
    return result


def v_measure(true_labels: Sequence[Any], labels: Sequence[int] | np.ndarray) -> float:
    """V-measure (scikit-learn's, β = 1) of a clustering against gold labels: the one used everywhere.

    The rule for missing labels: texts whose gold label is None, NaN or pd.NA are left out (a
    corpus labelled in part is scored on its labelled part); the others are compared as strings,
    so 1 and "1" are one class. An error when no text has a label or the lengths differ.
    """
    pairs = _known_pairs(labels, true_labels)
    if pairs.empty:
        raise InBedderError("no text has a true label, so the V-measure cannot be computed")
    score = float(v_measure_score(pairs["true"].astype(str), pairs["cluster"]))
    return min(score, 1.0)  # a perfect clustering can come out as 1.0000000000000002


def cluster_table(
    labels: Sequence[int] | np.ndarray,
    answers: Sequence[str],
    texts: Sequence[str],
    embeddings: np.ndarray,
    centroids: np.ndarray,
    *,
    true_labels: Sequence[Any] | None = None,
    top_n_keywords: int = 8,
    n_examples: int = 3,
    extra_stopwords: Iterable[str] = (),
) -> pd.DataFrame:
    """One row per cluster with its keywords, nearest texts and, given gold labels, its purity.

    Columns: cluster, size, keywords, keyword_scores, examples, example_answers and, when
    ``true_labels`` is given, entropy, top_label, top_label_share. Rows run from the purest
    cluster (lowest entropy, as in the paper's Table 3) when gold labels are given, otherwise
    from the largest cluster.
    """
    if not len(answers) == len(texts) == len(embeddings):
        raise InBedderError(
            f"answers ({len(answers)}), texts ({len(texts)}) and embeddings ({len(embeddings)}) "
            "must have one entry per text"
        )
    if top_n_keywords < 1:
        raise InBedderError(f"top_n_keywords must be at least 1, got {top_n_keywords}", parameter="top_n_keywords")
    cluster_of = as_cluster_labels(labels, len(texts))
    keywords = cluster_keywords(answers, cluster_of, top_n=top_n_keywords, extra_stopwords=extra_stopwords)
    nearest = representative_indices(embeddings, cluster_of, centroids, n=n_examples)
    rows = [
        {
            "cluster": cluster,
            "size": int((cluster_of == cluster).sum()),
            "keywords": [word for word, _ in keywords[cluster]],
            "keyword_scores": [score for _, score in keywords[cluster]],
            "examples": [texts[i] for i in nearest[cluster]],
            "example_answers": [answers[i] for i in nearest[cluster]],
        }
        for cluster in sorted(keywords)
    ]
    table = pd.DataFrame(
        rows,
        columns=["cluster", "size", "keywords", "keyword_scores", "examples", "example_answers"],
    )
    if true_labels is None:
        return table.sort_values(["size", "cluster"], ascending=[False, True], ignore_index=True)
    return _with_purity(table, cluster_of, true_labels)


def _with_purity(table: pd.DataFrame, cluster_of: np.ndarray, true_labels: Sequence[Any]) -> pd.DataFrame:
    """Entropy, top label and its share per cluster; rows from the purest cluster (paper Table 3)."""
    composition = label_composition(cluster_of, true_labels)
    entropy = label_entropy(cluster_of, true_labels)
    table["entropy"] = [entropy.get(c, np.nan) for c in table["cluster"]]
    top_labels = [
        composition.loc[c].idxmax() if c in composition.index else None for c in table["cluster"]
    ]
    table["top_label"] = pd.Series(top_labels, dtype=object)  # keep int labels int beside None
    table["top_label_share"] = [
        float(composition.loc[c].max() / composition.loc[c].sum())
        if c in composition.index
        else np.nan
        for c in table["cluster"]
    ]
    return table.sort_values(
        ["entropy", "size", "cluster"], ascending=[True, False, True], ignore_index=True
    )

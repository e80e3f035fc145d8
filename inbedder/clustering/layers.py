"""Layers: the k clusters grouped into named parents, on their centroids (issue #29, item 2).

An analyst with twelve clusters asks which of them belong together; BERTopic users ask for
named parents most. The parents are found on the cluster centres alone (cheap: k points, not
the corpus), by agglomerative clustering with average linkage on cosine distance — measured
against k-means on the centres in docs/explanations.md — with the number of parents chosen by
silhouette among 2..min(k - 1, 8). Each parent is named like a cluster, by the answer phrase
its texts give most and other parents least.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from inbedder.errors import InBedderError
from inbedder.vectors import unit_rows

METHODS = ("agglomerative", "kmeans")
MAX_PARENTS = 8


@dataclass(frozen=True)
class Layers:
    """The parent of every cluster, each parent's name, and how the parents were chosen."""

    parent_of: dict[int, int]  # cluster -> parent
    names: dict[int, str]  # parent -> name
    method: str
    silhouette_by_parents: dict[int, float]

    def children(self) -> dict[int, list[int]]:
        found: dict[int, list[int]] = {}
        for cluster, parent in sorted(self.parent_of.items()):
            found.setdefault(parent, []).append(cluster)
        return found

    def as_record(self) -> dict:
        return {"method": f"{self.method} on the cluster centres (cosine), parents by silhouette",
                "parents": {int(p): {"name": self.names.get(p, ""), "children": kids} for p, kids in self.children().items()},
                "silhouette_by_parents": {int(n): s for n, s in self.silhouette_by_parents.items()}}


def check_levels(levels: int, n_clusters: int | str | None) -> None:
    """One line before any work: 1 or 2 levels, and 2 needs at least three clusters to group."""
    if levels not in (1, 2):
        raise InBedderError(f"levels must be 1 (clusters) or 2 (clusters and their parents), got {levels}",
                            parameter="levels")
    if levels == 2 and isinstance(n_clusters, int) and n_clusters < 3:
        raise InBedderError(f"levels=2 groups clusters into parents, which needs n_clusters of at least 3 (got "
                            f"{n_clusters})", parameter="levels")


def group_centres(centres: np.ndarray, parents: int, *, method: str = "agglomerative", random_state: int = 0) -> np.ndarray:
    """Parent label (0-based) of each centre, ``parents`` groups."""
    unit = unit_rows(centres, dtype=np.float64)
    if method == "agglomerative":
        from sklearn.cluster import AgglomerativeClustering

        return AgglomerativeClustering(n_clusters=parents, metric="cosine", linkage="average").fit_predict(unit)
    if method == "kmeans":
        from inbedder.clustering.kmeans import kmeans_in_canonical_order

        return kmeans_in_canonical_order(unit, parents, random_state=random_state)[0]
    raise InBedderError(f"unknown layer method {method!r}; choose one of: {', '.join(METHODS)}", parameter="layer_method")


def find_parents(centres: np.ndarray, *, parents: int | None = None, method: str = "agglomerative",
                 random_state: int = 0) -> tuple[np.ndarray, dict[int, float]]:
    """(parent of each centre, silhouette per number of parents tried); ``parents`` None: the best silhouette."""
    from sklearn.metrics import silhouette_score

    k = len(centres)
    if k < 3:
        raise InBedderError(f"{k} clusters are too few to group into parents; use at least 3", parameter="levels")
    tried = [parents] if parents else list(range(2, min(k - 1, MAX_PARENTS) + 1))
    unit = unit_rows(centres, dtype=np.float64)
    scores, fits = {}, {}
    for count in tried:
        labels = group_centres(unit, count, method=method, random_state=random_state)
        fits[count] = labels
        if 1 < len(set(labels)) < k:
            scores[count] = round(float(silhouette_score(unit, labels, metric="cosine")), 4)
    best = max(scores, key=scores.get) if scores else tried[0]  # ties: the fewer parents, met first
    return _ordered(fits[best]), scores


def _ordered(labels: np.ndarray) -> np.ndarray:
    """Parents numbered in the order their first cluster appears (cluster 0's parent is 0)."""
    order = {label: number for number, label in enumerate(dict.fromkeys(int(x) for x in labels))}
    return np.array([order[int(x)] for x in labels])


def build_layers(centres: np.ndarray, labels: np.ndarray, answers: Sequence[str] | None, *, instruction: str,
                 method: str = "agglomerative", parents: int | None = None, random_state: int = 0) -> Layers:
    """Parents of the fitted clusters, named by their texts' answers (``parent N`` without answers)."""
    from inbedder.explain.names import phrase_names

    parent_of_centre, scores = find_parents(centres, parents=parents, method=method, random_state=random_state)
    parent_of = {cluster: int(parent) for cluster, parent in enumerate(parent_of_centre)}
    if answers is None:
        names = {p: f"parent {p}" for p in set(parent_of.values())}
    else:
        text_parents = np.array([parent_of.get(int(c), -1) for c in labels])
        names = {p: n for p, n in phrase_names(answers, text_parents, instruction=instruction).items() if p >= 0}
    return Layers(parent_of, names, method, scores)

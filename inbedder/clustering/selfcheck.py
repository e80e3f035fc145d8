"""The self-check of a clustering: can the analyst trust these clusters? (issue #29).

Two numbers computed on every run, no model needed:

* **stability**: k-means fitted again on five seeded 80 % subsamples; the mean adjusted Rand
  index between each re-fit and the run's own clusters on the texts they share. 1.0: the same
  clusters whatever the sample; near 0: the split is one of many equally good ones (noise).
* **answer purity**: the share of a cluster's members whose own answer contains the cluster's
  answer-phrase name ("slow service" in a cluster named "service"), per cluster and overall.
  Low purity: the name speaks for few of the texts it labels.

Outliers (cluster -1) are left out of both. A third, optional number needs a writer model: the
judge's agreement (:mod:`inbedder.explain.judge`), added by ``InstructionClusterer.judge``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from inbedder.clustering.kmeans import kmeans_in_canonical_order

SUBSAMPLES = 5
SHARE = 0.8


@dataclass(frozen=True)
class SelfCheck:
    """What :func:`self_check` found; ``as_record()`` is what the run record keeps."""

    stability: float | None
    answer_purity: float | None
    purity_by_cluster: dict[int, float] = field(default_factory=dict)
    judge_agreement: float | None = None  # set by the optional judge (:mod:`inbedder.explain.judge`)
    judge_sample: int = 0

    def as_record(self) -> dict:
        record = {"stability": self.stability, "stability_method": f"mean ARI over {SUBSAMPLES} seeded {SHARE:.0%} subsamples",
                  "answer_purity": self.answer_purity,
                  "answer_purity_by_cluster": {int(c): p for c, p in self.purity_by_cluster.items()}}
        if self.judge_sample:
            record |= {"judge_agreement": self.judge_agreement, "judge_sample": self.judge_sample}
        return record

    def line(self) -> str:
        """One line for the terminal summary."""
        shown = [f"stability {self.stability:.2f} (mean ARI over {SUBSAMPLES} subsamples)" if self.stability is not None else "",
                 f"answer purity {self.answer_purity:.2f}" if self.answer_purity is not None else "",
                 f"judge agreement {self.judge_agreement:.2f} ({self.judge_sample} texts)" if self.judge_sample else ""]
        return "self-check: " + ", ".join(part for part in shown if part)


def stability(vectors: np.ndarray, labels: np.ndarray, *, random_state: int = 0, n_init: int = 10) -> float | None:
    """Mean ARI between the clusters and k-means re-fits on seeded subsamples (None below 2 clusters)."""
    from sklearn.metrics import adjusted_rand_score

    kept = np.flatnonzero(labels >= 0)
    k = len(np.unique(labels[kept]))
    size = int(len(kept) * SHARE)
    if k < 2 or size <= k:
        return None
    scores = []
    for seed in range(1, SUBSAMPLES + 1):
        rows = np.sort(np.random.default_rng(random_state + seed).choice(kept, size=size, replace=False))
        refit, _ = kmeans_in_canonical_order(vectors[rows], k, n_init=n_init, random_state=random_state + seed)
        scores.append(adjusted_rand_score(labels[rows], refit))
    return round(float(np.mean(scores)), 4)


def answer_purity(answers: Sequence[str], labels: np.ndarray, names: Mapping[int, str],
                  *, stop: frozenset[str] = frozenset()) -> tuple[float | None, dict[int, float]]:
    """Overall and per-cluster share of members whose answer holds every word of the cluster's name."""
    from inbedder.explain.segmenting import explanation_words
    from inbedder.stopwords import singular

    agree: dict[int, list[bool]] = {}
    for answer, cluster in zip(answers, labels):
        name = names.get(int(cluster), "")
        if cluster < 0 or not name:
            continue
        said = {singular(word) for word in explanation_words(answer or "", stop)}
        agree.setdefault(int(cluster), []).append(all(singular(word) in said for word in name.split()))
    if not agree:
        return None, {}
    overall = float(np.mean([flag for flags in agree.values() for flag in flags]))
    return round(overall, 4), {c: round(float(np.mean(flags)), 4) for c, flags in sorted(agree.items())}


def self_check(vectors: np.ndarray, labels: np.ndarray, answers: Sequence[str] | None, names: Mapping[int, str],
               *, random_state: int = 0, n_init: int = 10, stop: frozenset[str] = frozenset()) -> SelfCheck:
    """Stability and answer purity of one clustering (purity needs the answers)."""
    labels = np.asarray(labels)
    purity, by_cluster = answer_purity(answers, labels, names, stop=stop) if answers is not None else (None, {})
    return SelfCheck(stability(vectors, labels, random_state=random_state, n_init=n_init), purity, by_cluster)

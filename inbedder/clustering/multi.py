"""Several answers per text: cluster the answers, and a text belongs to every cluster one of its answers falls in.

:class:`MultiAnswerClusterer` wraps an :class:`~inbedder.clustering.estimator.InstructionClusterer`
and fits it on *answer rows* (:func:`inbedder.encoding.multi.encode_answers`): its clusters,
names, descriptions, self-check and saved form are the row clusterer's, unchanged. What this
module adds is the way back to texts: each text's clusters in the order of its answers, its
primary cluster (that of its first answer), and the long table (text, answer, cluster).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from inbedder.encoding.multi import MultiEncoded, check_max_answers, encode_answers
from inbedder.errors import InBedderError, NotFittedError

if TYPE_CHECKING:
    import pandas as pd

    from inbedder.clustering.estimator import InstructionClusterer
    from inbedder.encoding.embedder import InBedder

__all__ = ["MultiAnswerClusterer", "clusters_of_texts", "label_precision", "label_recall", "majority_labels"]


def clusters_of_texts(rows: np.ndarray, labels: np.ndarray, n_texts: int) -> list[list[int]]:
    """Each text's distinct clusters in the order of its answers (outliers, -1, only where nothing else)."""
    found: list[list[int]] = [[] for _ in range(n_texts)]
    for text, label in zip(rows.tolist(), labels.tolist()):
        if label not in found[text]:
            found[text].append(int(label))
    return [[c for c in clusters if c != -1] or clusters for clusters in found]


def majority_labels(clusters: list[list[int]], gold: list[Sequence[str]]) -> dict[int, str]:
    """{cluster: the gold label most of its texts carry} (a text counts once per label; ties: the first label in order)."""
    from collections import Counter

    votes: dict[int, Counter] = {}
    for own, labels in zip(clusters, gold):
        for cluster in own:
            votes.setdefault(cluster, Counter()).update(sorted(set(labels)))
    return {cluster: counts.most_common(1)[0][0] for cluster, counts in votes.items() if cluster != -1 and counts}


def label_precision(clusters: list[list[int]], gold: list[Sequence[str]]) -> float:
    """The share of (text, cluster) memberships whose cluster stands for one of the text's gold labels."""
    majority = majority_labels(clusters, gold)
    pairs = [(cluster, labels) for own, labels in zip(clusters, gold) for cluster in own if cluster != -1]
    if not pairs:
        raise InBedderError("no text is in a cluster; nothing to measure", parameter="y")
    return sum(majority.get(cluster) in labels for cluster, labels in pairs) / len(pairs)


def label_recall(clusters: list[list[int]], gold: list[Sequence[str]]) -> float:
    """The share of (text, gold label) pairs whose label is the majority label of one of the text's clusters.

    Each cluster is named by the gold label most of its texts carry (a text counts once per
    label), so a two-label text is fully recalled only when two of its clusters stand for its
    two labels: the measure of ``--multi`` on texts that mention two aspects.
    """
    pairs = [(own, label) for own, labels in zip(clusters, gold) for label in set(labels)]
    if not pairs:
        raise InBedderError("no gold labels to recall; give each text at least one label", parameter="y")
    majority = majority_labels(clusters, gold)
    return sum(any(majority.get(c) == label for c in own) for own, label in pairs) / len(pairs)


class MultiAnswerClusterer:
    """Up to ``max_answers`` answers per text, listed by ``lister``, embedded and clustered by ``clusterer``.

    ``lister``: an InBedder or a model name, loaded as a writer (zero-shot, chat format;
    :func:`inbedder.explain.writing.load_writer`); default the largest catalogue model fetched here.

    After ``fit``: ``answer_clusterer_`` (the row clusterer, fitted: names, descriptions,
    self-check and ``save`` are its), ``encoded_`` (the answer rows), ``answers_`` (each text's
    answers; empty where the model gave none), ``clusters_`` (each text's clusters),
    ``labels_`` (each text's primary cluster: its first answer's), ``no_answer_`` (texts with no
    answer, kept with one empty-answer row) and, with gold label sets ``y``, ``label_recall_``.
    """

    def __init__(self, clusterer: InstructionClusterer, *, max_answers: int = 3, lister: InBedder | str | None = None):
        self.clusterer = clusterer
        self.max_answers = max_answers
        self.lister = lister

    def fit(self, texts: Sequence[str], y: Sequence[Sequence[str]] | None = None) -> MultiAnswerClusterer:
        """List and embed every text's answers, then cluster the answers."""
        from sklearn.base import clone

        texts = list(texts)
        max_answers = check_max_answers(self.max_answers)
        if y is not None and len(y) != len(texts):
            raise InBedderError(f"y has {len(y)} label sets for {len(texts)} texts; give one per text", parameter="y")
        clusterer = self.clusterer
        if clusterer.model is None:
            raise InBedderError("several answers per text need the model that lists them; pass a model", parameter="model")
        lister = self.lister
        if lister is None or isinstance(lister, str):
            from inbedder.explain.writing import load_writer

            lister = load_writer(lister, device=str(clusterer.model.loaded.model.device))
        self.encoded_: MultiEncoded = encode_answers(
            clusterer.model, texts, clusterer.instruction, max_answers=max_answers, lister=lister,
            batch_size=clusterer.batch_size, show_progress_bar=clusterer.show_progress_bar)
        rows = self.encoded_.rows
        self.answer_clusterer_ = clone(clusterer).fit(
            [texts[t] for t in rows], embeddings=self.encoded_.embeddings, answers=self.encoded_.answers,
            answer_prefix=self.encoded_.answer_prefix)
        self.answer_clusterer_.multi_ = max_answers  # saved with the clustering: assign lists answers too,
        self.answer_clusterer_.lister_ = self.lister_ = lister.loaded.name  # with the same lister
        self.texts_ = texts
        self.answers_ = self.encoded_.listed
        self.no_answer_ = self.encoded_.no_answer
        self.clusters_ = clusters_of_texts(rows, self.answer_clusterer_.labels_, len(texts))
        self.labels_ = np.array([own[0] for own in self.clusters_], dtype=int)
        self.label_recall_ = None if y is None else label_recall(self.clusters_, [list(labels) for labels in y])
        return self

    def answer_table(self) -> pd.DataFrame:
        """The long table: one row per answer (text index, answer, cluster, similarity to its centroid)."""
        import pandas as pd

        self._check_fitted()
        fitted = self.answer_clusterer_
        return pd.DataFrame({"text_index": self.encoded_.rows, "answer": self.encoded_.answers,
                             "cluster": fitted.labels_.astype(int), "similarity": fitted.similarity_.round(6)})

    def save(self, path: str | Path) -> Path:
        """The row clusterer's saved form, marked with ``multi`` so that ``assign`` lists answers for new texts."""
        self._check_fitted()
        return self.answer_clusterer_.save(path)

    def _check_fitted(self) -> None:
        if not hasattr(self, "answer_clusterer_"):
            raise NotFittedError("this MultiAnswerClusterer is not fitted yet; call fit(texts) first")

"""InstructionClusterer: k-means over answer embeddings, explained by the answers themselves."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans

from inbedder.embedder import InBedder
from inbedder.errors import InBedderError
from inbedder.explain import cluster_table, label_composition, v_measure
from inbedder.validation import check_k


class InstructionClusterer:
    """Cluster texts by the answer to one instruction (sklearn-style ``fit``/``fit_predict``).

    After ``fit``: ``labels_``, ``answers_``, ``embeddings_`` (L2-normalised),
    ``cluster_centers_``, and ``v_measure_`` when gold labels were given.
    """

    def __init__(
        self,
        model: InBedder,
        instruction: str,
        *,
        n_clusters: int = 6,
        method: str | None = None,
        batch_size: int = 16,
        random_state: int = 0,
        n_init: int = 10,
        show_progress_bar: bool | None = None,
    ):
        self.model = model
        self.instruction = instruction
        self.n_clusters = n_clusters
        self.method = method or model.method
        self.batch_size = batch_size
        self.random_state = random_state
        self.n_init = n_init
        self.show_progress_bar = show_progress_bar

    def fit(self, texts: Sequence[str], labels: Sequence | None = None) -> "InstructionClusterer":
        """Embed (or read from cache), cluster, and remember answers for the explanation."""
        texts = list(texts)
        check_k(self.n_clusters, texts)
        encoded = self.model.encode_with_answers(
            texts, self.instruction, method=self.method, batch_size=self.batch_size,
            show_progress_bar=self.show_progress_bar, normalize_embeddings=True,
        )
        distinct = len(np.unique(encoded.embeddings.round(6), axis=0))
        if distinct < self.n_clusters:
            advice = f"lower --k to at most {distinct}" if distinct >= 2 else "ask another question or add different texts"
            raise InBedderError(
                f"the {len(texts)} texts give only {distinct} different embedding(s) under this question, "
                f"too few for k={self.n_clusters}; {advice}"
            )
        self.labels_, self.cluster_centers_ = _kmeans_in_canonical_order(
            encoded.embeddings, texts, self.n_clusters, n_init=self.n_init, random_state=self.random_state
        )
        self.embeddings_ = encoded.embeddings
        self.answers_ = encoded.answers
        self.texts_ = texts
        self.true_labels_ = None if labels is None else list(labels)
        self.v_measure_ = None if labels is None else v_measure(self.true_labels_, self.labels_)
        return self

    def fit_predict(self, texts: Sequence[str], labels: Sequence | None = None) -> np.ndarray:
        return self.fit(texts, labels).labels_

    def cluster_info(self, top_n_keywords: int = 8, n_examples: int = 3) -> pd.DataFrame:
        """One row per cluster: size, keywords from the answers, texts nearest the centroid.

        The instruction's own words are left out of the keywords: they echo the question, not
        the answer (paper §4.3). With gold labels, clusters are ordered purest first.
        """
        self._check_fitted()
        return cluster_table(
            self.labels_, self.answers_, self.texts_, self.embeddings_, self.cluster_centers_,
            true_labels=self.true_labels_, top_n_keywords=top_n_keywords, n_examples=n_examples,
            extra_stopwords=self.instruction,
        )

    def label_composition(self) -> pd.DataFrame:
        """Cluster × gold label counts (needs labels at ``fit``)."""
        self._check_fitted()
        if self.true_labels_ is None:
            raise InBedderError("no gold labels were given to fit(); pass labels=… (or --label-column)")
        return label_composition(self.labels_, self.true_labels_)

    def _check_fitted(self) -> None:
        if not hasattr(self, "labels_"):
            raise InBedderError("call fit(texts) before asking for clusters")


def _kmeans_in_canonical_order(
    embeddings: np.ndarray, texts: list[str], n_clusters: int, *, n_init: int, random_state: int
) -> tuple[np.ndarray, np.ndarray]:
    """k-means fitted on the texts sorted, so the same texts in any row order get the same clusters.

    k-means' seeding picks rows by position; fitting on a canonical order (the texts sorted,
    identical texts having identical vectors) makes the partition and the cluster numbers a
    function of the corpus alone, not of how the file happened to be ordered.
    """
    order = np.array(sorted(range(len(texts)), key=texts.__getitem__), dtype=int)
    kmeans = KMeans(n_clusters=n_clusters, n_init=n_init, random_state=random_state)
    labels = np.empty(len(texts), dtype=int)
    labels[order] = kmeans.fit_predict(embeddings[order])
    return labels, kmeans.cluster_centers_

"""Cluster keywords mined from the generated answers (InBedder paper, section 6.1).

The answers of each cluster are concatenated into one document, the K documents are
vectorised with TF-IDF, and a cluster's keywords are the words whose score in its document
stands out most against their mean score over all clusters. Ranking by the excess over the
mean, rather than by the raw score, keeps words that every cluster uses (the vocabulary of the
question itself) from topping every list.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from inbedder.errors import InBedderError
from inbedder.stopwords import content_words


def as_cluster_labels(labels: Sequence[int] | np.ndarray, n: int) -> np.ndarray:
    """``labels`` as a 1-D int array of length ``n``; a one-line error otherwise."""
    array = np.asarray(labels)
    if array.ndim != 1 or len(array) != n:
        raise InBedderError(f"expected {n} cluster labels (one per text), got shape {array.shape}")
    if len(array) and not np.issubdtype(array.dtype, np.integer):
        raise InBedderError(f"cluster labels must be integers, got dtype {array.dtype}")
    return array.astype(int)


def _stopword_set(extra_stopwords: Iterable[str]) -> frozenset[str]:
    """Lower-cased words of ``extra_stopwords``; a single string (e.g. the instruction) is split."""
    items = [extra_stopwords] if isinstance(extra_stopwords, str) else extra_stopwords
    return frozenset(word for item in items for word in content_words(item))


def cluster_keywords(
    answers: Sequence[str],
    labels: Sequence[int] | np.ndarray,
    *,
    top_n: int = 10,
    extra_stopwords: Iterable[str] = (),
) -> dict[int, list[tuple[str, float]]]:
    """Top ``top_n`` distinguishing words of each cluster's answers, as (word, score), best first.

    Score = the word's TF-IDF weight in the cluster's document minus its mean weight over all
    clusters; only words with a positive score are kept. With a single cluster that difference
    is zero everywhere, so the plain TF-IDF weight is used instead. Stopwords, punctuation and
    ``extra_stopwords`` (pass the words of the user's instruction here) never appear. A cluster
    whose answers have no content words gets ``[]``. Equal scores are ordered alphabetically so
    that the output is deterministic.
    """
    if top_n < 1:
        raise InBedderError(f"top_n must be at least 1, got {top_n}", parameter="top_n")
    cluster_of = as_cluster_labels(labels, len(answers))
    clusters = sorted(int(c) for c in np.unique(cluster_of))
    documents = [
        " ".join(a for a, c in zip(answers, cluster_of) if c == cluster) for cluster in clusters
    ]
    stop = _stopword_set(extra_stopwords)
    tokenised = [content_words(doc, stop) for doc in documents]
    if not any(tokenised):
        return {cluster: [] for cluster in clusters}

    vectorizer = TfidfVectorizer(analyzer=lambda words: words)  # documents are pre-tokenised
    weights = vectorizer.fit_transform(tokenised).toarray()
    scores = weights - weights.mean(axis=0) if len(clusters) > 1 else weights
    vocabulary = vectorizer.get_feature_names_out()

    result: dict[int, list[tuple[str, float]]] = {}
    for row, cluster in enumerate(clusters):
        ranked = sorted(
            ((str(vocabulary[j]), float(scores[row, j])) for j in np.flatnonzero(scores[row] > 0)),
            key=lambda pair: (-pair[1], pair[0]),
        )
        result[cluster] = ranked[:top_n]
    return result

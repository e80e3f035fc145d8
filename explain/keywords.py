"""Cluster keywords mined from the generated answers (InBedder paper, section 6.1).

The answers of each cluster are concatenated into one document, the K documents are
vectorised with TF-IDF, and a cluster's keywords are the words whose score in its document
stands out most against their mean score over all clusters. Ranking by the excess over the
mean, rather than by the raw score, keeps words that every cluster uses (the vocabulary of the
question itself) from topping every list.

The question's echo is also left out of keywords and names (:func:`question_echo`), but never an
option the question offers: under "Is this review positive or negative?" the words "positive"
and "negative" are the explanation, not an echo.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from inbedder.errors import InBedderError
from inbedder.stopwords import ENGLISH_STOPWORDS, word_set, words

from .segmenting import explanation_words

# Where a list of options cannot run on: end of a sentence or clause ("review: food or price?").
_BOUNDARY = re.compile(r"[.?!:;()\[\]{}\"«»“”„…—–]|\s-+\s")
_SEPARATOR = re.compile(r"([,、/])")  # "food, service" / "positive/negative"
_ALTERNATIVE_WORDS = frozenset({"or", "vs", "versus", "ou", "oder", "o", "или"})  # "X or Y" in a few languages
# Stopwords that may open a listed item ("…, the service, …"); a verb or pronoun ("…, is the
# review positive or …") starts a clause instead, so the list stops there.
_ITEM_OPENERS = frozenset(
    "a an the about of for with to in on at by from into its their his her my your our this that "
    "these those some any both each either more most only just very too so".split()
)
_OR, _COMMA = "or", ","


def _pieces(segment: str) -> tuple[list[list[str]], list[str]]:
    """A clause split at its list separators: the word lists between them, and the separators.

    ``pieces[i]`` lies between ``separators[i - 1]`` and ``separators[i]``. A separator with no
    word before it merges into the one before (", or" and "and/or" are one alternative).
    """
    pieces: list[list[str]] = [[]]
    separators: list[str] = []

    def separate(kind: str) -> None:
        if separators and not pieces[-1]:  # ", or": one separator, an alternative if either is
            separators[-1] = _OR if _OR in (kind, separators[-1]) else kind
        else:
            separators.append(kind)
            pieces.append([])

    for chunk in _SEPARATOR.split(segment):
        if chunk in (",", "、"):
            separate(_COMMA)
        elif chunk == "/":
            separate(_OR)
        else:
            for word in words(chunk):
                if word in _ALTERNATIVE_WORDS:
                    separate(_OR)
                else:
                    pieces[-1].append(word)
    return pieces, separators


def _leading_item(piece: list[str]) -> list[str]:
    """The option that opens a piece after "or": its first run of content words ("or the slow
    service about…" -> ["slow", "service"])."""
    item: list[str] = []
    for word in piece:
        if word not in ENGLISH_STOPWORDS:
            item.append(word)
        elif item:
            break
    return item


def _whole_item(piece: list[str]) -> list[str] | None:
    """A piece between two separators that is a listed item (openers, then content words only), else None."""
    content = [word for word in piece if word not in ENGLISH_STOPWORDS]
    opening = piece[: len(piece) - len(content)]
    if content and piece[len(opening):] == content and all(word in _ITEM_OPENERS for word in opening):
        return content
    return None


def _trailing_word(piece: list[str]) -> list[str]:
    """The option that ends a piece before "or" or a list: its last content word ("Is this review positive" -> ["positive"])."""
    content = [word for word in piece if word not in ENGLISH_STOPWORDS]
    return content[-1:]


def offered_options(question: str) -> frozenset[str]:
    """The words ``question`` offers as answers: the items of its "X or Y" and "X, Y, Z or W" lists.

    "Is this review positive or negative?" offers {positive, negative}; "Is it about food,
    service, price or ambience?" offers all four. "/", "vs" and "versus" join alternatives like
    "or" ("positive/negative"), as do "ou", "oder", "o" and "или". An item after an alternative
    is its first run of content words ("or the service quality"); the items before it are the
    comma-separated pieces that look like items (articles or prepositions, then content words)
    and, where such a list begins, the last content word before it ("Is this review positive").
    A list never crosses ".", "?", ":", ";", brackets or dashes. An alternative with no content
    word on one side offers nothing ("happy or not"). Words are :func:`inbedder.stopwords.words`;
    stopwords are English, so in other languages an article may ride along with an option.
    """
    options: set[str] = set()
    text = re.sub(r"\b(vs)\.", r"\1", unicodedata.normalize("NFKC", question or ""), flags=re.IGNORECASE)
    for segment in _BOUNDARY.split(text):
        pieces, separators = _pieces(segment)
        for index, separator in enumerate(separators):
            if separator != _OR:
                continue
            after = _leading_item(pieces[index + 1])
            before: list[str] = []
            left = index  # pieces[left] is the piece before separators[left]
            while left >= 0:
                item = _whole_item(pieces[left]) if left > 0 else None
                if item is None:
                    before += _trailing_word(pieces[left])
                    break
                before += item
                left -= 1
            if after and before:
                options.update(after, before)
    return frozenset(part for option in options for part in word_set(option))


def question_echo(question: str) -> frozenset[str]:
    """The words of ``question`` that explanations leave out: all but the options it offers.

    Answers often restate the question ("The sentiment of the review is positive"); those words
    say nothing about a cluster and would top its keywords and names. The InBedder paper's
    §4.3 filter drops every instruction word, but that filter is for avg-gen's hidden states
    (``inbedder.encoding.engine``, unchanged); an explanation must keep the words that answer the
    question. So a question word stays when the question offers it as an option
    (:func:`offered_options`): asked "Is this review positive or negative?", clusters are
    named "positive" and "negative" and those are their keywords, while under "What is the
    sentiment of the review?" "sentiment" and "review" are still dropped. The rule reads the
    question alone, so a word is an echo or not the same way for every cluster and corpus.
    Includes the parts of apostrophe words, as :func:`inbedder.stopwords.word_set`, and the
    segmented words of Chinese and Japanese questions (:mod:`.segmenting`).
    """
    return (frozenset(word_set(question or "")) | frozenset(explanation_words(question or ""))) - offered_options(question)


def as_cluster_labels(labels: Sequence[int] | np.ndarray, n: int) -> np.ndarray:
    """``labels`` as a 1-D int array of length ``n``; a one-line error otherwise."""
    array = np.asarray(labels)
    if array.ndim != 1 or len(array) != n:
        raise InBedderError(f"expected {n} cluster labels (one per text), got shape {array.shape}")
    if len(array) and not np.issubdtype(array.dtype, np.integer):
        raise InBedderError(f"cluster labels must be integers, got dtype {array.dtype}")
    return array.astype(int)


def _stopword_set(extra_stopwords: Iterable[str]) -> frozenset[str]:
    """The echo (:func:`question_echo`) of ``extra_stopwords``: a single string (e.g. the
    instruction) is split into words, and the options it offers are kept out of the set."""
    items = [extra_stopwords] if isinstance(extra_stopwords, str) else extra_stopwords
    return frozenset(word for item in items for word in question_echo(item))


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
    ``extra_stopwords`` (pass the user's instruction here) never appear, except the options an
    instruction offers ("positive or negative": see :func:`question_echo`). A cluster
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
    tokenised = [explanation_words(doc, stop) for doc in documents]
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

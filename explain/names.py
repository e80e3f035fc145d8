"""Readable cluster names, built from the answers the model gave for the cluster's texts.

A keyword list ("service, slow, waiter") makes the analyst do the naming. The answers are
already short phrases, so the plainest name is the phrase most members' answers reduce to:
each answer is normalised to its first content words (stopwords and the question's own words
dropped, as for keywords), and the phrase the cluster's answers give most, and most nearly
alone, names it ("service", "slow service"). Names are unique. Texts labelled ``-1``
(outliers) are named "other".

:func:`generated_names` asks the generator itself for a name of at most five words, given the
cluster's most common answers and keywords (the LLooM / GoalEx idea, with the embedded model).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from inbedder.errors import InBedderError
from inbedder.stopwords import content_words, word_set

if TYPE_CHECKING:
    from inbedder.embedder import InBedder

OUTLIER = -1
OUTLIER_NAME = "other"
PHRASE_WORDS = 3  # a name is at most this many content words of an answer
MAX_NAME_WORDS = 5
NAME_QUESTION = "What short name of at most five words fits this group?"
NAME_TOKENS = 10  # enough for five words; the name is cut to five words after generation


def answer_phrase(answer: str, stop: frozenset[str] = frozenset()) -> str:
    """The first content words of an answer, lower-cased: "The service was slow." -> "service slow"."""
    return " ".join(content_words(answer or "", stop)[:PHRASE_WORDS])


def _phrase_key(phrase: str) -> str:
    """Phrases that differ only by a plural "s" count as one ("wait time", "wait times")."""
    return " ".join(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in phrase.split())


def phrase_names(
    answers: Sequence[str], labels: Sequence[int] | np.ndarray, *, instruction: str = "",
) -> dict[int, str]:
    """{cluster: the normalised answer phrase that is most common in it and most its own}, unique.

    A phrase scores ``n_c × n_c / n``: how often the cluster's answers give it (``n_c``) times the
    share of all its uses that fall in this cluster, so a phrase every cluster says ("food" in a
    restaurant corpus) loses to one this cluster says ("wait times"). Names are handed out from
    the best score down; ties go to the shorter, then alphabetically first phrase. A phrase is
    shown in its most common spelling in the cluster. A cluster none of whose answers has a
    content word is named ``cluster N``; outliers (-1) are "other".
    """
    stop = frozenset(word_set(instruction))
    in_cluster: dict[int, Counter] = {}
    spellings: dict[tuple[int, str], Counter] = {}
    overall: Counter = Counter()
    for answer, label in zip(answers, np.asarray(labels, dtype=int)):
        counter = in_cluster.setdefault(int(label), Counter())
        phrase = answer_phrase(answer, stop)
        if phrase:
            key = _phrase_key(phrase)
            counter[key] += 1
            overall[key] += 1
            spellings.setdefault((int(label), key), Counter())[phrase] += 1
    candidates = sorted(
        ((count * count / overall[key], cluster, key) for cluster, counter in in_cluster.items() if cluster != OUTLIER
         for key, count in counter.items()),
        key=lambda item: (-item[0], len(item[2]), item[2], item[1]),
    )
    names: dict[int, str] = {OUTLIER: OUTLIER_NAME} if OUTLIER in in_cluster else {}
    taken: set[str] = {OUTLIER_NAME}
    for _, cluster, key in candidates:
        if cluster not in names and key not in taken:
            names[cluster] = max(spellings[(cluster, key)].items(), key=lambda item: (item[1], -len(item[0])))[0]
            taken.add(key)
    for cluster in in_cluster:
        names.setdefault(cluster, f"cluster {cluster}")
    return dict(sorted(names.items()))


def name_prompt_inputs(
    answers: Sequence[str], labels: Sequence[int] | np.ndarray, keywords: Mapping[int, Iterable[str]], *,
    top_answers: int = 6,
) -> dict[int, str]:
    """{cluster: the text the generator names}: its most common answers and its keywords."""
    labels = np.asarray(labels, dtype=int)
    inputs = {}
    for cluster in sorted(set(labels.tolist()) - {OUTLIER}):
        common = Counter(" ".join((answers[i] or "").split()) for i in np.flatnonzero(labels == cluster))
        shown = [answer for answer, _ in sorted(common.items(), key=lambda item: (-item[1], item[0])) if answer]
        words = ", ".join(list(keywords.get(cluster, []))[:6]) or "-"
        inputs[cluster] = f"Answers: {'; '.join(shown[:top_answers]) or '-'}. Keywords: {words}."
    return inputs


def clean_name(generated: str) -> str:
    """The first line of a generated name, without quotes or end punctuation, cut to five words."""
    line = (generated or "").strip().splitlines()[0] if (generated or "").strip() else ""
    kept = line.strip(" \"'`*.:;,!-").split()
    return " ".join(kept[:MAX_NAME_WORDS])


def generated_names(model: InBedder, inputs: Mapping[int, str], *, batch_size: int = 16) -> dict[int, str]:
    """{cluster: a name of at most five words written by ``model``'s generator from ``inputs``}.

    Greedy decoding (so a rerun gives the same names) through the engine, so names are cached
    like any answer. Refused for masked LMs and sentence encoders, which cannot write.
    """
    from inbedder.models import CAUSAL

    if model.family != CAUSAL:
        raise InBedderError(f"naming clusters needs a generative (causal) model; {model.loaded.name} is a "
                            f"{model.family} model, so leave name_clusters off", parameter="name_clusters")
    writer = model.with_answer_prefix("")
    writer.max_new_tokens = NAME_TOKENS  # a setting of the cache key: names never reuse short answers
    clusters = list(inputs)
    encoded = writer.encode_with_answers([inputs[c] for c in clusters], NAME_QUESTION, method="1st-gen",
                                         batch_size=batch_size, show_progress_bar=False)
    return {cluster: clean_name(answer) for cluster, answer in zip(clusters, encoded.answers)}

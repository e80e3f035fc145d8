"""Readable cluster names, built from the answers the model gave for the cluster's texts.

A keyword list ("service, slow, waiter") makes the analyst do the naming. The answers are
already short phrases, so the plainest name is the phrase most members' answers reduce to:
each answer is normalised to its first content words (stopwords and the question's echo
dropped, as for keywords; the options a choice question offers stay, see
:func:`explain.keywords.question_echo`), and the phrase the cluster's answers give most, and
most nearly alone, names it ("service", "slow service"; "positive" under "Is this review
positive or negative?"). Names are unique. Texts labelled ``-1`` (outliers) are named "other".

:func:`generated_names` asks the generator itself for a name of at most five words, given the
cluster's most common answers and keywords (the LLooM / GoalEx idea, with the embedded model).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from inbedder.errors import InBedderError
from inbedder.stopwords import singular

from .keywords import question_echo
from .segmenting import explanation_words

if TYPE_CHECKING:
    from inbedder.encoding.embedder import InBedder

OUTLIER = -1
OUTLIER_NAME = "other"
PHRASE_WORDS = 3  # a name is at most this many content words of an answer
MAX_NAME_WORDS = 5
NAME_QUESTION = "What short name of at most five words fits this group?"
NAME_TOKENS = 10  # enough for five words; the name is cut to five words after generation


def answer_phrase(answer: str, stop: frozenset[str] = frozenset()) -> str:
    """The first content words of an answer, lower-cased: "The service was slow." -> "service slow"."""
    return " ".join(explanation_words(answer or "", stop)[:PHRASE_WORDS])


def _phrase_key(phrase: str) -> str:
    """Phrases that differ only by a plural "s" count as one ("wait time", "wait times")."""
    return " ".join(singular(word) for word in phrase.split())


def _distinctive_phrases(
    answers: Sequence[str], labels: Sequence[int] | np.ndarray, instruction: str,
) -> tuple[dict[int, list[tuple[float, str, str]]], dict[int, int]]:
    """Per cluster, its answer phrases best first as (score, key, most common spelling); and cluster sizes.

    A phrase scores ``n_c × n_c / n``: how often the cluster's answers give it (``n_c``) times the
    share of all its uses that fall in this cluster, so a phrase every cluster says ("food" in a
    restaurant corpus) loses to one this cluster says ("wait times").
    """
    stop = question_echo(instruction)  # the question's words, but not the options it offers
    in_cluster: dict[int, Counter] = {}
    spellings: dict[tuple[int, str], Counter] = {}
    overall: Counter = Counter()
    sizes: Counter = Counter()
    for answer, label in zip(answers, np.asarray(labels, dtype=int)):
        label = int(label)
        sizes[label] += 1
        phrase = answer_phrase(answer, stop)
        if phrase:
            key = _phrase_key(phrase)
            in_cluster.setdefault(label, Counter())[key] += 1
            overall[key] += 1
            spellings.setdefault((label, key), Counter())[phrase] += 1
    ranked = {}
    for cluster in sizes:
        scored = [(count * count / overall[key], key, max(spellings[(cluster, key)].items(), key=lambda s: (s[1], -len(s[0])))[0])
                  for key, count in in_cluster.get(cluster, Counter()).items()]
        ranked[cluster] = sorted(scored, key=lambda item: (-item[0], len(item[1]), item[1]))
    return ranked, dict(sizes)


def phrase_names(
    answers: Sequence[str], labels: Sequence[int] | np.ndarray, *, instruction: str = "",
) -> dict[int, str]:
    """{cluster: the normalised answer phrase most common in it and most its own}, unique across clusters.

    Names are handed out from the best score (see :func:`_distinctive_phrases`) down, and are
    shown in their most common spelling in the cluster. A cluster none of whose answers has a
    content word is named ``cluster N``; outliers (-1) are "other".
    """
    ranked, sizes = _distinctive_phrases(answers, labels, instruction)
    candidates = sorted(
        ((score, cluster, key, shown) for cluster, items in ranked.items() if cluster != OUTLIER for score, key, shown in items),
        key=lambda item: (-item[0], len(item[2]), item[2], item[1]),
    )
    names: dict[int, str] = {OUTLIER: OUTLIER_NAME} if OUTLIER in sizes else {}
    taken: set[str] = {OUTLIER_NAME}
    for _, cluster, key, shown in candidates:
        if cluster not in names and key not in taken:
            names[cluster] = shown
            taken.add(key)
    for cluster in sizes:
        names.setdefault(cluster, f"cluster {cluster}")
    return dict(sorted(names.items()))


def name_prompt_inputs(
    answers: Sequence[str], labels: Sequence[int] | np.ndarray, keywords: Mapping[int, Iterable[str]], *,
    instruction: str = "", items: int = 4,
) -> dict[int, str]:
    """{cluster: the list the generator names}: its most distinctive answer phrases, topped up with keywords.

    Measured on the shipped reviews with the embedded model: the raw top answers of the service
    cluster start with "food" and its name came out "food wait time wait"; its four most
    distinctive phrases give "team morale", and the other clusters "atmosphere decor ambiance",
    "food texture sauce", "price value portion" (six phrases gave "wine" and "fish": the small
    model echoes the last item of a long list).
    """
    ranked, _ = _distinctive_phrases(answers, labels, instruction)
    inputs = {}
    for cluster in sorted(set(ranked) - {OUTLIER}):
        shown = [phrase for _, _, phrase in ranked[cluster]][:items]
        shown += [word for word in keywords.get(cluster, []) if word not in " ".join(shown).split()][: items - len(shown)]
        inputs[cluster] = "; ".join(shown) or "-"
    return inputs


def clean_name(generated: str) -> str:
    """The first line of a generated name, without quotes or end punctuation, cut to five words."""
    line = (generated or "").strip().splitlines()[0] if (generated or "").strip() else ""
    kept = re.sub(r"(?<=[a-z][a-z])(?=[A-Z])", " ", line.strip(" \"'`*.:;,!-")).split()  # "FoodPrices" -> "Food Prices"
    return " ".join(kept[:MAX_NAME_WORDS])


def generated_names(model: InBedder, inputs: Mapping[int, str], *, batch_size: int = 16,
                    template: str | None = None) -> dict[int, str]:
    """{cluster: a name of at most five words written by ``model``'s generator from ``inputs``}.

    Greedy decoding (so a rerun gives the same names) through the engine, so names are cached
    like any answer. Refused for masked LMs and sentence encoders, which cannot write.
    """
    from inbedder.models.loading import CAUSAL

    if model.family != CAUSAL:
        raise InBedderError(f"naming clusters needs a generative (causal) model; {model.loaded.name} is a "
                            f"{model.family} model, so leave name_clusters off", parameter="name_clusters")
    from .writing import write

    written = write(model, inputs, NAME_QUESTION, max_new_tokens=NAME_TOKENS, batch_size=batch_size, template=template)
    return {cluster: clean_name(answer) for cluster, answer in written.items()}


def write_names(
    model: InBedder, answers: Sequence[str], labels: Sequence[int] | np.ndarray, *, instruction: str,
    top_n_keywords: int = 8, batch_size: int = 16, template: str | None = None,
) -> tuple[dict[int, str], dict[int, str]]:
    """(what the generator was shown, the names it wrote) for each cluster of a fitted clustering."""
    from .keywords import cluster_keywords

    keywords = cluster_keywords(answers, labels, top_n=top_n_keywords, extra_stopwords=instruction)
    inputs = name_prompt_inputs(answers, labels, {c: [w for w, _ in kw] for c, kw in keywords.items()},
                                instruction=instruction)
    return inputs, generated_names(model, inputs, batch_size=batch_size, template=template)

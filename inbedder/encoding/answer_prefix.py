"""Find the words a chat model says before it answers, and put them in the prompt.

Small chat models open nearly every answer by echoing the question ("The sentiment of the
review is …", "The customer is complaining about …"). Those tokens carry nothing about the
text (paper §4.3, answer brevity), and they make 1st-gen the state that predicts "The".
We generate answers for a small, evenly spaced sample of the corpus, keep the opening most
answers share while it is made of uninformative words (stopwords, the instruction's words,
answer-framing verbs), and append it to the prompt. 1st-gen then becomes the state that
chooses the first *content* word. Measured on data/reviews.csv with the embedded model:
aspect V-measure 0.16 → 0.73, sentiment 0.10 → 0.56.
"""

from __future__ import annotations

from collections import Counter

from inbedder.stopwords import ENGLISH_STOPWORDS, word_set, words

FRAMING_WORDS = frozenset(
    "answer response sure based overall discussing discusses talking talks mentioning mentions describing "
    "describes highlighting highlights referring refers commenting comments focusing focuses addressing "
    "addresses reviewer writer author text passage sentence".split()
)
"""Words that frame an answer rather than give it (the paper's "Based on", "The topic of …")."""

SAMPLE_SIZE = 24
PROBE_TOKENS = 12
MIN_SHARE = 0.4


def evenly_spaced(texts: list[str], size: int = SAMPLE_SIZE) -> list[str]:
    """A deterministic sample that spans the corpus rather than its first rows."""
    if len(texts) <= size:
        return list(texts)
    step = len(texts) / size
    return [texts[int(i * step)] for i in range(size)]


def uninformative(piece: str, instruction: str) -> bool:
    """True for a token that is punctuation, a stopword, a framing word or a word of the instruction.

    Words follow :func:`inbedder.stopwords.words` (any script); an apostrophe word such as
    "restaurant's" is uninformative when it, or each of its parts, is.
    """
    unwanted = ENGLISH_STOPWORDS | FRAMING_WORDS | word_set(instruction)
    return all(
        word in unwanted or all(part in unwanted for part in word.split("'") if part) for word in words(piece)
    )


def shared_opening(answers: list[list[int]], decode, instruction: str, stop_ids: set[int]) -> list[int]:
    """The longest token opening that the plurality of answers follows and that says nothing yet.

    Extends one token at a time with the most common next token among the answers that still
    match, while at least ``MIN_SHARE`` of them agree and the token is uninformative.
    """
    opening: list[int] = []
    matching = [answer for answer in answers if answer]
    while matching:
        counts = Counter(answer[len(opening)] for answer in matching if len(answer) > len(opening))
        if not counts:
            break
        token, count = counts.most_common(1)[0]
        if token in stop_ids or count < MIN_SHARE * len(matching) or not uninformative(decode([token]), instruction):
            break
        opening.append(token)
        matching = [answer for answer in matching if len(answer) > len(opening) and answer[: len(opening)] == opening]
    return opening

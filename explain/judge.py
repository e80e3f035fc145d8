"""The judge of the self-check: does a cluster's description pick out its own texts? (issue #29, item 4)

Clio's reconstruction test with our own writer: for a seeded sample of texts, the writer model is
shown the text and every cluster's name and description, numbered, and asked which fits best.
The share of texts for which it picks the cluster they were put in is the agreement: high when
the descriptions say what separates the clusters and the clusters follow them, low when either
does not. Greedy and cached like every written answer; outliers (-1) are not sampled.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .writing import write

if TYPE_CHECKING:
    from inbedder.encoding.embedder import InBedder

    from .descriptions import Descriptions

SAMPLE = 40
JUDGE_TOKENS = 4
JUDGE_QUESTION = "Which numbered cluster description fits this text best? Answer with its number only."
TEXT_WORDS = 120  # a judged text is cut to this many words


@dataclass(frozen=True)
class Judgement:
    """Agreement of the judge's picks with the assigned clusters, and the picks (row -> cluster or None)."""

    agreement: float | None
    sample: int
    picks: dict[int, int | None] = field(default_factory=dict)


def judge_inputs(texts: Sequence[str], rows: Sequence[int], described: Descriptions) -> dict[int, str]:
    """{row: the text, then every cluster's name and description, numbered from 1 in cluster order}."""
    menu = "\n".join(f"{number}. {described.names.get(c, '')}: {described.sentences.get(c, '')}"
                     for number, c in enumerate(sorted(described.sentences), 1))
    return {row: f"Text: {' '.join(texts[row].split()[:TEXT_WORDS])}\n\nCluster descriptions:\n{menu}" for row in rows}


def parse_pick(answer: str, clusters: Sequence[int]) -> int | None:
    """The cluster whose number the answer gives first (None: no number, or one out of range)."""
    found = re.search(r"\d+", answer or "")
    if found is None or not 1 <= int(found.group()) <= len(clusters):
        return None
    return clusters[int(found.group()) - 1]


def judge(writer: InBedder, texts: Sequence[str], labels: np.ndarray, described: Descriptions, *,
          sample: int = SAMPLE, random_state: int = 0) -> Judgement:
    """Ask ``writer`` to place a seeded sample of the clustered texts by the descriptions alone."""
    labels = np.asarray(labels, dtype=int)
    kept = np.flatnonzero(labels >= 0)
    if len(described.sentences) < 2 or not len(kept):
        return Judgement(None, 0)
    rows = sorted(np.random.default_rng(random_state).choice(kept, size=min(sample, len(kept)), replace=False).tolist())
    clusters = sorted(described.sentences)
    answers = write(writer, judge_inputs(texts, rows, described), JUDGE_QUESTION, max_new_tokens=JUDGE_TOKENS)
    picks = {row: parse_pick(answers[row], clusters) for row in rows}
    agreement = float(np.mean([picks[row] == labels[row] for row in rows]))
    return Judgement(round(agreement, 4), len(rows), picks)

"""Cluster descriptions with evidence: what sets a cluster apart, in one sentence, and three quotes.

A name says what a cluster is; an analyst trusting it also needs to know what its members have
in common *and how it differs from the clusters next to it* (Clio's contrastive descriptions).
The writer model is shown the cluster's most typical answers (those of the members nearest its
centre) beside those of its two nearest clusters (by centroid cosine), and asked for one
sentence; the name is then written from the cluster's own answers and that sentence. Greedy decoding through the engine, so descriptions are cached and a rerun gives the
same words; the prompt is recorded with them.

Evidence: three member texts with their answers, the first nearest the centre and the others
spread across the cluster's typical half (farthest-first), so the quotes show its range rather
than three copies of one review.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from inbedder.vectors import unit_rows

from .names import NAME_QUESTION, NAME_TOKENS, clean_name
from .writing import WRITER_TEMPLATE, WRITER_TOKENS, write

if TYPE_CHECKING:
    from inbedder.encoding.embedder import InBedder

OUTLIER = -1
EVIDENCE = 3  # quotes per cluster
NEIGHBOURS = 2  # nearest clusters the writer contrasts with
TYPICAL = 6  # typical answers shown per cluster
ANSWER_WORDS = 12  # an answer shown to the writer is cut to this many words

MAX_DESCRIPTION_WORDS = 40
DESCRIPTION_QUESTION = ("In one sentence, what do this cluster's answers have in common, and how do they differ from "
                        "the other clusters' answers?")
PROMPT_WORDS = frozenset({"cluster", "clusters", "group", "groups"})  # words of the prompt, not of a name
GROUP_LABELS = ("This cluster's answers", "Nearest cluster's answers", "Next nearest cluster's answers")


@dataclass
class Descriptions:
    """What :func:`describe` wrote: per cluster a name, a sentence, the writer's input, and evidence rows."""

    writer: str
    names: dict[int, str] = field(default_factory=dict)
    sentences: dict[int, str] = field(default_factory=dict)
    prompts: dict[int, str] = field(default_factory=dict)
    name_prompts: dict[int, str] = field(default_factory=dict)
    evidence: dict[int, list[int]] = field(default_factory=dict)  # row numbers of the fitted texts

    def prompt_record(self) -> dict:
        """The prompts as the sidecar keeps them (what was asked, of which model, how decoded)."""
        return {"question": DESCRIPTION_QUESTION, "name_question": NAME_QUESTION, "writer_model": self.writer,
                "template": WRITER_TEMPLATE, "name_template": "chat-brief", "decoding": "greedy",
                "max_new_tokens": WRITER_TOKENS,
                "inputs": {int(c): text for c, text in self.prompts.items()},
                "name_inputs": {int(c): text for c, text in self.name_prompts.items()}}


def nearest_clusters(centres: np.ndarray, *, n: int = NEIGHBOURS) -> dict[int, list[int]]:
    """{cluster: the ``n`` other clusters whose centres have the highest cosine to its own}."""
    unit = unit_rows(centres)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    return {c: [int(o) for o in np.argsort(-similarity[c], kind="stable")[:n]] for c in range(len(centres))}


def evidence_rows(vectors: np.ndarray, labels: np.ndarray, similarity: np.ndarray, *, n: int = EVIDENCE) -> dict[int, list[int]]:
    """{cluster: ``n`` member rows}: the one nearest the centre, then farthest-first among the typical half."""
    chosen: dict[int, list[int]] = {}
    for cluster in sorted(set(int(c) for c in labels) - {OUTLIER}):
        members = np.flatnonzero(labels == cluster)
        ranked = members[np.argsort(-similarity[members], kind="stable")]
        pool = ranked[: max(n, (len(ranked) + 1) // 2)]
        unit = unit_rows(vectors[pool])
        picked = [0]
        closest = unit @ unit[0]  # each candidate's highest cosine to anything picked so far
        while len(picked) < min(n, len(pool)):
            closest[picked] = np.inf
            picked.append(int(np.argmin(closest)))  # ties: the more typical, met first
            closest = np.maximum(closest, unit @ unit[picked[-1]])
        chosen[cluster] = [int(pool[i]) for i in picked]
    return chosen


def typical_answers(answers: Sequence[str], labels: np.ndarray, similarity: np.ndarray, cluster: int,
                    *, n: int = TYPICAL) -> list[str]:
    """The distinct answers of the members nearest the centre, most typical first, each cut short."""
    members = np.flatnonzero(labels == cluster)
    shown: list[str] = []
    for row in members[np.argsort(-similarity[members], kind="stable")]:
        answer = " ".join((answers[row] or "").split()[:ANSWER_WORDS]).strip()
        if answer and answer.lower() not in {a.lower() for a in shown}:
            shown.append(answer)
        if len(shown) == n:
            break
    return shown


def description_inputs(answers: Sequence[str], labels: np.ndarray, similarity: np.ndarray,
                       neighbours: Mapping[int, list[int]]) -> dict[int, str]:
    """{cluster: what the writer reads}: its typical answers, then those of its nearest clusters."""
    def group(label: str, cluster: int) -> str:
        said = typical_answers(answers, labels, similarity, cluster) or ["(no answers)"]
        return f"{label}: " + "; ".join(said)

    present = set(int(x) for x in labels)
    inputs = {}
    for cluster in sorted(present - {OUTLIER}):
        others = [c for c in neighbours.get(cluster, []) if c in present]
        inputs[cluster] = "\n".join(group(label, c) for label, c in zip(GROUP_LABELS, [cluster, *others]))
    return inputs


def clean_description(generated: str) -> str:
    """The first sentence of what the writer wrote, on one line, at most forty words."""
    text = " ".join((generated or "").split()).strip(" \"'`*")
    for end in (". ", "! ", "? "):
        if end in text:
            text = text[: text.index(end) + 1]
    words = text.split()
    if len(words) > MAX_DESCRIPTION_WORDS:
        text = " ".join(words[:MAX_DESCRIPTION_WORDS]) + "…"
    return text


def describe(writer: InBedder, answers: Sequence[str], labels: np.ndarray, vectors: np.ndarray, centres: np.ndarray,
             similarity: np.ndarray, *, fallback: Mapping[int, str] | None = None,
             show_progress_bar: bool = False) -> Descriptions:
    """A contrastive name and sentence, and three evidence rows, per cluster of a fitted clustering.

    ``fallback``: the name kept where the writer's is no name (see :func:`usable_name`).
    """
    fallback = fallback or {}
    from inbedder.encoding.prompts import BRIEF_CHAT_TEMPLATE

    labels = np.asarray(labels, dtype=int)
    inputs = description_inputs(answers, labels, similarity, nearest_clusters(centres))
    written = write(writer, inputs, DESCRIPTION_QUESTION, max_new_tokens=WRITER_TOKENS,
                    show_progress_bar=show_progress_bar)
    sentences = {c: clean_description(t) for c, t in written.items()}
    named = name_inputs(inputs, sentences)
    names = write(writer, named, NAME_QUESTION, max_new_tokens=NAME_TOKENS, template=BRIEF_CHAT_TEMPLATE)
    return Descriptions(writer=writer.loaded.name, names={c: usable_name(t, fallback.get(c, "")) for c, t in names.items()},
                        sentences=sentences, prompts=inputs, name_prompts=named,
                        evidence=evidence_rows(vectors, labels, similarity))


def usable_name(generated: str, fallback: str) -> str:
    """The writer's name cleaned, or ``fallback`` where it talks about the prompt instead of naming.

    Small models answer "This cluster's answers are a…" or "The answer is…"; larger ones add
    "Cluster" to a good name ("Negative Cluster"), which is dropped.
    """
    words = [word for word in clean_name(generated).split() if word.lower().strip("'s") not in PROMPT_WORDS]
    if not words or words[0].lower() in ("this", "these", "the", "answer", "answers", "name"):
        return fallback
    return " ".join(words)


def name_inputs(inputs: Mapping[int, str], sentences: Mapping[int, str]) -> dict[int, str]:
    """{cluster: its own answers and its description}: what the name is written from.

    Not the neighbours' answers: shown three lists, the 1.5B model named the negative cluster of
    the shipped reviews "Positive"; its own description already holds the contrast.
    """
    return {c: inputs[c].splitlines()[0] + (f"\nDescription: {sentences[c]}" if sentences.get(c) else "") for c in inputs}


PARENT_QUESTION = "In one sentence, what do these clusters have in common?"


def describe_parents(writer: InBedder, children: Mapping[int, list[int]], described: Descriptions) -> Descriptions:
    """A name and a sentence per parent, written from its children's names and sentences."""
    from inbedder.encoding.prompts import BRIEF_CHAT_TEMPLATE

    inputs = {parent: "\n".join(f"Cluster: {described.names.get(c, '')}: {described.sentences.get(c, '')}" for c in kids)
              for parent, kids in children.items()}
    written = write(writer, inputs, PARENT_QUESTION, max_new_tokens=WRITER_TOKENS)
    sentences = {p: clean_description(text) for p, text in written.items()}
    named = {p: "Clusters: " + "; ".join(described.names.get(c, "") for c in children[p])
             + (f"\nDescription: {sentences[p]}" if sentences.get(p) else "") for p in inputs}
    names = write(writer, named, NAME_QUESTION, max_new_tokens=NAME_TOKENS, template=BRIEF_CHAT_TEMPLATE)
    fallback = {p: " / ".join(described.names.get(c, "") for c in children[p][:2]) for p in inputs}
    return Descriptions(writer=described.writer, names={p: usable_name(t, fallback[p]) for p, t in names.items()},
                        sentences=sentences, prompts=inputs, name_prompts=named)

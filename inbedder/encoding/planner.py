"""The planner: (texts, questions, method) → work items with cache keys and answer prefixes.

Everything that decides *what* to compute happens here, before any embedding runs: each
question's answer prefix is resolved (the probes of several questions share one input pass),
the cache key of every (text, question) pair is derived from the call's own settings, and the
pairs the cache cannot serve become the work. The plan *returns* the prefixes: no prompt or
model state is changed, so one call can never leak its prefix into another's cache key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from inbedder.encoding.answer_prefix import PROBE_TOKENS, evenly_spaced, shared_opening
from inbedder.encoding.cache import EmbeddingCache, settings_key
from inbedder.encoding.encoders import runners
from inbedder.encoding.encoders.batching import TextPrompts, length_batches
from inbedder.encoding.encoders.decoding import TOKENS_PER_BATCH, Decoding
from inbedder.encoding.methods import MethodSpec
from inbedder.encoding.parts import EmbedderParts
from inbedder.models.loading import CAUSAL, MASKED

logger = logging.getLogger(__name__)

WINDOW = 1024
"""Texts tokenised and length-sorted at a time, so memory stays flat on huge corpora."""

PROBE_BATCH = 16


@dataclass(frozen=True)
class Plan:
    """What one call must compute: per question its resolved prefix and cache keys, and the pending pairs."""

    spec: MethodSpec
    answers: bool
    questions: list[str]  # stripped, distinct, in the caller's order
    prefixes: dict[str, str]  # question -> answer prefix (resolved, never "auto")
    keys: dict[str, dict[str, str]]  # question -> text -> cache key
    pending: dict[str, list[str]]  # text -> questions still to compute, in question order

    @property
    def total(self) -> int:
        return sum(len(asked) for asked in self.pending.values())

    def computed(self, question: str) -> int:
        """Distinct texts embedded now (not read from the cache) for ``question``."""
        return sum(question in asked for asked in self.pending.values())


@dataclass(frozen=True)
class WorkItem:
    """One text with the questions one group of prompts runs for it."""

    text: str
    questions: list[str]
    prompts: TextPrompts


def needs_work(row: tuple[np.ndarray | None, str | None] | None, answers: bool) -> bool:
    """Whether a cache row is absent or lacks the vector, or the answer when answers are wanted."""
    return row is None or row[0] is None or (answers and row[1] is None)


def plan(parts: EmbedderParts, texts: list[str], questions: list[str], spec: MethodSpec, *, answers: bool) -> Plan:
    """The work for distinct ``texts`` under distinct, checked ``questions``."""
    prefixes = answer_prefixes(parts, texts, questions)
    keys: dict[str, dict[str, str]] = {}
    pending: dict[str, list[str]] = {}
    for question in questions:
        digest = settings_key(parts.settings(spec.name, question, answer_prefix=prefixes[question]))
        keys[question] = {text: EmbeddingCache.key(digest, text) for text in texts}
        found = parts.cache.get(list(keys[question].values()))
        for text in texts:
            if needs_work(found.get(keys[question][text]), answers):
                pending.setdefault(text, []).append(question)
    return Plan(spec, answers, questions, prefixes, keys, pending)


def work_batches(
    parts: EmbedderParts, pending: list[tuple[str, list[str]]], prefixes: dict[str, str], batch_size: int
) -> Iterator[list[WorkItem]]:
    """Pending (text, questions) as tokenised groups, sorted by length within windows, in batches.

    Causal LMs get one group per text (its questions share the input pass); the other
    families one group per (text, question). Prompts are tokenised one window at a time so a
    huge corpus never holds all its token ids at once.
    """
    family = parts.family
    if family != CAUSAL:
        pending = [(text, [question]) for text, asked in pending for question in asked]
    reserve = parts.max_new_tokens if family == MASKED else 0
    for start in range(0, len(pending), WINDOW):
        window = [
            WorkItem(text, asked, TextPrompts(
                [parts.prompts.ids(q, text, reserve=reserve, answer_prefix=prefixes[q]) for q in asked],
                shared=family == CAUSAL, reserve=reserve,
            ))
            for text, asked in pending[start : start + WINDOW]
        ]
        for batch in length_batches([item.prompts for item in window], batch_size, TOKENS_PER_BATCH):
            yield [window[index] for index in batch]


# ----------------------------------------------------------------------------- answer prefixes
def answer_prefixes(parts: EmbedderParts, texts: list[str], questions: list[str]) -> dict[str, str]:
    """The answer prefix of every question: fixed, or probed on a sample of ``texts`` (cached).

    One question is the one-question case: the probes of all uncached questions share one
    input pass per sampled text.
    """
    if parts.answer_prefix != "auto":
        return {question: parts.answer_prefix for question in questions}
    if parts.family != CAUSAL:
        return {question: "" for question in questions}  # masked slots and seq2seq decoders do not echo
    sample = evenly_spaced(texts)
    keys = {question: probe_key(parts, sample, question) for question in questions}
    found = parts.cache.get(list(keys.values()))
    prefixes = {q: found[k][1] for q, k in keys.items() if k in found and found[k][1] is not None}
    todo = [question for question in questions if question not in prefixes]
    if todo:
        answers = _probe(parts, sample, todo)
        for question in todo:
            prefixes[question] = _store_prefix(parts, keys[question], question, answers[question])
    return {question: prefixes[question] for question in questions}


def probe_settings(parts: EmbedderParts, question: str) -> dict:
    """What determines a probe's answers (its prompts carry no answer prefix)."""
    return {"probe": "answer-prefix", "model": parts.loaded.fingerprint, "template": parts.prompts.signature(""),
            "max_length": parts.prompts.max_length, "instruction": question}


def probe_key(parts: EmbedderParts, sample: list[str], question: str) -> str:
    """Cache key of the answer-prefix probe of ``question`` on ``sample``."""
    return EmbeddingCache.key(settings_key(probe_settings(parts, question)), "\x00".join(sample))


def _probe(parts: EmbedderParts, sample: list[str], questions: list[str]) -> dict[str, list[list[int]]]:
    """Greedy answers of ``PROBE_TOKENS`` tokens to every question, per question in prompt-length order."""
    decoding = Decoding(parts.loaded.tokenizer.pad_token_id, runners.stop_ids(parts.loaded), new_tokens=PROBE_TOKENS)
    answers: dict[tuple[str, str], list[int]] = {}
    lengths: dict[tuple[str, str], int] = {}
    items = [(text, list(questions)) for text in sample]
    for batch in work_batches(parts, items, {q: "" for q in questions}, PROBE_BATCH):
        for pairs, states in runners.run_groups(parts.loaded, [item.prompts for item in batch], decoding=decoding):
            for (t, q), tokens in zip(pairs, states.kept_tokens()):
                pair = (batch[t].text, batch[t].questions[q])
                answers[pair], lengths[pair] = tokens, len(batch[t].prompts.prompts[q])
    # the answers in order of prompt length (ties in sample order), which breaks shared_opening's ties
    return {q: [answers[t, q] for t in sorted(sample, key=lambda t: lengths[t, q])] for q in questions}


def _store_prefix(parts: EmbedderParts, key: str, question: str, answers: list[list[int]]) -> str:
    """The prefix the probe's ``answers`` share, stored under the probe's cache ``key``."""
    tokenizer = parts.loaded.tokenizer
    opening = shared_opening(answers, tokenizer.decode, question, set(runners.stop_ids(parts.loaded)))
    prefix = " ".join(tokenizer.decode(opening, skip_special_tokens=True).split())
    parts.cache.put([(key, None, prefix)])
    if prefix:
        logger.info("answer prefix for %r: %r", question, prefix)
    return prefix

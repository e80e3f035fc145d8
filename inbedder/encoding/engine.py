"""The encoding engine: plan → run → pool → cache, the one path behind every ``encode`` call.

:func:`encode` takes distinct, checked questions; the planner (:mod:`inbedder.encoding.planner`) says
which (text, question) pairs the cache cannot serve, the runner of the model's family
(:mod:`inbedder.encoding.encoders.runners`) runs them in length-sorted batches, the pooler turns each
chunk of states into vectors by the method's spec, and every chunk is written to the cache as
soon as it is done (an interrupted run resumes there; memory stays flat). Engine and planner
take the embedder's :class:`~inbedder.encoding.parts.EmbedderParts`, never the embedder itself.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from inbedder.encoding.encoders import runners
from inbedder.encoding.encoders.decoding import Decoding
from inbedder.encoding.encoders.pooling import pool
from inbedder.encoding.encoders.sampling import RowSampler
from inbedder.encoding.encoders.states import AnswerStates
from inbedder.errors import InBedderError
from inbedder.encoding.methods import SENTENCE_ANSWERS, SENTENCE_PROMPT, MethodSpec
from inbedder.encoding.parts import EmbedderParts
from inbedder.encoding.planner import Plan, WorkItem, plan, work_batches
from inbedder.stopwords import ENGLISH_STOPWORDS, word_set, words
from inbedder.vectors import unit_rows

Progress = Callable[[int, int], None]
"""``progress(done, total)``: called after each batch with the texts (or answers) embedded so far."""

Row = tuple[str, str]  # (text, question)


@dataclass
class Encoded:
    """Embeddings with the generated answer of every text (same order as the input).

    ``answer_prefix`` is the prefix every answer was continued from (resolved, never "auto");
    ``cached`` and ``computed`` count the distinct texts read from the cache and embedded now.
    """

    embeddings: np.ndarray
    answers: list[str]
    answer_prefix: str = ""
    cached: int = 0
    computed: int = 0


def encode(
    parts: EmbedderParts, texts: Sequence[str], questions: list[str], spec: MethodSpec, *, batch_size: int,
    show_progress_bar: bool | None, normalize_embeddings: bool, answers: bool, progress: Progress | None,
) -> dict[str, Encoded]:
    """``{question: Encoded}`` for distinct, checked ``questions``; embeds only what the cache lacks."""
    texts = check_texts(texts)
    if batch_size < 1:
        raise InBedderError(f"batch_size must be at least 1 (got {batch_size})", parameter="batch_size")
    unique = list(dict.fromkeys(texts))  # duplicates are embedded once
    work = plan(parts, unique, questions, spec, answers=answers)
    one = len(questions) == 1
    show = work.total >= 32 if show_progress_bar is None else show_progress_bar
    if show:
        unit = "texts" if one else "answers"
        print(f"InBedder: {len(unique) * len(questions) - work.total} {unit} cached, {work.total} to embed",
              file=sys.stderr, flush=True)
    if work.total:
        desc = f"InBedder {spec.name}" + ("" if one else f" × {len(questions)} questions")
        done = 0
        with tqdm(total=work.total, desc=desc, unit="text" if one else "answer", disable=not show) as bar:

            def advance(rows: int) -> None:
                nonlocal done
                done += rows  # counted here: a disabled bar counts nothing
                bar.update(rows)
                if progress is not None:
                    progress(done, work.total)

            run(parts, work, batch_size=batch_size, advance=advance)
    parts.prompts.report_truncation()  # the probe's prompts count too
    return {question: _collect(parts, texts, work, question, normalize_embeddings) for question in questions}


def _collect(parts: EmbedderParts, texts: list[str], work: Plan, question: str, normalize: bool) -> Encoded:
    """The cached embeddings (and answers) of ``texts`` under ``question``, in their order."""
    keys = work.keys[question]
    found = parts.cache.get(list(keys.values()))
    embeddings = np.stack([found[keys[text]][0] for text in texts])
    if normalize:
        embeddings = unit_rows(embeddings)
    kept = [found[keys[text]][1] or "" for text in texts] if work.answers else []
    computed = work.computed(question)
    return Encoded(embeddings, kept, answer_prefix=work.prefixes[question], cached=len(keys) - computed, computed=computed)


def run(parts: EmbedderParts, work: Plan, *, batch_size: int, advance: Callable[[int], None]) -> None:
    """Embed every pending pair of ``work`` and cache each chunk as soon as it is done."""
    pooler = Pooler(parts, work)
    for rows, states in _chunks(parts, work, batch_size):
        vectors, replies = pooler(rows, states)
        parts.cache.put(
            (work.keys[question][text], vector, reply) for (text, question), vector, reply in zip(rows, vectors, replies)
        )
        advance(len(rows))


def _chunks(parts: EmbedderParts, work: Plan, batch_size: int) -> Iterator[tuple[list[Row], AnswerStates | None]]:
    """(rows, states) chunks in the runner's order; no states where the method needs no model pass."""
    pending = list(work.pending.items())
    if not _runs_model(work):
        pairs = [(text, question) for text, asked in pending for question in asked]
        for start in range(0, len(pairs), batch_size):
            yield pairs[start : start + batch_size], None
        return
    decoding = decoding_for(parts, work)
    for batch in work_batches(parts, pending, work.prefixes, batch_size):
        sampler_for = _sampler_for(parts, batch) if work.spec.sampled else None
        for pairs, states in runners.run_groups(parts.loaded, [item.prompts for item in batch], decoding=decoding, sampler_for=sampler_for):
            yield [(batch[t].text, batch[t].questions[q]) for t, q in pairs], states


def _runs_model(work: Plan) -> bool:
    """Every method runs the LM except the prompt baseline when no answers are kept."""
    return work.spec.pools != SENTENCE_PROMPT or work.answers


def decoding_for(parts: EmbedderParts, work: Plan) -> Decoding:
    """The runner settings for ``work``: answer tokens only where the method or the caller needs them."""
    spec = work.spec
    return Decoding(
        parts.loaded.tokenizer.pad_token_id, runners.stop_ids(parts.loaded),
        new_tokens=parts.max_new_tokens if spec.generates or work.answers else 0, layer=parts.layer,
        prompt_states=spec.prompt_states, samples=parts.samples if spec.sampled else 1, slots=parts.max_new_tokens,
    )


def _sampler_for(parts: EmbedderParts, batch: list[WorkItem]) -> Callable[[list[tuple[int, int]]], RowSampler | None]:
    """re-enc's generators for a chunk's (text, question) pairs; None (greedy) without temperature or samples."""

    def sampler_for(pairs: list[tuple[int, int]]) -> RowSampler | None:
        if parts.temperature <= 0 or parts.samples < 2:
            return None
        rows = [(batch[t].questions[q], batch[t].text) for t, q in pairs]
        return RowSampler.for_rows(parts.seed, rows, parts.samples, parts.temperature, parts.loaded.model.device)

    return sampler_for


class Pooler:
    """Chunks of states → (vectors, answers) by the method's pooling mode."""

    def __init__(self, parts: EmbedderParts, work: Plan):
        self.spec, self.answers = work.spec, work.answers
        self.tokenizer = parts.loaded.tokenizer
        self.sentence = parts.sentence_encoder
        self.filtered = parts.filter_answer_words and work.spec.filters
        self._pieces: dict[int, list[str]] = {}  # token id -> its words, decoded once per call

    def __call__(self, rows: list[Row], states: AnswerStates | None) -> tuple[np.ndarray, list[str | None]]:
        sentences = self.spec.pools == SENTENCE_ANSWERS  # re-enc embeds its answers
        replies = self.decode(states) if states is not None and (self.answers or sentences) else []
        if sentences:
            vectors = self.sentence.mean_of_samples(replies, len(rows))
            replies = replies[:: len(replies) // len(rows)]  # each row's first sample
        elif self.spec.pools == SENTENCE_PROMPT:
            vectors = self.sentence.of_prompts(rows)
        else:
            if self.filtered:  # after decoding: the answer kept for explanation is the whole answer
                states.keep &= self.informative(states, [question for _, question in rows])
            vectors = pool(states, self.spec).float().cpu().numpy()
        return vectors, list(replies) if self.answers else [None] * len(rows)

    def decode(self, states: AnswerStates) -> list[str]:
        """Each row's answer as text, whitespace collapsed."""
        return [" ".join(self.tokenizer.decode(kept, skip_special_tokens=True).split()) for kept in states.kept_tokens()]

    def informative(self, states: AnswerStates, questions: list[str]) -> torch.Tensor:
        """True where a generated token carries content: not a stopword, instruction word or punctuation."""
        flags = []
        for tokens, question in zip(states.tokens.tolist(), questions):
            unwanted = ENGLISH_STOPWORDS | word_set(question)
            for token in tokens:
                found = self._pieces.get(token)
                if found is None:
                    found = self._pieces[token] = words(self.tokenizer.decode([token]))
                flags.append(bool(found) and not all(word in unwanted for word in found))
        return torch.tensor(flags, dtype=torch.bool, device=states.tokens.device).view_as(states.tokens)


def check_texts(texts: Sequence[str]) -> list[str]:
    """The texts as a list; one-line errors for a string, an empty list or an empty text."""
    if isinstance(texts, str):
        raise InBedderError("texts must be a list of strings, not one string; wrap it: encode([text], …)", parameter="texts")
    texts = list(texts)
    if not texts:
        raise InBedderError("there are no texts to embed; pass at least one non-empty text", parameter="texts")
    for position, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise InBedderError(f"text #{position} is empty or not a string; drop empty rows before encoding", parameter="texts")
    return texts

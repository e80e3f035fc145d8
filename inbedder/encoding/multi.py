"""Several answers per text (``--multi N``): the model lists its answers, each is embedded in the text's context.

A review that complains about slow service *and* cold food has two answers to "What does the
customer complain about?". One vector per text has to choose; here a *lister* is asked for a
list (greedy, cached like any answer), the list is split into answers, and each answer is
embedded where it was said: the prompt of the text and the *user's* question, followed by the
answer's tokens; the vector is the mean of the states at the answer's tokens (each has read the
text, the question and the answer so far). So "slow service" said of a review is embedded as
that review's answer, not as two words out of context. (The states that *predict* the answer,
avg-gen's pooling, would not do: for a one-token answer that is the 1st-gen state alone, the
same for every answer of the text.) A text for which nothing could be split out keeps one row
with an empty answer (its vector is then the 1st-gen state): it is counted, never dropped.

The lister is a writing model (:func:`inbedder.explain.writing.load_writer`: zero-shot, its chat
format), by default the largest catalogue model fetched. The embedders' adapters are trained to
give one answer of one to three words, and they do: asked for a list, SmolLM2 with its adapter
gave one answer for all 40 two-aspect reviews (and zero-shot, sentences); Qwen2.5-Coder-1.5B
zero-shot lists ("Service; food; drinks").
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from inbedder.errors import InBedderError
from inbedder.models.loading import CAUSAL
from inbedder.vectors import unit_rows

if TYPE_CHECKING:
    from inbedder.encoding.embedder import InBedder

__all__ = ["MAX_ANSWERS", "MultiEncoded", "answer_rows", "check_max_answers", "encode_answers", "listing_question",
           "split_answers"]

MAX_ANSWERS = 8  # more than a handful of answers per text is a summary, not a list
LIST_TOKENS_PER_ANSWER = 8  # room for an answer of a few words and its separator
_SEPARATORS = re.compile(r"\s*(?:;|\n|,|•|\|)\s*|\s+\d+[.)]\s+")
_EDGES = " \t\"'`*-–—.:!?()[]{}"


@dataclass(frozen=True)
class MultiEncoded:
    """The answer rows of a corpus: which text each row belongs to, its answer, its vector.

    ``listed[t]`` is text t's answers (empty where none could be split out); ``rows`` has one
    entry per answer row (text t with no answer still has one row, answer ``""``).
    """

    rows: np.ndarray  # text index of each answer row
    answers: list[str]
    embeddings: np.ndarray
    listed: list[list[str]]
    answer_prefix: str = ""

    @property
    def no_answer(self) -> int:
        """Texts the model gave no usable answer for (kept with one empty-answer row)."""
        return sum(1 for found in self.listed if not found)


def check_max_answers(max_answers: object) -> int:
    """A whole number 2..8, or a one-line refusal naming the fix."""
    if isinstance(max_answers, bool) or not isinstance(max_answers, (int, np.integer)) or not 2 <= max_answers <= MAX_ANSWERS:
        raise InBedderError(f"multi={max_answers!r} is not a number of answers per text; use a whole number from 2 to "
                            f"{MAX_ANSWERS} (leave it out for one answer per text)", parameter="multi")
    return int(max_answers)


def listing_question(question: str, max_answers: int) -> str:
    """The user's question, asking for a list: what the model is asked before the answers are embedded."""
    return (f"{question.rstrip()} List up to {max_answers} different answers, each in one to three words, "
            "separated by semicolons.")


def split_answers(generated: str, max_answers: int) -> list[str]:
    """The distinct answers of a generated list, in order, at most ``max_answers`` ("slow service; cold food")."""
    found: list[str] = []
    seen: set[str] = set()
    pieces = [piece for piece in _SEPARATORS.split(f" {generated} ") if piece.strip(_EDGES)]
    if len(pieces) > 1:  # "food, service and price": a list's last item may join two ("fish and chips" alone stays)
        pieces[-1:] = re.split(r"\s+(?:and|or)\s+", pieces[-1])
    for piece in pieces:
        answer = re.sub(r"^(?:\d+[.)]|and|or|but)\s+", "", piece.strip(_EDGES), flags=re.IGNORECASE).strip(_EDGES)
        key = answer.casefold()
        if answer and key not in seen:
            seen.add(key)
            found.append(answer)
    return found[:max_answers]


def answer_rows(listed: list[list[str]]) -> tuple[np.ndarray, list[str]]:
    """(text index, answer) of every answer row: a text with no answer keeps one row with answer ""."""
    rows = np.array([t for t, found in enumerate(listed) for _ in (found or [""])], dtype=int)
    return rows, [answer for found in listed for answer in (found or [""])]


def encode_answers(
    embedder: InBedder, texts: Sequence[str], question: str, *, max_answers: int, lister: InBedder | None = None,
    batch_size: int = 16, show_progress_bar: bool | None = None,
) -> MultiEncoded:
    """``lister`` (default: ``embedder``) lists up to ``max_answers`` answers per text; ``embedder`` embeds each
    in its text's context (both causal models)."""
    max_answers = check_max_answers(max_answers)
    for role, model in (("embed", embedder), ("list", lister or embedder)):
        if model.family != CAUSAL:
            raise InBedderError(f"several answers per text need causal models; {model.loaded.name} (to {role} them) "
                                f"is a {model.family} model: use a catalogue model or leave multi out", parameter="multi")
    texts = list(texts)
    lister = copy.copy(lister or embedder)  # shares the model, prompts and cache; a list needs room for its answers
    lister.max_new_tokens = max(lister.max_new_tokens, LIST_TOKENS_PER_ANSWER * max_answers)
    lister.filter_answer_words = False
    generated = lister.encode_with_answers(texts, listing_question(question, max_answers), method="1st-gen",
                                           batch_size=batch_size, show_progress_bar=show_progress_bar).answers
    listed = [split_answers(answer, max_answers) for answer in generated]
    rows, answers = answer_rows(listed)
    prefix = embedder.resolve_answer_prefix(texts, question)
    vectors = _in_context(embedder, [texts[t] for t in rows], question, answers, prefix=prefix, batch_size=batch_size,
                          show_progress_bar=show_progress_bar)
    return MultiEncoded(rows, answers, vectors, listed, answer_prefix=prefix)


def _in_context(
    embedder: InBedder, texts: list[str], question: str, answers: list[str], *, prefix: str, batch_size: int,
    show_progress_bar: bool | None,
) -> np.ndarray:
    """Unit vectors: the mean of the states at each answer's tokens after its text's prompt (1st-gen's for "")."""
    import torch
    from tqdm.auto import tqdm

    from inbedder.encoding.encoders.padding import right_pad
    from inbedder.encoding.encoders.states import layer_states

    loaded, prompts = embedder.loaded, embedder.prompts
    tokenizer, model = loaded.tokenizer, loaded.model
    pairs = []
    for text, answer in zip(texts, answers):
        spaced = answer and not prompts.text(question, text, answer_prefix=prefix)[-1:].isspace()
        answer_ids = tokenizer((" " + answer) if spaced else answer, add_special_tokens=False)["input_ids"] if answer else []
        prompt_ids = prompts.ids(question, text, reserve=len(answer_ids), answer_prefix=prefix)
        pairs.append((prompt_ids, answer_ids))
    order = sorted(range(len(pairs)), key=lambda i: -len(pairs[i][0]) - len(pairs[i][1]))  # similar lengths batch together
    vectors = np.zeros((len(pairs), model.config.hidden_size), dtype=np.float32)
    show = len(pairs) >= 32 if show_progress_bar is None else show_progress_bar
    base = model.base_model
    with torch.no_grad(), tqdm(total=len(pairs), desc="InBedder answers in context", unit="answer", disable=not show) as bar:
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            ids, mask = right_pad([pairs[i][0] + pairs[i][1] for i in chunk], tokenizer.pad_token_id, model.device)
            output = base(input_ids=ids, attention_mask=mask, output_hidden_states=embedder.layer is not None)
            states = layer_states(output, embedder.layer).float()
            for row, i in enumerate(chunk):
                prompt, answer = len(pairs[i][0]), len(pairs[i][1])
                span = slice(prompt, prompt + answer) if answer else slice(prompt - 1, prompt)  # "" -> 1st-gen's state
                vectors[i] = states[row, span].mean(0).cpu().numpy()
            bar.update(len(chunk))
    return unit_rows(vectors)

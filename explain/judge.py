"""The judge of the self-check: does a cluster's description pick out its own texts? (issue #29, item 4)

Clio's reconstruction test with our own writer: for a seeded sample of texts, which cluster's
name and description does the writer model find likeliest as the answer to the user's question
about that text? The share of texts for which that is the cluster they were put in is the
agreement: high when the descriptions say what separates the clusters and the clusters follow
them, low when either does not. Outliers (-1) are not sampled.

Why likelihoods, not a menu: asked to pick a number from a numbered menu, Qwen2.5-Coder-1.5B
answered "3" or "4" for all 40 texts whatever they said (a position bias; docs/explanations.md).
Here each description is scored as the continuation of the text's prompt, by its mean token
log-probability, minus its mean log-probability after the question alone (pointwise mutual
information): a description every text makes likely, because it is generic or short, gains
nothing. Deterministic: one forward pass per (text, cluster) and per cluster alone, batched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from inbedder.encoding.embedder import InBedder

    from .descriptions import Descriptions

SAMPLE = 40
TEXT_WORDS = 120  # a judged text is cut to this many words
NO_TEXT = "(no text)"  # the input of the baseline prompt: the question alone


@dataclass(frozen=True)
class Judgement:
    """Agreement of the judge's picks with the assigned clusters, and the picks (row -> cluster or None)."""

    agreement: float | None
    sample: int
    picks: dict[int, int | None] = field(default_factory=dict)


def answer_of(described: Descriptions, cluster: int) -> str:
    """What the judge scores for one cluster: its name and its sentence, as one answer."""
    name, sentence = described.names.get(cluster, "").strip(), described.sentences.get(cluster, "").strip()
    return f"{name}: {sentence}" if name and sentence else name or sentence


def continuation_logprobs(writer: InBedder, prompts: Sequence[tuple[str, str]], answers: Sequence[str], *,
                          batch_size: int = 8) -> np.ndarray:
    """Mean log-probability of each ``answers[i]``'s tokens after the writer's prompt of ``prompts[i]`` (input, question)."""
    import torch

    from inbedder.encoding.encoders.padding import right_pad

    tokenizer, model = writer.loaded.tokenizer, writer.loaded.model
    pairs = []
    for (text, question), answer in zip(prompts, answers):
        answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"] or [tokenizer.eos_token_id]
        pairs.append((writer.prompts.ids(question, text, reserve=len(answer_ids)), answer_ids))
    scores = np.zeros(len(pairs))
    head, base = model.get_output_embeddings(), model.base_model
    order = sorted(range(len(pairs)), key=lambda i: -len(pairs[i][0]) - len(pairs[i][1]))
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            ids, mask = right_pad([pairs[i][0] + pairs[i][1] for i in chunk], tokenizer.pad_token_id, model.device)
            states = base(input_ids=ids, attention_mask=mask).last_hidden_state
            for row, i in enumerate(chunk):
                prompt, answer = len(pairs[i][0]), pairs[i][1]
                logits = head(states[row, prompt - 1 : prompt - 1 + len(answer)]).float()  # the states that predict it
                picked = torch.log_softmax(logits, -1).gather(1, torch.tensor(answer, device=logits.device)[:, None])
                scores[i] = float(picked.mean())
    return scores


def judge(writer: InBedder, texts: Sequence[str], labels: np.ndarray, described: Descriptions, *,
          question: str, sample: int = SAMPLE, random_state: int = 0, batch_size: int = 8) -> Judgement:
    """Place a seeded sample of the clustered texts by the descriptions alone: each text's likeliest description."""
    labels = np.asarray(labels, dtype=int)
    kept = np.flatnonzero(labels >= 0)
    if len(described.sentences) < 2 or not len(kept):
        return Judgement(None, 0)
    rows = sorted(np.random.default_rng(random_state).choice(kept, size=min(sample, len(kept)), replace=False).tolist())
    clusters = sorted(described.sentences)
    answers = [answer_of(described, c) for c in clusters]
    cut = {row: " ".join(texts[row].split()[:TEXT_WORDS]) for row in rows}
    prompts = [(cut[row], question) for row in rows for _ in clusters] + [(NO_TEXT, question)] * len(clusters)
    scores = continuation_logprobs(writer, prompts, answers * (len(rows) + 1), batch_size=batch_size)
    baseline = scores[len(rows) * len(clusters):]
    given = scores[: len(rows) * len(clusters)].reshape(len(rows), len(clusters)) - baseline
    picks = {row: clusters[int(np.argmax(given[n]))] for n, row in enumerate(rows)}
    agreement = float(np.mean([picks[row] == labels[row] for row in rows]))
    return Judgement(round(agreement, 4), len(rows), picks)

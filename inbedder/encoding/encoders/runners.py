"""One runner per model family, behind one call: groups of prompts in, chunks of states out.

The engine and the answer-prefix probe both run the model through :func:`run_groups` (looked
up on this module at call time, so a test can count or refuse every model run in one place).
"""

from __future__ import annotations

from typing import Iterator

from inbedder.encoding.encoders.batching import TextPrompts
from inbedder.encoding.encoders.decoding import Decoding
from inbedder.encoding.encoders.masked import run_masked
from inbedder.encoding.encoders.seq2seq import run_seq2seq
from inbedder.encoding.encoders.shared_prefix import Pair, SamplerFor, run_shared_prefix
from inbedder.encoding.encoders.states import AnswerStates
from inbedder.models.loading import CAUSAL, MASKED, LoadedModel


def run_groups(
    loaded: LoadedModel, groups: list[TextPrompts], *, decoding: Decoding, sampler_for: SamplerFor | None = None,
) -> Iterator[tuple[list[Pair], AnswerStates]]:
    """Run every prompt of ``groups``; yields ``(pairs, states)`` as :func:`run_shared_prefix` does.

    Causal LMs share each text's input pass between its questions; masked and seq2seq models
    run each prompt whole (their groups hold one prompt each), the batch as one chunk.
    """
    if loaded.family == CAUSAL:
        yield from run_shared_prefix(loaded.model, groups, decoding=decoding, sampler_for=sampler_for)
        return
    pairs = [(t, q) for t, group in enumerate(groups) for q in range(len(group.prompts))]
    prompts = [groups[t].prompts[q] for t, q in pairs]
    if loaded.family == MASKED:
        yield pairs, run_masked(loaded.model, loaded.tokenizer, prompts, decoding=decoding)
        return
    sampler = sampler_for(pairs) if sampler_for is not None else None
    yield pairs, run_seq2seq(loaded.model, prompts, decoding=decoding, sampler=sampler)


def stop_ids(loaded: LoadedModel) -> frozenset[int]:
    """The tokens that end an answer: the model's and the tokenizer's end of sequence (else padding)."""
    ids: set[int] = set()
    config = getattr(loaded.model, "generation_config", None)  # masked LMs have none (and never stop)
    for source in (getattr(config, "eos_token_id", None), loaded.tokenizer.eos_token_id):
        if source is not None:
            ids.update(source if isinstance(source, (list, tuple)) else [source])
    return frozenset(ids or {loaded.tokenizer.pad_token_id})

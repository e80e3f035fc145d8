"""The causal runner: many questions about one text, one pass over the text.

Templates put the input before the instruction, so the prompts of one text under several
questions share a long token prefix (system turn + input). That prefix is run once per text
and its key/value cache reused for every question's suffix (instruction, response marker,
answer prefix); only the suffix tokens are computed per question. The split is made on the
*token ids* of the full prompts, never on strings, so BPE merges at the boundary cannot make
the result differ: prefix ids + suffix ids == the whole prompt's ids. A text with one prompt
(one question) has no prefix: its "suffix" is the whole prompt, run as one plain pass.

Layout of one suffix-pass row (columns = cache positions)::

    [pad … pad | prefix of text t | pad … pad | suffix of question q]

with an attention mask of zeros on both pad runs and explicit position ids that continue the
prefix's, so every real token sees exactly the positions and keys it sees in a whole-prompt
pass, and the last column is the last prompt token of every row (1st-gen).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import torch
from transformers import DynamicCache

from inbedder.encoding.encoders.batching import TextPrompts, common_prefix_length
from inbedder.encoding.encoders.causal import PromptTotals, continue_answers, prompt_totals
from inbedder.encoding.encoders.compiled import prompt_module
from inbedder.encoding.encoders.decoding import Decoding, cache_kwargs, output_cache
from inbedder.encoding.encoders.padding import left_pad
from inbedder.encoding.encoders.sampling import RowSampler
from inbedder.encoding.encoders.states import AnswerStates, layer_states

__all__ = ["TextPrompts", "common_prefix_length", "run_shared_prefix"]

Pair = tuple[int, int]  # (index of the text in the batch, index of its question)
SamplerFor = Callable[[list[Pair]], "RowSampler | None"]


@dataclass
class _Prefixes:
    """The prefix pass of one batch of texts: what every suffix chunk continues from."""

    texts: list[TextPrompts]
    mask: torch.Tensor  # [texts, prefix width]
    cache: DynamicCache | None
    totals: PromptTotals | None  # prompt-state sums over the prefix (avg-ppt, avg-all)


def _select_rows(cache: DynamicCache, rows: torch.Tensor) -> DynamicCache:
    """A new cache holding ``rows`` of ``cache`` (repeats allowed); ``cache`` itself is untouched."""
    return DynamicCache([(layer.keys.index_select(0, rows), layer.values.index_select(0, rows)) for layer in cache.layers])


def _prefix_pass(model, texts: list[TextPrompts], decoding: Decoding) -> _Prefixes:
    lengths = {text.prefix_length for text in texts}
    if 0 in lengths and len(lengths) > 1:
        raise ValueError("texts with and without a shared prefix cannot share a batch (fully padded rows)")
    ids, mask = left_pad([text.prefix for text in texts], decoding.pad_id, model.device)
    if not ids.shape[1]:
        return _Prefixes(texts, mask, None, None)
    layer = decoding.layer if decoding.prompt_states else None
    output = prompt_module(model, ids)(
        input_ids=ids, attention_mask=mask, position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
        use_cache=True, output_hidden_states=layer is not None,
    )
    totals = prompt_totals(layer_states(output, layer), mask, drop_last=False) if decoding.prompt_states else None
    return _Prefixes(texts, mask, output_cache(output), totals)


def _chunks(prefixes: _Prefixes, decoding: Decoding) -> Iterator[list[Pair]]:
    """The (text, question) pairs in runs whose suffix pass fits the token budget."""
    pairs = [(t, q) for t, text in enumerate(prefixes.texts) for q in range(len(text.prompts))]
    width = prefixes.mask.shape[1]
    start = 0
    while start < len(pairs):
        end, longest = start + 1, _suffix_length(prefixes, pairs[start])
        while end < len(pairs):
            candidate = max(longest, _suffix_length(prefixes, pairs[end]))
            if (end - start + 1) * decoding.samples * (width + candidate + decoding.new_tokens) > decoding.max_tokens:
                break
            longest, end = candidate, end + 1
        yield pairs[start:end]
        start = end


def _suffix_length(prefixes: _Prefixes, pair: Pair) -> int:
    text = prefixes.texts[pair[0]]
    return len(text.prompts[pair[1]]) - text.prefix_length


@torch.no_grad()
def run_shared_prefix(
    model, texts: list[TextPrompts], *, decoding: Decoding, sampler_for: SamplerFor | None = None,
) -> Iterator[tuple[list[Pair], AnswerStates]]:
    """Encode every (text, question) prompt of ``texts`` with one prefix pass per text.

    Yields chunks ``(pairs, states)`` where ``pairs[r] = (text index, question index)`` names
    row ``r`` of ``states`` (rows ``r * samples`` … ``r * samples + samples - 1`` with
    ``decoding.samples > 1``, drawn by ``sampler_for(pairs)``); a chunk holds as many rows as
    fit ``decoding.max_tokens`` cached columns, so memory stays bounded however many questions.
    """
    prefixes = _prefix_pass(model, texts, decoding)
    for chunk in _chunks(prefixes, decoding):
        sampler = sampler_for(chunk) if sampler_for is not None else None
        yield chunk, _suffix_pass(model, prefixes, chunk, decoding=decoding, sampler=sampler)


def _suffix_pass(
    model, prefixes: _Prefixes, chunk: list[Pair], *, decoding: Decoding, sampler: RowSampler | None,
) -> AnswerStates:
    """Run the question suffixes of ``chunk`` on copies of their texts' prefix caches, then answer."""
    device = model.device
    owners = torch.tensor([t for t, _ in chunk], device=device)
    suffixes = [prefixes.texts[t].prompts[q][prefixes.texts[t].prefix_length :] for t, q in chunk]
    ids, suffix_mask = left_pad(suffixes, decoding.pad_id, device)
    lengths = torch.tensor([prefixes.texts[t].prefix_length for t, _ in chunk], device=device)
    positions = lengths[:, None] + (suffix_mask.cumsum(-1) - 1).clamp(min=0)
    mask = torch.cat([prefixes.mask.index_select(0, owners), suffix_mask], dim=1)
    if prefixes.cache is None:  # nothing shared: the whole prompt in one pass (compiled where that pays)
        module, cached = prompt_module(model, ids), {}
    else:
        module = model.base_model
        cached = cache_kwargs(module, _select_rows(prefixes.cache, owners))
    output = module(
        input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=decoding.new_tokens > 1,
        output_hidden_states=decoding.layer is not None, **cached,
    )
    totals = None
    if decoding.prompt_states:
        totals = prompt_totals(layer_states(output, decoding.layer), suffix_mask)
        if prefixes.totals is not None:
            totals = (totals[0] + prefixes.totals[0].index_select(0, owners),
                      totals[1] + prefixes.totals[1].index_select(0, owners))
    return continue_answers(model, output, mask=mask, position=positions[:, -1], decoding=decoding, totals=totals, sampler=sampler)

"""Many questions about one text, one pass over the text.

Templates put the input before the instruction, so the prompts of one text under several
questions share a long token prefix (system turn + input). That prefix is run once per text
and its key/value cache reused for every question's suffix (instruction, response marker,
answer prefix); only the suffix tokens are computed per question. The split is made on the
*token ids* of the full prompts, never on strings, so BPE merges at the boundary cannot make
the result differ from the plain path: prefix ids + suffix ids == the plain prompt's ids.

Layout of one suffix-pass row (columns = cache positions)::

    [pad … pad | prefix of text t | pad … pad | suffix of question q]

with an attention mask of zeros on both pad runs and explicit position ids that continue the
prefix's, so every real token sees exactly the positions and keys it sees in the plain pass,
and the last column is the last prompt token of every row (1st-gen).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import torch
from transformers import DynamicCache

from inbedder.encoders.causal import continue_answers, left_pad, prompt_totals
from inbedder.encoders.compiled import prompt_module
from inbedder.encoders.sampling import RowSampler
from inbedder.encoders.states import AnswerStates


def common_prefix_length(prompts: list[list[int]]) -> int:
    """Tokens shared by all ``prompts`` of one text, leaving each at least one token of its own.

    The last prompt token must be computed in the suffix pass (its state is 1st-gen), so the
    prefix stops one token short of the shortest prompt.
    """
    shortest = min(len(ids) for ids in prompts)
    length = 0
    while length < shortest - 1 and all(ids[length] == prompts[0][length] for ids in prompts):
        length += 1
    return length


@dataclass
class TextPrompts:
    """The prompts of one text under the questions still to compute (token ids, in order)."""

    prompts: list[list[int]]

    def __post_init__(self) -> None:
        self.prefix_length = common_prefix_length(self.prompts)

    @property
    def prefix(self) -> list[int]:
        return self.prompts[0][: self.prefix_length]

    def suffixes(self) -> list[list[int]]:
        return [ids[self.prefix_length :] for ids in self.prompts]


def prefix_batches(texts: list[TextPrompts], batch_size: int, max_tokens: int) -> Iterator[list[int]]:
    """Indices of ``texts`` in batches sorted by prefix length, so prefix padding is minimal.

    A batch holds at most ``batch_size`` texts and ``max_tokens`` prefix tokens, and never
    mixes texts without a shared prefix with texts that have one (that would leave fully
    padded rows in the prefix pass).
    """
    batch: list[int] = []
    for index in sorted(range(len(texts)), key=lambda i: texts[i].prefix_length):
        width = texts[index].prefix_length
        unshared = bool(batch) and texts[batch[-1]].prefix_length == 0 < width
        if batch and (len(batch) >= batch_size or (len(batch) + 1) * width > max_tokens or unshared):
            yield batch
            batch = []
        batch.append(index)
    if batch:
        yield batch


def _select_rows(cache: DynamicCache, rows: torch.Tensor) -> DynamicCache:
    """A new cache holding ``rows`` of ``cache`` (repeats allowed); ``cache`` itself is untouched."""
    return DynamicCache([(layer.keys.index_select(0, rows), layer.values.index_select(0, rows)) for layer in cache.layers])


@torch.no_grad()
def run_shared_prefix(
    model,
    texts: list[TextPrompts],
    pad_id: int,
    stop_ids: set[int],
    max_new_tokens: int = 0,
    layer: int | None = None,
    need_prompt: bool = False,
    max_tokens: int = 16384,
    samples: int = 1,
    sampler_for: Callable[[list[tuple[int, int]]], RowSampler | None] | None = None,
) -> Iterator[tuple[list[tuple[int, int]], AnswerStates]]:
    """Encode every (text, question) prompt of ``texts`` with one prefix pass per text.

    Yields chunks ``(pairs, states)`` where ``pairs[r] = (text index, question index)`` names
    row ``r`` of ``states`` (rows ``r * samples`` … ``r * samples + samples - 1`` with
    ``samples > 1``, drawn by ``sampler_for(pairs)``); a chunk holds as many rows as fit
    ``max_tokens`` cached columns, so memory stays bounded however many questions there are.
    """
    lengths = {text.prefix_length for text in texts}
    if 0 in lengths and len(lengths) > 1:
        raise ValueError("texts with and without a shared prefix cannot share a batch (fully padded rows)")
    prefix_ids, prefix_mask = left_pad([text.prefix for text in texts], pad_id, model.device)
    prefix_cache = prefix_sum = prefix_count = None
    if prefix_ids.shape[1]:
        output = prompt_module(model, prefix_ids)(
            input_ids=prefix_ids,
            attention_mask=prefix_mask,
            position_ids=(prefix_mask.cumsum(-1) - 1).clamp(min=0),
            use_cache=True,
            output_hidden_states=need_prompt and layer is not None,
        )
        prefix_cache = output.past_key_values
        if need_prompt:
            hidden = output.last_hidden_state if layer is None else output.hidden_states[layer]
            prefix_sum, prefix_count = prompt_totals(hidden, prefix_mask, drop_last=False)
        del output
    pairs = [(t, q) for t, text in enumerate(texts) for q in range(len(text.prompts))]
    suffixes = {(t, q): ids for t, text in enumerate(texts) for q, ids in enumerate(text.suffixes())}
    width = prefix_ids.shape[1]
    start = 0
    while start < len(pairs):
        end = start + 1
        longest = len(suffixes[pairs[start]])
        while end < len(pairs):
            candidate = max(longest, len(suffixes[pairs[end]]))
            if (end - start + 1) * samples * (width + candidate + max_new_tokens) > max_tokens:
                break
            longest = candidate
            end += 1
        chunk = pairs[start:end]
        sampler = sampler_for(chunk) if sampler_for is not None else None
        yield chunk, _suffix_pass(
            model, texts, chunk, suffixes, prefix_cache, prefix_mask, pad_id, stop_ids, max_new_tokens, layer,
            need_prompt, prefix_sum, prefix_count, samples, sampler,
        )
        start = end


def _suffix_pass(
    model, texts, chunk, suffixes, prefix_cache, prefix_mask, pad_id, stop_ids, max_new_tokens, layer, need_prompt,
    prefix_sum, prefix_count, samples=1, sampler=None,
) -> AnswerStates:
    """Run the question suffixes of ``chunk`` on copies of their texts' prefix caches, then answer."""
    device = model.device
    owners = torch.tensor([t for t, _ in chunk], device=device)
    suffix_ids, suffix_mask = left_pad([suffixes[pair] for pair in chunk], pad_id, device)
    lengths = torch.tensor([texts[t].prefix_length for t, _ in chunk], device=device)
    positions = lengths[:, None] + (suffix_mask.cumsum(-1) - 1).clamp(min=0)
    mask = torch.cat([prefix_mask.index_select(0, owners), suffix_mask], dim=1)
    output = model.base_model(
        input_ids=suffix_ids,
        attention_mask=mask,
        position_ids=positions,
        past_key_values=None if prefix_cache is None else _select_rows(prefix_cache, owners),
        use_cache=max_new_tokens > 1,
        output_hidden_states=layer is not None,
    )
    hidden = output.last_hidden_state if layer is None else output.hidden_states[layer]
    prompt_sum = prompt_count = None
    if need_prompt:
        prompt_sum, prompt_count = prompt_totals(hidden, suffix_mask)
        if prefix_sum is not None:
            prompt_sum = prompt_sum + prefix_sum.index_select(0, owners)
            prompt_count = prompt_count + prefix_count.index_select(0, owners)
    return continue_answers(
        model, output, hidden[:, -1], mask, positions[:, -1], pad_id, stop_ids, max_new_tokens, layer,
        prompt_sum, prompt_count, samples, sampler,
    )

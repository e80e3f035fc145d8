"""Causal LMs (llama, opt, …): the answer loop that continues a prompt pass's KV cache.

The prompt pass itself is :mod:`inbedder.encoding.encoders.shared_prefix` (the input once per text,
each question's suffix on a copy of its cache; one question is the one-question case). Only
the base transformer runs on the prompt; the LM head is applied to the newest position alone,
and only when an answer is generated. ``1st-gen`` alone is therefore a single forward pass
with no head and no other layer's states kept (paper §4.1, made cheap).
"""

from __future__ import annotations

import torch

from inbedder.encoding.encoders.decoding import Decoding, cache_kwargs, choose, output_cache
from inbedder.encoding.encoders.sampling import RowSampler
from inbedder.encoding.encoders.states import AnswerStates, layer_states

PromptTotals = tuple[torch.Tensor, torch.Tensor]


def prompt_totals(hidden: torch.Tensor, mask: torch.Tensor, drop_last: bool = True) -> PromptTotals:
    """Sum and count of the prompt states under ``mask``.

    With ``drop_last`` the last column is left out: the last prompt state is 1st-gen and is
    counted on the answer side (avg-all).
    """
    body = mask.clone()
    if drop_last:
        body[:, -1] = 0
    weights = body[..., None].to(hidden.dtype)
    return (hidden * weights).sum(1), body.sum(1).to(hidden.dtype)


def _repeat(samples: int, *tensors: torch.Tensor | None) -> list[torch.Tensor | None]:
    return [None if t is None else t.repeat_interleave(samples, 0) for t in tensors]


@torch.no_grad()
def continue_answers(
    model, output, *, mask: torch.Tensor, position: torch.Tensor, decoding: Decoding,
    totals: PromptTotals | None = None, sampler: RowSampler | None = None,
) -> AnswerStates:
    """Greedy or sampled answer after a prompt pass whose ``output`` holds the KV cache.

    ``output`` is the base model's output over prompts that all end at its last column;
    ``mask`` is the attention mask of every cached column and ``position`` each row's last
    position id. With ``decoding.samples > 1`` the prompt's cache is copied for each sample,
    so S sampled answers cost one prompt pass, not S.
    """
    first = layer_states(output, decoding.layer)[:, -1]
    prompt_sum, prompt_count = totals if totals is not None else (None, None)
    rows, device = first.shape[0], first.device
    if decoding.new_tokens == 0:
        return AnswerStates(
            first[:, None], torch.zeros((rows, 1), dtype=torch.long, device=device),
            torch.ones((rows, 1), dtype=torch.bool, device=device), prompt_sum, prompt_count,
        )
    head, base = model.get_output_embeddings(), model.base_model
    logits = head(output.last_hidden_state[:, -1])
    cache = output_cache(output)
    if decoding.samples > 1:
        first, logits, mask, position, prompt_sum, prompt_count = _repeat(
            decoding.samples, first, logits, mask, position, prompt_sum, prompt_count
        )
        if cache is not None:
            cache.batch_repeat_interleave(decoding.samples)
    stops = decoding.stops(device)
    rows = first.shape[0]
    finished = torch.zeros(rows, dtype=torch.bool, device=device)
    states, tokens, produced = [first], [], []
    for step in range(decoding.new_tokens):
        token = torch.where(finished, torch.full_like(finished, decoding.pad_id, dtype=torch.long), choose(logits, sampler))
        tokens.append(token)
        produced.append(~finished)
        finished = finished | torch.isin(token, stops)
        if step == decoding.new_tokens - 1 or bool(finished.all()):
            break
        mask = torch.cat([mask, torch.ones((rows, 1), dtype=mask.dtype, device=device)], dim=1)
        position = position + 1
        output = base(
            input_ids=token[:, None], attention_mask=mask, position_ids=position[:, None],
            use_cache=True, output_hidden_states=decoding.layer is not None, **cache_kwargs(base, cache),
        )
        cache = output_cache(output)
        states.append(layer_states(output, decoding.layer)[:, -1])
        logits = head(output.last_hidden_state[:, -1])
    token_ids = torch.stack(tokens, 1)
    keep = torch.stack(produced, 1) & ~torch.isin(token_ids, stops)
    return AnswerStates(torch.stack(states, 1), token_ids, keep, prompt_sum, prompt_count)

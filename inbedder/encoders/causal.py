"""Causal LMs (llama, opt, …): one prompt pass, then an optional short answer with a KV cache.

Only the base transformer runs on the prompt; the LM head is applied to the last position
alone, and only when an answer is generated. ``1st-gen`` alone is therefore a single forward
pass with no head and no other layer's states kept (paper §4.1, made cheap).
"""

from __future__ import annotations

import torch

from inbedder.encoders.compiled import prompt_module
from inbedder.encoders.sampling import RowSampler
from inbedder.encoders.states import AnswerStates


def left_pad(batch: list[list[int]], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids and attention mask, left-padded so every prompt ends at the last column."""
    width = max(len(ids) for ids in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, ids in enumerate(batch):
        input_ids[row, width - len(ids):] = torch.tensor(ids, dtype=torch.long)
        mask[row, width - len(ids):] = 1
    return input_ids.to(device), mask.to(device)


def _layer_states(output, layer: int | None) -> torch.Tensor:
    return output.last_hidden_state if layer is None else output.hidden_states[layer]


def _choose(logits: torch.Tensor, sampler: RowSampler | None) -> torch.Tensor:
    return logits.argmax(-1) if sampler is None else sampler.choose(logits)


@torch.no_grad()
def run_causal(
    model,
    batch: list[list[int]],
    pad_id: int,
    stop_ids: set[int],
    max_new_tokens: int = 0,
    layer: int | None = None,
    need_prompt: bool = False,
    samples: int = 1,
    sampler: RowSampler | None = None,
) -> AnswerStates:
    """Encode a batch of prompts; generate up to ``max_new_tokens`` answer tokens per sample.

    With ``samples > 1`` the prompt pass is shared and its cache copied for each sample, so
    sampling S answers costs one prompt pass, not S. ``sampler`` (one generator per sampled
    row) draws the tokens; None decodes greedily.
    """
    input_ids, mask = left_pad(batch, pad_id, model.device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    output = prompt_module(model, input_ids)(
        input_ids=input_ids,
        attention_mask=mask,
        position_ids=positions,
        use_cache=max_new_tokens > 1,
        output_hidden_states=layer is not None,
    )
    hidden = _layer_states(output, layer)
    prompt_sum = prompt_count = None
    if need_prompt:
        prompt_sum, prompt_count = prompt_totals(hidden, mask)
    return continue_answers(
        model, output, hidden[:, -1], mask, positions[:, -1], pad_id, stop_ids, max_new_tokens, layer,
        prompt_sum, prompt_count, samples, sampler,
    )


def prompt_totals(hidden: torch.Tensor, mask: torch.Tensor, drop_last: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum and count of the prompt states under ``mask``.

    With ``drop_last`` the last column is left out: the last prompt state is 1st-gen and is
    counted on the answer side (avg-all).
    """
    body = mask.clone()
    if drop_last:
        body[:, -1] = 0
    weights = body[..., None].to(hidden.dtype)
    return (hidden * weights).sum(1), body.sum(1).to(hidden.dtype)


@torch.no_grad()
def continue_answers(
    model,
    output,
    first: torch.Tensor,
    mask: torch.Tensor,
    position: torch.Tensor,
    pad_id: int,
    stop_ids: set[int],
    max_new_tokens: int,
    layer: int | None,
    prompt_sum: torch.Tensor | None = None,
    prompt_count: torch.Tensor | None = None,
    samples: int = 1,
    sampler: RowSampler | None = None,
) -> AnswerStates:
    """Greedy or sampled answer after a prompt pass whose ``output`` holds the KV cache.

    ``first`` is the state at the last prompt position (1st-gen), ``mask`` the attention mask
    of every cached column and ``position`` each row's last position id. Shared by the plain
    prompt pass and the shared-prefix pass, so both produce the same answers.
    """
    base = model.base_model
    rows = first.shape[0]
    if max_new_tokens == 0:
        return AnswerStates(
            first[:, None], torch.zeros((rows, 1), dtype=torch.long, device=first.device),
            torch.ones((rows, 1), dtype=torch.bool, device=first.device), prompt_sum, prompt_count,
        )
    head = model.get_output_embeddings()
    logits = head(output.last_hidden_state[:, -1])
    cache = output.past_key_values
    if samples > 1:
        first, logits, mask, position = (t.repeat_interleave(samples, 0) for t in (first, logits, mask, position))
        if cache is not None:
            cache.batch_repeat_interleave(samples)
        if prompt_sum is not None:
            prompt_sum, prompt_count = prompt_sum.repeat_interleave(samples, 0), prompt_count.repeat_interleave(samples, 0)
    stops = torch.tensor(sorted(stop_ids), device=first.device)
    rows = first.shape[0]
    finished = torch.zeros(rows, dtype=torch.bool, device=first.device)
    states, tokens, produced = [first], [], []
    for step in range(max_new_tokens):
        token = torch.where(finished, torch.full_like(finished, pad_id, dtype=torch.long), _choose(logits, sampler))
        tokens.append(token)
        produced.append(~finished)
        finished = finished | torch.isin(token, stops)
        if step == max_new_tokens - 1 or bool(finished.all()):
            break
        mask = torch.cat([mask, torch.ones((rows, 1), dtype=mask.dtype, device=mask.device)], dim=1)
        position = position + 1
        output = base(
            input_ids=token[:, None],
            attention_mask=mask,
            position_ids=position[:, None],
            past_key_values=cache,
            use_cache=True,
            output_hidden_states=layer is not None,
        )
        cache = output.past_key_values
        states.append(_layer_states(output, layer)[:, -1])
        logits = head(output.last_hidden_state[:, -1])
    token_ids = torch.stack(tokens, 1)
    keep = torch.stack(produced, 1) & ~torch.isin(token_ids, stops)
    return AnswerStates(torch.stack(states, 1), token_ids, keep, prompt_sum, prompt_count)

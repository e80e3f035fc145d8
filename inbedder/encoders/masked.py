"""Masked LMs (roberta, bert): the answer is a row of mask tokens after the prompt (paper §5.1).

One bidirectional pass; the embedding pools the hidden states of the mask slots, and the
answer is what the MLM head predicts in them. 1st-gen and last-gen do not exist here
(appendix C), so only avg-gen, avg-ppt and avg-all are offered.
"""

from __future__ import annotations

import torch

from inbedder.encoders.states import AnswerStates

MASKED_METHODS = ("avg-gen", "avg-ppt", "avg-all")


def add_mask_slots(ids: list[int], mask_id: int, slots: int, end_ids: set[int]) -> list[int]:
    """Put ``slots`` mask tokens after the prompt, before a closing special token if there is one."""
    if ids and ids[-1] in end_ids:
        return ids[:-1] + [mask_id] * slots + ids[-1:]
    return ids + [mask_id] * slots


def _mlm_head(model):
    """The prediction head alone, so logits are computed only at the mask slots."""
    for name in ("lm_head", "cls", "generator_lm_head", "vocab_projector"):
        head = getattr(model, name, None)
        if head is not None:
            return head
    return None


@torch.no_grad()
def run_masked(
    model, batch: list[list[int]], pad_id: int, mask_id: int, special_ids: set[int], layer: int | None = None
) -> AnswerStates:
    """Encode prompts that already carry their mask slots (see :func:`add_mask_slots`)."""
    width = max(len(ids) for ids in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    attention = torch.zeros_like(input_ids)
    for row, ids in enumerate(batch):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        attention[row, : len(ids)] = 1
    input_ids, attention = input_ids.to(model.device), attention.to(model.device)
    output = model.base_model(input_ids=input_ids, attention_mask=attention, output_hidden_states=layer is not None)
    hidden = output.last_hidden_state if layer is None else output.hidden_states[layer]
    slots = input_ids == mask_id
    slots_per_row = int(slots[0].sum())
    states = hidden[slots].view(len(batch), slots_per_row, -1)
    head = _mlm_head(model)
    if head is not None:
        logits = head(output.last_hidden_state[slots])
    else:
        logits = model.get_output_embeddings()(output.last_hidden_state[slots])
    tokens = logits.argmax(-1).view(len(batch), slots_per_row)
    special = torch.tensor(sorted(special_ids), device=input_ids.device)
    body = attention.bool() & ~slots & ~torch.isin(input_ids, special)
    prompt_sum = (hidden * body[..., None].to(hidden.dtype)).sum(1)
    prompt_count = body.sum(1).to(hidden.dtype)
    keep = ~torch.isin(tokens, special)
    return AnswerStates(states, tokens, keep, prompt_sum, prompt_count)

"""Masked LMs (roberta, bert): the answer is a row of mask tokens after the prompt (paper §5.1).

One bidirectional pass; the embedding pools the hidden states of the mask slots, and the
answer is what the MLM head predicts in them. 1st-gen and last-gen do not exist here
(appendix C; see the method table in :mod:`inbedder.encoding.methods`).
"""

from __future__ import annotations

import torch

from inbedder.encoding.encoders.decoding import Decoding
from inbedder.encoding.encoders.padding import right_pad
from inbedder.encoding.encoders.states import AnswerStates, layer_states


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
    return model.get_output_embeddings()


@torch.no_grad()
def run_masked(model, tokenizer, prompts: list[list[int]], *, decoding: Decoding) -> AnswerStates:
    """Encode prompts with ``decoding.slots`` mask slots added after each (room kept by the prompt builder)."""
    mask_id, special_ids = tokenizer.mask_token_id, set(tokenizer.all_special_ids)
    batch = [add_mask_slots(ids, mask_id, decoding.slots, special_ids) for ids in prompts]
    input_ids, attention = right_pad(batch, decoding.pad_id, model.device)
    output = model.base_model(input_ids=input_ids, attention_mask=attention, output_hidden_states=decoding.layer is not None)
    hidden = layer_states(output, decoding.layer)
    slots = input_ids == mask_id
    states = hidden[slots].view(len(batch), decoding.slots, -1)
    logits = _mlm_head(model)(output.last_hidden_state[slots])
    tokens = logits.argmax(-1).view(len(batch), decoding.slots)
    special = torch.tensor(sorted(special_ids), device=input_ids.device)
    body = attention.bool() & ~slots & ~torch.isin(input_ids, special)
    prompt_sum = (hidden * body[..., None].to(hidden.dtype)).sum(1)
    prompt_count = body.sum(1).to(hidden.dtype)
    keep = ~torch.isin(tokens, special)
    return AnswerStates(states, tokens, keep, prompt_sum, prompt_count)

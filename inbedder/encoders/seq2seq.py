"""Encoder-decoder LMs (flan-t5): prompt states from the encoder, answer states from the decoder.

Appendix C of the paper: avg-ppt pools the encoder; 1st-gen is the decoder state at the start
token; avg-gen/last-gen pool decoder states of the answer. avg-all is not offered because the
two stacks' states do not live in the same space.
"""

from __future__ import annotations

import torch

from inbedder.encoders.sampling import RowSampler
from inbedder.encoders.states import AnswerStates

SEQ2SEQ_METHODS = ("1st-gen", "avg-gen", "last-gen", "avg-ppt")


@torch.no_grad()
def run_seq2seq(
    model,
    batch: list[list[int]],
    pad_id: int,
    stop_ids: set[int],
    max_new_tokens: int = 0,
    layer: int | None = None,
    sampler: RowSampler | None = None,
) -> AnswerStates:
    """Encode once, then decode greedily (or by sampling) with the decoder's cache."""
    width = max(len(ids) for ids in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    attention = torch.zeros_like(input_ids)
    for row, ids in enumerate(batch):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        attention[row, : len(ids)] = 1
    input_ids, attention = input_ids.to(model.device), attention.to(model.device)
    encoded = model.get_encoder()(input_ids=input_ids, attention_mask=attention, output_hidden_states=layer is not None)
    enc_hidden = encoded.last_hidden_state if layer is None else encoded.hidden_states[layer]
    weights = attention[..., None].to(enc_hidden.dtype)
    prompt_sum, prompt_count = (enc_hidden * weights).sum(1), weights.sum((1, 2))
    start = model.config.decoder_start_token_id
    token = torch.full((len(batch),), start if start is not None else pad_id, dtype=torch.long, device=model.device)
    stops = torch.tensor(sorted(stop_ids), device=model.device)
    finished = torch.zeros(len(batch), dtype=torch.bool, device=model.device)
    cache, states, tokens, produced = None, [], [], []
    for step in range(max(1, max_new_tokens)):
        output = model(
            encoder_outputs=encoded, attention_mask=attention, decoder_input_ids=token[:, None],
            past_key_values=cache, use_cache=True, output_hidden_states=True,
        )
        cache = output.past_key_values
        states.append(output.decoder_hidden_states[-1 if layer is None else layer][:, -1])
        if max_new_tokens == 0:
            break
        logits = output.logits[:, -1]
        choice = logits.argmax(-1) if sampler is None else sampler.choose(logits)
        token = torch.where(finished, torch.full_like(choice, pad_id), choice)
        tokens.append(token)
        produced.append(~finished)
        finished = finished | torch.isin(token, stops)
        if bool(finished.all()):
            break
    if not tokens:
        tokens, produced = [torch.zeros_like(token)], [torch.ones_like(finished)]
    token_ids = torch.stack(tokens, 1)
    keep = torch.stack(produced, 1) & ~torch.isin(token_ids, stops)
    return AnswerStates(torch.stack(states, 1), token_ids, keep, prompt_sum, prompt_count)

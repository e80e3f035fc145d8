"""Encoder-decoder LMs (flan-t5): prompt states from the encoder, answer states from the decoder.

Appendix C of the paper: avg-ppt pools the encoder; 1st-gen is the decoder state at the start
token; avg-gen/last-gen pool decoder states of the answer. avg-all is not offered because the
two stacks' states do not live in the same space (see :mod:`inbedder.encoding.methods`).
"""

from __future__ import annotations

import torch

from inbedder.encoding.encoders.decoding import Decoding, cache_kwargs, choose, output_cache
from inbedder.encoding.encoders.padding import right_pad
from inbedder.encoding.encoders.sampling import RowSampler
from inbedder.encoding.encoders.states import AnswerStates, layer_states


@torch.no_grad()
def run_seq2seq(model, prompts: list[list[int]], *, decoding: Decoding, sampler: RowSampler | None = None) -> AnswerStates:
    """Encode once, then decode greedily (or by sampling) with the decoder's cache.

    With ``decoding.samples > 1`` every prompt is repeated (the encoder pass is cheap next to
    decoding), sample-major within a prompt as ``sampler`` expects.
    """
    if decoding.samples > 1:
        prompts = [ids for ids in prompts for _ in range(decoding.samples)]
    input_ids, attention = right_pad(prompts, decoding.pad_id, model.device)
    encoded = model.get_encoder()(input_ids=input_ids, attention_mask=attention, output_hidden_states=decoding.layer is not None)
    enc_hidden = layer_states(encoded, decoding.layer)
    weights = attention[..., None].to(enc_hidden.dtype)
    prompt_sum, prompt_count = (enc_hidden * weights).sum(1), weights.sum((1, 2))
    start = model.config.decoder_start_token_id
    rows, device = len(prompts), model.device
    token = torch.full((rows,), start if start is not None else decoding.pad_id, dtype=torch.long, device=device)
    stops = decoding.stops(device)
    finished = torch.zeros(rows, dtype=torch.bool, device=device)
    cache, states, tokens, produced = None, [], [], []
    for _ in range(max(1, decoding.new_tokens)):
        output = model(
            encoder_outputs=encoded, attention_mask=attention, decoder_input_ids=token[:, None],
            use_cache=True, output_hidden_states=True, **cache_kwargs(model, cache),
        )
        cache = output_cache(output)
        states.append(layer_states(output, decoding.layer, stack="decoder_hidden_states")[:, -1])
        if decoding.new_tokens == 0:
            break
        token = torch.where(finished, torch.full_like(finished, decoding.pad_id, dtype=torch.long), choose(output.logits[:, -1], sampler))
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

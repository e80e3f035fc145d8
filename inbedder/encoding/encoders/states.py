"""What one pass of a language model over a batch of prompts leaves behind.

Every model family (causal, masked, seq2seq) fills the same :class:`AnswerStates`, so the
encoding methods of the paper (§4.1) are pooled once (:mod:`inbedder.encoding.encoders.pooling`),
whatever the architecture.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class AnswerStates:
    """Hidden states of one batch, at the layer asked for.

    ``states[:, j]`` is the state that produced answer token ``tokens[:, j]``; ``states[:, 0]``
    is therefore the 1st-gen state. ``keep`` marks tokens that count for pooling (produced,
    not special, and not filtered out).
    """

    states: torch.Tensor  # [B, T, H]
    tokens: torch.Tensor  # [B, T]
    keep: torch.Tensor  # [B, T] bool
    prompt_sum: torch.Tensor | None = None  # [B, H] sum of prompt states except the last
    prompt_count: torch.Tensor | None = None  # [B]

    @property
    def first(self) -> torch.Tensor:
        return self.states[:, 0]

    def kept_tokens(self) -> list[list[int]]:
        """Each row's answer: the token ids that count, in order."""
        return [[t for t, flag in zip(tokens, keep) if flag] for tokens, keep in zip(self.tokens.tolist(), self.keep.tolist())]


def layer_states(output, layer: int | None, *, stack: str = "hidden_states") -> torch.Tensor:
    """The hidden states at ``layer`` of a model output (None: the last, which feeds the LM head).

    ``stack`` names the output's tuple of per-layer states ("decoder_hidden_states" for a
    seq2seq decoder, whose output has no ``last_hidden_state``).
    """
    if layer is None and stack == "hidden_states":
        return output.last_hidden_state
    return getattr(output, stack)[-1 if layer is None else layer]

"""What one pass of a language model over a batch of prompts leaves behind, and how to pool it.

Every model family (causal, masked, seq2seq) fills the same :class:`AnswerStates`, so the
encoding methods of the paper (§4.1) are defined once, here, whatever the architecture.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from inbedder.methods import DIRECT_METHODS  # noqa: F401  (re-exported: the encoders import it from here)


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


def pool(result: AnswerStates, method: str) -> torch.Tensor:
    """One vector per text for a direct method (paper §4.1); falls back to 1st-gen when no answer token counts."""
    if method == "1st-gen":
        return result.first
    if method == "avg-ppt":
        return result.prompt_sum / result.prompt_count.clamp(min=1)[:, None]
    keep = result.keep.clone()
    keep[keep.sum(1) == 0, 0] = True  # an empty answer still has the state that chose to stop
    weights = keep.to(result.states.dtype)[..., None]
    if method == "avg-gen":
        return (result.states * weights).sum(1) / weights.sum(1)
    if method == "last-gen":
        last = keep.shape[1] - 1 - keep.flip(1).to(torch.int8).argmax(1)
        return result.states[torch.arange(len(last)), last]
    if method == "avg-all":
        total = result.prompt_sum + (result.states * weights).sum(1)
        return total / (result.prompt_count + weights.sum((1, 2)))[:, None]
    raise ValueError(f"unknown direct method {method!r}")

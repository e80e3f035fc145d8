"""One vector per prompt from :class:`AnswerStates`, by the pooling mode of the method's spec.

The modes are one table (as sentence-transformers' ``Pooling`` keeps its modes), keyed by
:attr:`inbedder.encoding.methods.MethodSpec.pools`; the engine never branches on method names.
"""

from __future__ import annotations

from typing import Callable

import torch

from inbedder.encoding.encoders.states import AnswerStates
from inbedder.encoding.methods import (
    FIRST_GENERATED, LAST_GENERATED, MEAN_ALL, MEAN_GENERATED, MEAN_PROMPT, MethodSpec,
)


def _answer_weights(result: AnswerStates) -> tuple[torch.Tensor, torch.Tensor]:
    """The tokens that count, and their weights [B, T, 1]: an empty answer still has the state
    that chose to stop (the first), so no row is left without one."""
    keep = result.keep.clone()
    keep[keep.sum(1) == 0, 0] = True
    return keep, keep.to(result.states.dtype)[..., None]


def _first(result: AnswerStates) -> torch.Tensor:
    return result.first


def _mean_generated(result: AnswerStates) -> torch.Tensor:
    _, weights = _answer_weights(result)
    return (result.states * weights).sum(1) / weights.sum(1)


def _last_generated(result: AnswerStates) -> torch.Tensor:
    keep, _ = _answer_weights(result)
    last = keep.shape[1] - 1 - keep.flip(1).to(torch.int8).argmax(1)
    return result.states[torch.arange(len(last)), last]


def _mean_prompt(result: AnswerStates) -> torch.Tensor:
    return result.prompt_sum / result.prompt_count.clamp(min=1)[:, None]


def _mean_all(result: AnswerStates) -> torch.Tensor:
    _, weights = _answer_weights(result)
    total = result.prompt_sum + (result.states * weights).sum(1)
    return total / (result.prompt_count + weights.sum((1, 2)))[:, None]


POOLERS: dict[str, Callable[[AnswerStates], torch.Tensor]] = {
    FIRST_GENERATED: _first,
    MEAN_GENERATED: _mean_generated,
    LAST_GENERATED: _last_generated,
    MEAN_PROMPT: _mean_prompt,
    MEAN_ALL: _mean_all,
}


def pool(result: AnswerStates, spec: MethodSpec) -> torch.Tensor:
    """One vector per row for a direct method (paper §4.1)."""
    if spec.pools not in POOLERS:
        raise ValueError(f"method {spec.name!r} pools with a sentence encoder, not the LM's states")
    return POOLERS[spec.pools](result)

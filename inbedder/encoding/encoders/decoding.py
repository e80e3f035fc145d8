"""The settings every runner decodes with, in one small value instead of long parameter lists."""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass

import torch

from inbedder.encoding.encoders.sampling import RowSampler

TOKENS_PER_BATCH = 16384
"""Caps rows × columns of one pass (prompt, cache and answer), so long texts never exhaust memory."""


@dataclass(frozen=True)
class Decoding:
    """How a runner turns prompts into :class:`~inbedder.encoding.encoders.states.AnswerStates`.

    ``new_tokens`` answer tokens are generated (0: the prompt pass alone; masked LMs fill
    ``slots`` mask tokens instead); ``samples`` answers per row are drawn when a sampler is
    given (re-enc); ``prompt_states`` asks for the sum of the prompt's states (avg-ppt, avg-all).
    """

    pad_id: int
    stop_ids: frozenset[int]
    new_tokens: int = 0
    layer: int | None = None
    prompt_states: bool = False
    samples: int = 1
    slots: int = 0
    max_tokens: int = TOKENS_PER_BATCH

    def stops(self, device: torch.device | str) -> torch.Tensor:
        return torch.tensor(sorted(self.stop_ids), device=device)


def choose(logits: torch.Tensor, sampler: RowSampler | None) -> torch.Tensor:
    """The next token of every row: greedy, or drawn by the row's own generator."""
    return logits.argmax(-1) if sampler is None else sampler.choose(logits)


@functools.lru_cache(maxsize=None)
def _cache_argument(module_type: type) -> str:
    parameters = inspect.signature(module_type.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


def cache_kwargs(module, cache) -> dict:
    """The keyword that hands ``cache`` to ``module``: ``cache`` from transformers 5.2x, ``past_key_values`` before."""
    return {_cache_argument(type(module)): cache}


def output_cache(output):
    """The KV cache a forward pass returned, under either name."""
    cache = getattr(output, "cache", None)
    return cache if cache is not None else getattr(output, "past_key_values", None)

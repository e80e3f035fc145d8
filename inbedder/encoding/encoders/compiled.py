"""Optional ``torch.compile`` of the prompt pass, for large corpora.

On this project's 2-core CPU the eager llama forward spends about a quarter of its time outside
matrix multiplies (RMSNorm, rotary embedding, SwiGLU: small element-wise kernels). Inductor fuses
them, which makes the prompt pass roughly 20 % faster, but compiling costs one to three minutes
(less once inductor's on-disk cache is warm). It therefore pays only on corpora of a few thousand
texts and is opt-in (``InBedder(compile=True)``, ``--compile``).

Only prompt passes without a KV cache and with at least two rows and two columns use the compiled
module: dynamic-shape graphs specialise sizes 0 and 1, so a last batch of one text or a one-token
decode step would otherwise trigger a fresh compile for a handful of tokens. Those run eagerly.
"""

from __future__ import annotations

import weakref

import torch

_COMPILED: "weakref.WeakKeyDictionary[torch.nn.Module, torch.nn.Module]" = weakref.WeakKeyDictionary()


def compile_prompt_pass(model: torch.nn.Module) -> None:
    """Register a compiled copy of ``model.base_model`` for later prompt passes (weights shared)."""
    if model not in _COMPILED:
        _COMPILED[model] = torch.compile(model.base_model, dynamic=True)


def prompt_module(model: torch.nn.Module, input_ids: torch.Tensor) -> torch.nn.Module:
    """The module to run a cache-free prompt pass of ``input_ids`` with: compiled where that pays, else eager."""
    compiled = _COMPILED.get(model)
    if compiled is None or input_ids.shape[0] < 2 or input_ids.shape[1] < 2:
        return model.base_model
    return compiled

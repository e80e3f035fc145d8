"""Fine-tune a language model into an InBedder model: LoRA (or every weight, `full=True`) on stopword-stripped QA.

``inbedder finetune --data qa.jsonl --output runs/my-adapter`` from the command line, or::

    from inbedder.finetune import FinetuneConfig, finetune
    finetune(FinetuneConfig(data=["qa.jsonl"], output="runs/my-adapter"))

The names are imported on first use, so ``inbedder --help`` (which registers the
``finetune`` subcommand) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "PreparedData": "inbedder.finetune.data", "QAExample": "inbedder.finetune.data",
    "prepare": "inbedder.finetune.data", "strip_answer": "inbedder.finetune.data",
    "FinetuneConfig": "inbedder.finetune.trainer", "FinetuneResult": "inbedder.finetune.trainer",
    "finetune": "inbedder.finetune.trainer",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'inbedder.finetune' has no attribute {name!r}")

"""InBedder: cluster and explain texts by how a language model answers *your* question about them.

The public names are imported on first use (PEP 562), so that ``inbedder --help`` and input
errors answer without importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from inbedder.errors import InBedderError
from inbedder.encoding.methods import METHODS
from inbedder.version import __version__

__all__ = ["InBedder", "InstructionClusterer", "MultiAnswerClusterer", "InBedderError", "METHODS"]

_LAZY = {"InBedder": "inbedder.encoding.embedder", "InstructionClusterer": "inbedder.clustering.estimator",
         "MultiAnswerClusterer": "inbedder.clustering.multi"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'inbedder' has no attribute {name!r}")

"""Which torch device to run on, decided before anything big is loaded.

``cpu`` answers without importing torch; any other name imports it to ask what this machine has,
so ``device="cuda"`` on a CPU-only machine fails in one line, before any model or file is read.
"""

from __future__ import annotations

import os

from inbedder.errors import InBedderError
from inbedder.validation import check_device

__all__ = ["DTYPES", "cpu_has_bf16", "default_device", "resolve_device", "resolve_dtype"]


def default_device() -> str:
    """CUDA when present, else CPU."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_device(device: str | None) -> str:
    """The torch device to run on: the default for none, else the named one if this machine has it.

    Loads no model: the CLI calls it before reading anything big, so ``device='cuda'`` on a
    CPU-only machine fails in a second instead of with a traceback after the model is loaded.
    The name itself is checked by :func:`inbedder.validation.check_device`.
    """
    if device is None or not device.strip():
        return default_device()
    return check_device(device)


# --------------------------------------------------------------------------- number format
DTYPES = ("auto", "fp32", "bf16")
DTYPE_ENV = "INBEDDER_DTYPE"  # what "auto" resolves to on this machine, when set


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AVX512-BF16 or AMX).

    Without it, torch emulates bf16 matrix products and they run far slower than fp32 (measured
    about 100× on an AVX2 CPU), so ``auto`` must detect rather than assume.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            flags = next((line.split(":", 1)[1].split() for line in cpuinfo if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_dtype(dtype: str | None, device: str) -> str:
    """``fp32`` or ``bf16`` for ``dtype`` on ``device``: auto is bf16 on CUDA and on CPUs with native bf16.

    ``INBEDDER_DTYPE=fp32`` (or ``bf16``) decides what auto means on this machine: the same
    vectors, clusters and figures on every machine whatever its CPU (the test suite sets fp32).
    """
    name = (dtype or "auto").strip().lower()
    if name not in DTYPES:
        raise InBedderError(f"dtype {dtype!r} is not a number format; use one of: {', '.join(DTYPES)}", parameter="dtype")
    if name != "auto":
        return name
    pinned = os.environ.get(DTYPE_ENV, "").strip().lower()
    if pinned:
        if pinned not in ("fp32", "bf16"):
            raise InBedderError(f"{DTYPE_ENV}={os.environ[DTYPE_ENV]!r} is not a number format; set it to fp32 or bf16, "
                                "or unset it for auto", parameter="dtype")
        return pinned
    if device.startswith("cuda"):
        return "bf16"
    return "bf16" if device == "cpu" and cpu_has_bf16() else "fp32"


def torch_dtype(name: str):
    """The torch dtype of ``fp32`` or ``bf16``."""
    import torch

    return torch.bfloat16 if name == "bf16" else torch.float32

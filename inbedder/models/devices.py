"""Which torch device to run on, decided before anything big is loaded.

``cpu`` answers without importing torch; any other name imports it to ask what this machine has,
so ``device="cuda"`` on a CPU-only machine fails in one line, before any model or file is read.
"""

from __future__ import annotations

import re

from inbedder.errors import InBedderError

__all__ = ["DTYPES", "cpu_has_bf16", "default_device", "resolve_device", "resolve_dtype"]


def default_device() -> str:
    """CUDA when present, else CPU."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _accepted_devices(torch) -> list[str]:
    accepted = ["cpu"]
    if torch.cuda.is_available():
        accepted += ["cuda"] + [f"cuda:{n}" for n in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        accepted.append("mps")
    return accepted


def resolve_device(device: str | None) -> str:
    """The torch device to run on, or one line saying why ``device`` cannot be used here.

    Loads no model: the CLI calls it before reading anything big, so ``device='cuda'`` on a
    CPU-only machine fails in a second instead of with a traceback after the model is loaded.
    """
    if device is None or not device.strip():
        return default_device()
    name = device.strip().lower()
    if name == "cpu":
        return "cpu"
    import torch

    matched = re.fullmatch(r"cuda(?::(\d+))?", name)
    if matched:
        if not torch.cuda.is_available():
            built = f"built for CUDA {torch.version.cuda}, but no GPU is visible" if torch.version.cuda else "built for CPU"
            raise InBedderError(
                f"CUDA is not available on this machine (torch {torch.__version__} {built}); drop device or use device='cpu'",
                parameter="device",
            )
        count = torch.cuda.device_count()
        if matched.group(1) is not None and int(matched.group(1)) >= count:
            raise InBedderError(
                f"`device` {device!r} does not exist: this machine has {count} CUDA device(s); use cuda:0..cuda:{count - 1}",
                parameter="device",
            )
        return name
    if name == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise InBedderError(
                "MPS (Apple GPU) is not available on this machine; drop device or use device='cpu'", parameter="device"
            )
        return "mps"
    raise InBedderError(
        f"device {device!r} is not a device; use one of: {', '.join(_accepted_devices(torch))}", parameter="device"
    )


# --------------------------------------------------------------------------- number format
DTYPES = ("auto", "fp32", "bf16")


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
    """``fp32`` or ``bf16`` for ``dtype`` on ``device``: auto is bf16 on CUDA and on CPUs with native bf16."""
    name = (dtype or "auto").strip().lower()
    if name not in DTYPES:
        raise InBedderError(f"dtype {dtype!r} is not a number format; use one of: {', '.join(DTYPES)}", parameter="dtype")
    if name != "auto":
        return name
    if device.startswith("cuda"):
        return "bf16"
    return "bf16" if device == "cpu" and cpu_has_bf16() else "fp32"


def torch_dtype(name: str):
    """The torch dtype of ``fp32`` or ``bf16``."""
    import torch

    return torch.bfloat16 if name == "bf16" else torch.float32

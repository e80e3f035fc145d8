"""Which torch device to run on, decided before anything big is loaded.

``cpu`` answers without importing torch; any other name imports it to ask what this machine has,
so ``device="cuda"`` on a CPU-only machine fails in one line, before any model or file is read.
"""

from __future__ import annotations

import re

from inbedder.errors import InBedderError

__all__ = ["default_device", "resolve_device"]


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

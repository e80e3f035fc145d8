"""Checks of the user's input that need no model, run before any file is read or model loads.

A bad number found after an hour of embedding costs the user that hour, so every option whose
valid range is known without the model is checked here first, in one place. Messages name the
Python parameter (``batch_size=0``); the CLI shows its flag instead (``--batch-size 0``) through
:meth:`~inbedder.errors.InBedderError.renamed`. Kept free of heavy imports so that input errors
answer at once.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Sequence
from dataclasses import dataclass

from inbedder.errors import InBedderError

MAX_SEED = 2**32 - 1  # numpy's and scikit-learn's seeds are 32-bit unsigned
AUTO = "auto"  # n_clusters="auto": the clusterer chooses k
MAX_TEMPERATURE = 100.0  # far beyond any useful sampling; above it the answers are random tokens


@dataclass(frozen=True)
class Bound:
    """The valid range of one numeric parameter; ``None`` values of optional ones are not checked."""

    parameter: str
    minimum: float
    maximum: float = math.inf
    hint: str = ""
    strict_minimum: bool = False

    def check(self, value: object) -> None:
        if value is None or value == AUTO and self.parameter == "n_clusters":
            return
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise InBedderError(f"{self.parameter}={value!r} is not a number{self.hint}", parameter=self.parameter)
        if not isinstance(value, numbers.Integral) and not math.isfinite(value):  # NaN passes every comparison
            raise InBedderError(f"{self.parameter}={value} is not a finite number; use {self._expected()}{self.hint}",
                                parameter=self.parameter)
        too_small = value <= self.minimum if self.strict_minimum else value < self.minimum
        if too_small or value > self.maximum:
            raise InBedderError(
                f"{self.parameter}={value} is out of range: use {self._expected()}{self.hint}", parameter=self.parameter
            )

    def _expected(self) -> str:
        """The valid range in words: "above 0 and at most 100", "at least 1", "0..1"."""
        if self.strict_minimum:
            return f"above {self.minimum:g}" + (f" and at most {self.maximum:g}" if self.maximum < math.inf else "")
        if self.maximum == math.inf:
            return f"at least {self.minimum:g}"
        return f"{self.minimum:g}..{self.maximum:g}"


BOUNDS = (
    Bound("n_clusters", 2, hint=" (k-means needs at least 2 clusters), or 'auto'"),
    Bound("top_n", 1, hint=" keywords per cluster"),
    Bound("batch_size", 1, hint=" texts per batch"),
    Bound("seed", 0, MAX_SEED, hint=" (a non-negative 32-bit integer)"),
    Bound("max_length", 16, hint=" prompt tokens (default 512)"),
    Bound("max_new_tokens", 1, hint=" answer tokens (leave it out for the adapter's own length)"),
    Bound("samples", 1, hint=" sampled answers per text for re-enc"),
    Bound("temperature", 0, MAX_TEMPERATURE, hint=" for re-enc's sampling (default 0.7)", strict_minimum=True),
    Bound("answer_space", 2, hint=" candidate answer tokens (50 measured best)"),
    Bound("state_weight", 0, 1, hint=" (the state's share of each cosine; default 0.2)"),
    # --engine ray (inbedder.distributed): found only on the objects that carry them
    Bound("workers", 1, hint=" Ray actors"),
    Bound("shard_rows", 1, hint=" texts per shard"),
    Bound("sample_size", 1, hint=" texts k-means is fitted on"),
    Bound("gpus_per_worker", 0, hint=" GPUs per Ray actor"),
)


def check_options(*options: object) -> None:
    """Every numeric parameter within its range, and a usable ``device``, before any work.

    ``options`` are objects holding parameters as attributes (:class:`~inbedder.cli.options.ModelOptions`,
    :class:`~inbedder.cli.options.ClusterOptions`); each parameter is read from the first that has it.
    """
    for bound in BOUNDS:
        holder = next((source for source in options if hasattr(source, bound.parameter)), None)
        if holder is not None:
            bound.check(getattr(holder, bound.parameter))
    device = next((source.device for source in options if getattr(source, "device", None)), None)
    if device and device.strip():  # a blank name means the default device, which always exists
        check_device(device)


def check_device(device: str) -> str:
    """A named torch device, lower-cased, if this machine has it; one line saying why not otherwise.

    ``cpu`` answers without importing torch; any other name imports it to ask what this machine
    has, so ``device="cuda"`` on a CPU-only machine fails before any model or file is read.
    """
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


def _accepted_devices(torch) -> list[str]:
    accepted = ["cpu"]
    if torch.cuda.is_available():
        accepted += ["cuda"] + [f"cuda:{n}" for n in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        accepted.append("mps")
    return accepted


def check_instruction(instruction: str) -> str:
    """The question without surrounding whitespace; an empty one is refused."""
    if not isinstance(instruction, str) or not instruction.strip():
        raise InBedderError(
            "the instruction is empty; pass the question to answer about each text, "
            "e.g. instruction=\"What is the customer complaining about?\"",
            parameter="instruction",
        )
    return instruction.strip()


def check_k(k: int | str, texts: Sequence[str] | int) -> None:
    """k-means needs at least 2 different texts and 2 ≤ k ≤ the number of different texts.

    ``texts`` may be the texts themselves (so identical ones count once) or just their number.
    ``k`` may be ``"auto"``: then only the texts are checked.
    """
    count = texts if isinstance(texts, int) else len(texts)
    distinct = count if isinstance(texts, int) else len(set(texts))
    if count < 2:
        raise InBedderError(f"clustering needs at least 2 texts, got {count}; add texts")
    if distinct < 2:
        raise InBedderError(f"all {count} texts are the same; clustering needs at least 2 different texts")
    if k == AUTO:
        return
    if k < 2:
        raise InBedderError(f"n_clusters={k} is too small; ask for at least 2 clusters", parameter="n_clusters")
    if k > distinct:
        what = "texts" if distinct == count else "different texts"
        raise InBedderError(
            f"n_clusters={k} is larger than the number of {what} ({distinct}); lower n_clusters to at most "
            f"{distinct} or add texts",
            parameter="n_clusters",
        )

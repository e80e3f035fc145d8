"""Checks of the user's input that need no model, run before any file is read or model loads.

A bad number found after an hour of embedding costs the user that hour, so every option whose
valid range is known without the model is checked here first, in one place, with the flag's
name in the message. Kept free of heavy imports so that input errors answer at once.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass

from inbedder.errors import InBedderError

MAX_SEED = 2**32 - 1  # numpy's and scikit-learn's seeds are 32-bit unsigned


@dataclass(frozen=True)
class Bound:
    """The valid range of one numeric option; ``None`` values of optional options are not checked."""

    attribute: str
    minimum: float
    maximum: float = math.inf
    hint: str = ""
    strict_minimum: bool = False

    def check(self, args: argparse.Namespace) -> None:
        value = getattr(args, self.attribute, None)
        if value is None:
            return
        too_small = value <= self.minimum if self.strict_minimum else value < self.minimum
        if too_small or value > self.maximum:
            flag = "--" + self.attribute.replace("_", "-")
            if self.strict_minimum:
                expected = f"above {self.minimum:g}"
            elif self.maximum == math.inf:
                expected = f"at least {self.minimum:g}"
            else:
                expected = f"{self.minimum:g}..{self.maximum:g}"
            raise InBedderError(f"{flag} {value} is out of range: use {expected}{self.hint}")


BOUNDS = (
    Bound("k", 2, hint=" (k-means needs at least 2 clusters)"),
    Bound("top_n", 1, hint=" keywords per cluster"),
    Bound("batch_size", 1, hint=" texts per batch"),
    Bound("seed", 0, MAX_SEED, hint=" (a non-negative 32-bit integer)"),
    Bound("max_length", 16, hint=" prompt tokens (default 512)"),
    Bound("max_new_tokens", 1, hint=" answer tokens (leave it out for the adapter's own length)"),
    Bound("samples", 1, hint=" sampled answers per text for re-enc"),
    Bound("temperature", 0, hint=" for re-enc's sampling (default 0.7)", strict_minimum=True),
)


def check_options(args: argparse.Namespace) -> None:
    """Every numeric option within its range, and a usable ``--device``, before any work."""
    for bound in BOUNDS:
        bound.check(args)
    if getattr(args, "device", None):
        from inbedder.models import resolve_device  # imports torch: only when a device is named

        resolve_device(args.device)


def check_instruction(instruction: str) -> str:
    """The question without surrounding whitespace; an empty one is refused."""
    if not isinstance(instruction, str) or not instruction.strip():
        raise InBedderError(
            "the instruction is empty; pass the question to answer about each text, "
            "e.g. --instruction \"What is the customer complaining about?\""
        )
    return instruction.strip()


def check_k(k: int, texts: Sequence[str] | int) -> None:
    """k-means needs at least 2 different texts and 2 ≤ k ≤ the number of different texts.

    ``texts`` may be the texts themselves (so identical ones count once) or just their number.
    """
    count = texts if isinstance(texts, int) else len(texts)
    distinct = count if isinstance(texts, int) else len(set(texts))
    if count < 2:
        raise InBedderError(f"clustering needs at least 2 texts, got {count}; add texts")
    if distinct < 2:
        raise InBedderError(f"all {count} texts are the same; clustering needs at least 2 different texts")
    if k < 2:
        raise InBedderError(f"--k {k} is too small; ask for at least 2 clusters")
    if k > distinct:
        what = "texts" if distinct == count else "different texts"
        raise InBedderError(f"--k {k} is larger than the number of {what} ({distinct}); lower --k to at most {distinct} or add texts")

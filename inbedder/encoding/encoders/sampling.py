"""Sampled answers that do not depend on which batch a text lands in.

re-enc samples several answers per text. With one random generator per batch, a text's draws
would change with its neighbours (batch size, length sorting, the shared-prefix layout of
several questions), so the same text and question could get different embeddings from run to
run. Each sampled row therefore gets its own generator, seeded from (seed, question, text,
sample number): any batching gives the same answers, and the cache key stays truthful.
"""

from __future__ import annotations

import hashlib

import torch


def row_seed(seed: int, question: str, text: str, sample: int) -> int:
    """A 63-bit seed for one sampled answer, stable across runs, platforms and batch layouts."""
    digest = hashlib.sha256(f"{seed}\x00{sample}\x00{question}\x00{text}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little") >> 1


class RowSampler:
    """Temperature sampling with one generator per row (rows in the order of the sampled batch)."""

    def __init__(self, seeds: list[int], temperature: float, device: torch.device | str = "cpu"):
        if temperature <= 0:
            raise ValueError("RowSampler needs a positive temperature; use greedy decoding otherwise")
        self.temperature = temperature
        self.generators = [torch.Generator(device=device).manual_seed(seed) for seed in seeds]

    @classmethod
    def for_rows(
        cls, seed: int, rows: list[tuple[str, str]], samples: int, temperature: float, device: torch.device | str
    ) -> "RowSampler":
        """Generators for ``samples`` answers of each (question, text) row, sample-major within a row
        (the layout of ``repeat_interleave(samples)``)."""
        seeds = [row_seed(seed, question, text, j) for question, text in rows for j in range(samples)]
        return cls(seeds, temperature, device)

    def __len__(self) -> int:
        return len(self.generators)

    def choose(self, logits: torch.Tensor) -> torch.Tensor:
        """One token id per row of ``logits`` [rows, vocab]."""
        if logits.shape[0] != len(self.generators):
            raise ValueError(f"{logits.shape[0]} rows of logits for {len(self.generators)} generators")
        probs = torch.softmax(logits.float() / self.temperature, dim=-1)
        return torch.cat([torch.multinomial(row, 1, generator=g) for row, g in zip(probs, self.generators)])

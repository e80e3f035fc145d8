"""Batches of token id lists as padded tensors: left for causal LMs, right for the others.

Causal prompts are left-padded so every prompt ends at the last column (the 1st-gen state and
the next token's logits are read there); masked and seq2seq encoders read every position, so
their prompts are right-padded as the models were trained.
"""

from __future__ import annotations

import torch


def pad(batch: list[list[int]], pad_id: int, device: torch.device | str, *, left: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids [B, width] and attention mask (1 on real tokens), padded on the given side."""
    width = max((len(ids) for ids in batch), default=0)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, ids in enumerate(batch):
        span = slice(width - len(ids), width) if left else slice(0, len(ids))
        input_ids[row, span] = torch.tensor(ids, dtype=torch.long)
        mask[row, span] = 1
    return input_ids.to(device), mask.to(device)


def left_pad(batch: list[list[int]], pad_id: int, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids and attention mask, left-padded so every prompt ends at the last column."""
    return pad(batch, pad_id, device, left=True)


def right_pad(batch: list[list[int]], pad_id: int, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids and attention mask, right-padded (every prompt starts at column 0)."""
    return pad(batch, pad_id, device, left=False)

"""Work grouped by text and batched by length: the one place where batches are formed.

A :class:`TextPrompts` holds the prompts of one text under the questions still to compute.
For causal LMs they share a token prefix (system turn + input) that runs once; for the other
families (and for a text with a single prompt) nothing is shared and each prompt is one row.
:func:`length_batches` sorts the groups by the width of their widest pass so padding is
minimal, and caps every batch by ``batch_size`` and a token budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator


def common_prefix_length(prompts: list[list[int]]) -> int:
    """Tokens shared by all ``prompts`` of one text, leaving each at least one token of its own.

    The last prompt token must be computed in the suffix pass (its state is 1st-gen), so the
    prefix stops one token short of the shortest prompt.
    """
    shortest = min(len(ids) for ids in prompts)
    length = 0
    while length < shortest - 1 and all(ids[length] == prompts[0][length] for ids in prompts):
        length += 1
    return length


@dataclass
class TextPrompts:
    """The prompts of one text under the questions still to compute (token ids, in order).

    ``shared`` is False where prompts cannot share a cache (masked, seq2seq); a single prompt
    shares nothing either, so it runs whole, as one pass. ``reserve`` counts tokens a runner
    appends after each prompt (mask slots).
    """

    prompts: list[list[int]]
    shared: bool = True
    reserve: int = 0
    prefix_length: int = field(init=False)

    def __post_init__(self) -> None:
        sharing = self.shared and len(self.prompts) > 1
        self.prefix_length = common_prefix_length(self.prompts) if sharing else 0

    @property
    def prefix(self) -> list[int]:
        return self.prompts[0][: self.prefix_length]

    def suffixes(self) -> list[list[int]]:
        return [ids[self.prefix_length :] for ids in self.prompts]

    @property
    def width(self) -> int:
        """Columns of this text's widest batched pass: its prefix, or its longest whole prompt."""
        if self.prefix_length:
            return self.prefix_length
        return max(len(ids) for ids in self.prompts) + self.reserve


def length_batches(groups: list[TextPrompts], batch_size: int, max_tokens: int) -> Iterator[list[int]]:
    """Indices of ``groups`` in batches sorted by width, so padding is minimal.

    A batch holds at most ``batch_size`` groups and ``max_tokens`` columns × rows of its widest
    pass, and never mixes groups without a shared prefix with groups that have one (that would
    leave fully padded rows in the prefix pass).
    """
    order = sorted(range(len(groups)), key=lambda i: (groups[i].prefix_length > 0, groups[i].width))
    batch: list[int] = []
    for index in order:
        width = groups[index].width
        mixed = bool(batch) and (groups[batch[-1]].prefix_length > 0) != (groups[index].prefix_length > 0)
        if batch and (len(batch) >= batch_size or (len(batch) + 1) * width > max_tokens or mixed):
            yield batch
            batch = []
        batch.append(index)
    if batch:
        yield batch

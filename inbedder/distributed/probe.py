"""The answer-prefix probe of the cluster path, without holding the corpus in the driver.

The local engine probes an evenly spaced sample (``answer_prefix.evenly_spaced``) of the
corpus's *distinct* texts in first-seen order. To pick the same sample the driver must know how
many distinct texts there are and which one comes at each sampled position, so while planning it
keeps one 16-byte digest per distinct text (about 100 bytes each with the dict entry: 100 MB for
a million distinct texts, against the texts themselves) and, per input file, the range of
first-seen positions that file added. Afterwards it re-reads only the few files (at most
``SAMPLE_SIZE``) that hold a sampled position, one at a time, and takes their texts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

from inbedder.encoding.answer_prefix import evenly_spaced
from inbedder.distributed.shards import RowReader, Shard


def digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class DistinctTexts:
    """Digests of the distinct texts in first-seen order, and which file added which of them."""

    def __init__(self) -> None:
        self._seen: dict[bytes, None] = {}  # insertion-ordered: position i is the i-th distinct text
        self._files: list[tuple[Shard, int, int]] = []  # (whole file, first position, stop position)

    def __len__(self) -> int:
        return len(self._seen)

    def add(self, whole_file: Shard, texts: Iterable[str]) -> None:
        """Note the texts of one input file (``whole_file`` reads all of its rows back)."""
        first = len(self._seen)
        for text in texts:
            self._seen.setdefault(digest(text))
        self._files.append((whole_file, first, len(self._seen)))

    def sample(self, reader: Callable[[Shard], tuple[list[str], list[str]]] | None = None) -> list[str]:
        """The texts ``evenly_spaced`` picks from the distinct texts, re-read file by file."""
        positions = evenly_spaced(range(len(self._seen)))  # type: ignore[arg-type]  # the same arithmetic
        wanted = set(positions)
        targets = {key: position for position, key in enumerate(self._seen) if position in wanted}
        found: dict[int, str] = {}
        read = reader or RowReader().rows
        for whole_file, first, stop in self._files:
            if not any(first <= position < stop for position in positions):
                continue
            for text in read(whole_file)[1]:
                position = targets.get(digest(text))
                if position is not None and first <= position < stop:
                    found.setdefault(position, text)
        return [found[position] for position in positions]


def fixed_prefix(options: dict[str, Any]) -> str | None:
    """The answer prefix every question gets without a probe (given, or the adapter's), else None."""
    fixed = options.get("answer_prefix", "auto")
    if fixed != "auto":
        return fixed
    from inbedder.models.loading import resolve_adapter, run_metadata

    model = options.get("model")
    recorded = run_metadata(model, resolve_adapter(model, options.get("adapter"))).get("answer_prefix")
    return recorded if isinstance(recorded, str) else None


def probe_prefixes(distinct: DistinctTexts, questions: list[str], options: dict[str, Any]) -> dict[str, str]:
    """Each question's answer prefix, probed once on the whole input as the local path probes it."""
    from inbedder.encoding.embedder import InBedder

    probe = InBedder(**options, cache=False)
    return probe.resolve_answer_prefixes(distinct.sample(), questions)  # one probe pass shared by the questions

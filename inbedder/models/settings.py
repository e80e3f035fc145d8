"""How to build an embedder, as plain data: the arguments of :class:`~inbedder.InBedder` and their checks.

A saved clustering rebuilds its embedder from the settings it recorded, and every front end
(the CLI's :class:`~inbedder.cli.options.ModelOptions`, the explorer) builds one from its own
options; both speak this type, which lives with the models so that neither a saved clustering
nor a library caller depends on the command line. The build step itself is
:func:`inbedder.encoding.building.embedder_from_settings`: models are below encoding and do
not import it.

Importing this module imports neither torch nor the embedder.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from inbedder.validation import check_options

__all__ = ["EmbedderSettings"]


@dataclass(frozen=True)
class EmbedderSettings:
    """The arguments of :class:`~inbedder.InBedder`, with its defaults (see there for each)."""

    model: str | None = None
    adapter: str | None = None
    template: str = "auto"
    method: str | None = None
    max_length: int = 512
    max_new_tokens: int | None = None
    layer: int | None = None
    filter_answer_words: bool = True
    answer_prefix: str = "auto"
    samples: int = 3
    temperature: float = 0.7
    sentence_encoder: str | None = None
    device: str | None = None
    cache: str | Path | bool | None = None
    seed: int = 0
    compile: bool = False
    dtype: str = "auto"

    def embedder_arguments(self) -> dict[str, Any]:
        """The keyword arguments of :class:`~inbedder.InBedder` (the fields of this class, not a subclass's)."""
        return {field.name: getattr(self, field.name) for field in fields(EmbedderSettings)}

    def check(self) -> None:
        """Refuse, without loading anything, numbers out of range and a device this machine lacks."""
        check_options(self)

    def check_model(self) -> None:
        """Refuse, in one line and before torch loads, a model or adapter that cannot be found."""
        from inbedder.models.loading import check_model, resolve_adapter

        check_model(self.model, adapter=resolve_adapter(self.model, self.adapter))

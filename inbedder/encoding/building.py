"""Build an :class:`~inbedder.InBedder` from :class:`~inbedder.models.settings.EmbedderSettings`.

The settings type lives with the models, which sit below encoding and so cannot build the
embedder themselves; every front end (the CLI's options, a saved clustering) builds through
here. The model and adapter are checked first, so a wrong name fails in one line before torch
is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from inbedder.models.settings import EmbedderSettings

if TYPE_CHECKING:
    from inbedder.encoding.embedder import InBedder

__all__ = ["embedder_from_settings"]


def embedder_from_settings(settings: EmbedderSettings) -> InBedder:
    """The embedder ``settings`` describe; a missing model or adapter is refused before anything loads."""
    settings.check_model()
    from inbedder.encoding.embedder import InBedder  # imports torch: only once the names are known good

    return InBedder(**settings.embedder_arguments())

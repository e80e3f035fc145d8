"""Small data the project writes and ships (installed as ``inbedder.data``)."""

from importlib.resources import files
from pathlib import Path


def path(name: str) -> Path:
    """Path of a shipped data file, e.g. ``path("reviews.csv")``."""
    return Path(str(files(__name__) / name))

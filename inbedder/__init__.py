"""InBedder: cluster and explain texts by how a language model answers *your* question about them."""

from inbedder.clustering import InstructionClusterer
from inbedder.embedder import METHODS, InBedder
from inbedder.errors import InBedderError

__all__ = ["InBedder", "InstructionClusterer", "InBedderError", "METHODS"]
__version__ = "0.1.0"

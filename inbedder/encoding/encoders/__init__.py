"""Per-architecture passes over a language model; all return :class:`AnswerStates`."""

from inbedder.encoding.encoders.pooling import pool
from inbedder.encoding.encoders.states import AnswerStates
from inbedder.encoding.methods import DIRECT_METHODS

__all__ = ["DIRECT_METHODS", "AnswerStates", "pool"]

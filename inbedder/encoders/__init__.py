"""Per-architecture passes over a language model; all return :class:`AnswerStates`."""

from inbedder.encoders.pooling import pool
from inbedder.encoders.states import AnswerStates
from inbedder.methods import DIRECT_METHODS

__all__ = ["DIRECT_METHODS", "AnswerStates", "pool"]

"""Per-architecture passes over a language model; all return :class:`AnswerStates`."""

from inbedder.encoders.states import DIRECT_METHODS, AnswerStates, pool

__all__ = ["DIRECT_METHODS", "AnswerStates", "pool"]

"""The answer space: texts placed by what the first word of their answer could be (issue #11).

The LM head turns the 1st-gen state (the state that chooses the first answer token) into
log-probabilities over the vocabulary. The tokens most probable over the corpus ("food",
"price", "positive", …) become one dimension each: they separate the texts by answer more
sharply than the state, which also carries the text's wording. :class:`AnswerFrame` joins that
part (centred) with the state (centred and standardised, as :class:`~inbedder.vectors.CorpusFrame`
places it) at the state's ``weight``, so cosine = w·cos(state) + (1 − w)·cos(answer).

Like the corpus frame, it is fitted on the corpus (the vocabulary is the corpus' likeliest tokens)
and applied unchanged to every later text. It costs the head's one matrix product per text (576 ×
49,152 multiply-adds for SmolLM2, under 1 % of the prompt pass).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from inbedder.errors import InBedderError
from inbedder.vectors import CorpusFrame

if TYPE_CHECKING:
    from inbedder.encoding.embedder import InBedder

ANSWER_METHOD = "1st-gen"  # the one method whose vector is the LM head's input
DEFAULT_ANSWER_SPACE = 50  # candidate answer tokens: measured best of 10–3,000 (docs/fine-tuning.md)
ROWS_PER_PASS = 1024  # the head's output is rows × vocabulary floats (49,152 for SmolLM2): 200 MB a pass


@dataclass(frozen=True)
class AnswerFrame:
    """A fitted answer space: the state's frame, the answer tokens, the two means and the weight."""

    state: CorpusFrame
    tokens: np.ndarray  # [m] token ids, the corpus' likeliest first answer tokens
    answer_mean: np.ndarray  # [m] mean of the answer part's unit rows
    joined_mean: np.ndarray  # mean of the joined rows
    weight: float  # the state's share of each cosine
    head: Any = field(default=None, compare=False, repr=False)  # the LM head (not saved: the model has it)

    @property
    def mean(self) -> np.ndarray | None:
        return self.state.mean

    @property
    def scale(self) -> np.ndarray | None:
        return self.state.scale

    @classmethod
    def fit(cls, states: np.ndarray, head: Any, *, tokens: int, weight: float) -> tuple[np.ndarray, AnswerFrame]:
        """(the corpus' rows in the answer space, that space) from its raw 1st-gen ``states``."""
        vocabulary = likeliest_tokens(states, head, tokens)
        state_rows, state = CorpusFrame.fit(states, center=True, standardize=True)
        answer_rows, answer = CorpusFrame.fit(answer_log_probs(states, head, vocabulary), center=True)
        rows, joined = CorpusFrame.fit(join(state_rows, answer_rows, weight), center=True)
        return rows, cls(state, vocabulary, answer.mean, joined.mean, float(weight), head)

    def apply(self, states: np.ndarray) -> np.ndarray:
        """Later texts' raw 1st-gen states in this space (the fit's tokens, means and scale)."""
        answer = answer_log_probs(states, self.head, self.tokens)
        joined = join(self.state.apply(states), CorpusFrame(self.answer_mean).apply(answer), self.weight)
        return CorpusFrame(self.joined_mean).apply(joined)


def join(state_rows: np.ndarray, answer_rows: np.ndarray, weight: float) -> np.ndarray:
    """Unit rows side by side, scaled so that cosine = weight·cos(state) + (1 − weight)·cos(answer)."""
    return np.hstack([np.sqrt(weight) * state_rows, np.sqrt(1.0 - weight) * answer_rows])


def answer_log_probs(states: np.ndarray, head: Any, tokens: np.ndarray | None = None) -> np.ndarray:
    """log p(first answer token | prompt) at ``tokens`` (None: the whole vocabulary), one row per raw 1st-gen state.

    The head runs on :data:`ROWS_PER_PASS` rows at a time, so a large corpus never holds its
    whole rows × vocabulary matrix.
    """
    parts = [log_probs if tokens is None else log_probs[:, tokens] for log_probs in _passes(states, head)]
    return np.concatenate(parts) if parts else np.zeros((0, 0 if tokens is None else len(tokens)), dtype=np.float32)


def likeliest_tokens(states: np.ndarray, head: Any, count: int) -> np.ndarray:
    """The ``count`` token ids with the highest mean probability over the states' rows, likeliest first."""
    total = sum(np.exp(log_probs).sum(axis=0, dtype=np.float64) for log_probs in _passes(states, head))
    return np.argsort(-total, kind="stable")[:count]


def _passes(states: np.ndarray, head: Any):
    """The full log-probabilities of :data:`ROWS_PER_PASS` rows at a time.

    Unit rows are refused: a state's length is the head's temperature, so normalised states
    would give other probabilities without any error.
    """
    import torch

    matrix = np.asarray(states)
    norms = np.linalg.norm(matrix.astype(np.float64), axis=1)
    if len(norms) and np.allclose(norms, 1.0, atol=1e-5):
        raise InBedderError("the answer space needs the raw 1st-gen states, not unit rows; encode with "
                            "normalize_embeddings=False", parameter="embeddings")
    for start in range(0, len(matrix), ROWS_PER_PASS):
        with torch.no_grad():
            rows = torch.as_tensor(matrix[start:start + ROWS_PER_PASS], dtype=head.weight.dtype,
                                   device=head.weight.device)
            yield torch.log_softmax(head(rows).float(), dim=-1).cpu().numpy()


def check_answer_settings(tokens: int, weight: float) -> None:
    """A one-line refusal of a token count below 2 or a state weight outside 0..1."""
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 2:
        raise InBedderError(f"answer_space must be a whole number of at least 2, got {tokens!r}", parameter="answer_space")
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0.0 <= weight <= 1.0:
        raise InBedderError(f"state_weight must be between 0 and 1, got {weight}", parameter="state_weight")


def check_answer_space(model: InBedder | None, method: str | None, tokens: int, weight: float) -> Any:
    """The model's LM head, or a one-line refusal of what has no head input or a bad setting."""
    from inbedder.models.loading import CAUSAL

    check_answer_settings(tokens, weight)
    if model is None:
        raise InBedderError("the answer space needs the model's LM head; pass a model", parameter="answer_space")
    if model.family != CAUSAL or model.layer is not None or method != ANSWER_METHOD:
        raise InBedderError(f"answer_space needs 1st-gen at the last layer of a causal LM (the LM head's input); got "
                            f"{method} at layer {model.layer} of a {model.family} model; drop answer_space",
                            parameter="answer_space")
    head = model.loaded.model.get_output_embeddings()
    vocabulary = int(head.weight.shape[0])
    if tokens > vocabulary:  # refused here, before any text is embedded, not by torch.topk after it
        raise InBedderError(f"answer_space={tokens} is more than the {vocabulary} tokens of {model.loaded.name}'s "
                            f"vocabulary; use at most {vocabulary} (50 measured best)", parameter="answer_space")
    return head

"""Issue #11's answer-distribution lever as an evaluation subject (:mod:`inbedder.clustering.answer_space`).

Each corpus embedded together gets its own fitted answer space, as ``inbedder cluster
--answer-space`` fits one, so the evaluation's k-means runs on exactly the clusterer's rows
(``rows_are_framed``). Measured with ``bench/levers.py --answer-space`` and
``bench/robustness_seeds.py --answer-space`` (docs/fine-tuning.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from inbedder.clustering.answer_space import ANSWER_METHOD, DEFAULT_ANSWER_SPACE, AnswerFrame, check_answer_space

if TYPE_CHECKING:
    from inbedder.encoding.embedder import InBedder


class AnswerDistribution:
    """1st-gen's answer distribution over the corpus' ``tokens`` likeliest first answer tokens, beside the state.

    ``rows_are_framed``: the rows are already placed (centred, scaled, joined, centred again);
    the evaluation's k-means must take them as they are.
    """

    kind = "method"
    rows_are_framed = True

    def __init__(
        self, model: InBedder, *, tokens: int = DEFAULT_ANSWER_SPACE, state_weight: float = 0.2, batch_size: int = 16,
        name: str | None = None,
    ):
        self.head = check_answer_space(model, ANSWER_METHOD, tokens, state_weight)
        self.model, self.tokens, self.state_weight, self.batch_size = model, tokens, state_weight, batch_size
        self.name = name or f"1st-gen ⊕ answer-dist{tokens}@{state_weight:g}"

    def embed(self, texts: Sequence[str], instructions: Sequence[str]) -> dict[str, np.ndarray]:
        encoded = self.model.encode_questions(
            list(texts), list(instructions), method=ANSWER_METHOD, batch_size=self.batch_size,
            show_progress_bar=False, normalize_embeddings=False, answers=False,
        )
        return {instruction: self.rows(result.embeddings) for instruction, result in encoded.items()}

    def rows(self, states: np.ndarray) -> np.ndarray:
        """One corpus' raw 1st-gen states in the answer space fitted on them."""
        return AnswerFrame.fit(states, self.head, tokens=self.tokens, weight=self.state_weight)[0]

    def describe(self) -> dict:
        model = self.model
        return {"name": self.name, "kind": self.kind, "method": ANSWER_METHOD, "answer_space": self.tokens,
                "state_weight": self.state_weight, "model": model.loaded.name, "adapter": model.loaded.adapter,
                "fingerprint": model.loaded.fingerprint, "template": model.template}

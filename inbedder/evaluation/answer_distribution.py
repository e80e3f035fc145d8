"""Issue #11's answer-distribution lever: a text embedded by what its first answer token could be.

The LM head turns the 1st-gen state (the state that chooses the first answer token) into
log-probabilities over the vocabulary. Keeping the tokens most probable over the corpus gives a
vector whose dimensions are candidate answers ("food", "price", "positive", …): it separates the
texts by answer more sharply than the state, which also carries the text's wording. The
subject joins that vector (centred) with the state (centred and standardised, as the clusterer
places it) at ``state_weight``, so cosine = w·cos(state) + (1 − w)·cos(answer).

The vocabulary is chosen from the texts embedded together, so a text's row depends on its
corpus, as the clusterer's frame does. It is measured here (``bench/levers.py --answer-tokens``,
``bench/robustness_seeds.py --answer-tokens``), not the clusterer's default: it wins on the shipped
sets and the drug reviews and loses on the independent news (README § Fine-tuning).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from inbedder.errors import InBedderError
from inbedder.models import CAUSAL
from inbedder.vectors import CorpusFrame

if TYPE_CHECKING:
    from inbedder.embedder import InBedder


class AnswerDistribution:
    """1st-gen's answer distribution over the corpus' ``tokens`` likeliest first answer tokens, beside the state.

    ``rows_are_framed``: the rows are already centred and scaled part by part; the evaluation's
    k-means must only centre them (standardising the joined rows again would give every
    dimension the same weight and undo ``state_weight``).
    """

    kind = "method"
    rows_are_framed = True

    def __init__(
        self, model: InBedder, *, tokens: int = 50, state_weight: float = 0.2, batch_size: int = 16,
        name: str | None = None,
    ):
        if model.family != CAUSAL or model.layer is not None:
            raise InBedderError(f"the answer distribution needs a causal LM's last layer (the LM head's input); got "
                                f"a {model.family} model at layer {model.layer}", parameter="model")
        if tokens < 2:
            raise InBedderError(f"tokens must be at least 2, got {tokens}", parameter="tokens")
        if not 0.0 <= state_weight <= 1.0:
            raise InBedderError(f"state_weight must be between 0 and 1, got {state_weight}", parameter="state_weight")
        self.model, self.tokens, self.state_weight, self.batch_size = model, tokens, state_weight, batch_size
        self.name = name or f"1st-gen ⊕ answer-dist{tokens}@{state_weight:g}"

    def embed(self, texts: Sequence[str], instructions: Sequence[str]) -> dict[str, np.ndarray]:
        encoded = self.model.encode_questions(
            list(texts), list(instructions), method="1st-gen", batch_size=self.batch_size,
            show_progress_bar=False, normalize_embeddings=False, answers=False,
        )
        return {instruction: self.rows(result.embeddings) for instruction, result in encoded.items()}

    def rows(self, states: np.ndarray) -> np.ndarray:
        """The joined unit rows of one corpus' raw 1st-gen states."""
        log_probs = self.answer_log_probs(states)
        vocabulary = likeliest_tokens(log_probs, self.tokens)
        answer = CorpusFrame.fit(log_probs[:, vocabulary], center=True)[0]
        state = CorpusFrame.fit(states, center=True, standardize=True)[0]
        return np.hstack([np.sqrt(self.state_weight) * state, np.sqrt(1.0 - self.state_weight) * answer])

    def answer_log_probs(self, states: np.ndarray) -> np.ndarray:
        """log p(first answer token | prompt) over the whole vocabulary, one row per state."""
        import torch

        head = self.model.loaded.model.get_output_embeddings()
        with torch.no_grad():
            matrix = torch.as_tensor(np.asarray(states), dtype=head.weight.dtype, device=head.weight.device)
            return torch.log_softmax(head(matrix).float(), dim=-1).cpu().numpy()

    def describe(self) -> dict:
        model = self.model
        return {"name": self.name, "kind": self.kind, "method": "1st-gen", "answer_tokens": self.tokens,
                "state_weight": self.state_weight, "model": model.loaded.name, "adapter": model.loaded.adapter,
                "fingerprint": model.loaded.fingerprint, "template": model.template}


def likeliest_tokens(log_probs: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` token ids with the highest mean probability over the rows, likeliest first."""
    mean = np.exp(log_probs).mean(axis=0)
    return np.argsort(-mean, kind="stable")[:count]

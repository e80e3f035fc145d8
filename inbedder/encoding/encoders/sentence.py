"""The sentence encoder behind re-enc (over sampled answers) and prompt (over instruction ⊕ text).

Loaded on first use, so methods that never need it never pay for loading it.
"""

from __future__ import annotations

import numpy as np

from inbedder.encoding.methods import EMBEDDED_SENTENCE_ENCODER


class SentenceEncoder:
    """A lazily loaded sentence-transformers model, named in cache keys by :attr:`cache_name`."""

    def __init__(self, name: str | None, device: str):
        self.name = name
        self.device = device
        self._model = None

    @property
    def cache_name(self) -> str:
        return self.name or EMBEDDED_SENTENCE_ENCODER

    def encode(self, sentences: list[str]) -> np.ndarray:
        if self._model is None:
            from inbedder.models.loading import load_sentence_encoder

            self._model = load_sentence_encoder(self.name, self.device)
        return self._model.encode(sentences, batch_size=64, show_progress_bar=False, convert_to_numpy=True)

    def mean_of_samples(self, sampled: list[str], rows: int) -> np.ndarray:
        """re-enc (paper §4.2): the mean embedding of each row's answers (``len(sampled) // rows`` per row, in order)."""
        return self.encode(sampled).reshape(rows, len(sampled) // rows, -1).mean(1)

    def of_prompts(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        """prompt: the embedding of "question text" for each (text, question) pair."""
        return self.encode([f"{question} {text}" for text, question in pairs])

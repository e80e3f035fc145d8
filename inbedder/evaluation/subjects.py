"""What gets evaluated: an InBedder encoding method, or a reference embedder that ignores InBedder.

Every subject answers one call, ``embed(texts, instructions) -> {instruction: unit-length rows}``,
so the tests are written once. The two references of the paper's tables are the ``prompt``
method (the sentence encoder on instruction ⊕ text) and :class:`NoInstruction` (the same
sentence encoder on the text alone: what an embedder scores when it cannot hear the question).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Sequence

import numpy as np

from inbedder.encoding.methods import EMBEDDED_SENTENCE_ENCODER
from inbedder.vectors import CorpusFrame, unit_rows

if TYPE_CHECKING:
    from inbedder.encoding.embedder import InBedder

PROMPT_METHOD = "prompt"
NO_INSTRUCTION = "no-instruction"


class Subject(Protocol):
    name: str
    kind: str  # "method" or "reference"

    def embed(self, texts: Sequence[str], instructions: Sequence[str]) -> dict[str, np.ndarray]:
        """One matrix [len(texts), dim] per instruction, rows L2-normalised."""

    def describe(self) -> dict:
        """What this subject is, for the run record."""


class MethodSubject:
    """One encoding method of an :class:`~inbedder.encoding.embedder.InBedder` (answers are not generated unless the method needs them)."""

    def __init__(
        self, model: InBedder, method: str, *, batch_size: int = 16, show_progress_bar: bool = False,
        name: str | None = None,
    ):
        self.model = model
        self.method = model.check_method(method)
        self.batch_size = batch_size
        self.show_progress_bar = show_progress_bar
        self.name = name or method
        self.kind = "reference" if method == PROMPT_METHOD else "method"

    def embed(self, texts: Sequence[str], instructions: Sequence[str]) -> dict[str, np.ndarray]:
        encoded = self.model.encode_questions(
            list(texts), list(instructions), method=self.method, batch_size=self.batch_size,
            show_progress_bar=self.show_progress_bar, normalize_embeddings=True, answers=False,
        )
        return {instruction: result.embeddings for instruction, result in encoded.items()}

    def describe(self) -> dict:
        model = self.model
        return {
            "name": self.name, "kind": self.kind, "method": self.method, "model": model.loaded.name,
            "adapter": model.loaded.adapter, "fingerprint": model.loaded.fingerprint, "template": model.template,
            "answer_prefix": model.answer_prefix, "max_new_tokens": model.max_new_tokens, "layer": model.layer,
            "sentence_encoder": (model.sentence_encoder_name or EMBEDDED_SENTENCE_ENCODER)
            if self.method in ("prompt", "re-enc") else None,
        }


class Blend:
    """Two subjects' embeddings side by side, weighted: cosine = weight·cos₁ + (1 − weight)·cos₂.

    Issue #11's method lever "1st-gen with the re-encoded answer": 1st-gen is best on clustering,
    re-enc on triplets, and concatenating √w·a with √(1−w)·b (both unit rows) keeps the rows unit
    and makes every similarity the weighted mean of the two, so one weight moves between them.
    ``center``: each part is first centred on the texts embedded together
    (:meth:`~inbedder.vectors.CorpusFrame.fit`); without it 1st-gen's shared direction (mean cosine
    0.83) leaves its cosines almost constant and re-enc's decide every cluster.
    """

    kind = "method"

    def __init__(
        self, first: Subject, second: Subject, *, weight: float = 0.5, center: bool = True, name: str | None = None,
    ):
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"weight must be between 0 and 1, got {weight}")
        self.first, self.second, self.weight, self.center = first, second, weight, center
        self.name = name or f"{first.name}+{second.name}@{weight:g}" + ("" if center else " (uncentred)")

    def embed(self, texts: Sequence[str], instructions: Sequence[str]) -> dict[str, np.ndarray]:
        first, second = self.first.embed(texts, instructions), self.second.embed(texts, instructions)
        return {instruction: np.hstack([np.sqrt(self.weight) * self._part(first[instruction]),
                                        np.sqrt(1.0 - self.weight) * self._part(second[instruction])])
                for instruction in first}

    def _part(self, matrix: np.ndarray) -> np.ndarray:
        return CorpusFrame.fit(matrix, center=self.center)[0]

    def describe(self) -> dict:
        return {"name": self.name, "kind": self.kind, "weight": self.weight, "center": self.center,
                "parts": [self.first.describe(), self.second.describe()]}


class NoInstruction:
    """The sentence encoder on the bare text: every instruction gets the same embeddings."""

    kind = "reference"

    def __init__(self, sentence_encoder: str | None = None, device: str | None = None, *, name: str = NO_INSTRUCTION):
        self.sentence_encoder = sentence_encoder
        self.device = device
        self.name = name
        self._encoder = None
        self._vectors: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str], instructions: Sequence[str]) -> dict[str, np.ndarray]:
        missing = [text for text in dict.fromkeys(texts) if text not in self._vectors]
        if missing:
            vectors = self._load().encode(missing, batch_size=64, show_progress_bar=False, convert_to_numpy=True)
            self._vectors.update(zip(missing, unit_rows(vectors, dtype=np.float64)))
        matrix = np.stack([self._vectors[text] for text in texts])
        return {instruction: matrix for instruction in dict.fromkeys(instructions)}

    def describe(self) -> dict:
        return {"name": self.name, "kind": self.kind, "method": None,
                "sentence_encoder": self.sentence_encoder or EMBEDDED_SENTENCE_ENCODER}

    def _load(self):
        if self._encoder is None:
            from inbedder.models.loading import load_sentence_encoder

            self._encoder = load_sentence_encoder(self.sentence_encoder, self.device or "cpu")
        return self._encoder

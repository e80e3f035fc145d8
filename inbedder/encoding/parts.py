"""What the engine and the planner read of an embedder, handed to them as one frozen value.

:class:`~inbedder.encoding.embedder.InBedder` imports the engine and the planner; if they took
the ``InBedder`` back they would import it too, and the modules would form a circle. They take
:class:`EmbedderParts` instead: the loaded model, its prompts, cache and sentence encoder, and
the settings an embedding depends on. ``InBedder`` builds one per call from its current
attributes, so a swapped cache or a copy with another answer prefix is always what runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from inbedder.encoding.cache import EmbeddingCache
from inbedder.encoding.encoders.sentence import SentenceEncoder
from inbedder.encoding.methods import SPECS
from inbedder.encoding.prompts import PromptBuilder
from inbedder.models.loading import MASKED, LoadedModel

__all__ = ["EmbedderParts"]


@dataclass(frozen=True)
class EmbedderParts:
    """The model, prompts, cache and sentence encoder of one embedder, with its embedding settings.

    ``sentence_encoder`` loads its model on first use, so holding it here loads nothing.
    ``answer_prefix`` is the setting ("auto" or a fixed prefix); the planner resolves it per question.
    """

    loaded: LoadedModel
    prompts: PromptBuilder
    cache: EmbeddingCache
    sentence_encoder: SentenceEncoder
    dtype: str
    layer: int | None
    max_new_tokens: int
    samples: int
    temperature: float
    seed: int
    answer_prefix: str
    filter_answer_words: bool

    @property
    def family(self) -> str:
        return self.loaded.family

    def settings(self, method: str, instruction: str, *, answer_prefix: str) -> dict:
        """Everything that determines an embedding besides the text: the cache key.

        ``answer_prefix`` is the resolved prefix of this question.
        """
        spec = SPECS[method]
        settings = {
            "model": self.loaded.fingerprint,
            "method": method,
            "template": self.prompts.signature(answer_prefix),
            "layer": self.layer,
            "max_length": self.prompts.max_length,
            "max_new_tokens": self.max_new_tokens,
            "instruction": instruction,
        }
        if self.dtype != "fp32":  # fp32 keys stay as they were before dtype existed
            settings["dtype"] = self.dtype
        if spec.filters:
            settings["filter_answer_words"] = self.filter_answer_words
        if spec.sentence:
            settings["sentence_encoder"] = self.sentence_encoder.cache_name
        if spec.sampled:
            # "sampler": draws are seeded per (text, question, sample), so they do not depend on the batch
            settings.update(samples=self.samples, temperature=self.temperature, seed=self.seed, sampler="per-row")
            if self.family == MASKED and self.samples > 1:
                settings["pooled_width"] = "fixed"  # rows cached before the width fix were 384 / samples wide
        return settings

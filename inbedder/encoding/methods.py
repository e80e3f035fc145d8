"""The encoding methods as one table of specs, kept free of heavy imports.

The command line lists these names in ``--help`` and checks ``--method`` before anything
loads torch, so they live here rather than beside the encoders that implement them. Every
trait of a method (does it generate, what does it pool, does the stopword filter apply, which
model families have it) is read from :data:`SPECS`; nothing else lists method names.
"""

from __future__ import annotations

from dataclasses import dataclass

from inbedder.models.loading import CAUSAL, DEFAULT_SENTENCE_ENCODER, MASKED, SEQ2SEQ

# What a method pools (the pooler in inbedder/encoding/encoders/pooling.py has one function per mode).
FIRST_GENERATED = "first-generated"  # the state that chooses the first answer token
MEAN_GENERATED = "mean-generated"  # mean of the states that produced the answer
LAST_GENERATED = "last-generated"  # the state that produced the last answer token
MEAN_PROMPT = "mean-prompt"  # mean of the prompt's states
MEAN_ALL = "mean-all"  # mean of prompt and answer states
SENTENCE_ANSWERS = "sentence-answers"  # a sentence encoder over sampled answers
SENTENCE_PROMPT = "sentence-prompt"  # a sentence encoder over instruction ⊕ text

EMBEDDED_SENTENCE_ENCODER = f"embedded:{DEFAULT_SENTENCE_ENCODER}"
"""How the cache (and run records) name the sentence encoder shipped with InBedder."""


@dataclass(frozen=True)
class MethodSpec:
    """One encoding method (paper §4.1–4.2) and what the engine must do for it."""

    name: str
    pools: str
    generates: bool = False  # needs answer tokens even when the caller does not keep answers
    filters: bool = False  # the stopword / instruction-word filter applies (paper §4.3)
    prompt_states: bool = False  # needs the sum of the prompt's hidden states
    sampled: bool = False  # several sampled answers per text (samples, temperature, seed)
    families: tuple[str, ...] = (CAUSAL, MASKED, SEQ2SEQ)

    @property
    def direct(self) -> bool:
        """Pools the language model's own hidden states (no sentence encoder)."""
        return self.pools not in (SENTENCE_ANSWERS, SENTENCE_PROMPT)

    @property
    def sentence(self) -> bool:
        return not self.direct


SPECS: dict[str, MethodSpec] = {spec.name: spec for spec in (
    # appendix C: masked LMs have no first or last generated token; avg-all mixes a seq2seq
    # model's encoder and decoder spaces, so it is not offered there
    MethodSpec("1st-gen", FIRST_GENERATED, families=(CAUSAL, SEQ2SEQ)),
    MethodSpec("avg-gen", MEAN_GENERATED, generates=True, filters=True),
    MethodSpec("last-gen", LAST_GENERATED, generates=True, filters=True, families=(CAUSAL, SEQ2SEQ)),
    MethodSpec("avg-ppt", MEAN_PROMPT, prompt_states=True),
    MethodSpec("avg-all", MEAN_ALL, generates=True, filters=True, prompt_states=True, families=(CAUSAL, MASKED)),
    MethodSpec("re-enc", SENTENCE_ANSWERS, generates=True, sampled=True),
    MethodSpec("prompt", SENTENCE_PROMPT),
)}

METHODS = tuple(SPECS)
DIRECT_METHODS = tuple(name for name, spec in SPECS.items() if spec.direct)
"""Methods that pool the LM's own hidden states (paper §4.1)."""

SENTENCE_METHODS = tuple(name for name, spec in SPECS.items() if spec.sentence)
"""Methods that run a sentence encoder: over sampled answers (re-enc) or instruction ⊕ text (prompt)."""


def methods_for(family: str) -> tuple[str, ...]:
    """The methods a model family supports, in the table's order."""
    return tuple(name for name, spec in SPECS.items() if family in spec.families)

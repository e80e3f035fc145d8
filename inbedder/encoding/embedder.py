"""InBedder: embed texts by how a language model answers a question about them.

The public entry point is :class:`InBedder`, shaped like sentence-transformers'
``encode(texts, batch_size=…, show_progress_bar=…, normalize_embeddings=…)`` with the user's
``instruction`` added. The three ``encode*`` methods are thin wrappers over one engine
(:mod:`inbedder.encoding.planner` → :mod:`inbedder.encoding.encoders.runners` → :mod:`inbedder.encoding.encoders.pooling`,
driven by :mod:`inbedder.encoding.engine`); each result is cached on disk as soon as its batch is done.
"""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace
from typing import Sequence

import numpy as np

from inbedder.encoding import engine, planner
from inbedder.encoding.cache import EmbeddingCache
from inbedder.encoding.encoders.compiled import compile_prompt_pass
from inbedder.encoding.encoders.sentence import SentenceEncoder
from inbedder.encoding.engine import Encoded, Progress
from inbedder.errors import InBedderError
from inbedder.encoding.methods import METHODS, SPECS, MethodSpec, methods_for
from inbedder.encoding.parts import EmbedderParts
from inbedder.models.catalogue import note_slow_default
from inbedder.models.devices import cpu_has_bf16, resolve_dtype, torch_dtype
from inbedder.models.loading import (
    CAUSAL, LoadedModel, cache_dir, load_generator, resolve_adapter, resolve_device, run_metadata,
)
from inbedder.encoding.prompts import BRIEF_CHAT_TEMPLATE, INBEDDER_TEMPLATE, PromptBuilder, looks_like_template
from inbedder.validation import MAX_SEED, check_instruction, check_options

__all__ = ["DEFAULT_ANSWER_TOKENS", "METHODS", "Encoded", "InBedder", "Progress"]

DEFAULT_ANSWER_TOKENS = 8  # answer length without an adapter; adapters record their own (3 for InBedder models)


class InBedder:
    """An instruction-following embedder over a causal, masked or seq2seq LM.

    Args:
        model: catalogue name, hub id or local directory; None for the default model
            (qwen2.5-coder-1.5b, or ``INBEDDER_MODEL``), fetched on first use.
        adapter: a LoRA adapter directory to merge into the model; with none given a catalogue
            model gets its shipped InBedder adapter ("none" to go without).
        template: "inbedder", "chat", "chat-brief", or a string with {input} and {instruction};
            "auto" picks the adapter's training template, else chat-brief for chat models.
        method: default encoding method (see :data:`METHODS`); None picks 1st-gen, or avg-gen
            for masked LMs, which have no generation step.
        max_new_tokens: answer length (None: the adapter's recorded length, else 8) for generating
            methods and for the answers kept for explanation; masked LMs use it as the number of mask slots.
        layer: hidden layer to read (None = last, the state that feeds the LM head).
        filter_answer_words: drop states that produced stopwords, punctuation or instruction
            words before pooling avg-gen/last-gen/avg-all (paper §4.3).
        answer_prefix: "auto" appends the opening the model's answers share (the question
            echo, e.g. "The sentiment of the review is") to the prompt so that 1st-gen is the
            state choosing the first content word (see :mod:`inbedder.encoding.answer_prefix`); "" for
            none; any other string is used as is.
        samples, temperature: answers sampled per text for re-enc.
        compile: run causal prompt passes through ``torch.compile`` (about 20 % faster on CPU
            after a one-off compile of one to three minutes: worth it from a few thousand texts).
        cache: on-disk cache file; None for the default under the cache dir, False for none.
        dtype: "auto" (bf16 on CUDA and on CPUs with native bf16, where it is 2-3× faster; fp32
            elsewhere, where bf16 is emulated and far slower), "fp32" or "bf16".
    """

    def __init__(
        self,
        model: str | None = None,
        adapter: str | None = None,
        *,
        template: str = "auto",
        method: str | None = None,
        max_length: int = 512,
        max_new_tokens: int | None = None,
        layer: int | None = None,
        filter_answer_words: bool = True,
        answer_prefix: str = "auto",
        samples: int = 3,
        temperature: float = 0.7,
        sentence_encoder: str | None = None,
        device: str | None = None,
        cache: str | Path | bool | None = None,
        seed: int = 0,
        compile: bool = False,
        dtype: str = "auto",
    ):
        check_options(SimpleNamespace(temperature=temperature))  # NaN or inf would only fail (or sample noise) mid-run
        cache_path: str | Path = ":memory:" if cache is False else cache or cache_dir() / "embeddings.sqlite"
        self.cache = EmbeddingCache(cache_path)  # first: a damaged cache fails before the model loads
        running_on = resolve_device(device)
        self.dtype = resolve_dtype(dtype, running_on)
        if adapter is None:
            note_slow_default(model, running_on, native_bf16=cpu_has_bf16())
        self.loaded: LoadedModel = load_generator(model, resolve_adapter(model, adapter), device=device,
                                                  dtype=torch_dtype(self.dtype))
        self.loaded.check_layer(layer)
        self.adapter_metadata = run_metadata(model, self.loaded.adapter)
        if compile:
            if self.loaded.family != CAUSAL:
                raise InBedderError(
                    f"compile speeds up causal LMs only; {self.loaded.name} is a {self.loaded.family} model, "
                    "so leave compile off", parameter="compile",
                )
            compile_prompt_pass(self.loaded.model)
        self.template = self._pick_template(template)
        self.method = self.check_method(method or self.methods[0])
        self._check_max_length(max_length)
        if max_new_tokens is None:
            max_new_tokens = self.adapter_metadata.get("max_new_tokens") or DEFAULT_ANSWER_TOKENS
        if answer_prefix == "auto" and isinstance(self.adapter_metadata.get("answer_prefix"), str):
            answer_prefix = self.adapter_metadata["answer_prefix"]  # a trained model answers without an echo
        if max_new_tokens < 1:
            raise InBedderError(
                f"max_new_tokens must be at least 1 (got {max_new_tokens}); leave it out for the adapter's own length",
                parameter="max_new_tokens",
            )
        if not 0 <= seed <= MAX_SEED:
            raise InBedderError(f"seed must be a non-negative 32-bit integer (got {seed})", parameter="seed")
        self.prompts = PromptBuilder(self.loaded.tokenizer, self.template, max_length)
        self.max_new_tokens = max_new_tokens
        self.layer = layer
        self.filter_answer_words = filter_answer_words
        self.answer_prefix = answer_prefix  # the setting ("auto" or fixed); each call resolves its own
        self.samples = max(1, samples)
        self.temperature = temperature
        self.sentence_encoder_name = sentence_encoder
        self._sentence_encoder = SentenceEncoder(sentence_encoder, str(self.loaded.model.device))  # loads on first use
        self.seed = seed

    # ----------------------------------------------------------------- configuration
    @property
    def family(self) -> str:
        return self.loaded.family

    @property
    def methods(self) -> tuple[str, ...]:
        """The encoding methods this model's architecture supports."""
        return methods_for(self.family)

    def check_method(self, method: str) -> str:
        if method not in METHODS:
            raise InBedderError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}", parameter="method")
        if method not in self.methods:
            raise InBedderError(
                f"method {method!r} does not exist for {self.family} models like {self.loaded.name}; "
                f"choose one of: {', '.join(self.methods)}", parameter="method",
            )
        return method

    def _spec(self, method: str | None) -> MethodSpec:
        return SPECS[self.check_method(method or self.method)]

    def _check_max_length(self, max_length: int) -> None:
        if max_length < 16:
            raise InBedderError(f"max_length {max_length} is too small; use at least 16 tokens (default 512)", parameter="max_length")
        limit = self.loaded.limits()[1]
        if limit is not None and max_length > limit:
            raise InBedderError(
                f"max_length {max_length} is above what {self.loaded.name} can read ({limit} tokens); use at most {limit}",
                parameter="max_length",
            )

    def _pick_template(self, template: str) -> str:
        if template != "auto":
            return template
        if looks_like_template(self.adapter_metadata.get("template")):
            return self.adapter_metadata["template"]
        if self.family == CAUSAL and getattr(self.loaded.tokenizer, "chat_template", None):
            return BRIEF_CHAT_TEMPLATE
        return INBEDDER_TEMPLATE

    @property
    def sentence_encoder(self) -> SentenceEncoder:
        """The sentence encoder of re-enc and prompt (loaded on first use)."""
        if self._sentence_encoder.name != self.sentence_encoder_name:
            self._sentence_encoder = SentenceEncoder(self.sentence_encoder_name, str(self.loaded.model.device))
        return self._sentence_encoder

    def settings(self, method: str, instruction: str, *, answer_prefix: str) -> dict:
        """Everything that determines an embedding besides the text: the cache key.

        ``answer_prefix`` is the resolved prefix of this question (see :meth:`resolve_answer_prefix`).
        """
        return self.parts().settings(method, instruction, answer_prefix=answer_prefix)

    def parts(self) -> EmbedderParts:
        """What the engine and the planner read, taken from this embedder's attributes as they are now."""
        return EmbedderParts(
            loaded=self.loaded, prompts=self.prompts, cache=self.cache, sentence_encoder=self.sentence_encoder,
            dtype=self.dtype, layer=self.layer, max_new_tokens=self.max_new_tokens, samples=self.samples,
            temperature=self.temperature, seed=self.seed, answer_prefix=self.answer_prefix,
            filter_answer_words=self.filter_answer_words,
        )

    # ----------------------------------------------------------------- public API
    def encode(
        self,
        texts: Sequence[str],
        instruction: str,
        *,
        method: str | None = None,
        batch_size: int = 16,
        show_progress_bar: bool | None = None,
        normalize_embeddings: bool = False,
        progress: Progress | None = None,
    ) -> np.ndarray:
        """Embed ``texts`` by the answer to ``instruction``; returns an array [len(texts), dim]."""
        return self.encode_with_answers(
            texts, instruction, method=method, batch_size=batch_size, show_progress_bar=show_progress_bar,
            normalize_embeddings=normalize_embeddings, answers=False, progress=progress,
        ).embeddings

    def encode_with_answers(
        self,
        texts: Sequence[str],
        instruction: str,
        *,
        method: str | None = None,
        batch_size: int = 16,
        show_progress_bar: bool | None = None,
        normalize_embeddings: bool = False,
        answers: bool = True,
        progress: Progress | None = None,
    ) -> Encoded:
        """Embeddings plus each text's generated short answer (used to explain clusters)."""
        spec = self._spec(method)
        question = check_instruction(instruction)
        return engine.encode(
            self.parts(), texts, [question], spec, batch_size=batch_size, show_progress_bar=show_progress_bar,
            normalize_embeddings=normalize_embeddings, answers=answers, progress=progress,
        )[question]

    def encode_questions(
        self,
        texts: Sequence[str],
        instructions: Sequence[str],
        *,
        method: str | None = None,
        batch_size: int = 16,
        show_progress_bar: bool | None = None,
        normalize_embeddings: bool = False,
        answers: bool = True,
        progress: Progress | None = None,
    ) -> dict[str, Encoded]:
        """One corpus under several questions: ``{instruction: Encoded}`` in the given order.

        Use this rather than a loop over :meth:`encode_with_answers` wherever several questions
        meet one corpus (robustness tests, comparisons): causal LMs run each text's input once
        for all its questions.
        """
        if isinstance(instructions, str) or not list(instructions):
            raise InBedderError("instructions must be a non-empty list of questions", parameter="instructions")
        given = list(dict.fromkeys(instructions))
        spec = self._spec(method)
        stripped = {instruction: check_instruction(instruction) for instruction in given}
        results = engine.encode(
            self.parts(), texts, list(dict.fromkeys(stripped.values())), spec, batch_size=batch_size,
            show_progress_bar=show_progress_bar, normalize_embeddings=normalize_embeddings, answers=answers,
            progress=progress,
        )
        return {instruction: results[stripped[instruction]] for instruction in given}

    def resolve_answer_prefix(self, texts: Sequence[str], instruction: str) -> str:
        """The answer prefix ``encode*`` uses for this instruction on these texts: fixed, or probed (cached).

        Changes nothing on the model: the prefix is returned, and every ``encode*`` call finds the
        same one (the probe's result is cached under the sample's key).
        """
        return self.resolve_answer_prefixes(texts, [instruction])[instruction]

    def resolve_answer_prefixes(self, texts: Sequence[str], instructions: Sequence[str]) -> dict[str, str]:
        """``{instruction: answer prefix}``; the probes of uncached instructions share one input pass."""
        if isinstance(instructions, str) or not list(instructions):
            raise InBedderError("instructions must be a non-empty list of questions", parameter="instructions")
        stripped = {instruction: check_instruction(instruction) for instruction in dict.fromkeys(instructions)}
        unique = list(dict.fromkeys(engine.check_texts(texts)))
        prefixes = planner.answer_prefixes(self.parts(), unique, list(dict.fromkeys(stripped.values())))
        return {instruction: prefixes[question] for instruction, question in stripped.items()}

    def with_answer_prefix(self, answer_prefix: str) -> InBedder:
        """This embedder with one fixed answer prefix (e.g. the one a whole corpus resolved to).

        The copy shares the model, prompts and cache, so nothing is loaded twice, and embedding
        a corpus in chunks with it gives every chunk the corpus's prefix (and cache keys) without
        changing this embedder for other callers or threads.
        """
        view = copy.copy(self)
        view.answer_prefix = answer_prefix
        return view

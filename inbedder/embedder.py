"""InBedder: embed texts by how a language model answers a question about them.

The public entry point is :class:`InBedder`, shaped like sentence-transformers'
``encode(texts, batch_size=…, show_progress_bar=…, normalize_embeddings=…)`` with the user's
``instruction`` added. Each result is cached on disk as soon as its batch is done.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from inbedder.answer_prefix import PROBE_TOKENS, evenly_spaced, shared_opening
from inbedder.cache import EmbeddingCache, settings_key
from inbedder.encoders.causal import run_causal
from inbedder.encoders.compiled import compile_prompt_pass
from inbedder.encoders.masked import MASKED_METHODS, add_mask_slots, run_masked
from inbedder.encoders.sampling import RowSampler
from inbedder.encoders.shared_prefix import TextPrompts, prefix_batches, run_shared_prefix
from inbedder.encoders.seq2seq import SEQ2SEQ_METHODS, run_seq2seq
from inbedder.encoders.states import DIRECT_METHODS, AnswerStates, pool
from inbedder.errors import InBedderError
from inbedder.methods import METHODS, SENTENCE_METHODS
from inbedder.models import (
    CAUSAL, MASKED, SEQ2SEQ, LoadedModel, adapter_metadata, cache_dir, load_generator, load_sentence_encoder,
    resolve_adapter,
)
from inbedder.prompts import BRIEF_CHAT_TEMPLATE, INBEDDER_TEMPLATE, NAMED_TEMPLATES, PromptBuilder
from inbedder.stopwords import ENGLISH_STOPWORDS, word_set, words
from inbedder.validation import MAX_SEED, check_instruction

logger = logging.getLogger(__name__)

_FAMILY_METHODS = {
    CAUSAL: DIRECT_METHODS + SENTENCE_METHODS,
    MASKED: MASKED_METHODS + SENTENCE_METHODS,
    SEQ2SEQ: SEQ2SEQ_METHODS + SENTENCE_METHODS,
}
_GENERATING = {"avg-gen", "last-gen", "avg-all", "re-enc"}
_TOKENS_PER_BATCH = 16384  # caps batch_size × prompt length, so long texts never exhaust memory
_WINDOW = 1024  # texts tokenised and length-sorted at a time, so memory stays flat on huge corpora
DEFAULT_ANSWER_TOKENS = 8  # answer length without an adapter; adapters record their own (3 for InBedder models)


@dataclass
class Encoded:
    """Embeddings with the generated answer of every text (same order as the input).

    ``answer_prefix`` is the prefix every answer was continued from (resolved, never "auto");
    ``cached`` and ``computed`` count the distinct texts read from the cache and embedded now.
    """

    embeddings: np.ndarray
    answers: list[str]
    answer_prefix: str = ""
    cached: int = 0
    computed: int = 0


Progress = Callable[[int, int], None]
"""``progress(done, total)``: called after each batch with the texts (or answers) embedded so far."""


class InBedder:
    """An instruction-following embedder over a causal, masked or seq2seq LM.

    Args:
        model: hub id or local directory; None for the embedded SmolLM2-135M-Instruct.
        adapter: a LoRA adapter directory to merge into the model; with no model and no adapter
            the shipped InBedder adapter of the embedded model is used ("none" to go without).
        template: "inbedder", "chat", "chat-brief", or a string with {input} and {instruction};
            "auto" picks the adapter's training template, else chat-brief for chat models.
        method: default encoding method (see :data:`METHODS`); None picks 1st-gen, or avg-gen
            for masked LMs, which have no generation step.
        max_new_tokens: answer length (None: the adapter's recorded length, else 8) for generating methods and for the answers kept for
            explanation; masked LMs use it as the number of mask slots.
        layer: hidden layer to read (None = last, the state that feeds the LM head).
        filter_answer_words: drop states that produced stopwords, punctuation or instruction
            words before pooling avg-gen/last-gen/avg-all (paper §4.3).
        answer_prefix: "auto" appends the opening the model's answers share (the question
            echo, e.g. "The sentiment of the review is") to the prompt so that 1st-gen is the
            state choosing the first content word (see :mod:`inbedder.answer_prefix`); "" for
            none; any other string is used as is.
        samples, temperature: answers sampled per text for re-enc.
        compile: run causal prompt passes through ``torch.compile`` (about 20 % faster on CPU
            after a one-off compile of one to three minutes: worth it from a few thousand texts).
        cache: on-disk cache file; None for the default under the cache dir, False for none.
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
    ):
        if cache is False:
            cache_path: str | Path = ":memory:"
        else:
            cache_path = cache or cache_dir() / "embeddings.sqlite"
        self.cache = EmbeddingCache(cache_path)  # first: a damaged cache fails before the model loads
        self.loaded: LoadedModel = load_generator(model, resolve_adapter(model, adapter), device)
        self.loaded.check_layer(layer)
        self.adapter_metadata = adapter_metadata(self.loaded.adapter)
        if compile:
            if self.loaded.family != CAUSAL:
                raise InBedderError(f"--compile speeds up causal LMs only; {self.loaded.name} is a {self.loaded.family} model: drop --compile")
            compile_prompt_pass(self.loaded.model)
        self.template = self._pick_template(template)
        self.method = self.check_method(method or self.methods[0])
        if max_length < 16:
            raise InBedderError(f"--max-length {max_length} is too small; use at least 16 tokens (default 512)")
        limit = self.loaded.limits()[1]
        if limit is not None and max_length > limit:
            raise InBedderError(f"--max-length {max_length} is above what {self.loaded.name} can read ({limit} tokens); use at most {limit}")
        if max_new_tokens is None:
            max_new_tokens = self.adapter_metadata.get("max_new_tokens") or DEFAULT_ANSWER_TOKENS
        if answer_prefix == "auto" and isinstance(self.adapter_metadata.get("answer_prefix"), str):
            answer_prefix = self.adapter_metadata["answer_prefix"]  # a trained model answers without an echo
        if max_new_tokens < 1:
            raise InBedderError(f"max_new_tokens must be at least 1 (got {max_new_tokens}); leave it out for the adapter's own length")
        if not 0 <= seed <= MAX_SEED:
            raise InBedderError(f"seed must be a non-negative 32-bit integer (got {seed})")
        self.prompts = PromptBuilder(self.loaded.tokenizer, self.template, max_length)
        self.max_new_tokens = max_new_tokens
        self.layer = layer
        self.filter_answer_words = filter_answer_words
        self.answer_prefix = answer_prefix
        self.samples = max(1, samples)
        self.temperature = temperature
        self.sentence_encoder_name = sentence_encoder
        self._sentence_encoder = None
        self.seed = seed

    # ----------------------------------------------------------------- configuration
    @property
    def family(self) -> str:
        return self.loaded.family

    @property
    def methods(self) -> tuple[str, ...]:
        """The encoding methods this model's architecture supports."""
        return _FAMILY_METHODS[self.family]

    def check_method(self, method: str) -> str:
        if method not in METHODS:
            raise InBedderError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
        if method not in self.methods:
            raise InBedderError(
                f"method {method!r} does not exist for {self.family} models like {self.loaded.name}; "
                f"choose one of: {', '.join(self.methods)}"
            )
        return method

    def _pick_template(self, template: str) -> str:
        if template != "auto":
            return template
        adapter_template = self.adapter_metadata.get("template")
        if adapter_template in NAMED_TEMPLATES or (adapter_template and "{input}" in adapter_template):
            return adapter_template
        if self.family == CAUSAL and getattr(self.loaded.tokenizer, "chat_template", None):
            return BRIEF_CHAT_TEMPLATE
        return INBEDDER_TEMPLATE

    def settings(self, method: str, instruction: str) -> dict:
        """Everything that determines an embedding besides the text: the cache key."""
        settings = {
            "model": self.loaded.fingerprint,
            "method": method,
            "template": self.prompts.signature,
            "layer": self.layer,
            "max_length": self.prompts.max_length,
            "max_new_tokens": self.max_new_tokens,
            "instruction": instruction,
        }
        if method in {"avg-gen", "last-gen", "avg-all"}:
            settings["filter_answer_words"] = self.filter_answer_words
        if method in SENTENCE_METHODS:
            settings["sentence_encoder"] = self.sentence_encoder_name or "embedded:all-MiniLM-L6-v2"
        if method == "re-enc":
            # "sampler": draws are seeded per (text, question, sample), so they do not depend on the batch
            settings.update(samples=self.samples, temperature=self.temperature, seed=self.seed, sampler="per-row")
        return settings

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
        method = self.check_method(method or self.method)
        instruction = check_instruction(instruction)
        texts = _check_texts(texts)
        if batch_size < 1:
            raise InBedderError(f"--batch-size must be at least 1 (got {batch_size})")
        unique = list(dict.fromkeys(texts))  # duplicates are embedded once
        prefix = self.prompts.answer_prefix = self.resolve_answer_prefix(unique, instruction)
        digest = settings_key(self.settings(method, instruction))
        keys = {text: EmbeddingCache.key(digest, text) for text in unique}
        found = self.cache.get(list(keys.values()))
        missing = [text for text in unique if _needs_work(found.get(keys[text]), answers)]
        show = len(missing) >= 32 if show_progress_bar is None else show_progress_bar
        _report_cached(len(unique) - len(missing), len(missing), show)
        if missing:
            with tqdm(total=len(missing), desc=f"InBedder {method}", unit="text", disable=not show) as bar:
                for batch in self._length_batches(missing, instruction, batch_size, reserve=self._reserve()):
                    vectors, batch_answers = self._encode_batch([t for t, _ in batch], [ids for _, ids in batch], instruction, method, answers)
                    self.cache.put(
                        (keys[text], vector, answer) for (text, _), vector, answer in zip(batch, vectors, batch_answers)
                    )
                    bar.update(len(batch))
                    if progress is not None:
                        progress(bar.n, len(missing))
            self.prompts.report_truncation()
        return self._collect(texts, keys, normalize_embeddings, answers, prefix=prefix, computed=len(missing))

    def _collect(
        self, texts: list[str], keys: dict[str, str], normalize_embeddings: bool, answers: bool, *, prefix: str,
        computed: int,
    ) -> Encoded:
        """The cached embeddings (and answers) of ``texts``, in their order."""
        found = self.cache.get(list(keys.values()))
        embeddings = np.stack([found[keys[text]][0] for text in texts])
        if normalize_embeddings:
            embeddings = embeddings / np.clip(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12, None)
        kept = [found[keys[text]][1] or "" for text in texts] if answers else []
        return Encoded(embeddings, kept, answer_prefix=prefix, cached=len(keys) - computed, computed=computed)

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
        meet one corpus (robustness tests, comparisons): it is the place where work shared
        between questions is done once.
        """
        if isinstance(instructions, str) or not list(instructions):
            raise InBedderError("instructions must be a non-empty list of questions")
        given = list(dict.fromkeys(instructions))
        method = self.check_method(method or self.method)
        if not self._shares_prefixes(method, answers, given):
            return {
                instruction: self.encode_with_answers(
                    texts, instruction, method=method, batch_size=batch_size, show_progress_bar=show_progress_bar,
                    normalize_embeddings=normalize_embeddings, answers=answers, progress=progress,
                )
                for instruction in given
            }
        stripped = {instruction: check_instruction(instruction) for instruction in given}
        questions = list(dict.fromkeys(stripped.values()))
        texts = _check_texts(texts)
        if batch_size < 1:
            raise InBedderError(f"--batch-size must be at least 1 (got {batch_size})")
        unique = list(dict.fromkeys(texts))
        prefixes = self._answer_prefixes(unique, questions)
        keys: dict[str, dict[str, str]] = {}
        pending: dict[str, list[str]] = {}  # text -> questions still to compute, in question order
        for question in questions:
            self.prompts.answer_prefix = prefixes[question]
            digest = settings_key(self.settings(method, question))
            keys[question] = {text: EmbeddingCache.key(digest, text) for text in unique}
            found = self.cache.get(list(keys[question].values()))
            for text in unique:
                if _needs_work(found.get(keys[question][text]), answers):
                    pending.setdefault(text, []).append(question)
        total = sum(len(asked) for asked in pending.values())
        show = total >= 32 if show_progress_bar is None else show_progress_bar
        _report_cached(len(unique) * len(questions) - total, total, show, unit="answers")
        if pending:
            with tqdm(total=total, desc=f"InBedder {method} × {len(questions)} questions", unit="answer", disable=not show) as bar:
                self._encode_shared(pending, prefixes, keys, method, batch_size, answers, bar, progress)
            self.prompts.report_truncation()
        self.prompts.answer_prefix = prefixes[questions[-1]]
        computed = {question: sum(question in asked for asked in pending.values()) for question in questions}
        return {
            instruction: self._collect(
                texts, keys[stripped[instruction]], normalize_embeddings, answers,
                prefix=prefixes[stripped[instruction]], computed=computed[stripped[instruction]],
            )
            for instruction in given
        }

    def _shares_prefixes(self, method: str, answers: bool, instructions: list[str]) -> bool:
        """Whether the shared-prefix path applies: several questions, a causal LM, deterministic answers.

        re-enc's draws are seeded per row, so they are the same in either layout. prompt without
        answers never runs the LM and keeps the per-question path.
        """
        if len(instructions) < 2 or self.family != CAUSAL:
            return False
        return method in DIRECT_METHODS or method == "re-enc" or (method == "prompt" and answers)

    def _answer_prefixes(self, texts: list[str], questions: list[str]) -> dict[str, str]:
        """The answer prefix of every question; the probes of uncached ones share one input pass."""
        if self.answer_prefix != "auto":
            return {question: self.answer_prefix for question in questions}
        sample = evenly_spaced(texts)
        self.prompts.answer_prefix = ""
        probe_keys = {question: self._probe_key(sample, question) for question in questions}
        found = self.cache.get(list(probe_keys.values()))
        prefixes = {q: found[k][1] for q, k in probe_keys.items() if k in found and found[k][1] is not None}
        todo = [question for question in questions if question not in prefixes]
        if not todo:
            return prefixes
        groups = [TextPrompts([self.prompts.ids(question, text) for question in todo]) for text in sample]
        answers: dict[tuple[int, int], list[int]] = {}
        for batch in prefix_batches(groups, 16, _TOKENS_PER_BATCH):
            chunked = run_shared_prefix(
                self.loaded.model, [groups[t] for t in batch], self.loaded.tokenizer.pad_token_id, self._stop_ids(),
                PROBE_TOKENS, max_tokens=_TOKENS_PER_BATCH,
            )
            for pairs, states in chunked:
                for (t, q), tokens, keep in zip(pairs, states.tokens.tolist(), states.keep.tolist()):
                    answers[batch[t], q] = [token for token, flag in zip(tokens, keep) if flag]
        for q, question in enumerate(todo):
            # the order of resolve_answer_prefix (prompts sorted by length), which breaks ties alike
            order = sorted(range(len(groups)), key=lambda t: len(groups[t].prompts[q]))
            prefixes[question] = self._store_prefix(probe_keys[question], question, [answers[t, q] for t in order])
        return prefixes

    def _encode_shared(
        self, pending: dict[str, list[str]], prefixes: dict[str, str], keys: dict[str, dict[str, str]],
        method: str, batch_size: int, answers: bool, bar, progress: Progress | None,
    ) -> None:
        """Embed every pending (text, question) pair with one prefix pass per text; cache each chunk."""
        generate = method in _GENERATING or answers
        filtered = self.filter_answer_words and method in {"avg-gen", "last-gen", "avg-all"}
        samples = self.samples if method == "re-enc" else 1
        for batch in self._shared_batches(pending, prefixes, batch_size):

            def sampler_for(pairs: list[tuple[int, int]]) -> RowSampler | None:
                return self._sampler([(batch[t][1][q], batch[t][0]) for t, q in pairs])

            chunked = run_shared_prefix(
                self.loaded.model, [group for _, _, group in batch], self.loaded.tokenizer.pad_token_id,
                self._stop_ids(), self.max_new_tokens if generate else 0, self.layer,
                need_prompt=method in {"avg-ppt", "avg-all"}, max_tokens=_TOKENS_PER_BATCH,
                samples=samples, sampler_for=sampler_for if method == "re-enc" else None,
            )
            for pairs, states in chunked:
                rows = [(batch[t][0], batch[t][1][q]) for t, q in pairs]
                if method == "re-enc":
                    vectors, replies = self._reencode(states, len(rows), answers)
                elif method == "prompt":
                    replies = self._decode(states) if answers else [None] * len(rows)
                    vectors = self._sentence_vectors([f"{question} {text}" for text, question in rows])
                else:
                    replies = self._decode(states) if answers else [None] * len(rows)
                    if filtered:
                        states.keep &= torch.cat([
                            self._informative(states.tokens[r : r + 1], question) for r, (_, question) in enumerate(rows)
                        ])
                    vectors = pool(states, method).float().cpu().numpy()
                self.cache.put(
                    (keys[question][text], vector, reply) for (text, question), vector, reply in zip(rows, vectors, replies)
                )
                bar.update(len(rows))
                if progress is not None:
                    progress(bar.n, bar.total)

    def _shared_batches(self, pending: dict[str, list[str]], prefixes: dict[str, str], batch_size: int):
        """Texts with their questions' prompts, sorted by shared-prefix length within windows, in batches.

        Prompts are tokenised one window at a time so that a huge corpus never holds all its
        token ids at once.
        """
        items = list(pending.items())
        for window_start in range(0, len(items), _WINDOW):
            window = []
            for text, asked in items[window_start : window_start + _WINDOW]:
                prompts = []
                for question in asked:
                    self.prompts.answer_prefix = prefixes[question]
                    prompts.append(self.prompts.ids(question, text))
                window.append((text, asked, TextPrompts(prompts)))
            for batch in prefix_batches([group for _, _, group in window], batch_size, _TOKENS_PER_BATCH):
                yield [window[index] for index in batch]

    def resolve_answer_prefix(self, texts: list[str], instruction: str) -> str:
        """The answer prefix for this instruction: fixed, or found from a sample of ``texts`` (cached)."""
        if self.answer_prefix != "auto":
            return self.answer_prefix
        if self.family != CAUSAL:
            return ""  # masked slots and seq2seq decoders do not echo the question
        sample = evenly_spaced(texts)
        self.prompts.answer_prefix = ""
        key = self._probe_key(sample, instruction)
        cached = self.cache.get([key]).get(key)
        if cached is not None and cached[1] is not None:
            return cached[1]
        answers: list[list[int]] = []
        for batch in self._length_batches(sample, instruction, 16, reserve=0):
            states = self._run([ids for _, ids in batch], greedy_tokens=PROBE_TOKENS)
            for tokens, keep in zip(states.tokens.tolist(), states.keep.tolist()):
                answers.append([token for token, flag in zip(tokens, keep) if flag])
        return self._store_prefix(key, instruction, answers)

    def _probe_key(self, sample: list[str], instruction: str) -> str:
        """Cache key of the answer-prefix probe (computed with no answer prefix in the prompt)."""
        probe = {"probe": "answer-prefix", "model": self.loaded.fingerprint, "template": self.prompts.signature,
                 "max_length": self.prompts.max_length, "instruction": instruction}
        return EmbeddingCache.key(settings_key(probe), "\x00".join(sample))

    def _store_prefix(self, key: str, instruction: str, answers: list[list[int]]) -> str:
        """The prefix the probe's ``answers`` share, stored under the probe's cache ``key``."""
        tokenizer = self.loaded.tokenizer
        opening = shared_opening(answers, tokenizer.decode, instruction, self._stop_ids())
        prefix = " ".join(tokenizer.decode(opening, skip_special_tokens=True).split())
        self.cache.put([(key, None, prefix)])
        if prefix:
            logger.info("answer prefix for %r: %r", instruction, prefix)
        return prefix

    # ----------------------------------------------------------------- internals
    def _reserve(self) -> int:
        return self.max_new_tokens if self.family == MASKED else 0

    def _length_batches(self, texts: list[str], instruction: str, batch_size: int, reserve: int):
        """Prompts sorted by token length and grouped so that padding is minimal.

        Texts are tokenised and sorted one window of ``_WINDOW`` at a time, so a huge corpus
        never holds all its token ids at once (memory stays flat; the cache takes the results).
        """
        for start in range(0, len(texts), _WINDOW):
            prompts = [(text, self.prompts.ids(instruction, text, reserve)) for text in texts[start : start + _WINDOW]]
            prompts.sort(key=lambda item: len(item[1]))
            batch: list[tuple[str, list[int]]] = []
            for item in prompts:
                width = len(item[1]) + reserve
                if batch and (len(batch) >= batch_size or (len(batch) + 1) * width > _TOKENS_PER_BATCH):
                    yield batch
                    batch = []
                batch.append(item)
            if batch:
                yield batch

    def _encode_batch(
        self, texts: list[str], batch: list[list[int]], instruction: str, method: str, answers: bool
    ) -> tuple[list[np.ndarray], list[str | None]]:
        if method == "prompt":
            vectors = self._sentence_vectors([f"{instruction} {text}" for text in texts])
            replies = self._decode(self._run(batch, greedy_tokens=self.max_new_tokens)) if answers else [None] * len(texts)
            return list(vectors), replies
        if method == "re-enc":
            sampler = self._sampler([(instruction, text) for text in texts])
            states = self._run(batch, greedy_tokens=self.max_new_tokens, samples=self.samples, sampler=sampler)
            return self._reencode(states, len(batch), answers)
        generate = method in _GENERATING or answers
        states = self._run(batch, greedy_tokens=self.max_new_tokens if generate else 0, need_prompt=method in {"avg-ppt", "avg-all"})
        replies = self._decode(states) if answers else [None] * len(texts)
        if self.filter_answer_words and method in {"avg-gen", "last-gen", "avg-all"}:
            states.keep &= self._informative(states.tokens, instruction)
        vectors = pool(states, method).float().cpu().numpy()
        return list(vectors), replies

    def _sampler(self, rows: list[tuple[str, str]]) -> RowSampler | None:
        """Generators for re-enc's sampled answers of (question, text) ``rows``; None when decoding is greedy."""
        if self.temperature <= 0 or self.samples < 2:
            return None
        return RowSampler.for_rows(self.seed, rows, self.samples, self.temperature, self.loaded.model.device)

    def _reencode(self, states: AnswerStates, rows: int, answers: bool) -> tuple[list[np.ndarray], list[str | None]]:
        """re-enc: the mean sentence embedding of each row's sampled answers (paper §4.2)."""
        sampled = self._decode(states)
        vectors = self._sentence_vectors(sampled).reshape(rows, self.samples, -1).mean(1)
        return list(vectors), sampled[:: self.samples] if answers else [None] * rows

    def _run(
        self, batch: list[list[int]], greedy_tokens: int, need_prompt: bool = False, samples: int = 1,
        sampler: RowSampler | None = None,
    ) -> AnswerStates:
        model, tokenizer = self.loaded.model, self.loaded.tokenizer
        pad = tokenizer.pad_token_id
        if self.family == MASKED:
            slots = self.max_new_tokens
            special = set(tokenizer.all_special_ids)
            with_slots = [add_mask_slots(ids, tokenizer.mask_token_id, slots, special) for ids in batch]
            return run_masked(model, with_slots, pad, tokenizer.mask_token_id, special, self.layer)
        if self.family == SEQ2SEQ:
            if samples > 1:  # the encoder pass is cheap next to decoding: repeat the prompts
                batch = [ids for ids in batch for _ in range(samples)]
            return run_seq2seq(model, batch, pad, self._stop_ids(), greedy_tokens, self.layer, sampler)
        return run_causal(model, batch, pad, self._stop_ids(), greedy_tokens, self.layer, need_prompt, samples, sampler)

    def _stop_ids(self) -> set[int]:
        ids = set()
        for source in (self.loaded.model.generation_config.eos_token_id, self.loaded.tokenizer.eos_token_id):
            if source is not None:
                ids.update(source if isinstance(source, (list, tuple)) else [source])
        return ids or {self.loaded.tokenizer.pad_token_id}

    def _decode(self, states: AnswerStates) -> list[str]:
        tokenizer = self.loaded.tokenizer
        rows = []
        for tokens, keep in zip(states.tokens.tolist(), states.keep.tolist()):
            kept = [token for token, flag in zip(tokens, keep) if flag]
            rows.append(" ".join(tokenizer.decode(kept, skip_special_tokens=True).split()))
        return rows

    def _informative(self, tokens: torch.Tensor, instruction: str) -> torch.Tensor:
        """True where a generated token carries content: not a stopword, instruction word or punctuation."""
        tokenizer = self.loaded.tokenizer
        unwanted = ENGLISH_STOPWORDS | word_set(instruction)
        flags = []
        for token in tokens.flatten().tolist():
            found = words(tokenizer.decode([token]))
            flags.append(bool(found) and not all(word in unwanted for word in found))
        return torch.tensor(flags, dtype=torch.bool, device=tokens.device).view_as(tokens)

    def _sentence_vectors(self, sentences: list[str]) -> np.ndarray:
        if self._sentence_encoder is None:
            self._sentence_encoder = load_sentence_encoder(self.sentence_encoder_name, str(self.loaded.model.device))
        return self._sentence_encoder.encode(sentences, batch_size=64, show_progress_bar=False, convert_to_numpy=True)


def _report_cached(cached: int, todo: int, show: bool, unit: str = "texts") -> None:
    """One line before the bar: how much the cache already holds and how much is left to embed."""
    if show:
        print(f"InBedder: {cached} {unit} cached, {todo} to embed", file=sys.stderr, flush=True)


def _needs_work(row: tuple[np.ndarray | None, str | None] | None, answers: bool) -> bool:
    """Whether a cache row is absent or lacks the vector, or the answer when answers are wanted."""
    return row is None or row[0] is None or (answers and row[1] is None)


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise InBedderError("texts must be a list of strings, not one string; wrap it: encode([text], …)")
    texts = list(texts)
    if not texts:
        raise InBedderError("there are no texts to embed; pass at least one non-empty text")
    for position, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise InBedderError(f"text #{position} is empty or not a string; drop empty rows before encoding")
    return texts

"""A BERTopic embedding backend: topics that follow *your* question, not the texts' surface.

``pip install -e '.[bertopic]'``, then::

    from bertopic import BERTopic
    from inbedder.integrations.bertopic import InBedderBackend

    backend = InBedderBackend("What is the customer complaining about?")
    topics, _ = BERTopic(embedding_model=backend).fit_transform(reviews)

Documents are embedded by :meth:`inbedder.InBedder.encode` under the backend's instruction.
Words (BERTopic's ``embed_words``, used by representation models such as
``MaximalMarginalRelevance`` and by ``find_topics``) are embedded the same way, each word read
as a tiny text under the same instruction: so a word lands near the topics whose documents make
the model answer the same, and word-topic similarities live in the documents' space. Each word
costs one model pass, like a document (cached on disk as documents are).

The model loads on first use, so building a ``BERTopic`` is instant and a pickled topic model
(``BERTopic.save(..., serialization="pickle")``) carries the backend's settings, not the weights.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from inbedder.errors import InBedderError, one_line
from inbedder.encoding.methods import METHODS
from inbedder.validation import check_instruction, check_options

try:
    from bertopic.backend import BaseEmbedder
except ImportError as error:
    raise InBedderError(
        f"the BERTopic backend needs BERTopic ({one_line(error)}); install it with: pip install -e '.[bertopic]'"
    ) from error

if TYPE_CHECKING:
    from inbedder.encoding.embedder import InBedder

__all__ = ["InBedderBackend"]


class InBedderBackend(BaseEmbedder):
    """BERTopic's ``embedding_model`` that embeds each text by how the LM answers ``instruction``.

    Args:
        instruction: the question asked about every document (and word), e.g. "What is the
            customer complaining about?"; it decides what the topics are about.
        model: catalogue name, hub id or local directory of the LM; None for the default model
            with its shipped InBedder adapter; or an already built :class:`~inbedder.InBedder` to share
            (then ``adapter`` and InBedder options belong to that object and are refused here).
        method: encoding method (see :data:`inbedder.METHODS`); None for the model's default.
        adapter: LoRA adapter directory, or "none" (see :class:`~inbedder.InBedder`).
        batch_size: texts per forward pass.
        normalize_embeddings: return unit-length rows (BERTopic's defaults do not need it).
        **options: any other :class:`~inbedder.InBedder` keyword (``device``, ``cache``, ``template``…),
            checked now so that a typo fails before ``fit`` rather than after it.
    """

    def __init__(
        self,
        instruction: str,
        *,
        model: str | InBedder | None = None,
        method: str | None = None,
        adapter: str | None = None,
        batch_size: int = 16,
        normalize_embeddings: bool = False,
        **options: Any,
    ):
        super().__init__()
        self.instruction = check_instruction(instruction)
        if method is not None and method not in METHODS:
            raise InBedderError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}", parameter="method")
        check_options(SimpleNamespace(batch_size=batch_size, **options))
        self.method = method
        self.batch_size = batch_size
        self.normalize_embeddings = normalize_embeddings
        self._settings: dict[str, Any] | None = None  # None: a shared InBedder, which pickling keeps as is
        if _is_inbedder(model):
            given = ["adapter"] * (adapter is not None) + sorted(options)
            if given:
                raise InBedderError(
                    f"{', '.join(given)} cannot change an InBedder that is already built; set them when you build it, "
                    "or pass `model` as a name", parameter=given,
                )
            self.embedding_model = model
        else:
            _check_option_names(options)
            self._settings = {"model": model, "adapter": adapter, **options}
        # The answer prefix the first documents resolved to (answer_prefix="auto" only): later
        # documents and words reuse it, so that transform() and word embeddings share fit()'s prompt.
        self.answer_prefix_: str | None = None

    # ----------------------------------------------------------------- BERTopic's interface
    def embed(self, documents: Sequence[str], verbose: bool | None = False) -> np.ndarray:
        """Embed documents under the instruction: an array [n, dim], rows in the input's order."""
        model = self.inbedder
        if self.answer_prefix_ is not None:
            model = model.with_answer_prefix(self.answer_prefix_)
        encoded = model.encode_with_answers(
            _texts(documents), self.instruction, method=self.method, batch_size=self.batch_size,
            show_progress_bar=verbose, normalize_embeddings=self.normalize_embeddings, answers=False,
        )
        if self.answer_prefix_ is None and model.answer_prefix == "auto":
            self.answer_prefix_ = encoded.answer_prefix
        return encoded.embeddings

    def embed_documents(self, document: Sequence[str], verbose: bool | None = False) -> np.ndarray:
        """BERTopic's document hook (fit, transform, KeyBERTInspired's vocabulary): :meth:`embed`."""
        return self.embed(document, verbose)

    def embed_words(self, words: Sequence[str], verbose: bool | None = False) -> np.ndarray:
        """Each word as a short text under the same instruction (see the module's docstring).

        Words never fix the answer prefix: a probe on bare words would pick a prompt the
        documents were not embedded with.
        """
        model = self.inbedder
        if self.answer_prefix_ is not None:
            model = model.with_answer_prefix(self.answer_prefix_)
        return model.encode(
            _texts(words), self.instruction, method=self.method, batch_size=self.batch_size,
            show_progress_bar=verbose, normalize_embeddings=self.normalize_embeddings,
        )

    # ----------------------------------------------------------------- the lazily built model
    @property
    def inbedder(self) -> InBedder:
        """The :class:`~inbedder.InBedder` behind this backend, built on first use."""
        if self.embedding_model is None:
            from inbedder.encoding.embedder import InBedder

            settings = dict(self._settings or {})
            self.embedding_model = InBedder(settings.pop("model"), settings.pop("adapter"), **settings)
        return self.embedding_model

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the settings, not the loaded weights and cache connection (rebuilt on first use)."""
        state = self.__dict__.copy()
        if self._settings is not None:
            state["embedding_model"] = None
        return state

    def __repr__(self) -> str:
        model = self._settings["model"] if self._settings is not None else self.embedding_model.loaded.name
        return f"InBedderBackend(instruction={self.instruction!r}, model={model!r}, method={self.method!r})"


def _is_inbedder(model: object) -> bool:
    if model is None or isinstance(model, str):
        return False
    from inbedder.encoding.embedder import InBedder

    if not isinstance(model, InBedder):
        raise InBedderError(
            f"`model` must be a hub id, a local model directory, an InBedder or None, not {type(model).__name__}",
            parameter="model",
        )
    return True


def _check_option_names(options: dict[str, Any]) -> None:
    from inbedder.encoding.embedder import InBedder

    accepted = [name for name in inspect.signature(InBedder.__init__).parameters if name not in ("self", "model", "adapter")]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise InBedderError(
            f"unknown InBedder option {', '.join(map(repr, unknown))}; choose from: {', '.join(accepted)}",
            parameter=unknown,
        )


def _texts(texts: Sequence[str] | str) -> list[str]:
    """BERTopic passes lists, numpy arrays, or (for one search term) a bare string."""
    return [texts] if isinstance(texts, str) else list(texts)  # InBedder's own checks refuse empty rows

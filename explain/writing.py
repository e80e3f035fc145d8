"""The model that writes names and descriptions, and the one call through which it writes.

Writing goes through the engine like any answer: greedy (a rerun gives the same words) and
cached, with the answer length part of the cache key so a sentence never reuses a short answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from inbedder.errors import InBedderError

if TYPE_CHECKING:
    from inbedder.encoding.embedder import InBedder

WRITER_TEMPLATE = "chat"  # the writer's own chat format, without the embedder's "one to three words" system turn
WRITER_TOKENS = 48  # one sentence


def default_writer() -> str:
    """The largest catalogue model that is fetched here (the catalogue lists models smallest first)."""
    from inbedder.models.catalogue import catalogue, status

    fetched = [name for name, entry in catalogue().items() if status(entry)["fetched"]]
    if not fetched:
        raise InBedderError("no catalogue model is fetched to write descriptions; run `inbedder models fetch "
                            "smollm2-135m` or pass --writer-model", parameter="writer_model")
    return fetched[-1]


def load_writer(name: str | None = None, **options) -> InBedder:
    """The writing model: a catalogue name, hub id or folder, zero-shot (no adapter), in its chat format.

    Zero-shot because the InBedder adapters are trained to answer in one to three words; a
    sentence needs the instruction model as it was released.
    """
    from inbedder.encoding.embedder import InBedder
    from inbedder.models.sources import NO_ADAPTER

    name = name or default_writer()
    try:
        writer = InBedder(name, adapter=NO_ADAPTER, template=WRITER_TEMPLATE, answer_prefix="",
                          max_new_tokens=WRITER_TOKENS, **options)
    except InBedderError as error:
        if error.parameter != "template":
            raise
        raise InBedderError(f"{name} cannot write names or descriptions: it has no chat format; pass --writer-model "
                            "with an instruction model (a catalogue name: `inbedder models`)", parameter="writer_model") from None
    _check_can_write(writer)
    return writer


def _check_can_write(writer: InBedder) -> None:
    from inbedder.models.loading import CAUSAL

    if writer.family != CAUSAL:
        raise InBedderError(f"{writer.loaded.name} cannot write names or descriptions: it is a {writer.family} model, "
                            "not a generative one; pass --writer-model with a catalogue name", parameter="writer_model")


def write(writer: InBedder, inputs: Mapping[int, str], question: str, *, max_new_tokens: int,
          template: str | None = None, batch_size: int = 8, show_progress_bar: bool = False) -> dict[int, str]:
    """{cluster: the writer's raw answer to ``question`` about ``inputs[cluster]``}, greedy and cached.

    ``template``: another prompt format for this call (``chat-brief`` for names: its system turn
    asks for a few words, which keeps a small chat model from answering "This short name is…").
    """
    from inbedder.encoding.prompts import PromptBuilder

    _check_can_write(writer)
    writer = writer.with_answer_prefix("")
    if template is not None:  # the prompt's signature is part of the cache key, so formats never share answers
        writer.template = template
        writer.prompts = PromptBuilder(writer.loaded.tokenizer, template, writer.prompts.max_length)
    writer.max_new_tokens = max_new_tokens  # a setting of the cache key: a sentence never reuses a short answer
    clusters = list(inputs)
    encoded = writer.encode_with_answers([inputs[c] for c in clusters], question, method="1st-gen",
                                         batch_size=batch_size, show_progress_bar=show_progress_bar)
    return dict(zip(clusters, encoded.answers))

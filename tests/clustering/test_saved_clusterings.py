"""Issue #26: saved clusterings on a tiny model. ``--save-clustering`` replaces only its two files,
a drill-down of a drill-down applies every ancestor's filter, a saved record is checked field by
field before any model loads (also by mutating it at random), and an uploaded .zip is bounded.
"""

from __future__ import annotations

import copy
import io
import json
import math
import os
import stat
import tempfile
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import load_file, save

from inbedder import InBedder, InstructionClusterer
from inbedder.cli.main import main
from inbedder.errors import InBedderError
from inbedder.clustering.persistence import CENTROIDS_FILE, CONFIG_FILE, read_record, read_saved

WORDS = "pasta staff price jazz ramen bill wine noise view dessert waiter table".split()
TEXTS = [f"The {WORDS[i % 12]} and the {WORDS[(i * 5) % 12]} were {'good' if i % 3 else 'bad'}, visit {i}." for i in range(30)]
QUESTION = "What is the review about?"


@pytest.fixture(scope="module")
def tiny(tiny_models):
    return InBedder(tiny_models["llama"], template="inbedder", max_new_tokens=3, cache=False)


@pytest.fixture(scope="module")
def fitted(tiny):
    return InstructionClusterer(tiny, QUESTION, n_clusters=3, min_similarity="auto").fit(TEXTS)


def _cli(tiny_models, *extra):
    return ["--model", tiny_models["llama"], "--template", "inbedder", "--max-new-tokens", "3", "--quiet", *extra]


def _one_line(capsys, *words) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("inbedder: error:") and len(err.splitlines()) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, (word, err)
    return err


def _texts_csv(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"id": [f"r{i}" for i in range(len(TEXTS))], "review": TEXTS}).to_csv(path, index=False)
    return path


def _files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes (the test's embedding cache left out)."""
    found = {}
    for folder, folders, names in os.walk(root):
        folders[:] = [name for name in folders if Path(folder, name) != root / "cache"]
        found.update({os.path.join(folder, name): Path(folder, name).read_bytes() for name in names})
    return found


def _write(folder: Path, record, tensors: dict[str, np.ndarray]) -> None:
    """A crafted saved clustering: the tensors, and the record naming their digest as InBedder's would."""
    import hashlib

    data = save(tensors)
    if isinstance(record, dict):
        record = {**record, "centroids_sha256": hashlib.sha256(data).hexdigest()}
    (folder / CENTROIDS_FILE).write_bytes(data)
    (folder / CONFIG_FILE).write_text(json.dumps(record), encoding="utf-8")


# --------------------------------------------------------------------------- 1. what --save-clustering replaces
def test_saving_again_replaces_only_its_two_files_and_cleans_up_stale_leftovers(fitted, tmp_path):
    folder = fitted.save(tmp_path / "c")
    (folder / "texts.csv").write_text("keep me")
    (folder / "child").mkdir()
    (folder / "child" / "notes.txt").write_text("keep me too")
    gone_pid = 2**31 - 2  # no such process: its temporary file is a leftover
    stale = folder / f".{CONFIG_FILE}.partial-{gone_pid}-abcd1234"
    stale.write_text("{")
    old_staging, old_backup = tmp_path / ".c.partial-x1y2", tmp_path / ".c.old-4242"  # older versions' folders
    for leftover in (old_staging, old_backup):
        leftover.mkdir()
        (leftover / CONFIG_FILE).write_text("{}")
    holding_user_files = tmp_path / ".c.old-77"
    holding_user_files.mkdir()
    (holding_user_files / "report.docx").write_text("the user's")
    before = (folder / CENTROIDS_FILE).read_bytes()

    other = InstructionClusterer(fitted.model, "Is the customer happy?", n_clusters=2).fit(TEXTS)
    assert other.save(folder) == folder
    assert sorted(p.name for p in folder.iterdir()) == sorted([CENTROIDS_FILE, CONFIG_FILE, "child", "texts.csv"])
    assert (folder / "texts.csv").read_text() == "keep me" and (folder / "child" / "notes.txt").read_text() == "keep me too"
    record, tensors = read_saved(folder)
    assert record["instruction"] == "Is the customer happy?" and (folder / CENTROIDS_FILE).read_bytes() != before
    assert len(tensors["cluster_centers"]) == 2
    assert not old_staging.exists() and not old_backup.exists() and (holding_user_files / "report.docx").exists()
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o777 & ~umask  # one rule: ordinary permissions, like other outputs
    for name in (CONFIG_FILE, CENTROIDS_FILE):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o666 & ~umask


def test_a_pair_from_two_saves_is_refused_never_used(fitted, tiny, tmp_path):
    """The two files are renamed one after the other: the JSON names its centroids by digest, so the
    moment between the renames (or a crash there) gives a refusal, not another clustering's centroids."""
    first = fitted.save(tmp_path / "first")
    second = InstructionClusterer(tiny, "Is the customer happy?", n_clusters=3).fit(TEXTS).save(tmp_path / "second")
    (first / CENTROIDS_FILE).write_bytes((second / CENTROIDS_FILE).read_bytes())
    with pytest.raises(InBedderError, match="is not the file clustering.json was saved with") as caught:
        InstructionClusterer.load(first, model=tiny)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("case", ["input inside", "output inside", "within inside", "file's child", "current folder"])
def test_save_clustering_refuses_a_folder_holding_the_runs_files(case, fitted, tiny_models, tmp_path, capsys, monkeypatch):
    c = fitted.save(tmp_path / "c")
    source = _texts_csv(tmp_path / "texts.csv")
    extra, expected = [], "holds"
    if case == "input inside":
        source = _texts_csv(c / "texts.csv")
    elif case == "output inside":
        extra = ["-o", str(c / "out.csv")]
    elif case == "within inside":
        fitted.save(c / "child")
        extra = ["--within", f"{c / 'child'}:0"]
    elif case == "file's child":
        (tmp_path / "f").write_text("a file")
        c, expected = tmp_path / "f" / "sub", "is a file"
    else:  # run from inside a saved clustering's folder
        monkeypatch.chdir(c)
        c, expected = Path("."), "is the current folder"
    kept = _files(tmp_path)
    assert main(["cluster", str(source), "-i", QUESTION, "--k", "2", *extra, "--save-clustering", str(c),
                 *_cli(tiny_models)]) == 2
    _one_line(capsys, expected)
    assert _files(tmp_path) == kept  # nothing written, nothing lost


def test_saving_over_a_clustering_keeps_an_earlier_assign_output(fitted, tiny_models, tmp_path):
    c = fitted.save(tmp_path / "c")
    (c / "new-assigned.csv").write_text("id,cluster\nr1,0\n")
    source = _texts_csv(tmp_path / "texts.csv")
    assert main(["cluster", str(source), "-i", QUESTION, "--k", "2", "--save-clustering", str(c), *_cli(tiny_models)]) == 0
    assert (c / "new-assigned.csv").read_text() == "id,cluster\nr1,0\n"
    assert read_record(c)["n_clusters"] == 2


# --------------------------------------------------------------------------- 2. drill-down chains
def test_a_drill_down_of_a_drill_down_keeps_only_its_ancestors_texts(tiny, tiny_models, tmp_path, capsys):
    source = _texts_csv(tmp_path / "texts.csv")
    base, child = tmp_path / "base", tmp_path / "child"
    assert main(["cluster", str(source), "-i", QUESTION, "--k", "3", "--save-clustering", str(base),
                 "-o", str(tmp_path / "base.csv"), *_cli(tiny_models)]) == 0
    fit = pd.read_csv(tmp_path / "base.csv")
    b = int(fit["cluster"].value_counts().idxmax())
    assert main(["cluster", str(source), "--within", f"{base}:{b}", "-i", "Is the customer happy?", "--k", "2",
                 "--save-clustering", str(child), "-o", str(tmp_path / "child.csv"), *_cli(tiny_models)]) == 0
    assert main(["cluster", str(source), "--within", f"{child}:0", "-i", "What was bad?", "--k", "2",
                 "-o", str(tmp_path / "grand.csv"), *_cli(tiny_models)]) == 0
    in_base = [t for t, c in zip(fit["text"], fit["cluster"]) if c == b]
    labels = InstructionClusterer.load(child, model=tiny).predict(in_base)
    expected = {i for i, t in zip(fit["id"], fit["text"]) if t in {x for x, c in zip(in_base, labels) if c == 0}}
    grand = pd.read_csv(tmp_path / "grand.csv")
    assert set(grand["id"]) == expected and expected <= set(pd.read_csv(tmp_path / "child.csv")["id"])
    parent = json.loads((tmp_path / "grand.csv.run.json").read_text())["parent"]
    assert parent["clustering"] == str(child.resolve()) and parent["parent"]["clustering"] == str(base.resolve())
    assert parent["parent"]["cluster"] == b and len(parent["parent"]["centroids_sha256"]) == 64

    # an ancestor that changed or went away is refused in one line, before any work
    InstructionClusterer(tiny, QUESTION, n_clusters=2).fit(TEXTS).save(base)
    capsys.readouterr()
    assert main(["cluster", str(source), "--within", f"{child}:0", "-i", "Why?", "--k", "2", *_cli(tiny_models)]) == 2
    _one_line(capsys, "has changed since")
    base.rename(tmp_path / "moved")
    assert main(["cluster", str(source), "--within", f"{child}:0", "-i", "Why?", "--k", "2", *_cli(tiny_models)]) == 2
    _one_line(capsys, "is missing")


# --------------------------------------------------------------------------- 3. the record is checked
def _set(path: tuple, value):
    def change(record):
        target = record
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return record
    return change


def _drop(path: tuple):
    def change(record):
        target = record
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
        return record
    return change


RECORD_CASES = {
    "a list": (lambda r: [r], "the record is a list, not an object"),
    "string version": (_set(("format_version",), "3"), "format_version is a string, not an integer"),
    "no embedder": (_drop(("embedder",)), "embedder is missing"),
    "cache": (_set(("embedder", "cache"), "STOLEN"), "embedder.cache is not a known field"),
    "compile": (_set(("embedder", "compile"), True), "embedder.compile is not a known field"),
    "device": (_set(("embedder", "device"), "cuda"), "embedder.device is not a known field"),
    "model a number": (_set(("embedder", "model"), 7), "embedder.model is a number, not a string"),
    "encoder a list": (_set(("embedder", "sentence_encoder"), ["x"]), "embedder.sentence_encoder is a list"),
    "unknown key": (_set(("shell",), "rm -rf"), "shell is not a known field"),
    "cluster entry": (_drop(("clusters", 0, "cluster")), "clusters[0].cluster is missing"),
    "silhouette key": (_set(("silhouette_by_k",), {"two": 0.5}), "silhouette_by_k key 'two' is not an integer"),
    "text threshold": (_set(("outlier_threshold",), "0.5"), "outlier_threshold is a string, not a number"),
    "NaN threshold": (_set(("outlier_threshold",), math.nan), "outlier_threshold is nan, not a finite number"),
    "threshold > 1": (_set(("outlier_threshold",), 1.5), "outlier_threshold is 1.5, outside [-1, 1]"),
    "negative k": (_set(("n_clusters",), -3), "n_clusters is -3, outside 1..10000"),
    "huge k": (_set(("n_clusters",), 2_000_000), "n_clusters is 2000000, outside 1..10000"),
    "k not the centroids": (_set(("n_clusters",), 4), "n_clusters is 4 but there are 3 centroids"),
}


TENSOR_CASES = {
    "centroid width": (lambda t: {**t, "cluster_centers": t["cluster_centers"][:, :-1].copy()}, "mean has shape (32,), not (31,)"),
    "flat centroids": (lambda t: {**t, "cluster_centers": t["cluster_centers"].ravel().copy()}, "cluster_centers has shape"),
    "NaN centroid": (lambda t: {**t, "cluster_centers": np.where(np.eye(3, 32) > 0, np.nan, t["cluster_centers"])},
                     "cluster_centers holds NaN or infinite values"),
    "inf scale": (lambda t: {**t, "scale": np.full_like(t["scale"], np.inf)}, "scale holds NaN or infinite values"),
    "mean too short": (lambda t: {**t, "mean": t["mean"][:5].copy()}, "mean has shape (5,), not (32,)"),
    "unknown tensor": (lambda t: {**t, "payload": np.zeros(3)}, "payload is not a known tensor"),
}


@pytest.mark.parametrize("case", [*RECORD_CASES, *TENSOR_CASES])
def test_a_saved_clustering_is_checked_field_by_field_before_the_model_loads(case, fitted, tmp_path, capsys):
    folder = fitted.save(tmp_path / "c")
    record, tensors = read_saved(folder)
    record["embedder"]["model"] = str(tmp_path / "no-such-model")  # loading a model would fail with another message
    if case in RECORD_CASES:
        change, expected = RECORD_CASES[case]
        record = change(copy.deepcopy(record))
    else:
        change, expected = TENSOR_CASES[case]
        tensors = change(dict(tensors))
    _write(folder, record, tensors)
    with pytest.raises(InBedderError) as caught:
        InstructionClusterer.load(folder)
    message = str(caught.value)
    assert "\n" not in message and expected in message and message.startswith(str(folder)), message
    source = _texts_csv(tmp_path / "new.csv")
    capsys.readouterr()
    assert main(["assign", str(source), "--clustering", str(folder), "-o", str(tmp_path / "o.csv"), "--quiet"]) == 2
    _one_line(capsys, expected)
    assert not (tmp_path / "o.csv").exists() and not (tmp_path / "STOLEN").exists()


def test_within_never_writes_to_a_cache_the_file_chose(fitted, tiny_models, tmp_path, capsys, monkeypatch):
    folder = fitted.save(tmp_path / "received")
    record = read_record(folder)
    record["embedder"]["cache"] = str(tmp_path / "stolen.sqlite")
    (folder / CONFIG_FILE).write_text(json.dumps(record), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    source = _texts_csv(tmp_path / "texts.csv")
    assert main(["cluster", str(source), "--within", f"{folder}:0", "-i", "Why?", "--k", "2", *_cli(tiny_models)]) == 2
    _one_line(capsys, "clustering.json: embedder.cache is not a known field")
    assert not (tmp_path / "stolen.sqlite").exists()


def test_older_formats_still_load(fitted, tiny, tmp_path):
    folder = fitted.save(tmp_path / "v1")
    record = read_record(folder)
    for key in ("center", "standardize", "answer_space", "state_weight", "centroids_sha256", "generated_names", "parent"):
        record.pop(key, None)
    record["format_version"] = 1
    tensors = {"cluster_centers": load_file(str(folder / CENTROIDS_FILE))["cluster_centers"]}
    (folder / CENTROIDS_FILE).write_bytes(save(tensors))
    (folder / CONFIG_FILE).write_text(json.dumps(record), encoding="utf-8")
    loaded = InstructionClusterer.load(folder, model=tiny)
    assert loaded.mean_ is None and loaded.n_clusters_ == 3


# --------------------------------------------------------------------------- a saved clustering mutated at random
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=5)
NUMBERS = st.floats(width=64) | st.integers(-3, 3).map(float)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _paths(inner, (*prefix, index))


@st.composite
def mutated(draw, record: dict, tensors: dict[str, np.ndarray]):
    """A saved clustering with one to three random changes: JSON values, keys, tensor shapes and values."""
    record, tensors = copy.deepcopy(record), dict(tensors)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["set", "drop", "add", "values", "shape", "tensor"]))
        paths = [p for p in _paths(record) if p]
        path = draw(st.sampled_from(paths)) if paths else ()
        if kind in ("set", "drop", "add") and path:
            target = record
            for key in path[:-1]:
                target = target[key]
            if kind == "set":
                target[path[-1]] = draw(JSON_VALUES)
            elif kind == "drop":
                del target[path[-1]]
            elif isinstance(target, dict):
                target[draw(st.text(max_size=8))] = draw(JSON_VALUES)
        elif kind in ("values", "shape") and tensors:
            name = draw(st.sampled_from(sorted(tensors)))
            value = tensors[name]
            if kind == "values" and value.size:
                flat = value.astype(np.float64).ravel()
                flat[draw(st.integers(0, flat.size - 1))] = draw(NUMBERS)
                tensors[name] = flat.reshape(value.shape)
            elif kind == "shape":
                shape = draw(st.lists(st.integers(0, 40), min_size=1, max_size=3))
                tensors[name] = np.resize(value, shape).astype(draw(st.sampled_from(["float64", "float32", "int64"])))
        elif kind == "tensor":
            name = draw(st.sampled_from(["cluster_centers", "mean", "scale", "answer_token_ids", "other"]))
            if name in tensors and draw(st.booleans()):
                del tensors[name]
            else:
                tensors[name] = np.zeros(draw(st.lists(st.integers(1, 40), min_size=1, max_size=2)))
    return record, tensors


@pytest.fixture(scope="module")
def valid(fitted, tmp_path_factory):
    folder = fitted.save(tmp_path_factory.mktemp("valid") / "c")
    raw = fitted.model.encode(TEXTS[:6], QUESTION, normalize_embeddings=False, show_progress_bar=False)
    return (*read_saved(folder), raw)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return _texts_csv(tmp_path_factory.mktemp("source") / "texts.csv")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_any_mutation_is_refused_in_one_line_or_loads_correctly(data, valid, tiny, source, capsys):
    record, tensors, raw = valid
    changed, changed_tensors = data.draw(mutated(record, tensors))
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary) / "c"
        folder.mkdir()
        _write(folder, changed, changed_tensors)
        try:
            read_saved(folder)
        except InBedderError as error:  # refused before any model: the CLI says the same in one line, exit 2
            assert "\n" not in str(error)
            capsys.readouterr()
            assert main(["assign", str(source), "--clustering", str(folder), "-o", str(folder / "o.csv"), "--quiet"]) == 2
            _one_line(capsys)
            return
        try:
            loaded = InstructionClusterer.load(folder, model=tiny)
        except InBedderError as error:
            assert "\n" not in str(error)
            return
    labels = loaded.predict(TEXTS[:6], embeddings=raw)
    assert len(labels) == 6 and set(labels.tolist()) <= set(range(-1, loaded.n_clusters_))


# --------------------------------------------------------------------------- 4. uploads to a public explorer
def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _lying_zip(true_mb: int, claimed: int) -> bytes:
    """A .zip whose centroids entry inflates to ``true_mb`` MB while its headers claim ``claimed`` bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("c/clustering.json", b"{}")
        with archive.open("c/centroids.safetensors", "w") as entry:
            for _ in range(true_mb):
                entry.write(bytes(2**20))
        offset = archive.getinfo("c/centroids.safetensors").header_offset
    data = bytearray(buffer.getvalue())
    data[offset + 22:offset + 26] = claimed.to_bytes(4, "little")  # the local header's size
    central, start = None, 0
    while (start := data.find(b"PK\x01\x02", start)) != -1:  # the central directory's entry for it
        length = int.from_bytes(data[start + 28:start + 30], "little")
        if data[start + 46:start + 46 + length] == b"c/centroids.safetensors":
            central = start
        start += 4
    data[central + 24:central + 28] = claimed.to_bytes(4, "little")
    return bytes(data)


def test_an_entry_that_lies_about_its_size_is_refused_without_inflating_it():
    from inbedder.app import saved

    data = _lying_zip(200, 100)
    assert len(data) < 2**20  # a small upload that would inflate to 200 MB
    tracemalloc.start()
    try:
        with pytest.raises(InBedderError, match="centroids.safetensors in c.zip is damaged") as caught:
            with saved.unzipped("c.zip", data):
                pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, f"{peak / 2**20:.0f} MB held while reading a 1 MB upload"
    assert "\n" not in str(caught.value)


def test_an_upload_with_too_many_entries_is_refused():
    from inbedder.app import saved

    members = {f"c/{i}.txt": b"" for i in range(200)} | {"c/clustering.json": b"{}", "c/centroids.safetensors": b""}
    with pytest.raises(InBedderError, match="c.zip holds 202 entries"):
        with saved.unzipped("c.zip", _zip(members)):
            pass


def test_an_uploaded_record_with_two_million_clusters_is_refused_before_the_page_builds_anything(fitted, tmp_path):
    from inbedder.app import saved
    from inbedder.app.messages import for_page

    folder = fitted.save(tmp_path / "c")
    record = read_record(folder)
    record["n_clusters"] = 2_000_000
    upload = _zip({"c/clustering.json": json.dumps(record).encode(), "c/centroids.safetensors": (folder / CENTROIDS_FILE).read_bytes()})
    with saved.unzipped("big.zip", upload) as unpacked:
        with pytest.raises(InBedderError) as caught:
            read_saved(unpacked)  # what the page's Load calls before it loads the model
        shown = for_page(caught.value, {str(unpacked): "big.zip"})
    assert shown.startswith("big.zip/clustering.json: n_clusters is 2000000, outside 1..10000") and "\n" not in shown
    assert "Something went wrong" not in shown


def test_the_page_shows_one_line_for_a_clustering_that_is_refused(fitted, tmp_path, monkeypatch):
    """Through the explorer (AppTest, before any run): the page's own one line, not "Something went wrong"."""
    from streamlit.testing.v1 import AppTest

    from inbedder.app import access
    from inbedder.app.cli import EXPLORER

    folder = fitted.save(tmp_path / "c")
    record = read_record(folder)
    record["n_clusters"] = 2_000_000
    (folder / CONFIG_FILE).write_text(json.dumps(record), encoding="utf-8")
    monkeypatch.setenv(access.ENV, "1")  # a local page: a folder may be loaded (the .zip goes the same way)
    app = AppTest.from_file(str(EXPLORER), default_timeout=120)
    app.run()
    app.text_input(key="load_folder").set_value(str(folder))
    app.button(key="load_run").click().run()
    assert not app.exception and len(app.error) == 1, [e.value for e in app.error]
    shown = app.error[0].value
    assert "n_clusters is 2000000, outside 1..10000" in shown and "Something went wrong" not in shown and "\n" not in shown

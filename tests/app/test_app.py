"""The explorer (issues #6, #10): upload checks, map layout, names, outliers, the drill-down tree,
saving and assigning, the page in AppTest and in a real browser (drill-down: test_app_drilldown.py).

The page tests use the real embedded model on the first 24 sample reviews and share one cache
(module scope), so the browser test finds the embeddings the AppTest run made.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from browser_cdp import free_port as _free_port
from browser_cdp import stop_server
from browser_cdp import wait_healthy as _wait_healthy

from inbedder.app import access, exports, figures, loading, pipeline, projection
from inbedder.app.cli import EXPLORER, streamlit_command
from inbedder.app.messages import escape_markdown, for_page, hover_text
from inbedder.cli.main import build_parser
from inbedder.errors import InBedderError

ARTIFACTS = Path(__file__).parent / "artifacts"
QUESTION = loading.SAMPLE_QUESTIONS[0]
ROWS = 24
PAGE_TIMEOUT = 900  # seconds for one page run: embedding 24 texts takes ~15 s on an idle CPU, minutes when it is shared


# --------------------------------------------------------------------------- uploads
def _csv(text: str) -> bytes:
    return text.encode("utf-8")


BAD_UPLOADS = {
    "empty": ("notes.csv", b"", "notes.csv is empty"),
    "blank txt": ("notes.txt", b"\n \n", "notes.txt is empty"),
    "wrong encoding": ("reviews.csv", "text\ncafé au lait\n".encode("latin-1"), "not valid utf-8"),
    "no text column": ("scores.csv", _csv("id,score\n1,3.5\n2,4\n"), "no column of texts"),
    "header only": ("reviews.csv", _csv("text,label\n"), "has no rows"),
    "not a table": ("reviews.json", _csv('{"text": "one"}'), "not a list of records"),
    "broken parquet": ("reviews.parquet", b"PAR1 not really", "cannot read reviews.parquet as Parquet"),
    "unsupported type": ("reviews.xlsx", b"PK\x03\x04", "unsupported file type .xlsx for reviews.xlsx; upload one of: .csv"),
}


@pytest.mark.parametrize("case", BAD_UPLOADS, ids=list(BAD_UPLOADS))
def test_bad_upload_says_what_is_wrong_in_page_terms(case):
    name, data, expected = BAD_UPLOADS[case]
    with pytest.raises(InBedderError) as caught:
        loading.inspect_upload(name, data)
        loading.read_upload(name, data)
    message = str(caught.value)
    assert expected in message
    assert "inbedder-upload-" not in message and "/tmp" not in message  # the user's file name, not ours
    assert "--text-column" not in message and "--encoding" not in message  # controls, not CLI flags
    assert "\n" not in message


def test_wrong_encoding_points_at_the_encoding_control_and_latin1_reads_it():
    data = "text\ncafé au lait\nthé vert\n".encode("latin-1")
    with pytest.raises(InBedderError, match="choose the latin-1 encoding"):
        loading.inspect_upload("menu.csv", data)
    corpus = loading.read_upload("menu.csv", data, encoding="latin-1", text_column="text")
    assert corpus.texts == ["café au lait", "thé vert"]
    assert corpus.source == "menu.csv"


def test_50_mb_upload_is_refused_before_parsing():
    data = b"text\n" + b"a long review of a restaurant\n" * (50 * 2**20 // 30 + 1)
    assert len(data) >= 50 * 2**20
    started = time.perf_counter()
    with pytest.raises(InBedderError, match=r"reviews\.csv is 50\.0 MB; the explorer takes files up to 32 MB"):
        loading.inspect_upload("reviews.csv", data)
    assert time.perf_counter() - started < 2  # refused by size, not after parsing


def test_one_row_and_k_above_rows_are_refused_with_the_counts():
    one = loading.read_upload("one.csv", _csv("text\nonly this review\n\n"))
    assert one.skipped == 1
    with pytest.raises(InBedderError, match="one.csv has only 1 non-empty text; clustering needs at least 2"):
        loading.check_clusterable(one, 2)
    three = loading.read_upload("three.tsv", _csv("text\tlabel\na\tx\nb\ty\nc\tx\n"), label_column="label")
    with pytest.raises(InBedderError, match=r"k = 5 is larger than the number of texts \(3\)"):
        loading.check_clusterable(three, 5)
    loading.check_clusterable(three, None)  # auto k: checked later against distinct answers


def test_upload_columns_defaults_and_formats(tmp_path):
    frame = pd.DataFrame({"id": ["1", "2"], "stars": ["4", "5"], "body": ["Great food.", "Slow service."],
                          "label": ["food", "service"]})
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    info = loading.inspect_upload("r.parquet", buffer.getvalue())
    assert info.columns == ("id", "stars", "body", "label") and info.rows == 2
    assert info.text_default == "body" and info.label_default == "label"
    jsonl = b'{"text": "a"}\n{"text": ""}\n{"text": "b"}\n'
    corpus = loading.read_upload("r.jsonl", jsonl)
    assert corpus.texts == ["a", "b"] and corpus.skipped == 1
    txt = loading.inspect_upload("lines.txt", b"one\n\ntwo\n")
    assert txt.columns == () and txt.rows == 3
    assert loading.first_rows(loading.read_sample(), 10).texts == loading.read_sample().texts[:10]


def test_messages_are_reworded_and_user_text_is_inert():
    assert for_page("pass --text-column with one of: 'a'") == "pass the 'Text column' choice with one of: 'a'"
    assert for_page("--k 9 is larger; lower --k") == "k = 9 is larger; lower k"
    assert escape_markdown("# $5 *deal*") == r"\# \$5 \*deal\*"
    assert "&lt;script&gt;" in hover_text("<script>alert(1)</script>")
    assert hover_text("word " * 200).count("<br>") >= 3 and len(hover_text("word " * 200)) < 320


# --------------------------------------------------------------------------- map, figures, exports
@pytest.mark.parametrize("n", [1, 2, 5, 14])
def test_tiny_corpora_get_a_pca_map_instead_of_crashing(n):
    points = np.random.default_rng(0).normal(size=(n, 16)).astype(np.float32)
    mapped = projection.project(points)
    assert mapped.method == "PCA" and mapped.coords.shape == (n, 2) and np.isfinite(mapped.coords).all()
    same = projection.project(np.ones((n, 16), dtype=np.float32))  # identical answers
    assert np.isfinite(same.coords).all()


def test_map_draws_a_sample_beyond_the_display_limit_and_umap_separates_groups():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 32))
    groups = np.repeat(np.arange(3), 40)
    points = (centres[groups] + 0.05 * rng.normal(size=(120, 32))).astype(np.float32)
    mapped = projection.project(points, limit=90)
    assert mapped.method == "UMAP"
    assert len(mapped.shown) == 90 and np.isfinite(mapped.coords).all(axis=1).sum() == 90
    assert "90 of 120 texts (clustering uses all)" in mapped.note
    xy, drawn = mapped.coords[mapped.shown], groups[mapped.shown]
    centroid = np.stack([xy[drawn == g].mean(0) for g in range(3)])
    within = np.mean([np.linalg.norm(xy[drawn == g] - centroid[g], axis=1).mean() for g in range(3)])
    between = np.min([np.linalg.norm(centroid[a] - centroid[b]) for a in range(3) for b in range(a + 1, 3)])
    assert between > 2 * within


def test_cosine_neighbours_are_exact_and_start_with_the_point_itself():
    points = np.random.default_rng(1).normal(size=(50, 8)).astype(np.float32)
    indices, distances = projection.cosine_neighbours(points, 5, block=16)
    unit = points / np.linalg.norm(points, axis=1, keepdims=True)
    expected = np.argsort(-(unit @ unit.T), axis=1)[:, :5]
    assert (indices == expected).all() and (indices[:, 0] == np.arange(50)).all()
    assert np.allclose(distances[:, 0], 0, atol=1e-5) and (np.diff(distances, axis=1) >= -1e-6).all()


def test_figures_and_exports_from_a_clustering_table():
    info = pd.DataFrame({"cluster": [1, 0], "size": [2, 1], "keywords": [["food", "taste"], []],
                         "keyword_scores": [[0.9, 0.5], []], "examples": [["a", "b"], ["c"]],
                         "example_answers": [["x", "y"], ["z"]]})
    names = figures.cluster_names(info)
    assert names == {1: "1 · food, taste", 0: "0"}  # no names yet: the top keywords, else the number
    points = pd.DataFrame({"point": [0, 1, 2], "x": [0.0, 1.0, np.nan], "y": [0.0, 1.0, np.nan],
                           "cluster": [1, 1, 0], "text": ["a", "b", "c"], "answer": ["x", "y", "z"]})
    figure = figures.map_figure(points, names)
    assert sum(len(trace.x) for trace in figure.data) == 2  # the undrawn row is left out
    assert figure.data[0].customdata.tolist() == [[0], [1]]
    table = pipeline.crosstab(np.array([0, 0, 1]), np.array([1, 0, 1]))
    sankey = figures.sankey_figure(table, {0: "A", 1: "B"}, {0: "C", 1: "D"})
    assert sorted(sankey.data[0].link.value) == [1, 1, 1]
    flat = exports.summary_table(info)
    assert flat.loc[0, "keywords"] == "food | taste" and flat.loc[0, "keyword_scores"] == "0.9000 | 0.5000"
    corpus = loading.read_upload("t.csv", _csv("text,label\na,p\nb,q\nc,p\n"), label_column="label")
    rows = exports.per_text_table(corpus, np.array([1, 1, 0]), ["x", "y", "z"], np.array([[0, 0], [1, 1], [np.nan, np.nan]]))
    assert list(rows.columns) == ["row", "text", "cluster", "answer", "x", "y", "label"]
    back = pd.read_parquet(io.BytesIO(exports.parquet_bytes(rows)))
    assert back["text"].tolist() == ["a", "b", "c"] and np.isnan(back.loc[2, "x"])
    assert pipeline.search(rows, "B").index.tolist() == [1]


def _auto_k(embeddings: np.ndarray) -> dict[int, float]:
    """The page's automatic k: the clusterer's silhouette curve on these embeddings."""
    from inbedder.clustering.estimator import InstructionClusterer

    texts = [f"text {i}" for i in range(len(embeddings))]
    return InstructionClusterer(None, "q?", n_clusters="auto").fit(texts, embeddings=embeddings).silhouette_scores_


def test_choose_k_prefers_the_true_number_of_groups():
    rng = np.random.default_rng(0)
    centres = np.eye(8)[:3]
    points = centres[np.repeat(np.arange(3), 20)] + 0.02 * rng.normal(size=(60, 8))
    scores = _auto_k(points / np.linalg.norm(points, axis=1, keepdims=True))
    assert max(scores, key=scores.get) == 3 and min(scores) == 2 and max(scores) == 10
    with pytest.raises(InBedderError, match="too few to choose k"):
        _auto_k(np.ones((5, 4)))


# --------------------------------------------------------------------------- command
def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_app_command_is_registered_and_builds_the_streamlit_command():
    args = build_parser().parse_args(["app", "--port", "8600", "--host", "0.0.0.0", "--no-browser"])
    assert (args.port, args.host, args.no_browser, args.allow_any_model) == (8600, "0.0.0.0", True, False)
    assert build_parser().parse_args(["app", "--allow-any-model"]).allow_any_model is True
    command = streamlit_command(8600, "0.0.0.0")
    assert command[:5] == [sys.executable, "-m", "streamlit", "run", str(EXPLORER)]
    assert EXPLORER.is_file()
    assert _option(command, "--server.port") == "8600" and _option(command, "--server.address") == "0.0.0.0"
    with pytest.raises(InBedderError, match="not a port number"):
        streamlit_command(70000, "localhost")


@pytest.mark.parametrize("host", ["localhost", "0.0.0.0", "::1"])
def test_streamlit_always_runs_headless_without_prompt_and_with_our_upload_limit(host):
    command = streamlit_command(8501, host)
    assert _option(command, "--server.headless") == "true"  # the browser tab is opened by `inbedder app`
    assert _option(command, "--server.showEmailPrompt") == "false"
    assert _option(command, "--server.maxUploadSize") == str(loading.MAX_UPLOAD_MB)


@pytest.mark.parametrize(
    ("host", "flag", "allowed"),
    [
        ("localhost", False, True), ("127.0.0.1", False, True), ("::1", False, True), ("[::1]", False, True),
        ("LOCALHOST", False, True), ("127.0.0.2", False, True),
        ("0.0.0.0", False, False), ("::", False, False), ("192.168.1.20", False, False),
        ("example.org", False, False), ("", False, False),
        ("0.0.0.0", True, True), ("example.org", True, True),
    ],
)
def test_command_tells_the_page_whether_any_model_may_be_loaded(host, flag, allowed):
    assert access.allows_any_model(host, allow_any_model=flag) is allowed
    assert access.environment(host, allow_any_model=flag) == {access.ENV: "1" if allowed else "0"}


def test_page_decision_follows_the_command_else_the_listen_address():
    assert access.page_allows_any_model({access.ENV: "1"}, "0.0.0.0") is True
    assert access.page_allows_any_model({access.ENV: "0"}, "localhost") is False
    assert access.page_allows_any_model({}, "127.0.0.1") is True  # `streamlit run --server.address 127.0.0.1`
    assert access.page_allows_any_model({}, None) is False  # plain `streamlit run` listens everywhere


def test_a_public_page_loads_only_the_embedded_model_and_shipped_adapters(tmp_path):
    from inbedder.models.loading import DEFAULT_GENERATOR, NO_ADAPTER, shipped_adapter_dir

    choices = access.adapter_choices()
    assert list(choices.values())[:2] == [None, NO_ADAPTER]
    for value in (*choices.values(), "", str(shipped_adapter_dir())):
        access.check_model_choice(None, value, allow_any=False)
    access.check_model_choice(DEFAULT_GENERATOR, None, allow_any=False)
    other = tmp_path / "adapter"
    other.mkdir()
    (other / "adapter_config.json").write_text("{}")
    refused = [("facebook/opt-1.3b", None), (str(tmp_path), None), ("", str(other)), (None, "/etc"),
               (None, str(shipped_adapter_dir()) + "/../../..")]
    for model, adapter in refused:
        with pytest.raises(InBedderError, match=r"loads only the embedded model, the catalogue models fetched on this "
                                                r"server and the shipped adapters; .*`inbedder app --allow-any-model`") as caught:
            access.check_model_choice(model, adapter, allow_any=False)
        assert "\n" not in str(caught.value)
        access.check_model_choice(model, adapter, allow_any=True)


def test_a_public_page_offers_catalogue_models_only_once_fetched_on_the_server():
    from inbedder.models.catalogue import find

    entry = find("qwen2.5-coder-0.5b")
    with pytest.raises(InBedderError, match="loads only the embedded model"):  # never a download for a visitor
        access.check_model_choice(entry.name, None, allow_any=False)
    assert access.fetched_catalogue_models() == []
    folder = entry.converted_dir()  # in this test's private cache
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"")
    assert access.fetched_catalogue_models() == [entry.name]
    access.check_model_choice(entry.name, None, allow_any=False)


def test_a_public_page_loads_the_default_model_only_once_fetched_on_the_server(monkeypatch):
    """The default (the 1.5B) is a gigabyte: a visitor who leaves the model empty never starts its download."""
    from inbedder.models.catalogue import DEFAULT_MODEL, find

    monkeypatch.delenv("INBEDDER_MODEL")  # as a user runs it: the shipped default
    assert access.offered_models() == ["smollm2-135m"]  # this test's private cache holds the embedded model only
    with pytest.raises(InBedderError, match=f"to load the default model {DEFAULT_MODEL} \\(not fetched here\\) start it"):
        access.check_model_choice(None, None, allow_any=False)
    access.check_model_choice("smollm2-135m", None, allow_any=False)
    folder = find(DEFAULT_MODEL).converted_dir()
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"")
    assert access.offered_models() == [DEFAULT_MODEL, "smollm2-135m"]  # the default first
    access.check_model_choice(None, None, allow_any=False)


def test_a_public_page_offers_a_shipped_adapter_only_beside_its_own_model():
    """The 0.5B's adapter names its base: picked with no model it would load, and download, 0.5 GB."""
    from inbedder.data import path as data_path
    from inbedder.models.catalogue import find

    qwen = find("qwen2.5-coder-0.5b")
    folder = str(data_path(qwen.adapter))
    assert folder not in access.adapter_choices().values()
    assert folder not in access.adapter_choices(qwen.name).values()  # its model's default already
    with pytest.raises(InBedderError, match="its base model qwen2.5-coder-0.5b is not fetched here"):
        access.check_model_choice(None, folder, allow_any=False)
    converted = qwen.converted_dir()  # in this test's private cache: now fetched on the server
    converted.mkdir(parents=True)
    (converted / "config.json").write_text("{}")
    (converted / "model.safetensors").write_bytes(b"")
    access.check_model_choice(None, folder, allow_any=False)
    access.check_model_choice(qwen.name, None, allow_any=False)


@pytest.mark.parametrize("allow", ["0", "1"])
def test_page_shows_a_picker_instead_of_free_model_fields_when_public(allow, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv(access.ENV, allow)
    app = AppTest.from_file(str(EXPLORER), default_timeout=120)
    app.run()
    assert not app.exception and not app.error
    free_fields = {field.key for field in app.text_input} & {"model", "adapter"}
    pickers = {box.key for box in app.selectbox} & {"model_choice", "adapter_choice"}
    folders = {field.key for field in app.text_input} & {"load_folder", "save_folder"}
    if allow == "1":
        assert free_fields == {"model", "adapter"} and not pickers
        assert folders == {"load_folder"}  # no clustering yet: only loading one
    else:
        assert not free_fields and pickers == {"model_choice", "adapter_choice"}
        assert not folders and app.get("file_uploader")  # a public page loads a clustering from an upload only
        assert app.selectbox(key="adapter_choice").options == list(access.adapter_choices())


def _server_environment(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A fresh machine: empty HOME (no Streamlit credentials), a BROWSER that records the URL."""
    home = tmp_path / "home"
    home.mkdir()
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "record-url"
    browser.write_text(f'#!/bin/sh\necho "$1" >> "{opened}"\n')
    browser.chmod(0o755)
    environment = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    environment |= {"HOME": str(home), "BROWSER": str(browser)}
    environment.pop("XDG_CONFIG_HOME", None)
    return environment, opened


def _start_app(tmp_path: Path, port: int, *options: str) -> tuple[subprocess.Popen, Path, Path]:
    environment, opened = _server_environment(tmp_path)
    log = tmp_path / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "inbedder.cli", "app", "--port", str(port), "--host", "127.0.0.1", *options],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=environment, start_new_session=True,
        )
    return server, opened, log


def _group_gone(group: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def _end_group(server: subprocess.Popen) -> None:
    try:
        os.killpg(server.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    server.wait(timeout=20)


def test_app_serves_with_stdin_closed_on_a_fresh_home_and_stops_with_its_server(tmp_path):
    port = _free_port()
    server, opened, log = _start_app(tmp_path, port, "--no-browser")
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", server, timeout=120)
        server.send_signal(signal.SIGTERM)  # only `inbedder app`, not its process group
        server.wait(timeout=30)
        assert _group_gone(server.pid, timeout=30), "the Streamlit server outlived `inbedder app`"
        assert not opened.exists()  # --no-browser
        assert "Email" not in log.read_text()
    finally:
        _end_group(server)


def test_app_opens_the_browser_itself_and_never_prompts(tmp_path):
    port = _free_port()
    server, opened, log = _start_app(tmp_path, port)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", server, timeout=120)
        deadline = time.monotonic() + 30
        while not opened.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert opened.exists() and opened.read_text().split() == [f"http://127.0.0.1:{port}"]
        assert "Email" not in log.read_text()
        os.killpg(server.pid, signal.SIGTERM)  # as Ctrl-C in a terminal reaches the whole group
        server.wait(timeout=30)
        assert _group_gone(server.pid, timeout=30)
    finally:
        _end_group(server)


# --------------------------------------------------------------------------- the page
@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory, converted_model_dir):
    folder = tmp_path_factory.mktemp("app-cache")
    (folder / "models").mkdir()
    (folder / "models" / converted_model_dir.name).symlink_to(converted_model_dir)
    return folder


@pytest.fixture
def page_cache(shared_cache, monkeypatch):
    monkeypatch.setenv("INBEDDER_CACHE", str(shared_cache))
    return shared_cache / "embeddings.sqlite"


def _rows(path: Path) -> int:
    import sqlite3

    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        return db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]


def _texts(elements) -> list[str]:
    return [element.value for element in elements]


@pytest.mark.slow
def test_page_clusters_the_sample_then_reclusters_another_k_from_the_cache(page_cache):
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(EXPLORER), default_timeout=PAGE_TIMEOUT)
    app.run()
    assert not app.exception and not app.error
    app.number_input(key="limit").set_value(ROWS)
    assert app.text_input(key="question").value == QUESTION
    app.button(key="run").click().run()
    assert not app.exception, app.exception
    assert not app.error, _texts(app.error)
    cards = [text for text in _texts(app.markdown) if "**Cluster " in text]
    assert len(cards) == 4
    keywords = [text for text in _texts(app.markdown) if text.startswith("Keywords: ")]
    assert len(keywords) >= 3 and all(len(text) > len("Keywords: ") for text in keywords)
    assert any("V-measure" in metric.label for metric in app.metric)
    stability = [float(metric.value) for metric in app.metric if metric.label == "Stability (self-check)"]
    assert len(stability) == 1 and 0.0 < stability[0] <= 1.0
    assert any(metric.label == "Answer purity (self-check)" and metric.value.endswith("%") for metric in app.metric)
    assert "Embedded 24 texts" in _texts(app.success)[0] or "Reused" in _texts(app.success)[0]
    rows = _rows(page_cache)
    assert rows >= ROWS

    app.number_input(key="k").set_value(3).run()  # no Run press: another k is cheap, so it re-clusters
    assert not app.exception and not app.error, _texts(app.error)
    assert _texts(app.success) == [_texts(app.success)[0]] and "Reused cached embeddings for all 24 texts" in _texts(app.success)[0]
    assert _rows(page_cache) == rows  # nothing was embedded again
    assert len([text for text in _texts(app.markdown) if "**Cluster " in text]) == 3

    app.text_input(key="search").set_value("service").run()
    assert any("contain “service”" in caption for caption in _texts(app.caption))

    app.button(key="compare_run").click().run()  # the second question of the sample, k = 2
    assert not app.exception and not app.error, _texts(app.error)
    assert any(metric.label.startswith("Agreement of the two groupings") for metric in app.metric)
    assert len([text for text in _texts(app.caption) if text.startswith("UMAP map of all 24 texts")]) == 3
    app.checkbox(key="k_auto").check().run()
    assert any(text.startswith("k chosen automatically") for text in _texts(app.caption))
    assert [button.proto.label for button in app.get("download_button")] == [
        "Per-text table (CSV)", "Per-text table (Parquet)", "Cluster summary (CSV)", "Run parameters (JSON)",
        "Save clustering (.zip)",
    ]
    assert _rows(page_cache) - rows in (ROWS, ROWS + 1)  # only question 2 was embedded (+ its answer-prefix probe)
    app.checkbox(key="k_auto").uncheck().run()

    app.number_input(key="k").set_value(30).run()
    assert [message for message in _texts(app.error)] == [
        "k = 30 is larger than the number of texts (24); lower k or use more rows"
    ]
    app.number_input(key="k").set_value(4)
    app.number_input(key="limit").set_value(1)
    app.button(key="run").click().run()
    assert "has only 1 non-empty text" in _texts(app.error)[0]
    app.text_input(key="question").set_value("   ")
    app.number_input(key="limit").set_value(ROWS)
    app.button(key="run").click().run()
    assert _texts(app.error) and "type a question first" in _texts(app.error)[0]
    assert not app.exception


CARDS = "document.querySelectorAll('[class*=\"st-key-card_\"]').length"
MAP_POINTS = "document.querySelectorAll('.st-key-map_main .scatterlayer .point').length"
KEYWORD_BARS = "document.querySelectorAll('[class*=\"st-key-keywords_\"] .barlayer .point').length"


@pytest.mark.slow
def test_page_describes_each_cluster_with_evidence_from_its_members(page_cache):
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(EXPLORER), default_timeout=PAGE_TIMEOUT)
    app.run()
    app.number_input(key="limit").set_value(ROWS)
    app.button(key="run").click().run()
    assert not app.exception and not app.error, _texts(app.error)
    assert "smollm2-135m" in app.selectbox(key="writer").options  # the embedded model is always there to write
    app.selectbox(key="writer").set_value("smollm2-135m")
    app.button(key="describe_run").click().run()
    assert not app.exception and not app.error, _texts(app.error)
    markdown = _texts(app.markdown)
    evidence = [text for text in markdown if text.startswith("**Evidence**")]
    assert len(evidence) == 4 and all(1 <= text.count("\n- ") <= 3 for text in evidence)
    described = [text for text in markdown if text.startswith("*") and text.endswith("*") and not text.startswith("**")]
    assert len(described) == 4  # one sentence per card, in italics
    sample = loading.read_sample().texts[:ROWS]
    for text in evidence:  # every quote is a text of the corpus (shortened for the card)
        quotes = [line[2:].strip().rstrip("…") for line in text.splitlines() if line.startswith("- ")]
        originals = [" ".join(original.split()) for original in sample]
        assert all(any(original.startswith(quote.replace("\\", "")[:40]) for original in originals) for quote in quotes), quotes

    app.checkbox(key="layers").check().run()  # the clusters grouped into parents, then one parent opened
    assert not app.exception and not app.error, _texts(app.error)
    choices = app.selectbox(key="open_parent").options
    assert choices[0] == "all parents" and 3 <= len(choices) <= 4  # 2 or 3 parents of 4 clusters
    app.selectbox(key="open_parent").set_value(choices[1]).run()
    shown = [text for text in _texts(app.markdown) if "**Cluster " in text]
    assert 1 <= len(shown) < 4
    app.button(key="describe_run").click().run()  # described again, now with the parents: the opened one's sentence
    assert not app.exception and not app.error, _texts(app.error)
    italic = [text for text in _texts(app.markdown) if text.startswith("*") and not text.startswith("**")]
    assert len(italic) == len(shown) + 1

    app.button(key="judge_run").click().run()  # the judge joins the self-check
    assert not app.exception and not app.error, _texts(app.error)
    judged = [metric.value for metric in app.metric if metric.label == "Judge agreement (self-check)"]
    assert len(judged) == 1 and (judged[0] == "–" or 0 <= int(judged[0].rstrip("%")) <= 100)


@pytest.mark.slow
def test_browser_runs_a_clustering_and_shows_map_and_cards(page_cache, tmp_path):
    from browser_cdp import Chromium, find_chromium

    binary = find_chromium()
    if binary is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium; `make test` does it where apt works)")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "inbedder.cli", "app", "--port", str(port), "--host", "127.0.0.1", "--no-browser"],
        stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(), start_new_session=True,
    )
    try:
        _wait_healthy(url, server, timeout=180)
        query = urllib.parse.urlencode({"sample": 1, "question": QUESTION, "k": 4, "limit": ROWS, "run": 1})
        with Chromium(binary, tmp_path / "profile") as browser:
            browser.open(f"{url}/?{query}")
            ready = browser.wait_for(f"{CARDS} >= 4 && {MAP_POINTS} >= {ROWS}", timeout=PAGE_TIMEOUT)
            shot = browser.screenshot(ARTIFACTS / "explorer.png")
            state = browser.evaluate(
                f"JSON.stringify({{cards: {CARDS}, points: {MAP_POINTS}, bars: {KEYWORD_BARS}, "
                "errors: [...document.querySelectorAll('.stException, .stAlert')].map(e => e.innerText), "
                "text: document.body.innerText.slice(0, 4000)})"
            )
        import json

        seen = json.loads(state)
        assert ready, f"map or cluster cards missing after {PAGE_TIMEOUT} s (screenshot {shot}): {seen}"
        assert seen["cards"] == 4 and seen["points"] == ROWS and seen["bars"] > 0
        assert "Traceback" not in seen["text"] and "Something went wrong" not in seen["text"]
        assert shot.stat().st_size > 20_000
    finally:
        stop_server(server)
        log.close()


def test_pipeline_reuses_the_cache_across_threads_and_counts_it(tiny_models, tmp_path):
    """Streamlit runs each rerun in a new thread while the model is shared: SQLite must follow."""
    import threading

    model = pipeline.load_model(tiny_models["llama"])
    texts = [f"review number {i} about the food" for i in range(10)] + ["review number 0 about the food"]
    reports, errors = [], []

    def work(k: int) -> None:
        try:
            reports.append(pipeline.embed(model, texts, "What is it about?", batch_size=4))
            clustering = pipeline.cluster(model, texts, pipeline.RunParams("What is it about?", k))
            assert len(clustering.labels) == len(texts) and clustering.k == k
        except BaseException as error:  # noqa: BLE001 - re-raised in the test's thread below
            errors.append(error)

    for k in (2, 3):
        thread = threading.Thread(target=work, args=(k,))
        thread.start()
        thread.join()
    assert not errors, errors
    assert [(r.total, r.reused) for r in reports] == [(10, 0), (10, 10)]  # duplicates embedded once
    assert "Reused cached embeddings for all 10 texts" in reports[1].message


def test_stop_from_the_progress_callback_keeps_the_batches_done(tiny_models):
    """The page's Stop raises inside the progress callback (Streamlit does, at the bar's update)."""
    model = pipeline.load_model(tiny_models["llama"])
    texts = [f"a review of dish number {i}" for i in range(12)]
    seen = []

    class Stop(Exception):
        pass

    def stop_after_first(done: int, total: int, left: float | None) -> None:
        seen.append((done, total))
        if done:
            raise Stop

    with pytest.raises(Stop):
        pipeline.embed(model, texts, "What dish is it?", progress=stop_after_first, batch_size=4)
    assert seen == [(4, 12)]
    resumed = pipeline.embed(model, texts, "What dish is it?", batch_size=4)
    assert (resumed.total, resumed.reused) == (12, 4)  # the stopped run's batch came from the cache


def test_library_errors_name_page_controls_through_one_table():
    from inbedder.app.messages import PAGE_NAMES

    cases = {
        ("pass text_column with one of: 'a', 'b'", "text_column"): "pass the 'Text column' choice with one of: 'a', 'b'",
        ("re-save the file as UTF-8 or pass encoding='latin-1'", "encoding"): "re-save the file as UTF-8 or choose the latin-1 encoding",
        ("n_clusters=30 is larger than the number of texts (24); lower n_clusters to at most 24", "n_clusters"):
            "k = 30 is larger than the number of texts (24); lower k to at most 24",
        ("label_column 'x' is not a column", "label_column"): "the 'Label column' choice 'x' is not a column",
    }
    for (message, parameter), expected in cases.items():
        assert for_page(InBedderError(message, parameter=parameter)) == expected
    assert PAGE_NAMES["id_column"] == "the id column" and "top_n_keywords" in PAGE_NAMES
    error = InBedderError("cannot read /tmp/inbedder-upload-x/r.csv: pass id_column", parameter="id_column")
    assert for_page(error, {"/tmp/inbedder-upload-x/r.csv": "r.csv"}) == "cannot read r.csv: pass the id column"


# --------------------------------------------------------------------------- names, outliers, question trees (#10)
def test_cluster_labels_show_names_and_outliers_are_a_grey_other_drawn_last():
    info = pd.DataFrame({"cluster": [2, -1, 0], "name": ["wait times", "other", "cluster 0"], "size": [2, 1, 1],
                         "keywords": [["wait", "slow"], ["misc"], ["menu", "dish", "x"]]})
    names = figures.cluster_names(info)
    assert names == {2: "2 · wait times", -1: "other", 0: "0 · menu, dish"}  # "cluster 0" is no name: keywords
    assert figures.cluster_label(3, "", ()) == "3" and figures.cluster_label(1, "  slow  service ") == "1 · slow service"
    assert figures.colour(-1) == figures.OUTLIER_COLOUR and figures.colour(-1) not in figures.PALETTE[:10]
    points = pd.DataFrame({"point": [0, 1, 2, 3], "x": [0.0, 1.0, 2.0, 3.0], "y": [0.0, 1.0, 2.0, 3.0],
                           "cluster": [-1, 2, 0, 2], "text": list("abcd"), "answer": list("wxyz")})
    figure = figures.map_figure(points, names)
    assert [trace.name for trace in figure.data] == ["0 · menu, dish", "2 · wait times", "other"]
    assert figure.data[-1].marker.color == figures.OUTLIER_COLOUR


def test_exports_carry_cluster_name_and_similarity_and_keep_outliers():
    corpus = loading.read_upload("t.csv", _csv("text\na\nb\nc\n"))
    rows = exports.per_text_table(corpus, np.array([1, -1, 0]), ["x", "y", "z"], np.zeros((3, 2)),
                                  names={0: "food", 1: "wait times", -1: "other"}, similarity=np.array([0.91, 0.2, 0.8]))
    assert list(rows.columns) == ["row", "text", "cluster", "answer", "cluster_name", "similarity", "x", "y"]
    assert rows["cluster_name"].tolist() == ["wait times", "other", "food"] and len(rows) == 3  # nothing dropped
    assert rows["similarity"].tolist() == [0.91, 0.2, 0.8]


def test_outlier_control_becomes_min_similarity():
    from inbedder.app import sidebar

    assert sidebar.min_similarity(sidebar.OUTLIERS_OFF, 0.7) is None
    assert sidebar.min_similarity(sidebar.OUTLIERS_AUTO, 0.7) == "auto"
    assert sidebar.min_similarity(sidebar.OUTLIERS_MIN, 0.6549) == 0.655
    base = pipeline.RunParams("q?", 4)
    moved = pipeline.RunParams("q?", 3, min_similarity="auto")
    assert base.same_embeddings(moved) and not base.same_embeddings(pipeline.RunParams("other?", 4))
    assert for_page(InBedderError("pass min_similarity='auto'", parameter="min_similarity")).startswith("pass the Outliers")


def _step(cluster: int, label: str, question: str) -> "tree.Step":
    from inbedder.app import tree

    return tree.Step(cluster, label, question)


def test_breadcrumbs_name_every_level_and_all_but_the_current_go_back():
    from inbedder.app import tree

    path = (_step(2, "2 · wait times", "What went wrong with the service?"),)
    crumbs = tree.breadcrumbs(256, "What aspect is discussed?", path)
    assert tree.path_text(crumbs) == "All 256 texts › What aspect is discussed? › 2 · wait times › What went wrong with the service?"
    assert [(c.depth, c.current, c.kind) for c in crumbs] == [
        (0, False, "texts"), (0, False, "question"), (1, True, "texts"), (1, True, "question")]
    root = tree.breadcrumbs(1234, "Q?", ())
    assert tree.path_text(root) == "All 1,234 texts › Q?" and all(c.current for c in root)


def test_question_tree_keeps_every_opened_clustering_so_going_back_is_instant():
    from inbedder.app import tree

    root, child, grandchild, other = object(), object(), object(), object()
    state = tree.QuestionTree(root)
    assert state.shown is root and state.depth == 0 and state.node_id() == 0
    first, second = _step(2, "2 · wait times", "Why?"), _step(0, "0 · rude staff", "Who?")
    assert state.child(first) is None
    state.descend(first, child)
    state.descend(second, grandchild)
    assert state.shown is grandchild and state.depth == 2 and state.node_id() == 2
    state.go_to(0)
    assert state.shown is root and state.child(first) is child  # kept: drilling the same step again runs nothing
    state.descend(first, state.child(first))
    assert state.child(second) is grandchild
    state.go_to(-3)
    assert state.current == ()
    state.descend(_step(1, "1 · food", "Why?"), other, path=())  # a sibling, asked from a card of the root
    assert state.shown is other and len(state.nodes) == 4
    assert tree.reset_if_new_root(state, root) is state
    fresh = tree.reset_if_new_root(state, object())
    assert fresh is not state and fresh.nodes == {(): fresh.root} and fresh.current == ()
    assert tree.parent_record("Q?", 2, "wait times", 12)["instruction"] == "Q?"


def test_subset_keeps_ids_and_labels_of_the_chosen_rows():
    corpus = loading.read_upload("t.csv", _csv("id,text,label\n7,a,p\n8,b,q\n9,c,p\n"), label_column="label")
    part = loading.subset(corpus, np.array([2, 0]), "cluster 1's texts")
    assert (part.texts, part.ids, part.labels) == (["c", "a"], ["9", "7"], ["p", "p"])
    assert part.notes[-1] == "cluster 1's texts" and corpus.texts == ["a", "b", "c"]


def test_folders_on_the_server_are_read_and_written_only_from_a_local_page():
    access.check_server_folders(allow_any=True)
    with pytest.raises(InBedderError, match=r"reads and writes no folders on the server; download the clustering as a "
                                            r"\.zip") as caught:
        access.check_server_folders(allow_any=False)
    assert "\n" not in str(caught.value)


REVIEWS = [f"review {i}: the {topic} was {mood}" for i, (topic, mood) in enumerate(
    [(t, m) for t in ("food", "service", "price", "music") for m in ("great", "awful", "fine")])]


@pytest.fixture
def fitted(tiny_models):
    """A tiny model's clustering of 12 reviews with automatic outliers, fitted as the page fits one."""
    model = pipeline.load_model(tiny_models["llama"], "none")
    params = pipeline.RunParams("What is the review about?", 3, min_similarity="auto")
    pipeline.embed(model, REVIEWS, params.question)
    return pipeline.cluster(model, REVIEWS, params)


def test_saved_zip_loads_back_and_assigns_with_names_and_similarity(fitted, tmp_path):
    from inbedder.app import saved
    from inbedder.clustering.estimator import InstructionClusterer
    from inbedder.clustering.persistence import read_record

    assert fitted.outliers >= 1 and fitted.names[-1] == "other" and fitted.outlier_threshold is not None
    data = saved.zip_bytes(fitted.clusterer, "reviews")
    import zipfile

    assert sorted(zipfile.ZipFile(io.BytesIO(data)).namelist()) == ["reviews/centroids.safetensors", "reviews/clustering.json"]
    with saved.unzipped("reviews.zip", data) as folder:
        loaded = InstructionClusterer.load(folder, model=fitted.clusterer.model)
    assert not folder.exists()  # the upload's temporary copy is gone
    frame = pipeline.assign(loaded, loading.read_upload("new.txt", "\n".join(REVIEWS).encode()))
    assert list(frame.columns) == ["row", "text", "cluster", "answer", "cluster_name", "similarity"]
    assert frame["cluster"].tolist() == fitted.labels.tolist()  # the fitted texts get back their clusters
    assert np.allclose(frame["similarity"], fitted.similarity, atol=1e-5)
    assert set(frame.loc[frame["cluster"] == -1, "cluster_name"]) == {"other"}
    sizes = pipeline.assigned_sizes(frame, loaded.display_names(), loaded.n_clusters_)
    assert sizes["cluster"].tolist()[-1] == -1 and sizes["texts"].sum() == len(REVIEWS)
    record = read_record(fitted.clusterer.save(tmp_path / "c"))
    assert "“What is the review about?” · 3 clusters · fitted on 12 texts · “other” below similarity" in saved.describe(record)


def _zip(members: dict[str, bytes]) -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize("case", ["not a zip", "missing", "twice", "too big", "escape"])
def test_bad_clustering_uploads_are_refused_in_one_line(case, monkeypatch):
    from inbedder.app import saved

    monkeypatch.setattr(saved, "MAX_MEMBER_MB", 0.001)
    uploads = {
        "not a zip": (b"PK no", "is not a .zip file"),
        "missing": (_zip({"c/clustering.json": b"{}"}), "has no centroids.safetensors"),
        "twice": (_zip({"a/clustering.json": b"{}", "b/clustering.json": b"{}", "centroids.safetensors": b""}),
                  "more than one clustering.json"),
        "too big": (_zip({"clustering.json": b"x" * 5000, "centroids.safetensors": b""}), "is 0 MB; a saved"),
        "escape": (_zip({"../../clustering.json": b"{}", "centroids.safetensors": b"", "../evil.py": b"x"}), None),
    }
    data, expected = uploads[case]
    if expected is None:  # members are written by their base name only, inside the temporary folder
        with saved.unzipped("c.zip", data) as folder:
            assert sorted(p.name for p in folder.parent.rglob("*") if p.is_file()) == ["centroids.safetensors", "clustering.json"]
        return
    with pytest.raises(InBedderError, match=expected) as caught:
        with saved.unzipped("c.zip", data):
            pass
    assert "\n" not in str(caught.value) and "c.zip" in str(caught.value)


def _cards_shown(app) -> list[str]:
    return [text for text in _texts(app.markdown) if "**Cluster " in text or "**Other**" in text]


def _drill(app, cluster: int, question: str, node: int = 0):
    app.text_input(key=f"drill_question_{node}_{cluster}").set_value(question)
    return app.button(key=f"drill_run_{node}_{cluster}").click().run()


def test_page_names_outliers_drills_down_goes_back_saves_loads_and_assigns(tiny_models, tmp_path, monkeypatch):
    """The whole analyst loop in AppTest with a tiny model (the browser test does the drill-down for real)."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv(access.ENV, "1")
    app = AppTest.from_file(str(EXPLORER), default_timeout=PAGE_TIMEOUT)
    app.run()
    app.number_input(key="limit").set_value(ROWS)
    app.text_input(key="model").set_value(tiny_models["llama"])
    app.text_input(key="adapter").set_value("none")
    app.radio(key="outliers").set_value("auto (5th percentile)")
    app.number_input(key="k").set_value(2)
    app.button(key="run").click().run()
    assert not app.exception and not app.error, _texts(app.error)
    cards = _cards_shown(app)
    assert len(cards) == 3 and sum("**Other** (cluster -1)" in card for card in cards) == 1  # two named clusters and "other"
    assert any(metric.label == "Outliers (“other”)" and metric.value == "2" for metric in app.metric)
    root = app.session_state["result"]
    biggest = max((c for c in set(root.clustering.labels.tolist()) if c >= 0), key=lambda c: (root.clustering.labels == c).sum())
    size = int((root.clustering.labels == biggest).sum())

    _drill(app, biggest, "   ")
    assert _texts(app.error) == ["type a question first, e.g. \"What is the customer complaining about?\""]
    _drill(app, biggest, "What went wrong?")
    assert not app.exception and not app.error, _texts(app.error)
    assert [button.label for button in app.button if button.key.startswith("crumb_")] == ["All 24 texts", f"*{escape_markdown(QUESTION)}*"]
    label = figures.cluster_names(root.clustering.info)[biggest]
    assert f"**{escape_markdown(label)}**" in _texts(app.markdown) and "***What went wrong?***" in _texts(app.markdown)
    assert app.metric[0].value == str(size)  # only that cluster's texts
    tree = app.session_state["question_tree"]
    assert tree.depth == 1 and tree.shown.clustering.clusterer.parent_["cluster"] == biggest

    app.button(key="crumb_0").click().run()
    assert tree.depth == 0 and app.metric[0].value == "24" and len(_cards_shown(app)) == 3
    _drill(app, biggest, "What went wrong?")
    assert tree.depth == 1 and len(tree.nodes) == 2  # the same follow-up again: the kept clustering, no new run

    app.text_input(key="save_folder").set_value(str(tmp_path / "saved"))
    app.button(key="save_run").click().run()
    assert f"Saved to {tmp_path / 'saved'}" in _texts(app.success)
    app.text_input(key="load_folder").set_value(str(tmp_path))
    app.button(key="load_run").click().run()
    assert len(app.error) == 1 and "is not a saved clustering" in app.error[0].value
    app.text_input(key="load_folder").set_value(str(tmp_path / "saved"))
    app.button(key="load_run").click().run()
    assert not app.error and any("within cluster" in text for text in _texts(app.caption))
    app.button(key="assign_run").click().run()
    assert not app.exception and not app.error, _texts(app.error)
    assert any(text.startswith("**Assigned 24 texts**") for text in _texts(app.markdown))
    assigned = app.session_state["assigned_texts"][2]
    assert {"cluster_name", "similarity"} <= set(assigned.columns) and len(assigned) == ROWS


def test_the_page_clusters_in_the_answer_space_when_asked(tiny_models):
    """The sidebar's "Answer space" box reaches the clusterer and the run record."""
    model = pipeline.load_model(tiny_models["llama"], "none")
    params = pipeline.RunParams("What is the review about?", 3, answer_space=5)
    pipeline.embed(model, REVIEWS, params.question)
    clustering = pipeline.cluster(model, REVIEWS, params, corpus=None)
    assert len(clustering.clusterer.answer_frame_.tokens) == 5
    assert clustering.embeddings.shape[1] == model.loaded.model.config.hidden_size + 5
    plain = pipeline.cluster(model, REVIEWS, pipeline.RunParams("What is the review about?", 3))
    assert plain.clusterer.answer_frame_ is None and not params.same_embeddings(plain.params)

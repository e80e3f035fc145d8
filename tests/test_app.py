"""The explorer (issue #6): upload checks, map layout, the page in AppTest and in a real browser.

The page tests use the real embedded model on the first 24 sample reviews and share one cache
(module scope), so the browser test finds the embeddings the AppTest run made.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from inbedder.app import access, exports, figures, loading, pipeline, projection
from inbedder.app.cli import EXPLORER, streamlit_command
from inbedder.app.messages import escape_markdown, for_page, hover_text
from inbedder.cli import build_parser
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
    assert names == {1: "C1 · food, taste", 0: "C0"}
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
    from inbedder.clustering import InstructionClusterer

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
    from inbedder.models import DEFAULT_GENERATOR, NO_ADAPTER, shipped_adapter_dir

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
        with pytest.raises(InBedderError, match=r"loads only the embedded model and the shipped adapters; .*"
                                                r"`inbedder app --allow-any-model`") as caught:
            access.check_model_choice(model, adapter, allow_any=False)
        assert "\n" not in str(caught.value)
        access.check_model_choice(model, adapter, allow_any=True)


@pytest.mark.parametrize("allow", ["0", "1"])
def test_page_shows_a_picker_instead_of_free_model_fields_when_public(allow, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv(access.ENV, allow)
    app = AppTest.from_file(str(EXPLORER), default_timeout=120)
    app.run()
    assert not app.exception and not app.error
    free_fields = {field.key for field in app.text_input} & {"model", "adapter"}
    pickers = {box.key for box in app.selectbox} & {"model_choice", "adapter_choice"}
    if allow == "1":
        assert free_fields == {"model", "adapter"} and not pickers
    else:
        assert not free_fields and pickers == {"model_choice", "adapter_choice"}
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
        "Per-text table (CSV)", "Per-text table (Parquet)", "Cluster summary (CSV)", "Run parameters (JSON)"
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"`inbedder app` exited with status {server.returncode}")
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=5).read().strip() == b"ok":
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError("the explorer did not answer on /_stcore/health in time")


CARDS = "document.querySelectorAll('[class*=\"st-key-card_\"]').length"
MAP_POINTS = "document.querySelectorAll('.st-key-map_main .scatterlayer .point').length"
KEYWORD_BARS = "document.querySelectorAll('[class*=\"st-key-keywords_\"] .barlayer .point').length"


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
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
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

"""The Ray Data path on a real local Ray cluster: same results as the local engine, resumable."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

ray = pytest.importorskip("ray")

from inbedder import InBedder  # noqa: E402
from inbedder.distributed import embed_dataset  # noqa: E402
from inbedder.errors import InBedderError  # noqa: E402

pytestmark = pytest.mark.ray

WORDS = "pasta staff price jazz ramen bill wine noise view dessert waiter table".split()
TEXTS = [f"The {WORDS[i % 12]} and the {WORDS[(i * 5) % 12]} were {'good' if i % 3 else 'bad'}, visit {i}." for i in range(40)]
QUESTIONS = ["What is the review about?", "Is the customer happy?"]


@pytest.fixture(scope="module")
def _stop_ray_after_the_module():
    yield
    ray.shutdown()


@pytest.fixture
def local_ray(_stop_ray_after_the_module):
    """A local 2-CPU Ray cluster shared by the tests (started again if a test stopped it)."""
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False,
                 _node_ip_address="127.0.0.1")


def _options(tiny_models):
    return {"model": tiny_models["llama"], "model_options": {"template": "inbedder", "max_new_tokens": 3}}


def _assigned(output_dir):
    """Every shard's clusters file of a clustered run, in shard order."""
    return pd.concat([pd.read_parquet(p) for p in sorted((output_dir / "clusters").glob("*/*.parquet"))])


def test_ray_equals_the_local_engine(tiny_models, tmp_path, local_ray):
    source = tmp_path / "reviews.csv"
    pd.DataFrame({"id": [f"r{i}" for i in range(len(TEXTS))], "text": TEXTS}).to_csv(source, index=False)
    run = embed_dataset(source, QUESTIONS, output_dir=tmp_path / "out", workers=2, shard_rows=16, **_options(tiny_models))
    assert run.shards == ["reviews-00000", "reviews-00001", "reviews-00002"] and len(run.computed) == 3
    assert run.worker_peak_mb > 100  # an actor holding torch and a model
    rows = run.read()
    local = InBedder(tiny_models["llama"], template="inbedder", max_new_tokens=3, cache=False)
    expected = local.encode_questions(TEXTS, QUESTIONS)
    for question in QUESTIONS:
        part = rows[rows["question"] == question]
        assert part["id"].tolist() == [f"r{i}" for i in range(len(TEXTS))] and part["text"].tolist() == TEXTS
        np.testing.assert_allclose(np.stack(part["embedding"].to_numpy()), expected[question].embeddings, atol=1e-4)
        assert part["answer"].tolist() == expected[question].answers
    # clusters and keywords at scale equal the local clusterer's (the corpus fits the exact fit)
    from inbedder import InstructionClusterer
    from inbedder.distributed.clustering import cluster_run
    from inbedder.explain import cluster_keywords

    scaled = cluster_run(run.output_dir, run.shards, QUESTIONS[0], 3, seed=0)
    assigned = _assigned(run.output_dir)
    local_fit = InstructionClusterer(local, QUESTIONS[0], n_clusters=3, random_state=0).fit(TEXTS)
    assert scaled.library == "kmeans" and assigned["cluster"].tolist() == local_fit.labels_.tolist()
    keywords = cluster_keywords(local_fit.answers_, local_fit.labels_, top_n=8, extra_stopwords=QUESTIONS[0])
    assert {c: [w for w, _ in kw] for c, kw in scaled.keywords.items()} == {c: [w for w, _ in kw] for c, kw in keywords.items()}


def test_the_driver_plans_with_references_and_probes_the_local_sample(tmp_path):
    """The plan carries no texts; actors read them back; the probe sample is the local engine's."""
    import pickle

    from inbedder.encoding.answer_prefix import evenly_spaced
    from inbedder.distributed.engine import _plan
    from inbedder.distributed.probe import DistinctTexts
    from inbedder.distributed.shards import RowReader

    first = [f"{TEXTS[i % 30]}" + " long" * 200 for i in range(50)]  # repeats, within and across files
    second = ["", *[f"{TEXTS[i % 40]}" + " long" * 200 for i in range(40)]]  # an empty row is skipped
    (tmp_path / "in").mkdir()
    pd.DataFrame({"text": first}).to_csv(tmp_path / "in" / "a.csv", index=False)
    pd.DataFrame({"text": second}).to_csv(tmp_path / "in" / "b.csv", index=False)
    distinct = DistinctTexts()
    planned = list(_plan(tmp_path / "in", text_column=None, id_column=None, shard_rows=16, staging=tmp_path / "s",
                         distinct=distinct))
    assert [(s.name, s.start, s.stop) for s in planned][3:5] == [("a-00003", 48, 50), ("b-00000", 0, 16)]
    assert all(isinstance(value, (str, int, bool, type(None))) for s in planned for value in vars(s).values())
    assert len(pickle.dumps(planned)) < 2_000 < sum(len(t) for t in first)  # references, not the 90 long texts
    reader = RowReader()
    rows = [reader.rows(shard) for shard in planned]
    texts = [text for _, part in rows for text in part]
    assert texts == [t for t in first + second if t]
    assert rows[0][0][:2] == ["a.csv:0", "a.csv:1"] and rows[-1][0][-1] == "b.csv:40"  # ids name file and row
    assert len(distinct) == 40 and distinct.sample() == evenly_spaced(list(dict.fromkeys(texts)))
    with open(tmp_path / "in" / "a.csv", "a") as changed:  # rows are read after planning: a changed file is refused
        changed.write("one more row\n")
    with pytest.raises(InBedderError, match="changed while the run was going"):
        RowReader().rows(planned[0])


def test_a_ray_dataset_source_equals_the_local_engine(tiny_models, tmp_path, local_ray):
    rows = [{"id": f"d{i}", "text": "" if i in (3, 7) else TEXTS[i]} for i in range(14)]
    run = embed_dataset(ray.data.from_items(rows), QUESTIONS[:1], output_dir=tmp_path / "out", id_column="id",
                        shard_rows=4, **_options(tiny_models))
    kept = [row for row in rows if row["text"]]
    assert run.shards == [f"dataset-0000{i}" for i in range(3)] and run.texts == len(kept) == 12
    assert sorted(p.name for p in (tmp_path / "out" / "input").iterdir()) == [f"dataset-0000{i}.parquet" for i in range(3)]
    local = InBedder(tiny_models["llama"], template="inbedder", max_new_tokens=3, cache=False)
    expected = local.encode_questions([row["text"] for row in kept], QUESTIONS[:1])[QUESTIONS[0]]
    table = run.read()
    assert table["id"].tolist() == [row["id"] for row in kept] and table["answer"].tolist() == expected.answers
    np.testing.assert_allclose(np.stack(table["embedding"].to_numpy()), expected.embeddings, atol=1e-4)


def test_a_ray_dataset_is_staged_in_its_row_order_every_time(tmp_path, local_ray):
    """Ray Data streams blocks as they finish; staging must not: row numbers name resumable shards.
    Without preserve_order, 1 of 3 runs here staged d1 after d6."""
    import pyarrow.parquet as pq

    from inbedder.distributed.engine import _stage_dataset

    rows = [{"id": f"d{i}", "text": "" if i in (3, 7) else f"text {i}"} for i in range(40)]
    dataset = ray.data.from_items(rows)
    for trial in range(3):
        folder = tmp_path / f"t{trial}"
        shards = list(_stage_dataset(dataset, "text", "id", shard_rows=4, folder=folder, distinct=None))
        ids = [i for shard in shards for i in pq.read_table(folder / f"{shard.name}.parquet").column("id").to_pylist()]
        assert ids == [row["id"] for row in rows if row["text"]]
    assert dataset.context.execution_options.preserve_order is False  # the caller's dataset is left as it was


def test_a_rerun_skips_finished_shards_and_refuses_other_parameters(tiny_models, tmp_path, local_ray):
    source = tmp_path / "t.txt"
    source.write_text("\n".join(TEXTS[:20]) + "\n")
    first = embed_dataset(source, QUESTIONS[:1], output_dir=tmp_path / "out", shard_rows=8, **_options(tiny_models))
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out" / "shards").iterdir()}
    second = embed_dataset(source, QUESTIONS[:1], output_dir=tmp_path / "out", shard_rows=8, **_options(tiny_models))
    assert len(first.computed) == 3 and second.computed == [] and second.skipped == first.shards
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out" / "shards").iterdir()} == stamps
    with pytest.raises(InBedderError, match="other parameters"):
        embed_dataset(source, QUESTIONS[1:], output_dir=tmp_path / "out", shard_rows=8, **_options(tiny_models))


@pytest.mark.parametrize("call, words", [
    (lambda tmp, opts: embed_dataset(tmp / "missing.csv", ["q?"], output_dir=tmp / "o", **opts), "does not exist"),
    (lambda tmp, opts: embed_dataset(tmp / "in.csv", ["q?"], output_dir=tmp / "o", text_column="body", **opts), "'body'"),
    (lambda tmp, opts: embed_dataset(tmp / "in.csv", ["q?"], output_dir=tmp / "o", address="127.0.0.1:1", **opts), "cannot reach"),
    (lambda tmp, opts: embed_dataset(tmp / "in.csv", ["  "], output_dir=tmp / "o", **opts), "instruction is empty"),
])
def test_bad_input_gets_the_same_one_line_errors(tiny_models, tmp_path, call, words):
    pd.DataFrame({"text": TEXTS[:4]}).to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(InBedderError) as error:
        call(tmp_path, _options(tiny_models))
    assert words in str(error.value) and "\n" not in str(error.value)


DRIVER = """
import sys, ray
from inbedder.distributed import embed_dataset
ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False, _node_ip_address="127.0.0.1")
embed_dataset(sys.argv[1], ["What is the review about?"], output_dir=sys.argv[2], workers=1, shard_rows=4)
"""


def _kill_session(session: int) -> None:
    """SIGKILL every process of the driver's session (Ray's workers run in process groups of their own)."""
    import os
    import signal
    import subprocess

    listing = subprocess.run(["ps", "-eo", "pid=,sid="], capture_output=True, text=True).stdout
    for line in listing.splitlines():
        pid, sid = (int(part) for part in line.split())
        if sid == session and pid != os.getpid():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.slow
def test_a_killed_job_resumes_without_recomputing_written_shards(tmp_path):
    """The embedded model, killed (SIGKILL, driver and workers) after its first shard, then rerun."""
    import subprocess
    import sys
    import time

    source, output = tmp_path / "reviews.txt", tmp_path / "out"
    source.write_text("\n".join(TEXTS[:24]) + "\n")
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(source), str(output)], start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and not any((output / "shards").glob("[!.]*.parquet")):
            assert driver.poll() is None, "the driver ended before its first shard"
            time.sleep(0.1)
    finally:
        _kill_session(driver.pid)
        driver.wait()
    written = {p.name: p.stat().st_mtime_ns for p in (output / "shards").glob("[!.]*.parquet")}
    assert 1 <= len(written) < 6
    resumed = embed_dataset(source, ["What is the review about?"], output_dir=output, workers=1, shard_rows=4)
    assert sorted(resumed.skipped) == sorted(name.removesuffix(".parquet") for name in written)
    assert len(resumed.computed) == 6 - len(written)
    assert {p.name: p.stat().st_mtime_ns for p in (output / "shards").glob("[!.]*.parquet") if p.name in written} == written
    whole = embed_dataset(source, ["What is the review about?"], output_dir=tmp_path / "whole", workers=1, shard_rows=4)
    a, b = resumed.read(), whole.read()
    assert a["id"].tolist() == b["id"].tolist() and a["answer"].tolist() == b["answer"].tolist()
    np.testing.assert_allclose(np.stack(a["embedding"]), np.stack(b["embedding"]), atol=1e-4)


def test_the_cli_runs_on_ray_and_resumes(tiny_models, tmp_path, capsys):
    """``inbedder cluster --engine ray`` end to end (Ray started and stopped by the command itself)."""
    import json

    from inbedder.cli.main import main

    ray.shutdown()  # the command must start Ray itself (an earlier test may have left one up)
    source = tmp_path / "reviews.csv"
    pd.DataFrame({"text": TEXTS}).to_csv(source, index=False)
    args = ["cluster", str(source), "-i", QUESTIONS[0], "--k", "3", "--engine", "ray", "--workers", "2",
            "--shard-rows", "16", "--output-dir", str(tmp_path / "out"), "--model", tiny_models["llama"],
            "--template", "inbedder", "--max-new-tokens", "3"]
    assert main(args) == 0
    assert not ray.is_initialized()  # the command stopped the Ray it started
    out = capsys.readouterr()
    assert "3 computed now, 0 already done" in out.err and "cluster    size  keywords" in out.out
    summary = json.loads((tmp_path / "out" / "q1.summary.json").read_text())
    assert sum(summary["sizes"].values()) == len(TEXTS) and summary["fit"] == "kmeans"
    assert main(args) == 0
    assert "0 computed now, 3 already done" in capsys.readouterr().err
    assert main([*args[:-2], "--max-new-tokens", "4"]) == 2  # other parameters: refused, one line
    err = capsys.readouterr().err.strip()
    assert "other parameters" in err and len(err.splitlines()) == 1
    assert main([*args[:6], "--engine", "ray"]) == 2  # no --output-dir
    assert "--output-dir" in capsys.readouterr().err


def test_the_answer_space_on_ray_equals_the_local_clusterer(tiny_models, tmp_path, local_ray):
    """The shards' raw states, the space fitted on the (whole) sample, the head sent to the tasks:
    the same clusters as ``InstructionClusterer(answer_space=…)``."""
    from inbedder import InstructionClusterer
    from inbedder.distributed.clustering import cluster_run

    source = tmp_path / "reviews.csv"
    pd.DataFrame({"text": TEXTS}).to_csv(source, index=False)
    run = embed_dataset(source, QUESTIONS[:1], output_dir=tmp_path / "out", shard_rows=16, **_options(tiny_models))
    local = InBedder(tiny_models["llama"], template="inbedder", max_new_tokens=3, cache=False)
    states = np.stack(run.read()["embedding"].to_numpy())
    assert not np.allclose(np.linalg.norm(states, axis=1), 1.0)  # lengths kept: the head's temperature
    head = local.loaded.model.get_output_embeddings()
    scaled = cluster_run(run.output_dir, run.shards, QUESTIONS[0], 3, seed=0, answer_space=8, state_weight=0.3,
                         head=head)
    assigned = _assigned(run.output_dir)
    fitted = InstructionClusterer(local, QUESTIONS[0], n_clusters=3, random_state=0, answer_space=8,
                                  state_weight=0.3).fit(TEXTS)
    assert assigned["cluster"].tolist() == fitted.labels_.tolist()
    np.testing.assert_array_equal(scaled.frame.tokens, fitted.answer_frame_.tokens)
    plain = InstructionClusterer(local, QUESTIONS[0], n_clusters=3, random_state=0).fit(TEXTS)
    assert fitted.labels_.tolist() != plain.labels_.tolist()  # the space changes the partition, so the test can fail
    with pytest.raises(InBedderError, match="LM head"):
        cluster_run(run.output_dir, run.shards, QUESTIONS[0], 3, answer_space=8)


def test_the_cli_clusters_in_the_answer_space_on_ray(tiny_models, tmp_path, local_ray, capsys):
    """``--engine ray --answer-space N``: recorded in the summary, same clusters as the local command;
    a method without a head input is refused in one line before any shard is written."""
    import json

    from inbedder.cli.main import main

    source = tmp_path / "reviews.csv"
    pd.DataFrame({"text": TEXTS}).to_csv(source, index=False)
    common = ["cluster", str(source), "-i", QUESTIONS[0], "--k", "3", "--model", tiny_models["llama"],
              "--template", "inbedder", "--max-new-tokens", "3", "--answer-space", "8", "--no-cache", "--quiet"]
    assert main([*common, "--engine", "ray", "--shard-rows", "16", "--output-dir", str(tmp_path / "ray")]) == 0
    summary = json.loads((tmp_path / "ray" / "q1.summary.json").read_text())
    assert summary["answer_space"] == 8 and summary["state_weight"] == 0.2
    assigned = _assigned(tmp_path / "ray")
    assert main([*common, "--output", str(tmp_path / "local.csv")]) == 0
    assert assigned["cluster"].tolist() == pd.read_csv(tmp_path / "local.csv")["cluster"].tolist()
    capsys.readouterr()
    refused = tmp_path / "refused"
    assert main([*common, "--method", "avg-gen", "--engine", "ray", "--output-dir", str(refused)]) == 2
    err = capsys.readouterr().err.strip()
    assert "--answer-space needs 1st-gen" in err and len(err.splitlines()) == 1 and not (refused / "shards").exists()


def test_int_ids_stay_int64_in_the_shards_and_clusters_files(tiny_models, tmp_path, local_ray, capsys):
    """A Parquet input's int64 ids (and a dataset's) come back int64, so the clusters merge onto the input."""
    from inbedder.cli.main import main

    source = tmp_path / "reviews.parquet"
    frame = pd.DataFrame({"id": np.arange(1000, 1000 + len(TEXTS), dtype=np.int64), "text": TEXTS})
    frame.to_parquet(source)
    assert main(["cluster", str(source), "-i", QUESTIONS[0], "--k", "3", "--engine", "ray", "--shard-rows", "16",
                 "--output-dir", str(tmp_path / "out"), "--model", tiny_models["llama"], "--template", "inbedder",
                 "--max-new-tokens", "3", "--quiet"]) == 0
    shards = pd.concat([pd.read_parquet(p) for p in sorted((tmp_path / "out" / "shards").glob("*.parquet"))])
    assigned = _assigned(tmp_path / "out")
    assert shards["id"].dtype == np.int64 and assigned["id"].dtype == np.int64
    merged = pd.read_parquet(source).merge(assigned, on="id")
    assert merged["id"].tolist() == frame["id"].tolist() and merged["text"].tolist() == TEXTS
    rows = [{"id": 7 * i, "text": TEXTS[i]} for i in range(6)]
    run = embed_dataset(ray.data.from_items(rows), QUESTIONS[:1], output_dir=tmp_path / "ds", id_column="id",
                        shard_rows=4, **_options(tiny_models))
    read = run.read()
    assert read["id"].dtype == np.int64 and read["id"].tolist() == [row["id"] for row in rows]

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
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield
    ray.shutdown()


def _options(tiny_models):
    return {"model": tiny_models["llama"], "model_options": {"template": "inbedder", "max_new_tokens": 3}}


def test_ray_equals_the_local_engine(tiny_models, tmp_path, local_ray):
    source = tmp_path / "reviews.csv"
    pd.DataFrame({"id": [f"r{i}" for i in range(len(TEXTS))], "text": TEXTS}).to_csv(source, index=False)
    run = embed_dataset(source, QUESTIONS, output_dir=tmp_path / "out", workers=2, shard_rows=16, **_options(tiny_models))
    assert run.shards == ["reviews-00000", "reviews-00001", "reviews-00002"] and len(run.computed) == 3
    rows = run.read()
    local = InBedder(tiny_models["llama"], template="inbedder", max_new_tokens=3, cache=False)
    expected = local.encode_questions(TEXTS, QUESTIONS)
    for question in QUESTIONS:
        part = rows[rows["question"] == question]
        assert part["id"].tolist() == [f"r{i}" for i in range(len(TEXTS))] and part["text"].tolist() == TEXTS
        np.testing.assert_allclose(np.stack(part["embedding"].to_numpy()), expected[question].embeddings, atol=1e-4)
        assert part["answer"].tolist() == expected[question].answers


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

"""Layers (issue #29, item 2): clusters grouped into named parents on their centroids."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from inbedder.cli.main import main
from inbedder.clustering.layers import build_layers, check_levels, find_parents
from inbedder.errors import InBedderError


def _centres() -> np.ndarray:
    """Six cluster centres in two families: three near +x, three near +y."""
    rng = np.random.default_rng(0)
    return np.vstack([np.array([1.0, 0, 0]) + rng.normal(scale=0.05, size=(3, 3)),
                      np.array([0, 1.0, 0]) + rng.normal(scale=0.05, size=(3, 3))])


@pytest.mark.parametrize("method", ["agglomerative", "kmeans"])
def test_parents_follow_the_families_of_the_centres(method):
    parents, scores = find_parents(_centres(), method=method)
    assert parents.tolist() == [0, 0, 0, 1, 1, 1]  # numbered in order of their first cluster
    assert max(scores, key=scores.get) == 2 and set(scores) <= set(range(2, 6))


def test_parents_are_named_by_their_texts_answers():
    labels = np.repeat(np.arange(6), 2)
    answers = ["cold food", "bland food", "food", "food", "food taste", "food", "rude staff", "slow service", "staff",
               "staff", "staff", "rude staff"]
    layers = build_layers(_centres(), labels, answers, instruction="What is the review about?")
    assert layers.children() == {0: [0, 1, 2], 1: [3, 4, 5]}
    assert layers.names == {0: "food", 1: "staff"}
    assert layers.as_record()["parents"][0]["children"] == [0, 1, 2]


def test_two_levels_need_three_clusters():
    check_levels(2, 3)
    with pytest.raises(InBedderError, match="at least 3"):
        check_levels(2, 2)
    with pytest.raises(InBedderError, match="levels must be 1"):
        check_levels(3, 6)


def test_levels_2_writes_parents_beside_every_text(tiny_models, tmp_path, capsys):
    source = tmp_path / "r.csv"
    topics = ["cold soup", "rude waiter", "high prices", "loud music"]
    pd.DataFrame({"review": [f"{topics[i % 4]} on visit {i}" for i in range(24)]}).to_csv(source, index=False)
    output = tmp_path / "out.csv"
    assert main(["cluster", str(source), "--text-column", "review", "-i", "What is the review about?", "--k", "4",
                 "--levels", "2", "-o", str(output), "--model", tiny_models["llama"], "--template", "inbedder",
                 "--max-new-tokens", "3"]) == 0
    assert "parents (" in capsys.readouterr().out
    table = pd.read_csv(output, keep_default_na=False)
    record = json.loads(output.with_name("out.csv.run.json").read_text())
    parents = {int(p): entry for p, entry in record["layers"]["parents"].items()}
    assert 2 <= len(parents) <= 3 and sorted(c for e in parents.values() for c in e["children"]) == [0, 1, 2, 3]
    child_to_parent = {c: p for p, e in parents.items() for c in e["children"]}
    assert table["parent"].tolist() == [child_to_parent[c] for c in table["cluster"]]
    assert table["parent_name"].tolist() == [parents[p]["name"] for p in table["parent"]]
    assert record["options"]["levels"] == 2


def test_levels_2_with_two_clusters_is_refused_before_any_work(tmp_path, capsys):
    source = tmp_path / "r.csv"
    source.write_text("review\na\nb\nc\n")
    assert main(["cluster", str(source), "--text-column", "review", "-i", "What?", "--k", "2", "--levels", "2",
                 "-o", str(tmp_path / "o.csv")]) == 2
    error = capsys.readouterr().err
    assert "--levels" in error and "at least 3" in error and not (tmp_path / "o.csv").exists()

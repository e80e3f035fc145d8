"""The self-check of every run (issue #29): stability and answer purity, on corpora whose answer is known."""

from __future__ import annotations

import json

import numpy as np

from inbedder.clustering.kmeans import kmeans_in_canonical_order
from inbedder.clustering.selfcheck import answer_purity, self_check, stability


def _blobs(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, 16)) * 10
    return np.vstack([centre + rng.normal(size=(50, 16)) for centre in centres])


def test_stability_is_one_on_a_trivially_separable_corpus_and_low_on_noise():
    separable = _blobs()
    labels, _ = kmeans_in_canonical_order(separable, 4)
    assert stability(separable, labels) == 1.0
    noise = np.random.default_rng(1).normal(size=(200, 16))
    labels, _ = kmeans_in_canonical_order(noise, 4)
    assert stability(noise, labels) < 0.5


def test_stability_leaves_outliers_out_and_needs_two_clusters():
    vectors = _blobs()
    labels, _ = kmeans_in_canonical_order(vectors, 4)
    marked = labels.copy()
    marked[:7] = -1
    assert stability(vectors, marked) == 1.0
    assert stability(vectors, np.zeros(len(vectors), dtype=int)) is None


def test_answer_purity_counts_members_whose_answer_holds_the_name():
    answers = ["slow service", "the services were rude", "cold food", "too pricey", "", "whatever"]
    labels = np.array([0, 0, 1, 1, 1, -1])
    overall, by_cluster = answer_purity(answers, labels, {0: "service", 1: "food"})
    assert by_cluster == {0: 1.0, 1: round(1 / 3, 4)}  # "services" counts as "service"; an empty answer never agrees
    assert overall == 0.6  # 3 of the 5 members outside -1
    check = self_check(_blobs(), np.repeat(np.arange(4), 50), None, {})
    assert check.answer_purity is None and check.stability == 1.0


def test_every_cluster_run_reports_its_self_check(tiny_models, tmp_path, capsys):
    from inbedder.cli.main import main

    source = tmp_path / "r.csv"
    source.write_text("review\n" + "\n".join(f"review number {i} about {'food' if i % 2 else 'service'}" for i in range(12)) + "\n")
    output = tmp_path / "out.csv"
    code = main(["cluster", str(source), "--text-column", "review", "-i", "What is the review about?", "--k", "2",
                 "-o", str(output), "--model", tiny_models["llama"], "--template", "inbedder", "--max-new-tokens", "3"])
    assert code == 0
    assert "self-check: stability" in capsys.readouterr().out
    record = json.loads(output.with_name("out.csv.run.json").read_text())["self_check"]
    assert 0 <= record["stability"] <= 1 or record["stability"] is None
    assert set(record) == {"stability", "stability_method", "answer_purity", "answer_purity_by_cluster"}

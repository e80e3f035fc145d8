"""The evaluation suite: every score on hand-made inputs whose answer is known, the tests' wiring on the
shipped sets with hand-made embedders, the command's errors, and one real run with the embedded model."""

from __future__ import annotations

import json
import zlib

import numpy as np
import pandas as pd
import pytest

from inbedder import data as shipped
from inbedder.cli.main import main
from inbedder.errors import InBedderError
from inbedder.evaluation import metrics
from inbedder.evaluation.awareness import evaluate_multilabel, evaluate_sts, evaluate_triplets
from inbedder.evaluation.datasets import (
    RobustnessTask,
    limit_awareness,
    load_awareness,
    robustness_tasks,
)
from inbedder.evaluation.robustness import evaluate_robustness_task
from inbedder.evaluation.subjects import Blend
from inbedder.evaluation.suite import Suite, parse_tasks, run_suite


# --------------------------------------------------------------------------- metrics
def test_triplets_all_success_is_one_and_reversed_is_zero():
    rng = np.random.default_rng(0)
    anchor = rng.normal(size=(20, 8))
    near = anchor + 0.01 * rng.normal(size=(20, 8))
    far = -anchor
    assert metrics.triplet_success_rate(anchor, near, far) == 1.0
    assert metrics.triplet_success_rate(anchor, far, near) == 0.0


def test_triplets_ties_fail_and_rates_count_triplets():
    anchor = np.eye(4)
    assert metrics.triplet_success_rate(anchor, anchor, anchor) == 0.0  # equal distances: not ranked first
    positive = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=float)
    negative = np.array([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=float)
    assert metrics.triplet_success_rate(anchor, positive, negative) == 0.5


def test_triplets_use_cosine_not_euclidean_distance():
    anchor = np.array([[1.0, 0.0]])
    same_direction_far = np.array([[100.0, 0.0]])  # Euclidean-far, cosine-identical
    other_direction_near = np.array([[0.9, 0.5]])
    assert metrics.triplet_success_rate(anchor, same_direction_far, other_direction_near) == 1.0


def test_harmonic_mean():
    assert metrics.harmonic_mean([1.0, 1.0]) == 1.0
    assert metrics.harmonic_mean([0.5, 1.0]) == pytest.approx(2 / 3)
    assert metrics.harmonic_mean([0.0, 1.0]) == 0.0
    with pytest.raises(InBedderError):
        metrics.harmonic_mean([-0.1, 0.5])


def test_sts_spearman_perfect_reversed_and_constant():
    first = np.array([[1.0, 0.0]] * 6)
    angles = np.linspace(0, np.pi / 2, 6)
    second = np.stack([np.cos(angles), np.sin(angles)], axis=1)  # similarity falls along the rows
    labels = [1, 1, 1, 0, 0, 0]
    # ties in the 0/1 labels cap |rho| below 1 unless similarities are tied the same way
    tied = np.stack([second[0]] * 3 + [second[5]] * 3)
    assert metrics.instruction_sts_spearman(first, tied, labels) == pytest.approx(1.0)
    assert metrics.instruction_sts_spearman(first, tied, labels[::-1]) == pytest.approx(-1.0)
    assert 0.8 < metrics.instruction_sts_spearman(first, second, labels) < 1.0
    assert metrics.instruction_sts_spearman(first, first, labels) == 0.0  # constant similarity ranks nothing
    with pytest.raises(InBedderError, match="both labels"):
        metrics.instruction_sts_spearman(first, second, [1] * 6)


def test_clustering_v_measure_separated_and_orthogonal_labels():
    rng = np.random.default_rng(0)
    centres = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=float)
    blob = np.repeat(np.arange(3), 10)
    points = centres[blob] + 0.05 * rng.normal(size=(30, 3))
    assert metrics.clustering_v_measure(points, [f"c{b}" for b in blob]) == pytest.approx(1.0)
    # labels that cut every blob in half carry no information about the blobs
    halves = ["x" if i % 2 else "y" for i in range(30)]
    assert metrics.clustering_v_measure(points, halves, k=3) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(InBedderError, match="2 ≤ k"):
        metrics.kmeans_labels(points, 31)


def test_kmeans_is_seeded():
    points = np.random.default_rng(1).normal(size=(40, 5))
    assert (metrics.kmeans_labels(points, 4, seed=3) == metrics.kmeans_labels(points, 4, seed=3)).all()


def test_robustness_summary_means_deltas_and_strict_form():
    summary = metrics.robustness_summary([0.6, 0.8], [0.4, 0.6], [0.1, 0.5])
    assert summary["correct"] == pytest.approx(0.7)
    assert summary["implicit"] == pytest.approx(0.5)
    assert summary["incorrect"] == pytest.approx(0.3)
    assert summary["delta_ci"] == pytest.approx(0.4)
    assert summary["delta_ii"] == pytest.approx(0.2)
    assert summary["strict_ci"] == pytest.approx(0.1)   # min(correct) 0.6 − max(incorrect) 0.5
    assert summary["strict_ii"] == pytest.approx(-0.1)  # min(implicit) 0.4 − max(incorrect) 0.5


# --------------------------------------------------------------------------- shipped data
def test_shipped_sets_have_the_documented_shape():
    data = load_awareness("shipped")
    assert {k: len(v) for k, v in data.triplets.triplets.items()} == {"intent": 160, "emotion": 160}
    assert len(data.triplets.texts()) == 80
    assert len(data.sts) == 172 and sorted(set(data.sts.labels)) == [0.0, 1.0]
    assert len(data.clustering.texts) == 256
    assert {lab.name: lab.k for lab in data.clustering.labelings} == {"aspect": 4, "sentiment": 2}
    tasks = robustness_tasks()
    assert [(t.name, t.n_clusters, len(t.correct), len(t.implicit), len(t.incorrect)) for t in tasks] == [
        ("aspect", 4, 10, 10, 10), ("sentiment", 2, 10, 10, 10)]
    assert len(tasks[0].texts) == 256


def test_limit_keeps_a_seeded_subset():
    data = load_awareness("shipped")
    small = limit_awareness(data, 10, seed=0)
    again = limit_awareness(data, 10, seed=0)
    assert {k: len(v) for k, v in small.triplets.triplets.items()} == {"intent": 10, "emotion": 10}
    assert len(small.sts) == 10 and len(small.clustering.texts) == 10
    assert small.sts.sentence1 == again.sts.sentence1
    assert limit_awareness(data, 10, seed=1).sts.sentence1 != small.sts.sentence1
    index = {text: i for i, text in enumerate(data.clustering.texts)}
    for lab, full in zip(small.clustering.labelings, data.clustering.labelings):
        assert lab.labels == [full.labels[index[text]] for text in small.clustering.texts]


# --------------------------------------------------------------------------- tests' wiring, hand-made embedders
class LabelOracle:
    """Embeds a text as the one-hot of its gold answer to the question asked (or noise for other questions)."""

    kind = "method"
    dim = 64  # one fixed width, as a real embedder has; one-hot answers make equal answers tie exactly

    def __init__(self, answers: dict[str, dict[str, str]], name: str = "oracle", deaf_to: str | None = None):
        self.answers = answers  # instruction -> text -> answer
        self.name = name
        self.deaf_to = deaf_to  # answer this instruction's question whatever is asked
        self.calls: list[list[str]] = []

    def embed(self, texts, instructions):
        self.calls.append(list(instructions))
        out = {}
        for instruction in instructions:
            asked = self.deaf_to or instruction
            if asked not in self.answers:
                rng = np.random.default_rng(zlib.crc32(instruction.encode()))  # hash() changes per process
                out[instruction] = metrics.unit_rows(rng.normal(size=(len(texts), self.dim)))
                continue
            values = sorted(set(self.answers[asked].values()))
            out[instruction] = np.stack([np.eye(self.dim)[values.index(self.answers[asked][t])] for t in texts])
        return out

    def describe(self):
        return {"name": self.name, "kind": self.kind}


def _utterance_answers(triplets):
    frame = pd.read_csv(shipped.path("eval/intent_emotion_utterances.csv"))
    return {
        triplets.instructions["intent"]: dict(zip(frame.text, frame.intent)),
        triplets.instructions["emotion"]: dict(zip(frame.text, frame.emotion)),
    }


def test_triplets_wiring_rewards_following_and_punishes_deafness():
    triplets = load_awareness("shipped", ["triplets"]).triplets
    answers = _utterance_answers(triplets)
    follows = evaluate_triplets(LabelOracle(answers), triplets)
    assert (follows["intent"], follows["emotion"], follows["harmonic_mean"]) == (1.0, 1.0, 1.0)
    # an embedder that always hears "intent" wins the intent triplets and loses every emotion one
    deaf = evaluate_triplets(LabelOracle(answers, deaf_to=triplets.instructions["intent"]), triplets)
    assert (deaf["intent"], deaf["emotion"], deaf["harmonic_mean"]) == (1.0, 0.0, 0.0)


def test_blend_weights_the_two_cosines_and_moves_between_its_parts():
    triplets = load_awareness("shipped", ["triplets"]).triplets
    answers = _utterance_answers(triplets)
    follows, deaf = LabelOracle(answers), LabelOracle(answers, deaf_to=triplets.instructions["intent"])
    texts, instructions = triplets.texts()[:6], list(dict.fromkeys(triplets.instructions.values()))
    raw, centred = (Blend(follows, deaf, weight=0.25, center=center).embed(texts, instructions) for center in (False, True))
    for instruction in instructions:
        a, b = follows.embed(texts, [instruction])[instruction], deaf.embed(texts, [instruction])[instruction]
        assert np.allclose(np.linalg.norm(raw[instruction], axis=1), 1.0)
        assert np.allclose(raw[instruction] @ raw[instruction].T, 0.25 * a @ a.T + 0.75 * b @ b.T)
        a, b = (metrics.unit_rows(part - part.mean(axis=0)) for part in (a, b))  # each part centred on the set
        assert np.allclose(centred[instruction] @ centred[instruction].T, 0.25 * a @ a.T + 0.75 * b @ b.T)
    # all weight on one part scores exactly as that part
    assert evaluate_triplets(Blend(follows, deaf, weight=1.0), triplets)["harmonic_mean"] == 1.0
    assert evaluate_triplets(Blend(follows, deaf, weight=0.0), triplets)["emotion"] == 0.0
    with pytest.raises(ValueError, match="between 0 and 1"):
        Blend(follows, deaf, weight=1.5)


def test_sts_wiring_groups_pairs_by_instruction():
    sts = load_awareness("shipped", ["sts"]).sts
    answers: dict[str, dict[str, str]] = {}
    for s1, s2, instruction, label in zip(sts.sentence1, sts.sentence2, sts.instructions, sts.labels):
        answers.setdefault(instruction, {})[s1] = f"{instruction}|{s1}"
        answers[instruction][s2] = f"{instruction}|{s1}" if label == 1 else f"{instruction}|{s2}"
    oracle = LabelOracle(answers)
    result = evaluate_sts(oracle, sts)
    assert result["spearman"] == pytest.approx(1.0)
    assert result["n_instructions"] == len(oracle.calls) == len(set(sts.instructions))


def test_multilabel_wiring_and_one_call_for_both_questions():
    clustering = load_awareness("shipped", ["clustering"]).clustering
    answers = {lab.instruction: dict(zip(clustering.texts, lab.labels)) for lab in clustering.labelings}
    oracle = LabelOracle(answers)
    result = evaluate_multilabel(oracle, clustering)
    assert result["aspect"] == pytest.approx(1.0) and result["sentiment"] == pytest.approx(1.0)
    assert result["harmonic_mean"] == pytest.approx(1.0) and result["k"] == {"aspect": 4, "sentiment": 2}
    assert len(oracle.calls) == 1 and len(oracle.calls[0]) == 2


def test_robustness_wiring_separates_correct_from_incorrect():
    texts = [f"text {i}" for i in range(40)]
    labels = [f"class {i % 4}" for i in range(40)]
    correct, implicit, incorrect = ["c1", "c2"], ["i1", "i2"], ["x1", "x2"]
    task = RobustnessTask("toy", texts, labels, correct, implicit, incorrect, source="hand-made")
    oracle = LabelOracle({q: dict(zip(texts, labels)) for q in correct + implicit})
    result = evaluate_robustness_task(oracle, task)
    assert result["correct"] == pytest.approx(1.0) and result["implicit"] == pytest.approx(1.0)
    assert result["incorrect"] < 0.3 and result["delta_ci"] > 0.7 and result["strict_ci"] > 0.5
    assert len(oracle.calls) == 1 and len(oracle.calls[0]) == 6  # one corpus, all questions in one call
    assert set(result["scores"]["incorrect"]) == {"x1", "x2"}


def test_suite_runs_kmeans_centred_or_on_raw_rows_as_asked():
    texts = [f"text {i}" for i in range(40)]
    labels = [f"class {i % 4}" for i in range(40)]
    task = RobustnessTask("toy", texts, labels, ["c1"], ["i1"], ["x1", "x2"], source="hand-made")
    oracle = LabelOracle({q: dict(zip(texts, labels)) for q in ("c1", "i1")})  # incorrect questions: noise
    rows = {center: run_suite([oracle], Suite(robustness=[task], center=center), show_progress_bar=False)[0]
            for center in (True, False)}
    for center, row in rows.items():
        assert row["robustness"]["tasks"]["toy"]["scores"] == evaluate_robustness_task(oracle, task, center=center)["scores"]
    noise = [rows[center]["robustness"]["tasks"]["toy"]["scores"]["incorrect"]["x1"] for center in (True, False)]
    assert noise[0] != noise[1]  # the two geometries cluster the same noise differently


def test_suite_average_is_the_papers_table_mean():
    data = limit_awareness(load_awareness("shipped"), 40)
    answers = _utterance_answers(data.triplets)
    answers.update({lab.instruction: dict(zip(data.clustering.texts, lab.labels)) for lab in data.clustering.labelings})
    saved = []
    [row] = run_suite([LabelOracle(answers)], Suite(data), show_progress_bar=False, on_row=lambda rows: saved.append(len(rows)))
    assert saved == [1]  # partial results are handed out after every subject
    expected = np.mean([row["triplets"]["harmonic_mean"], row["sts"]["spearman"], row["clustering"]["harmonic_mean"]])
    assert row["awareness_avg"] == pytest.approx(expected)
    assert set(row["seconds"]) == {"triplets", "sts", "clustering", "total"}


def test_parse_tasks():
    assert parse_tasks("all") == ["triplets", "sts", "clustering", "robustness"]
    assert parse_tasks("sts, triplets") == ["triplets", "sts"]
    with pytest.raises(InBedderError, match="unknown test"):
        parse_tasks("triplets,nope")


# --------------------------------------------------------------------------- command-line errors (no model is loaded)
def _error(capsys, *argv) -> str:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    return err


def test_cli_rejects_unknown_method(capsys):
    assert "unknown method(s) 1st_gen" in _error(capsys, "evaluate", "compare", "--methods", "1st-gen,1st_gen")


def test_cli_rejects_method_on_compare(capsys):
    assert "--methods" in _error(capsys, "evaluate", "compare", "--method", "1st-gen")


def test_cli_rejects_unknown_tasks(capsys):
    assert "unknown test(s) robustness" in _error(capsys, "evaluate", "awareness", "--tasks", "triplets,robustness")
    assert "unknown test(s) nli" in _error(capsys, "evaluate", "compare", "--tasks", "nli")


def test_cli_rejects_tiny_limit(capsys):
    assert "--limit must be at least 2" in _error(capsys, "evaluate", "awareness", "--limit", "1")


def test_cli_hub_unreachable_is_one_line(capsys, tmp_path):
    err = _error(capsys, "evaluate", "awareness", "--data", "hub", "--output-dir", str(tmp_path / "out"))
    assert "BrandonZYW/IntentEmotion" in err and "shipped" in err
    assert not (tmp_path / "out").exists()


def test_cli_unknown_hub_corpus_in_spec(capsys, tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"tasks": [{"corpus": "NoSuchOwner/NoSuchClustering", "correct": ["a"], "implicit": ["b"],
                                           "incorrect": ["c"]}]}))
    err = _error(capsys, "evaluate", "robustness", "--spec", str(spec))
    assert "NoSuchOwner/NoSuchClustering" in err and "cannot" in err


def test_cli_bad_spec(capsys, tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"tasks": [{"corpus": "missing.csv", "correct": ["a"]}]}))
    assert "lacks implicit, incorrect" in _error(capsys, "evaluate", "robustness", "--spec", str(spec))
    assert "does not exist" in _error(capsys, "evaluate", "robustness", "--spec", str(tmp_path / "nope.json"))


# --------------------------------------------------------------------------- the whole suite, embedded model
@pytest.mark.slow
def test_compare_runs_every_test_with_the_embedded_model(tmp_path):
    """1st-gen and both references on a tiny subset of every shipped set, end to end.

    The answer-prefix probe (a generation per question) is switched off to keep this under a
    minute of CPU; the figures are not checked for quality, only for shape and the references' logic.
    """
    corpus = pd.read_csv(shipped.path("reviews.csv")).groupby("sentiment").head(4)
    corpus.to_csv(tmp_path / "reviews8.csv", index=False)
    tasks = json.loads(shipped.path("eval/robustness_instructions.json").read_text())["tasks"]
    sentiment = next(task for task in tasks if task["label_column"] == "sentiment")
    sentiment.update(corpus="reviews8.csv", **{key: sentiment[key][:1] for key in ("correct", "implicit", "incorrect")})
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"tasks": [sentiment]}))
    out = tmp_path / "run"
    code = main(["evaluate", "compare", "--methods", "1st-gen", "--limit", "6", "--spec", str(spec),
                 "--adapter", "none", "--answer-prefix", "none", "--max-new-tokens", "2",
                 "--output-dir", str(out), "--quiet"])
    assert code == 0
    record = json.loads((out / "results.json").read_text())
    rows = {row["name"]: row for row in record["subjects"]}
    assert list(rows) == ["prompt", "no-instruction", "1st-gen"]
    for row in rows.values():
        assert 0 <= row["triplets"]["harmonic_mean"] <= 1 and -1 <= row["sts"]["spearman"] <= 1
        assert 0 <= row["clustering"]["harmonic_mean"] <= 1
        assert set(row["robustness"]["tasks"]["sentiment"]["scores"]["correct"]) == set(sentiment["correct"][:1])
    # the reference without an instruction cannot tell questions apart: no robustness gap
    assert rows["no-instruction"]["robustness"]["mean"]["delta_ci"] == pytest.approx(0.0, abs=1e-9)
    assert rows["1st-gen"]["adapter"] is None and rows["1st-gen"]["answer_prefix"] == ""
    assert record["parameters"]["limit"] == 6 and record["data"]["sts"]["n_pairs"] == 6
    markdown = (out / "results.md").read_text()
    assert "| 1st-gen |" in markdown and "no-instruction (ref.)" in markdown

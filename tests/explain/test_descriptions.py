"""Cluster descriptions with evidence (issue #29, item 1): contrast, evidence spread, caching, every output."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from inbedder.cli.main import main
from inbedder.explain.descriptions import (
    MAX_DESCRIPTION_WORDS, clean_description, description_inputs, evidence_rows, nearest_clusters, typical_answers,
    usable_name,
)


def test_nearest_clusters_are_the_closest_centres_never_itself():
    centres = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    near = nearest_clusters(centres)
    assert near[0] == [1, 2] and near[1] == [0, 2] and near[3] == [2, 1]
    assert all(cluster not in others for cluster, others in near.items())


def test_evidence_starts_nearest_the_centre_then_spreads():
    # cluster 0: the most typical text, near-copies of it, another typical text and two far-off members
    vectors = np.array([[1.0, 0.0], [0.999, 0.01], [0.998, 0.02], [0.8, 0.6], [-0.5, 0.8], [-0.6, 0.8],
                        [0.0, 1.0], [0.1, 1.0], [0.2, 1.0]])
    labels = np.array([0, 0, 0, 0, 0, 0, 1, 1, -1])
    similarity = np.array([0.99, 0.98, 0.95, 0.96, 0.5, 0.4, 0.95, 0.90, 0.1])
    rows = evidence_rows(vectors, labels, similarity, n=2)
    assert rows[0] == [0, 3]  # not the near-copy 1, nor the far-off 4: another side of the cluster's typical half
    assert rows[1] == [6, 7] and -1 not in rows  # small clusters give what they have; outliers none


def test_the_writer_reads_the_cluster_beside_its_nearest_clusters():
    answers = ["slow service", "slow service", "rude waiter", "cold food", "bland food", "too pricey", "expensive"]
    labels = np.array([0, 0, 0, 1, 1, 2, 2])
    similarity = np.array([0.9, 0.8, 0.7, 0.9, 0.8, 0.9, 0.8])
    assert typical_answers(answers, labels, similarity, 0) == ["slow service", "rude waiter"]  # distinct, typical first
    inputs = description_inputs(answers, labels, similarity, {0: [2, 1], 1: [0, 2], 2: [0, 1]})
    assert inputs[0].splitlines() == ["This cluster's answers: slow service; rude waiter",
                                      "Nearest cluster's answers: too pricey; expensive",
                                      "Next nearest cluster's answers: cold food; bland food"]


def test_a_description_is_one_sentence_on_one_line():
    assert clean_description(' "Members complain about slow service. Unlike group B, …"\n') == "Members complain about slow service."
    assert clean_description("") == ""
    long = " ".join(["word"] * 80)
    assert len(clean_description(long).split()) == MAX_DESCRIPTION_WORDS


def test_a_name_that_talks_about_the_prompt_gives_way_to_the_answer_phrase():
    assert usable_name('"Negative Cluster"', "negative") == "Negative"
    assert usable_name("This cluster's answers are a", "price") == "price"
    assert usable_name('The answer is "adjectives', "food") == "food"
    assert usable_name("FoodPrices", "price") == "Food Prices"
    assert usable_name("", "service") == "service"


@pytest.fixture
def reviews(tmp_path):
    topics = {"food": "the soup was cold and bland", "service": "the waiter ignored us for an hour",
              "price": "far too expensive for the portion"}
    rows = [{"id": f"r{i}-{aspect}", "review": f"{text} (visit {i})", "aspect": aspect}
            for i in range(8) for aspect, text in topics.items()]
    source = tmp_path / "reviews.csv"
    pd.DataFrame(rows).to_csv(source, index=False)
    return source


def _cluster(source, tiny: str, output, *extra: str) -> int:
    return main(["cluster", str(source), "--text-column", "review", "--id-column", "id", "-i", "What is the review about?",
                 "--k", "3", "-o", str(output), "--model", tiny, "--template", "inbedder", "--max-new-tokens", "3",
                 "--describe", "--writer-model", tiny, *extra])


def test_describe_writes_the_column_the_sidecar_and_the_saved_clustering(tiny_models, reviews, tmp_path, capsys):
    tiny = tiny_models["llama"]
    output, saved = tmp_path / "out.csv", tmp_path / "saved"
    assert _cluster(reviews, tiny, output, "--save-clustering", str(saved)) == 0
    printed = capsys.readouterr()
    assert "writes the cluster names and descriptions" in printed.err and "descriptions (written by" in printed.out
    table = pd.read_csv(output, keep_default_na=False)
    record = json.loads(output.with_name("out.csv.run.json").read_text())
    sentences = {int(c): text for c, text in record["descriptions"].items()}
    assert sorted(sentences) == sorted(set(table["cluster"]))
    assert table["cluster_description"].tolist() == [sentences[c] for c in table["cluster"]]
    prompt = record["description_prompt"]
    assert prompt["decoding"] == "greedy" and prompt["writer_model"] and set(map(int, prompt["inputs"])) == set(sentences)
    for cluster, quotes in record["evidence"].items():
        members = table[table["cluster"] == int(cluster)]
        assert 1 <= len(quotes) <= 3 and {q["id"] for q in quotes} <= set(members["id"])
        assert all(q["answer"] == members.set_index("id").loc[q["id"], "answer"] for q in quotes)
    assert record["generated_names"] and record["options"]["describe"] is True
    # written once, read back: the same words again (greedy, cached), and the saved clustering keeps them
    again = tmp_path / "again.csv"
    assert _cluster(reviews, tiny, again) == 0
    assert pd.read_csv(again, keep_default_na=False)["cluster_description"].tolist() == table["cluster_description"].tolist()
    saved_record = json.loads((saved / "clustering.json").read_text())
    assert {int(c): t for c, t in saved_record["descriptions"].items()} == sentences
    assigned = tmp_path / "assigned.csv"
    assert main(["assign", str(reviews), "--text-column", "review", "--clustering", str(saved), "-o", str(assigned),
                 "--quiet"]) == 0
    frame = pd.read_csv(assigned, keep_default_na=False)
    assert frame["cluster_description"].tolist() == [sentences.get(c, "") for c in frame["cluster"]]


def test_a_writer_model_with_nothing_to_write_is_refused_before_any_work(tiny_models, reviews, tmp_path, capsys):
    code = main(["cluster", str(reviews), "--text-column", "review", "-i", "What is the review about?", "--k", "3",
                 "-o", str(tmp_path / "out.csv"), "--writer-model", tiny_models["llama"]])
    assert code == 2
    error = capsys.readouterr().err
    assert "--writer-model" in error and "--describe" in error and len(error.strip().splitlines()) == 1
    assert not (tmp_path / "out.csv").exists()


def test_an_encoder_cannot_write_and_is_refused_before_any_text_is_embedded(tiny_models, reviews, tmp_path, capsys):
    code = main(["cluster", str(reviews), "--text-column", "review", "-i", "What is the review about?", "--k", "3",
                 "-o", str(tmp_path / "masked.csv"), "--model", tiny_models["llama"], "--template", "inbedder",
                 "--describe", "--writer-model", tiny_models["roberta"]])
    error = capsys.readouterr().err
    assert code == 2 and "cannot write" in error and "InBedder 1st-gen" not in error
    assert [line for line in error.splitlines() if "error" in line] == error.strip().splitlines()[-1:]
    assert not (tmp_path / "masked.csv").exists()


@pytest.mark.slow
def test_the_embedded_model_describes_the_shipped_reviews(embedded_cache_dir, capsys):
    from inbedder import InBedder, InstructionClusterer
    from inbedder.cli.demo import DEMO_QUESTIONS
    from inbedder.data import path as data_path
    from inbedder.explain.writing import load_writer

    reviews = pd.read_csv(data_path("reviews.csv"))
    model = InBedder(cache=embedded_cache_dir / "embeddings.sqlite")
    aspect = InstructionClusterer(model, DEMO_QUESTIONS["aspect"][0], n_clusters=4).fit(reviews["review"])
    writer = load_writer("smollm2-135m", cache=embedded_cache_dir / "embeddings.sqlite")
    sentences = aspect.describe_clusters(writer=writer)
    with capsys.disabled():
        print("\nSmolLM2-135M describes the shipped reviews' aspect clusters:")
        for cluster, sentence in sentences.items():
            print(f"  {cluster} {aspect.generated_names_[cluster]!r}: {sentence}")
    assert sorted(sentences) == [0, 1, 2, 3]
    assert all(0 < len(sentence.split()) <= 41 for sentence in sentences.values())
    for cluster, rows in aspect.descriptions_.evidence.items():
        assert len(rows) == 3 and all(aspect.labels_[row] == cluster for row in rows)
    assert aspect.describe_clusters(writer=writer) == sentences  # greedy and cached


def test_the_judge_scores_each_description_by_its_log_probability_after_the_text(tiny_models):
    """Batched, padded scores equal the model's own log-probabilities of the description's tokens, one by one."""
    import torch

    from inbedder.explain.descriptions import Descriptions
    from inbedder.explain.judge import answer_of, continuation_logprobs
    from inbedder.explain.writing import load_writer

    described = Descriptions(writer="w", names={0: "food", 2: "service"}, sentences={0: "About food.", 2: ""})
    assert answer_of(described, 0) == "food: About food." and answer_of(described, 2) == "service"
    writer = load_writer(tiny_models["llama"], cache=False)
    prompts = [("cold soup and bland rice", "What is it about?"), ("the waiter was rude", "What is it about?")]
    answers = ["food: About food.", "service"]
    found = continuation_logprobs(writer, prompts, answers, batch_size=2)
    tokenizer, model = writer.loaded.tokenizer, writer.loaded.model
    for (text, question), answer, score in zip(prompts, answers, found):
        prompt = writer.prompts.ids(question, text)
        tokens = tokenizer(answer, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([prompt + tokens])).logits[0].float()
        expected = torch.log_softmax(logits, -1)[torch.arange(len(prompt) - 1, len(prompt) + len(tokens) - 1), tokens]
        assert score == pytest.approx(float(expected.mean()), abs=1e-4)


def test_judge_joins_the_self_check_in_the_table_and_the_sidecar(tiny_models, reviews, tmp_path, capsys):
    output = tmp_path / "judged.csv"
    assert main(["cluster", str(reviews), "--text-column", "review", "-i", "What is the review about?", "--k", "3",
                 "-o", str(output), "--model", tiny_models["llama"], "--template", "inbedder", "--max-new-tokens", "3",
                 "--judge", "--writer-model", tiny_models["llama"]]) == 0
    assert "judge agreement" in capsys.readouterr().out
    check = json.loads(output.with_name("judged.csv.run.json").read_text())["self_check"]
    assert check["judge_sample"] == 24 and 0.0 <= check["judge_agreement"] <= 1.0  # all 24 texts: fewer than 40
    assert "cluster_description" in pd.read_csv(output).columns  # --judge describes first

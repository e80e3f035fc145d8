"""Several answers per text (--multi): splitting, rows, in-context vectors, clusters back to texts, CLI and assign."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from inbedder import InBedder, InstructionClusterer, MultiAnswerClusterer
from inbedder.cli.main import main
from inbedder.cli.multi_report import answers_path, gold_sets
from inbedder.clustering.multi import clusters_of_texts, label_precision, label_recall
from inbedder.encoding.multi import _in_context, answer_rows, check_max_answers, split_answers
from inbedder.errors import InBedderError

REVIEWS = [
    "The pasta was overcooked and the waiter ignored us.",
    "Lovely staff, they remembered our names.",
    "Far too expensive for tiny portions.",
    "Candlelight and soft jazz made the evening.",
    "Best ramen I have had in years, and cheap too.",
    "We waited an hour for the bill.",
]
QUESTION = "What aspect of the restaurant is discussed?"


def test_split_answers_reads_the_list_forms_models_write():
    assert split_answers("slow service; cold food", 3) == ["slow service", "cold food"]
    assert split_answers("1. Food 2. Service 3. Price", 3) == ["Food", "Service", "Price"]
    assert split_answers("food, service and price", 2) == ["food", "service"]  # capped at N
    assert split_answers("Food; food; FOOD.", 3) == ["Food"]  # one answer said three times is one answer
    assert split_answers("- ambience\n- price", 3) == ["ambience", "price"]
    assert split_answers(" ; . ", 3) == []


def test_a_text_with_no_answer_keeps_one_row_and_is_counted():
    rows, answers = answer_rows([["food", "service"], [], ["price"]])
    assert rows.tolist() == [0, 0, 1, 2] and answers == ["food", "service", "", "price"]


def test_texts_get_every_cluster_of_their_answers_and_outliers_only_when_nothing_else():
    rows = np.array([0, 0, 1, 2, 2])
    assert clusters_of_texts(rows, np.array([3, 1, -1, -1, 2]), 3) == [[3, 1], [-1], [2]]


def test_label_recall_counts_each_gold_label_of_each_text():
    gold = [["food", "service"], ["food"], ["service"], ["price", "food"]]
    # clusters 0 (mostly food) and 1 (service): text 3's price is not recalled
    assert label_recall([[0, 1], [0], [1], [0]], gold) == pytest.approx(5 / 6)
    assert label_recall([[0], [0], [1], [0]], gold) == pytest.approx(4 / 6)  # one cluster per text loses text 0's service
    with pytest.raises(InBedderError, match="no gold labels"):
        label_recall([[0]], [[]])


def test_label_precision_counts_memberships_in_clusters_that_stand_for_none_of_the_texts_labels():
    gold = [["food", "service"], ["food"], ["service"], ["food"]]
    assert label_precision([[0, 1], [0], [1], [0]], gold) == 1.0
    assert label_precision([[0, 1], [0, 1], [1], [0]], gold) == pytest.approx(5 / 6)  # text 1 is not about service


@pytest.mark.parametrize("bad", [1, 9, 2.5, True, "3"])
def test_max_answers_is_refused_in_one_line_outside_2_to_8(bad):
    with pytest.raises(InBedderError, match="from 2 to 8"):
        check_max_answers(bad)


def test_an_empty_answer_in_context_is_the_first_generated_state(tiny_models):
    """The teacher-forced positions are right: with no answer tokens the vector is exactly 1st-gen's state."""
    model = InBedder(tiny_models["llama"], template="inbedder", answer_prefix="", cache=False)
    first = model.encode(REVIEWS[:3], QUESTION, method="1st-gen", normalize_embeddings=True)
    found = _in_context(model, REVIEWS[:3], QUESTION, ["", "", ""], prefix="", batch_size=2, show_progress_bar=False)
    np.testing.assert_allclose(found, first, atol=1e-5)
    spoken = _in_context(model, REVIEWS[:3], QUESTION, ["food", "cold food", "price"], prefix="", batch_size=2,
                         show_progress_bar=False)
    assert np.all(np.abs(np.sum(spoken * first, axis=1)) < 0.9999)  # the answer's tokens, one-token ones too, move it
    two = _in_context(model, REVIEWS[:1] * 2, QUESTION, ["food", "price"], prefix="", batch_size=2, show_progress_bar=False)
    assert float(two[0] @ two[1]) < 0.9999  # two answers of one text are two vectors
    alone = _in_context(model, REVIEWS[:1], QUESTION, ["cold food"], prefix="", batch_size=1, show_progress_bar=False)
    padded = _in_context(model, REVIEWS[:3], QUESTION, ["cold food", "x", "a much longer answer than the others"],
                         prefix="", batch_size=3, show_progress_bar=False)
    np.testing.assert_allclose(padded[0], alone[0], atol=1e-5)  # a batch's padding changes no row


def test_multi_keeps_every_text_and_maps_answers_back(tiny_models):
    model = InBedder(tiny_models["llama"], template="inbedder", max_new_tokens=3, cache=False)
    multi = MultiAnswerClusterer(InstructionClusterer(model, QUESTION, n_clusters=2), max_answers=3,
                                 lister=tiny_models["llama"]).fit(REVIEWS)
    assert multi.lister_ == tiny_models["llama"]
    assert len(multi.clusters_) == len(multi.labels_) == len(multi.answers_) == len(REVIEWS)
    rows = multi.encoded_.rows
    assert sorted(set(rows.tolist())) == list(range(len(REVIEWS)))  # no text dropped
    assert multi.no_answer_ == sum(1 for found in multi.answers_ if not found)
    table = multi.answer_table()
    assert len(table) == len(rows) == len(multi.answer_clusterer_.labels_)
    for text, own in enumerate(multi.clusters_):
        assert set(own) == set(table.loc[table["text_index"] == text, "cluster"]) - ({-1} if len(own) > 1 else set())
        assert multi.labels_[text] == own[0]


def _tiny_flags(tiny_models):
    return ["--model", tiny_models["llama"], "--template", "inbedder", "--max-new-tokens", "3", "--quiet"]


def test_cluster_multi_writes_lists_the_answers_table_and_a_clustering_assign_reads(tiny_models, tmp_path):
    source = tmp_path / "r.csv"
    pd.DataFrame({"review": REVIEWS, "aspects": ["food; service", "service", "price; food", "ambience",
                                                  "food; price", "service"]}).to_csv(source, index=False)
    output = tmp_path / "out" / "multi.csv"
    code = main(["cluster", str(source), "--text-column", "review", "--label-column", "aspects", "-i", QUESTION,
                 "--k", "2", "--multi", "3", "--writer-model", tiny_models["llama"], "-o", str(output),
                 "--save-clustering", str(tmp_path / "saved"),
                 *_tiny_flags(tiny_models)])
    assert code == 0
    texts = pd.read_csv(output)
    assert texts["text"].tolist() == REVIEWS
    assert {"cluster", "clusters", "cluster_names", "answers", "n_answers", "label"} <= set(texts.columns)
    answers = pd.read_csv(answers_path(output))
    assert set(answers["row"]) == set(range(len(REVIEWS))) and len(answers) >= len(REVIEWS)
    record = json.loads((tmp_path / "out" / "multi.csv.run.json").read_text())
    assert record["multi"]["answers"] == len(answers) and record["texts"] == len(REVIEWS)
    assert 0 <= record["multi"]["label_recall"] <= 1 and record["options"]["multi"] == 3
    saved = json.loads((tmp_path / "saved" / "clustering.json").read_text())
    assert saved["multi"] == 3 and saved["multi_lister"] == tiny_models["llama"]
    assigned = tmp_path / "assigned.csv"
    assert main(["assign", str(source), "--text-column", "review", "--clustering", str(tmp_path / "saved"),
                 "-o", str(assigned), "--quiet"]) == 0
    placed = pd.read_csv(assigned)
    assert placed["text"].tolist() == REVIEWS and "clusters" in placed.columns
    # the fitted texts, listed and embedded again, land where fit put them
    assert [str(c) for c in placed["clusters"]] == [str(c) for c in texts["clusters"]]


@pytest.mark.parametrize("extra, message", [
    (["--multi", "1"], "from 2 to 8"),
    (["--multi", "3", "--engine", "ray"], "drop --engine ray"),
    (["--multi", "3", "--answer-space", "50"], "--answer-space"),
])
def test_cluster_multi_refuses_bad_combinations_in_one_line(tiny_models, tmp_path, capsys, extra, message):
    source = tmp_path / "r.txt"
    source.write_text("\n".join(REVIEWS) + "\n", encoding="utf-8")
    assert main(["cluster", str(source), "-i", QUESTION, "--k", "2", *extra, *_tiny_flags(tiny_models)]) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and error.count("\n") == 0


def test_gold_sets_split_a_cell_of_several_labels():
    assert gold_sets(["food; service", "price", None]) == [["food", "service"], ["price"], []]
    assert gold_sets(None) is None


@pytest.mark.slow
def test_the_embedded_model_embeds_an_answer_by_its_meaning_not_by_its_text(embedded_cache_dir):
    """Two aspects of one review are farther apart than one aspect said of two reviews: the in-context vector
    carries the answer (what --multi clusters), while the text still shapes it (two reviews' "food" differ)."""
    from inbedder.data import path as data_path

    frame = pd.read_csv(data_path("eval/two_aspects.csv"))
    both = frame[frame["aspects"] == "food; service"]["review"].tolist()
    model = InBedder(cache=embedded_cache_dir / "embeddings.sqlite")
    texts = [text for text in both for _ in range(2)]
    vectors = _in_context(model, texts, QUESTION, ["food", "service"] * len(both), prefix=model.resolve_answer_prefix(
        texts, QUESTION), batch_size=8, show_progress_bar=False)
    food, service = vectors[0::2], vectors[1::2]
    same_text = np.mean(np.sum(food * service, axis=1))
    same_answer = np.mean([float(food[i] @ food[j]) for i in range(len(both)) for j in range(len(both)) if i != j])
    assert same_answer > same_text
    assert same_answer < 0.9999  # the text is in the vector too


@pytest.mark.slow
def test_multi_on_the_embedded_model_keeps_every_review_and_finds_more_than_one_answer_somewhere(embedded_cache_dir):
    from inbedder.data import path as data_path
    from inbedder.explain.writing import load_writer

    frame = pd.read_csv(data_path("eval/two_aspects.csv")).iloc[::3]  # 14 reviews, every pair of aspects
    texts, gold = frame["review"].tolist(), gold_sets(frame["aspects"].tolist())
    model = InBedder(cache=embedded_cache_dir / "embeddings.sqlite")
    lister = load_writer("smollm2-135m", cache=embedded_cache_dir / "embeddings.sqlite")
    multi = MultiAnswerClusterer(InstructionClusterer(model, QUESTION, n_clusters=4), max_answers=3,
                                 lister=lister).fit(texts, gold)
    assert len(multi.clusters_) == len(texts) and set(multi.encoded_.rows.tolist()) == set(range(len(texts)))
    assert len(multi.encoded_.answers) > len(texts)  # the zero-shot 135M lists, if poorly
    assert 0 < multi.label_recall_ <= 1

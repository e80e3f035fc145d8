"""Tests for inbedder.explain on small hand-made clusterings whose explanations are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inbedder.errors import InBedderError
from inbedder.explain import (
    cluster_keywords,
    cluster_table,
    label_composition,
    label_entropy,
    representative_indices,
    v_measure,
)
from inbedder.stopwords import ENGLISH_STOPWORDS

FOOD = ["pizza pasta", "The pizza and the pasta!", "pasta, pizza."]
SERVICE = ["waiter rude", "The waiter was rude.", "rude waiter"]


def words(pairs: list[tuple[str, float]]) -> list[str]:
    return [word for word, _ in pairs]


def test_keywords_separate_clusters() -> None:
    answers = FOOD + SERVICE + ["food service"]
    labels = [0, 0, 0, 1, 1, 1, 0]
    keywords = cluster_keywords(answers, np.array(labels), top_n=5)
    assert set(keywords) == {0, 1}
    assert set(words(keywords[0])[:2]) == {"pizza", "pasta"}
    assert set(words(keywords[1])[:2]) == {"waiter", "rude"}
    assert not {"waiter", "rude"} & set(words(keywords[0]))
    assert not {"pizza", "pasta"} & set(words(keywords[1]))
    for pairs in keywords.values():
        scores = [score for _, score in pairs]
        assert scores == sorted(scores, reverse=True)
        assert all(score > 0 for score in scores)


def test_word_shared_equally_is_not_a_keyword() -> None:
    keywords = cluster_keywords(["great pizza", "great waiter"], [0, 1])
    assert words(keywords[0]) == ["pizza"]
    assert words(keywords[1]) == ["waiter"]


def test_top_n_limits_the_list() -> None:
    keywords = cluster_keywords(["alpha beta gamma delta", "omega"], [0, 1], top_n=2)
    assert len(keywords[0]) == 2


def test_stopwords_and_extra_stopwords_never_appear() -> None:
    answers = [
        "The topic of this text is about pizza and pasta.",
        "The topic of this text is about a rude waiter.",
    ]
    keywords = cluster_keywords(answers, [0, 1], extra_stopwords=["Topic", "TEXT"])
    found = {word for pairs in keywords.values() for word in words(pairs)}
    assert found == {"pizza", "pasta", "rude", "waiter"}
    assert not found & ENGLISH_STOPWORDS


def test_instruction_string_as_extra_stopwords_is_split_into_words() -> None:
    answers = ["main topic pizza", "main topic waiter"]
    keywords = cluster_keywords(answers, [0, 1], extra_stopwords="What is the main topic?")
    assert words(keywords[0]) == ["pizza"]
    assert words(keywords[1]) == ["waiter"]


def test_single_cluster_uses_plain_tfidf() -> None:
    keywords = cluster_keywords(["pizza pizza pasta", "pizza"], [3, 3])
    assert list(keywords) == [3]
    assert words(keywords[3]) == ["pizza", "pasta"]
    # one document: idf is 1, so the scores are the L2-normalised counts (3, 1)
    expected = [3 / math.sqrt(10), 1 / math.sqrt(10)]
    assert [score for _, score in keywords[3]] == pytest.approx(expected)


def test_empty_answers_give_no_keywords() -> None:
    keywords = cluster_keywords(["pizza pasta", "", "  ", "the of and"], [0, 1, 1, 2])
    assert words(keywords[0]) == ["pasta", "pizza"]  # equal scores: alphabetical
    assert keywords[1] == []
    assert keywords[2] == []
    assert cluster_keywords(["", "the"], [0, 1]) == {0: [], 1: []}


def test_keywords_reject_mismatched_labels() -> None:
    with pytest.raises(InBedderError):
        cluster_keywords(["a", "b"], [0])


def test_representative_indices_nearest_first() -> None:
    centroids = np.array([[1.0, 0.0], [0.0, 1.0]])
    embeddings = np.array(
        [
            [1.0, 0.5],  # cluster 0, second nearest
            [0.0, 3.0],  # cluster 1, nearest (cosine ignores length)
            [5.0, 0.1],  # cluster 0, nearest
            [1.0, 1.0],  # cluster 0, farthest
            [0.4, 1.0],  # cluster 1
        ]
    )
    labels = [0, 1, 0, 0, 1]
    assert representative_indices(embeddings, labels, centroids, n=3) == {0: [2, 0, 3], 1: [1, 4]}
    assert representative_indices(embeddings, labels, centroids, n=1) == {0: [2], 1: [1]}


def test_representative_indices_rejects_label_without_centroid() -> None:
    with pytest.raises(InBedderError):
        representative_indices(np.eye(2), [0, 2], np.eye(2))


def test_label_entropy_pure_and_half_half() -> None:
    entropy = label_entropy([0, 0, 0, 1, 1], ["a", "a", "a", "a", "b"])
    assert entropy[0] == 0.0
    assert entropy[1] == pytest.approx(math.log(2))


def test_label_composition_counts_and_skips_missing() -> None:
    composition = label_composition([0, 0, 1, 1], ["a", None, "a", "b"])
    assert composition.loc[0].to_dict() == {"a": 1, "b": 0}
    assert composition.loc[1].to_dict() == {"a": 1, "b": 1}


def test_cluster_table_orders_by_entropy_when_labels_given() -> None:
    # cluster 0 is mixed (3 texts), cluster 1 is pure (2 texts), cluster 2 is a 2:1 mix (3 texts)
    labels = [0, 0, 0, 1, 1, 2, 2, 2]
    true = ["x", "y", None, "y", "y", "x", "x", "y"]
    answers = ["pizza"] * 3 + ["waiter"] * 2 + ["parking"] * 3
    texts = [f"text {i}" for i in range(8)]
    centroids = np.eye(3)
    embeddings = centroids[labels] + 0.01 * np.arange(8)[:, None]
    table = cluster_table(labels, answers, texts, embeddings, centroids, true_labels=true)
    assert list(table["cluster"]) == [1, 2, 0]
    assert list(table.columns) == [
        "cluster", "size", "keywords", "keyword_scores", "examples", "example_answers",
        "entropy", "top_label", "top_label_share",
    ]
    assert table["entropy"].tolist() == pytest.approx(
        [0.0, -(2 / 3) * math.log(2 / 3) - (1 / 3) * math.log(1 / 3), math.log(2)]
    )
    pure = table.iloc[0]
    assert (pure["size"], pure["top_label"], pure["top_label_share"]) == (2, "y", 1.0)
    assert pure["keywords"] == ["waiter"]
    assert table.iloc[1]["top_label"] == "x"
    assert table.iloc[1]["top_label_share"] == pytest.approx(2 / 3)
    assert table.iloc[1]["examples"][0] == "text 5"
    assert table.iloc[1]["example_answers"] == ["parking"] * 3


def test_cluster_table_orders_by_size_without_labels() -> None:
    labels = [0, 1, 1, 1, 2, 2]
    answers = ["pizza", "waiter", "rude waiter", "waiter", "parking", "parking lot"]
    texts = [f"text {i}" for i in range(6)]
    centroids = np.eye(3)
    embeddings = centroids[labels]
    table = cluster_table(labels, answers, texts, embeddings, centroids, n_examples=2)
    assert list(table["cluster"]) == [1, 2, 0]
    assert list(table["size"]) == [3, 2, 1]
    assert "entropy" not in table.columns
    assert table.iloc[0]["keywords"][0] == "waiter"
    assert len(table.iloc[0]["examples"]) == 2


def test_v_measure_perfect_clustering_and_missing_labels() -> None:
    assert v_measure(["a", "a", "b", "b"], [1, 1, 0, 0]) == pytest.approx(1.0)
    assert v_measure(["a", None, "b", float("nan"), "b"], [0, 1, 1, 0, 1]) == pytest.approx(1.0)
    assert v_measure(["a", "b", "a", "b"], [0, 0, 1, 1]) == pytest.approx(0.0)
    gold = [4, 4, 1, 0, 0, 1, 2, 4, 4, 2, 2]  # scikit-learn scores this perfect clustering 1.0000000000000002
    assert v_measure(gold, [0, 0, 2, 4, 4, 2, 1, 0, 0, 1, 1]) == 1.0
    with pytest.raises(InBedderError):
        v_measure([None, None], [0, 1])

"""Choice questions: the options a question offers name its clusters (issue #26, defect 8).

Asked "Is this review positive or negative?", the clusters were named "cluster 0" and "cluster 1"
and had no keywords: every word of the question was left out of the explanations, the answers
too. The question's echo is still left out ("What is the sentiment of the review?" never names a
cluster "sentiment review"), but an option the question offers is kept.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from inbedder.explain import cluster_keywords, cluster_table
from inbedder.explain import keywords as explain_keywords
from inbedder.explain.names import name_prompt_inputs, phrase_names

SENTIMENT_CHOICE = "Is this review positive or negative?"
ASPECT_CHOICE = "Is it about food, service, price or ambience?"
SENTIMENT_OPEN = "What is the sentiment of the review?"

# one cluster answers "positive" 114 times and "negative" 4 times, the other the reverse (as in the issue)
POSITIVE = ["Positive"] * 60 + ["The review is positive."] * 30 + ["positive"] * 24 + ["Negative"] * 4
NEGATIVE = ["Negative"] * 70 + ["The review is negative."] * 30 + ["negative"] * 9 + ["Positive."] * 5
ASPECT_ANSWERS = {
    0: ["Food", "The food.", "It is about the food", "food", "Service"],
    1: ["Service", "The service", "It is about the service.", "service"],
    2: ["Price", "It is about the price", "price", "Food"],
    3: ["Ambience", "The ambience.", "ambience", "It is about the ambience"],
}


def _keyword_words(answers, labels, question, top_n=5):
    return {c: [w for w, _ in kw] for c, kw in cluster_keywords(answers, labels, top_n=top_n, extra_stopwords=question).items()}


def _aspect_clusters():
    answers = [a for c in sorted(ASPECT_ANSWERS) for a in ASPECT_ANSWERS[c]]
    labels = [c for c in sorted(ASPECT_ANSWERS) for _ in ASPECT_ANSWERS[c]]
    return answers, labels


@pytest.mark.parametrize(
    ("question", "options"),
    [
        (SENTIMENT_CHOICE, {"positive", "negative"}),
        (ASPECT_CHOICE, {"food", "service", "price", "ambience"}),
        ("Is the review about food, service, price, or ambience?", {"food", "service", "price", "ambience"}),
        ("Does the customer complain about the food, the service, the price or the ambience?",
         {"food", "service", "price", "ambience"}),
        ("Which aspect does the review discuss: food, service or price?", {"food", "service", "price"}),
        ("Is the tone angry, sad, happy, or neutral?", {"angry", "sad", "happy", "neutral"}),
        ("In one word, is the review positive or negative?", {"positive", "negative"}),  # the clause is no item
        ("Is the review positive/negative?", {"positive", "negative"}),
        ("Food vs. service?", {"food", "service"}),
        ("Is the customer a first-time visitor or a regular?", {"visitor", "regular"}),
        ("Cet avis est-il positif ou négatif ?", {"positif", "négatif"}),
        ("Is the customer happy or not?", set()),  # nothing offered on one side: "happy" is the echo
        (SENTIMENT_OPEN, set()),
        ("What aspect of the restaurant is the reviewer talking about?", set()),
        ("", set()),
    ],
)
def test_offered_options_are_the_items_of_the_questions_or_lists(question, options):
    assert explain_keywords.offered_options(question) == options
    assert not options & explain_keywords.question_echo(question)


def test_echo_is_the_question_without_its_options():
    question_echo = explain_keywords.question_echo
    assert {"review", "sentiment"} <= question_echo(SENTIMENT_OPEN)
    assert {"review"} <= question_echo(SENTIMENT_CHOICE) and not {"positive", "negative"} & question_echo(SENTIMENT_CHOICE)
    assert {"restaurant", "restaurant's"} <= question_echo("Was the restaurant's food good?")


def test_choice_question_names_and_keywords_are_its_options():
    answers, labels = POSITIVE + NEGATIVE, [0] * len(POSITIVE) + [1] * len(NEGATIVE)
    assert phrase_names(answers, labels, instruction=SENTIMENT_CHOICE) == {0: "positive", 1: "negative"}
    keywords = _keyword_words(answers, labels, SENTIMENT_CHOICE)
    assert keywords == {0: ["positive"], 1: ["negative"]}  # "review" is the echo: never a keyword
    inputs = name_prompt_inputs(answers, labels, keywords, instruction=SENTIMENT_CHOICE)
    assert inputs[0].startswith("positive") and inputs[1].startswith("negative")


def test_a_four_option_question_names_each_cluster_by_its_option():
    answers, labels = _aspect_clusters()
    assert phrase_names(answers, labels, instruction=ASPECT_CHOICE) == {0: "food", 1: "service", 2: "price", 3: "ambience"}
    keywords = _keyword_words(answers, labels, ASPECT_CHOICE)
    assert {c: kw[0] for c, kw in keywords.items()} == {0: "food", 1: "service", 2: "price", 3: "ambience"}
    table = cluster_table(labels, answers, [f"t{i}" for i in range(len(answers))], np.eye(4)[labels], np.eye(4),
                          extra_stopwords=ASPECT_CHOICE)
    assert all(len(row) > 0 for row in table["keywords"])


def test_the_echo_of_an_open_question_is_still_left_out():
    """Under "What is the sentiment of the review?" the echo is dropped, even where only one
    cluster's answers restate the question (so "sentiment" and "review" do tell the clusters apart)."""
    restated = ["The sentiment of the review is positive."] * 10
    terse = ["Negative."] * 8 + ["The sentiment of the review is negative."] * 2
    answers, labels = restated + terse, [0] * 10 + [1] * 10
    names = phrase_names(answers, labels, instruction=SENTIMENT_OPEN)
    assert names == {0: "positive", 1: "negative"} and "sentiment review" not in names.values()
    keywords = _keyword_words(answers, labels, SENTIMENT_OPEN)
    assert keywords == {0: ["positive"], 1: ["negative"]}


@pytest.mark.slow
def test_the_embedded_model_names_the_reviews_by_a_choice_questions_options(embedded_cache_dir):
    """The shipped reviews under a choice question, with the real embedded model: every cluster has a
    name from its answers (not "cluster N") and keywords."""
    from inbedder import InBedder, InstructionClusterer
    from inbedder.data import path as data_path

    reviews = pd.read_csv(data_path("reviews.csv"))
    model = InBedder(cache=embedded_cache_dir / "embeddings.sqlite")
    fitted = InstructionClusterer(model, SENTIMENT_CHOICE, n_clusters=2, random_state=0).fit(
        reviews["review"], reviews["sentiment"])
    info = fitted.cluster_info()
    print("\n" + info[["cluster", "name", "size", "keywords", "top_label", "top_label_share"]].to_string())
    assert not any(re.fullmatch(r"cluster \d+", name) for name in info["name"]), info["name"].tolist()
    assert all(len(keywords) > 0 for keywords in info["keywords"]), info["keywords"].tolist()
    assert set(info["name"]) == {"positive", "negative"}
    named = dict(zip(info["name"], info["top_label"]))
    assert named == {"positive": "positive", "negative": "negative"}  # each named by the sentiment it holds

"""The one word rule (inbedder.stopwords.words) on non-English text, and keywords built on it.

Before issue #11 the rule was ``[a-z0-9]+``: "décor" became "cor" and Chinese answers had no
keywords at all. Each test here failed on that rule.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest

from inbedder.encoding.answer_prefix import shared_opening, uninformative
from inbedder.explain import cluster_keywords, cluster_table
from inbedder.stopwords import content_words, word_set, words


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("décor élégant", ["décor", "élégant"]),
        ("Le DÉCOR était très élégant !", ["le", "décor", "était", "très", "élégant"]),
        ("Größe, Straße, schön", ["grösse", "strasse", "schön"]),
        ("服务很慢", ["服", "务", "很", "慢"]),
        ("服务很慢，价格太贵。", ["服", "务", "很", "慢", "价", "格", "太", "贵"]),
        ("Η εξυπηρέτηση ήταν ΑΡΓΗ", ["η", "εξυπηρέτηση", "ήταν", "αργη"]),
        ("Очень вкусно!", ["очень", "вкусно"]),
        ("हिन्दी भोजन", ["हिन्दी", "भोजन"]),  # vowel signs are combining marks, not separators
        ("서비스가 느려요", ["서비스가", "느려요"]),  # Korean is written with spaces
    ],
    ids=["french", "french-sentence", "german", "chinese", "chinese-punctuation", "greek", "russian", "hindi", "korean"],
)
def test_words_keep_whole_words_in_every_script(text: str, expected: list[str]) -> None:
    assert words(text) == expected


def test_words_fold_spellings_of_one_word_together() -> None:
    decomposed = unicodedata.normalize("NFD", "décor")
    assert len(decomposed) == 6 and words(decomposed) == ["décor"]
    assert words("ΟΔΟΣ οδος Οδός") == ["οδοσ", "οδοσ", "οδόσ"]  # final sigma casefolds to σ
    assert words("STRASSE Straße") == ["strasse", "strasse"]
    assert words("ＡＢＣ ﬁne") == ["abc", "fine"]  # full-width letters and ligatures (NFKC)


def test_words_keep_inner_apostrophes_and_split_on_punctuation() -> None:
    assert words("Don't DON’T l'ambiance 'quoted' rock'n'roll") == ["don't", "don't", "l'ambiance", "quoted", "rock'n'roll"]
    assert words("well-known foo_bar 3 stars, 4.5!") == ["well", "known", "foo", "bar", "3", "stars", "4", "5"]
    assert words("… — !? 🙂") == []
    assert word_set("the restaurant's") == {"the", "restaurant's", "restaurant", "s"}


def test_content_words_drop_english_stopwords_in_any_case() -> None:
    assert content_words("The FOOD isn’t great, is it?") == ["food", "great"]
    assert content_words("Le décor est élégant", frozenset({"le", "est"})) == ["décor", "élégant"]
    assert content_words("服务很慢") == ["服", "务", "很", "慢"]


def _keyword_words(answers: list[str], labels: list[int], **options) -> dict[int, list[str]]:
    return {c: [w for w, _ in pairs] for c, pairs in cluster_keywords(answers, labels, **options).items()}


def test_french_keywords_are_whole_words() -> None:
    answers = ["décor élégant", "le décor est élégant", "décor très élégant",
               "service lent", "le service était lent", "serveur lent"]
    found = _keyword_words(answers, [0, 0, 0, 1, 1, 1], top_n=3)
    assert set(found[0][:2]) == {"décor", "élégant"}
    assert found[1][0] == "lent" and "service" in found[1]
    assert not {"cor", "gant", "l", "gant", "tait"} & {w for ws in found.values() for w in ws}


def test_german_keywords_are_whole_words_and_the_instruction_is_left_out() -> None:
    answers = ["Größe schön", "die Größe ist schön", "Straße laut", "die Straße ist laut"]
    found = _keyword_words(answers, [0, 0, 1, 1], top_n=3, extra_stopwords="Was sagt der Text über die Größe?")
    assert found[0][0] == "schön" and not {"grösse", "die"} & set(found[0])  # words of the question
    assert set(found[1][:2]) == {"strasse", "laut"}


def test_chinese_keywords_exist_and_separate_the_clusters() -> None:
    answers = ["服务很慢", "服务差", "服务员很慢", "价格太贵", "价格贵", "太贵了"]
    found = _keyword_words(answers, [0, 0, 0, 1, 1, 1], top_n=4)
    assert found[0] and found[1]
    assert "服务" in found[0] and "价格" in found[1]  # words, not characters (issue #29)
    assert not set(found[0]) & set(found[1])


def test_cluster_table_shows_non_english_keywords() -> None:
    labels = [0, 0, 1, 1]
    answers = ["décor élégant", "décor élégant", "服务很慢", "服务慢"]
    centroids = np.eye(2)
    table = cluster_table(labels, answers, ["a", "b", "c", "d"], centroids[labels], centroids)
    keywords = dict(zip(table["cluster"], table["keywords"]))
    assert set(keywords[0]) == {"décor", "élégant"} and {"服务", "慢"} <= set(keywords[1])


def test_answer_prefix_stops_at_non_english_content() -> None:
    assert not uninformative(" été", "When did you visit?")  # not the stopword "t"
    assert not uninformative("服务", "顾客在抱怨什么？")  # content, not an empty (punctuation) piece
    assert uninformative("顾客", "顾客在抱怨什么？") and uninformative("，", "顾客在抱怨什么？")
    assert uninformative(" restaurant's", "What about the restaurant?")
    vocabulary = ["<eos>", "顾客", "抱怨", "服务", "价格"]
    answers = [[1, 2, 3, 0]] * 7 + [[1, 2, 4, 0]] * 3
    opening = shared_opening(answers, lambda ids: "".join(vocabulary[i] for i in ids), "顾客在抱怨什么？", {0})
    assert opening == [1, 2]  # the question's echo, without the answer "服务"

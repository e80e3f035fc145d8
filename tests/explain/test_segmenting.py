"""Keywords and names in Chinese, Japanese and Korean are words, not single characters (issue #29).

With the segmenters of the ``cjk`` extra (rjieba, janome) and with the character-bigram fallback
used when they are not installed.
"""

from __future__ import annotations

import importlib.util

import pytest

from inbedder.explain import cluster_keywords
from inbedder.explain.names import answer_phrase, phrase_names
from inbedder.explain.segmenting import bigrams, explanation_words, segmenter_names

BIGRAMS = {"chinese": "bigrams", "japanese": "bigrams"}
CHINESE = (["服务很慢", "服务太差了", "服务员态度很差", "价格太贵", "价格贵", "价格不合理"], [0, 0, 0, 1, 1, 1])
JAPANESE = (["サービスが遅い", "サービスが悪かった", "店員のサービスが遅い", "料金が高い", "料金が高すぎる", "料金が不当だ"],
            [0, 0, 0, 1, 1, 1])
KOREAN = (["서비스 느림", "서비스 불친절", "직원 서비스 느림", "가격 비쌈", "가격 너무 비쌈", "가격 부당"], [0, 0, 0, 1, 1, 1])


def _top(answers, labels, **options) -> dict[int, list[str]]:
    return {c: [word for word, _ in pairs] for c, pairs in cluster_keywords(answers, labels, top_n=3, **options).items()}


def test_the_cjk_segmenters_are_installed_with_the_dev_extra():
    assert segmenter_names() == {"chinese": "rjieba", "japanese": "janome"}


@pytest.mark.parametrize(("corpus", "first", "second"), [
    (CHINESE, "服务", "价格"), (JAPANESE, "サービス", "料金"), (KOREAN, "서비스", "가격"),
])
def test_keywords_are_whole_words_in_each_script(corpus, first, second):
    found = _top(*corpus)
    assert found[0][0] == first and found[1][0] == second
    assert all(len(word) > 1 for words in found.values() for word in words)  # no lone characters


def test_names_are_words_and_particles_are_left_out():
    assert answer_phrase("服务很慢") == "服务 慢"
    assert answer_phrase("料金が高すぎる") == "料金 高い"  # the particle が and the auxiliary すぎる go
    answers, labels = CHINESE
    names = phrase_names(answers, labels, instruction="顾客在抱怨什么？")
    assert names[0].startswith("服务") and names[1].startswith("价格")


def test_the_question_echo_is_left_out_in_words_too():
    answers, labels = CHINESE
    found = _top(answers, labels, extra_stopwords="顾客对服务有什么不满？")
    assert "服务" not in found[0] and found[1][0] == "价格"


def test_without_segmenters_bigrams_keep_two_character_words(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("rjieba", "janome") else real(name, *a))
    assert segmenter_names() == BIGRAMS
    assert bigrams("服务很慢") == ["服务", "务很", "很慢"] and bigrams("慢") == ["慢"]
    assert explanation_words("服务很慢 décor") == ["服务", "务很", "很慢", "décor"]
    found = _top(*CHINESE)
    assert "服务" in found[0] and "价格" in found[1]


def test_spaced_text_keeps_the_word_rule():
    assert explanation_words("The décor was slow", segmenters=BIGRAMS) == ["décor", "slow"]
    assert explanation_words("서비스가 느려요") == ["서비스가", "느려요"]

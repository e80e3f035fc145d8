"""The fast paths give the plain path's embeddings: one input pass shared by many questions.

Every test compares :meth:`InBedder.encode_questions` (shared prefix KV cache) with a loop of
:meth:`InBedder.encode_with_answers` (one full prompt pass per question) on real models.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import inbedder.embedder as embedder_module
from inbedder import InBedder
from inbedder.encoders.shared_prefix import TextPrompts, common_prefix_length

TEXTS = [
    "The soup was cold and the bread was stale.",
    "Our waiter was friendly.",
    "Prices are fair for the portion sizes, and the wine list is long and reasonably priced too.",
    "Nice.",
    "We waited an hour for the bill, then they got it wrong twice and charged us for a bottle we never ordered.",
]
QUESTIONS = ["What is the review about?", "Is the customer happy?", "Which dish is mentioned, if any?"]
DIRECT = ("1st-gen", "avg-gen", "last-gen", "avg-ppt", "avg-all")


def _model(path, **kwargs):
    kwargs.setdefault("template", "inbedder")
    kwargs.setdefault("answer_prefix", "")
    return InBedder(path, cache=False, device="cpu", max_new_tokens=4, **kwargs)


def _plain(model, texts, questions, method, answers=True):
    return {q: model.encode_with_answers(texts, q, method=method, answers=answers) for q in questions}


def _assert_same(shared, plain, answers=True):
    assert list(shared) == list(plain)
    for question in plain:
        np.testing.assert_allclose(shared[question].embeddings, plain[question].embeddings, atol=1e-4, err_msg=question)
        if answers:
            assert shared[question].answers == plain[question].answers, question


def test_common_prefix_leaves_every_prompt_a_token_of_its_own():
    assert common_prefix_length([[1, 2, 3, 4], [1, 2, 5]]) == 2
    assert common_prefix_length([[1, 2, 3], [1, 2, 3, 4]]) == 2  # the shorter prompt keeps its last token
    assert common_prefix_length([[7, 8], [9, 8]]) == 0
    group = TextPrompts([[1, 2, 3, 4], [1, 2, 5]])
    assert [group.prefix + suffix for suffix in group.suffixes()] == group.prompts


def test_the_split_is_on_tokens_not_strings(tiny_models):
    """The input's last word merges with what follows it differently under different templates."""
    model = _model(tiny_models["llama"], template="{input}{instruction}")
    prompts = [model.prompts.ids(q, "word") for q in ("s are plural?", "y things?")]
    length = common_prefix_length(prompts)
    text_alone = model.prompts.tokenizer("word", add_special_tokens=True)["input_ids"]
    assert prompts[0][:length] == prompts[1][:length]
    assert length < len(text_alone)  # "words"/"wordy" re-merge the input's last token: the string split would be wrong


@pytest.mark.parametrize("name", ["llama", "opt"])
def test_many_questions_equal_one_pass_per_question(tiny_models, name):
    model = _model(tiny_models[name], filter_answer_words=True)
    for method in DIRECT:
        _assert_same(model.encode_questions(TEXTS, QUESTIONS, method=method), _plain(model, TEXTS, QUESTIONS, method))
        model.cache = type(model.cache)(":memory:")


def test_equal_with_another_layer_truncation_and_a_chat_template(tiny_models, caplog):
    model = _model(tiny_models["llama"], template="chat-brief", layer=1, max_length=40)
    texts = TEXTS + ["A long text about lunch " * 20]  # cut to fit: its prompts differ per question
    for method in ("1st-gen", "avg-all"):
        _assert_same(model.encode_questions(texts, QUESTIONS, method=method), _plain(model, texts, QUESTIONS, method))
        model.cache = type(model.cache)(":memory:")


def test_equal_when_the_instruction_comes_first(tiny_models):
    """Nothing but the template's opening is shared; the path must still be exact."""
    model = _model(tiny_models["llama"], template="{instruction}\n{input}")
    _assert_same(model.encode_questions(TEXTS, QUESTIONS, method="avg-gen"), _plain(model, TEXTS, QUESTIONS, "avg-gen"))


def test_automatic_answer_prefixes_match_the_per_question_probe(tiny_models):
    shared = _model(tiny_models["llama"], template="chat-brief", answer_prefix="auto")
    plain = _model(tiny_models["llama"], template="chat-brief", answer_prefix="auto")
    for question in QUESTIONS:
        expected = plain.resolve_answer_prefix(TEXTS, question)
        assert shared._answer_prefixes(TEXTS, [question, "What else?"])[question] == expected
    _assert_same(shared.encode_questions(TEXTS, QUESTIONS), _plain(plain, TEXTS, QUESTIONS, "1st-gen"))


def test_both_paths_share_the_on_disk_cache(tiny_models, tmp_path, monkeypatch):
    model = InBedder(tiny_models["llama"], template="inbedder", cache=tmp_path / "c.sqlite", device="cpu", max_new_tokens=4)
    first = model.encode_with_answers(TEXTS, QUESTIONS[0], method="avg-gen")
    computed = []
    real = embedder_module.run_shared_prefix

    def counting(model_, groups, *args, **kwargs):
        computed.extend(len(group.prompts) for group in groups)
        return real(model_, groups, *args, **kwargs)

    monkeypatch.setattr(embedder_module, "run_shared_prefix", counting)
    both = model.encode_questions(TEXTS, QUESTIONS[:2], method="avg-gen")
    np.testing.assert_array_equal(both[QUESTIONS[0]].embeddings, first.embeddings)
    assert sum(computed) == 2 * len(TEXTS)  # the new question's probe and pairs only; the cached question is read

    def refuse(*args, **kwargs):
        raise AssertionError("the model ran although everything was cached")

    monkeypatch.setattr(embedder_module, "run_causal", refuse)
    monkeypatch.setattr(embedder_module, "run_shared_prefix", refuse)
    again = model.encode_with_answers(TEXTS, QUESTIONS[1], method="avg-gen")
    np.testing.assert_array_equal(again.embeddings, both[QUESTIONS[1]].embeddings)


def test_duplicate_texts_and_questions_and_whitespace(tiny_models):
    model = _model(tiny_models["llama"])
    texts = TEXTS + TEXTS[:2]
    asked = [QUESTIONS[0], " " + QUESTIONS[1], QUESTIONS[0]]
    shared = model.encode_questions(texts, asked, method="1st-gen", answers=False)
    assert list(shared) == [QUESTIONS[0], " " + QUESTIONS[1]]
    _assert_same(shared, _plain(model, texts, list(shared), "1st-gen", answers=False), answers=False)


@pytest.mark.slow
def test_embedded_model_gives_the_same_embeddings(converted_model_dir):
    shared = InBedder(cache=False)
    plain = InBedder(cache=False)
    texts, questions = TEXTS[:3], QUESTIONS[:2]
    for method in ("1st-gen", "avg-gen"):
        _assert_same(shared.encode_questions(texts, questions, method=method), _plain(plain, texts, questions, method))


def test_cluster_command_takes_several_questions(tiny_models, tmp_path):
    from inbedder.cli import main

    source = tmp_path / "reviews.txt"
    source.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    common = [str(source), "--k", "2", "--model", tiny_models["llama"], "--template", "inbedder", "--max-new-tokens", "3",
              "--quiet", "--answer-prefix", "none"]
    both = ["cluster", *common, "--instruction", QUESTIONS[0], "--instruction", QUESTIONS[1],
            "--output", str(tmp_path / "out.csv"), "--embeddings", str(tmp_path / "e.npy")]
    assert main(both) == 0
    alone = ["cluster", *common, "--instruction", QUESTIONS[1], "--output", str(tmp_path / "one.csv"),
             "--embeddings", str(tmp_path / "one.npy"), "--no-cache"]
    assert main(alone) == 0
    for number, question in enumerate(QUESTIONS[:2], 1):
        run = json.loads((tmp_path / f"out-q{number}.csv.run.json").read_text())
        assert run["instruction"] == question
        assert pd.read_csv(tmp_path / f"out-q{number}.csv")["text"].tolist() == TEXTS
    np.testing.assert_allclose(np.load(tmp_path / "e-q2.npy"), np.load(tmp_path / "one.npy"), atol=1e-4)
    assert not (tmp_path / "out.csv").exists()


def test_compiled_prompt_pass_equals_eager(tiny_models):
    """``compile=True`` runs the prompt and prefix passes through inductor and changes nothing."""
    import torch._dynamo

    eager = _model(tiny_models["llama"])
    compiled = _model(tiny_models["llama"], compile=True)
    torch._dynamo.utils.counters.clear()
    for method in ("1st-gen", "avg-gen"):
        _assert_same(_plain(compiled, TEXTS, QUESTIONS[:1], method), _plain(eager, TEXTS, QUESTIONS[:1], method))
    _assert_same(compiled.encode_questions(TEXTS, QUESTIONS, method="1st-gen"), _plain(eager, TEXTS, QUESTIONS, "1st-gen"))
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 1  # inductor really ran


def test_compile_is_refused_for_masked_models(tiny_models):
    from inbedder.errors import InBedderError

    with pytest.raises(InBedderError, match="causal LMs only"):
        InBedder(tiny_models["roberta"], cache=False, device="cpu", compile=True)


@pytest.mark.parametrize("name", ["llama", "t5"])
def test_re_enc_draws_do_not_depend_on_the_batch(tiny_models, name):
    """A text's sampled answers are seeded per (text, question, sample): alone or in a batch, same answers."""
    model = _model(tiny_models[name], samples=3, temperature=1.0)
    together = model.encode_with_answers(TEXTS, QUESTIONS[0], method="re-enc")
    model.cache = type(model.cache)(":memory:")
    alone = [model.encode_with_answers([text], QUESTIONS[0], method="re-enc", batch_size=1) for text in reversed(TEXTS)][::-1]
    np.testing.assert_allclose(np.stack([a.embeddings[0] for a in alone]), together.embeddings, atol=1e-5)
    assert [a.answers[0] for a in alone] == together.answers
    model.cache = type(model.cache)(":memory:")
    reseeded = _model(tiny_models[name], samples=3, temperature=1.0, seed=1).encode_with_answers(TEXTS, QUESTIONS[0], method="re-enc")
    assert reseeded.answers != together.answers  # the seed really drives the draws


def test_re_enc_shares_the_input_pass_and_equals_the_plain_path(tiny_models):
    model = _model(tiny_models["llama"], samples=3, temperature=1.0)
    shared = model.encode_questions(TEXTS, QUESTIONS, method="re-enc")
    model.cache = type(model.cache)(":memory:")
    _assert_same(shared, _plain(model, TEXTS, QUESTIONS, "re-enc"))

"""The one encoding path gives Hugging Face's embeddings: one input pass shared by many questions.

The reference (:func:`reference`) is the paper's style: one text at a time through
``model.generate(..., output_hidden_states=True, return_dict_in_generate=True)`` with the hidden
states pooled afterwards (a direct forward with its mask slots for masked LMs). Every test
compares :meth:`InBedder.encode_questions` (shared prefix KV cache, length-sorted batches) or a
loop of :meth:`InBedder.encode_with_answers` (the one-question case) with it, on real models.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from inbedder import InBedder
from inbedder.encoding.encoders import runners
from inbedder.encoding.encoders.sampling import row_seed
from inbedder.encoding.encoders.shared_prefix import TextPrompts, common_prefix_length
from inbedder.stopwords import ENGLISH_STOPWORDS, word_set, words

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


# ----------------------------------------------------------------------------- the reference
@torch.no_grad()
def _causal_pass(model, ids: list[int], seed: int | None = None):
    """(prompt states, answer states, answer tokens) from ``generate``; sampled when ``seed`` is given."""
    network, tokenizer = model.loaded.model, model.loaded.tokenizer
    input_ids = torch.tensor([ids])
    sampling = {"do_sample": False}
    if seed is not None:
        torch.manual_seed(seed)  # one row: generate's draws come from the global generator in step order
        sampling = {"do_sample": True, "temperature": model.temperature, "top_k": 0, "top_p": 1.0}
    out = network.generate(
        input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=model.max_new_tokens,
        output_hidden_states=True, return_dict_in_generate=True, pad_token_id=tokenizer.pad_token_id, **sampling,
    )
    layer = -1 if model.layer is None else model.layer
    prompt = out.hidden_states[0][layer][0]
    tokens = out.sequences[0, len(ids):].tolist()
    answer = torch.stack([prompt[-1]] + [step[layer][0, -1] for step in out.hidden_states[1:]])[: len(tokens)]
    return prompt[:-1], answer, tokens  # the last prompt state is 1st-gen: it counts on the answer side


@torch.no_grad()
def _seq2seq_pass(model, ids: list[int], seed: int | None = None):
    network, tokenizer = model.loaded.model, model.loaded.tokenizer
    input_ids = torch.tensor([ids])
    sampling = {"do_sample": False}
    if seed is not None:
        torch.manual_seed(seed)
        sampling = {"do_sample": True, "temperature": model.temperature, "top_k": 0, "top_p": 1.0}
    out = network.generate(
        input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=model.max_new_tokens,
        output_hidden_states=True, return_dict_in_generate=True, pad_token_id=tokenizer.pad_token_id, **sampling,
    )
    layer = -1 if model.layer is None else model.layer
    answer = torch.stack([step[layer][0, -1] for step in out.decoder_hidden_states])
    return out.encoder_hidden_states[layer][0], answer, out.sequences[0, 1:].tolist()


@torch.no_grad()
def _masked_pass(model, ids: list[int], seed: int | None = None):
    """A direct forward of the prompt with its mask slots (before the closing special token)."""
    network, tokenizer = model.loaded.model, model.loaded.tokenizer
    special, mask = set(tokenizer.all_special_ids), tokenizer.mask_token_id
    slots = [mask] * model.max_new_tokens
    full = ids[:-1] + slots + ids[-1:] if ids[-1] in special else ids + slots
    out = network(input_ids=torch.tensor([full]), output_hidden_states=True)
    hidden = out.hidden_states[-1 if model.layer is None else model.layer][0]
    at = [i for i, token in enumerate(full) if token == mask]
    body = [i for i, token in enumerate(full) if token not in special]
    return hidden[body], hidden[at], out.logits[0, at].argmax(-1).tolist()


def _pass(model, ids, seed=None):
    return {"causal": _causal_pass, "seq2seq": _seq2seq_pass, "masked": _masked_pass}[model.family](model, ids, seed)


def _informative(model, token: int, question: str) -> bool:
    found = words(model.loaded.tokenizer.decode([token]))
    return bool(found) and not all(word in ENGLISH_STOPWORDS | word_set(question) for word in found)


def _pooled(model, method: str, question: str, prompt, answer, tokens) -> np.ndarray:
    """The paper's pooling of one text's states (§4.1), written out."""
    tokenizer = model.loaded.tokenizer
    ends = set(tokenizer.all_special_ids) if model.family == "masked" else set(runners.stop_ids(model.loaded))
    counted = [j for j, token in enumerate(tokens) if token not in ends]
    if model.filter_answer_words and method in ("avg-gen", "last-gen", "avg-all"):
        counted = [j for j in counted if _informative(model, tokens[j], question)]
    counted = counted or [0]  # an empty answer still has the state that chose to stop
    vector = {
        "1st-gen": lambda: answer[0],
        "avg-gen": lambda: answer[counted].mean(0),
        "last-gen": lambda: answer[counted[-1]],
        "avg-ppt": lambda: prompt.mean(0),
        "avg-all": lambda: (prompt.sum(0) + answer[counted].sum(0)) / (len(prompt) + len(counted)),
    }[method]()
    return vector.numpy()


def _answer(model, tokens: list[int]) -> str:
    tokenizer = model.loaded.tokenizer
    ends = set(tokenizer.all_special_ids) if model.family == "masked" else set(runners.stop_ids(model.loaded))
    kept = [token for token in tokens if token not in ends]
    return " ".join(tokenizer.decode(kept, skip_special_tokens=True).split())


def _one(model, text: str, question: str, method: str, prefix: str) -> tuple[np.ndarray, str]:
    ids = model.prompts.ids(question, text, reserve=model.max_new_tokens if model.family == "masked" else 0, answer_prefix=prefix)
    prompt, answer, tokens = _pass(model, ids)
    if method == "prompt":
        return model.sentence_encoder.encode([f"{question} {text}"])[0], _answer(model, tokens)
    if method == "re-enc":
        greedy = model.temperature <= 0 or model.samples < 2 or model.family == "masked"
        draws = [tokens] if greedy else [
            _pass(model, ids, row_seed(model.seed, question, text, j))[2] for j in range(model.samples)
        ]
        replies = [_answer(model, drawn) for drawn in draws]
        return model.sentence_encoder.encode(replies).mean(0), replies[0]
    return _pooled(model, method, question, prompt, answer, tokens), _answer(model, tokens)


def reference(model, texts, questions, method, answers=True):
    """``{question: Encoded-like}`` computed one text at a time the paper's way."""
    results = {}
    for question in questions:
        prefix = model.resolve_answer_prefix(texts, question)  # the probe itself is checked against generate in test_engine
        rows = [_one(model, text, question.strip(), method, prefix) for text in texts]
        results[question] = SimpleNamespace(
            embeddings=np.stack([vector for vector, _ in rows]), answers=[reply for _, reply in rows] if answers else [],
        )
    return results


def _per_question(model, texts, questions, method, answers=True):
    """The one-question case of the engine, once per question."""
    return {q: model.encode_with_answers(texts, q, method=method, answers=answers) for q in questions}


def assert_same(shared, plain, answers=True):
    assert list(shared) == list(plain)
    for question in plain:
        np.testing.assert_allclose(shared[question].embeddings, plain[question].embeddings, atol=1e-4, err_msg=question)
        if answers:
            assert shared[question].answers == plain[question].answers, question



# ----------------------------------------------------------------------------- tests
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
        assert_same(model.encode_questions(TEXTS, QUESTIONS, method=method), reference(model, TEXTS, QUESTIONS, method))
        model.cache = type(model.cache)(":memory:")


def test_equal_with_another_layer_truncation_and_a_chat_template(tiny_models, caplog):
    model = _model(tiny_models["llama"], template="chat-brief", layer=1, max_length=40)
    texts = TEXTS + ["A long text about lunch " * 20]  # cut to fit: its prompts differ per question
    for method in ("1st-gen", "avg-all"):
        assert_same(model.encode_questions(texts, QUESTIONS, method=method), reference(model, texts, QUESTIONS, method))
        model.cache = type(model.cache)(":memory:")


def test_equal_when_the_instruction_comes_first(tiny_models):
    """Nothing but the template's opening is shared; the path must still be exact."""
    model = _model(tiny_models["llama"], template="{instruction}\n{input}")
    assert_same(model.encode_questions(TEXTS, QUESTIONS, method="avg-gen"), reference(model, TEXTS, QUESTIONS, "avg-gen"))


def test_automatic_answer_prefixes_match_the_per_question_probe(tiny_models):
    shared = _model(tiny_models["llama"], template="chat-brief", answer_prefix="auto")
    plain = _model(tiny_models["llama"], template="chat-brief", answer_prefix="auto")
    for question in QUESTIONS:
        expected = plain.resolve_answer_prefix(TEXTS, question)
        assert shared.resolve_answer_prefixes(TEXTS, [question, "What else?"])[question] == expected
    assert_same(shared.encode_questions(TEXTS, QUESTIONS), reference(plain, TEXTS, QUESTIONS, "1st-gen"))


def test_both_paths_share_the_on_disk_cache(tiny_models, tmp_path, monkeypatch):
    model = InBedder(tiny_models["llama"], template="inbedder", cache=tmp_path / "c.sqlite", device="cpu", max_new_tokens=4)
    first = model.encode_with_answers(TEXTS, QUESTIONS[0], method="avg-gen")
    computed = []
    real = runners.run_groups

    def counting(loaded, groups, *args, **kwargs):
        computed.extend(len(group.prompts) for group in groups)
        return real(loaded, groups, *args, **kwargs)

    monkeypatch.setattr(runners, "run_groups", counting)
    both = model.encode_questions(TEXTS, QUESTIONS[:2], method="avg-gen")
    np.testing.assert_array_equal(both[QUESTIONS[0]].embeddings, first.embeddings)
    assert sum(computed) == 2 * len(TEXTS)  # the new question's probe and pairs only; the cached question is read

    def refuse(*args, **kwargs):
        raise AssertionError("the model ran although everything was cached")

    monkeypatch.setattr(runners, "run_groups", refuse)
    again = model.encode_with_answers(TEXTS, QUESTIONS[1], method="avg-gen")
    np.testing.assert_array_equal(again.embeddings, both[QUESTIONS[1]].embeddings)


def test_duplicate_texts_and_questions_and_whitespace(tiny_models):
    model = _model(tiny_models["llama"])
    texts = TEXTS + TEXTS[:2]
    asked = [QUESTIONS[0], " " + QUESTIONS[1], QUESTIONS[0]]
    shared = model.encode_questions(texts, asked, method="1st-gen", answers=False)
    assert list(shared) == [QUESTIONS[0], " " + QUESTIONS[1]]
    assert_same(shared, reference(model, texts, list(shared), "1st-gen", answers=False), answers=False)


@pytest.mark.slow
def test_embedded_model_gives_the_same_embeddings(converted_model_dir):
    shared = InBedder(cache=False)
    plain = InBedder(cache=False)
    texts, questions = TEXTS[:3], QUESTIONS[:2]
    for method in ("1st-gen", "avg-gen"):
        assert_same(shared.encode_questions(texts, questions, method=method), reference(plain, texts, questions, method))


def test_cluster_command_takes_several_questions(tiny_models, tmp_path):
    from inbedder.cli.main import main

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
        assert_same(_per_question(compiled, TEXTS, QUESTIONS[:1], method), _per_question(eager, TEXTS, QUESTIONS[:1], method))
    assert_same(compiled.encode_questions(TEXTS, QUESTIONS, method="1st-gen"), reference(eager, TEXTS, QUESTIONS, "1st-gen"))
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
    assert_same(shared, _per_question(model, TEXTS, QUESTIONS, "re-enc"))
    assert_same(shared, reference(model, TEXTS, QUESTIONS, "re-enc"))  # generate's own sampling, seeded per row

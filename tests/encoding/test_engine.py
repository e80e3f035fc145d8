"""The one encoding engine: method table, planner, cache keys, and the single path against `generate`.

The Hugging Face reference and the comparison helpers live in ``test_speed_paths.py``.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from test_speed_paths import QUESTIONS, TEXTS, assert_same, reference

from inbedder import InBedder, InBedderError
from inbedder.encoding import planner
from inbedder.encoding.answer_prefix import PROBE_TOKENS, evenly_spaced, shared_opening
from inbedder.encoding.cache import EmbeddingCache, settings_key
from inbedder.encoding.encoders import runners
from inbedder.encoding.methods import (
    DIRECT_METHODS, EMBEDDED_SENTENCE_ENCODER, METHODS, SENTENCE_METHODS, SPECS, methods_for,
)

FAMILIES = {"llama": "causal", "opt": "causal", "roberta": "masked", "t5": "seq2seq"}
MIXED = [TEXTS[3], TEXTS[4], TEXTS[1], TEXTS[0], TEXTS[2]]  # short and long, unsorted


def _model(path, **kwargs):
    kwargs.setdefault("template", "inbedder")
    kwargs.setdefault("answer_prefix", "")
    return InBedder(path, cache=False, device="cpu", max_new_tokens=4, **kwargs)


def _forget(model):
    model.cache = type(model.cache)(":memory:")


# ----------------------------------------------------------------------------- the method table
def test_the_method_table_says_what_each_method_does():
    assert METHODS == ("1st-gen", "avg-gen", "last-gen", "avg-ppt", "avg-all", "re-enc", "prompt")
    assert DIRECT_METHODS == METHODS[:5] and SENTENCE_METHODS == ("re-enc", "prompt")
    assert methods_for("causal") == METHODS
    assert methods_for("masked") == ("avg-gen", "avg-ppt", "avg-all", "re-enc", "prompt")
    assert methods_for("seq2seq") == ("1st-gen", "avg-gen", "last-gen", "avg-ppt", "re-enc", "prompt")
    assert [name for name, spec in SPECS.items() if spec.filters] == ["avg-gen", "last-gen", "avg-all"]
    assert [name for name, spec in SPECS.items() if spec.generates] == ["avg-gen", "last-gen", "avg-all", "re-enc"]
    assert [name for name, spec in SPECS.items() if spec.prompt_states] == ["avg-ppt", "avg-all"]
    assert [name for name, spec in SPECS.items() if spec.sampled] == ["re-enc"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        SPECS["1st-gen"].generates = True


def test_no_method_names_outside_the_table():
    """The engine reads traits from the table; a quoted method name in its code would be a second table."""
    root = Path(__file__).resolve().parents[2] / "inbedder" / "encoding"
    files = [root / "embedder.py", root / "engine.py", root / "planner.py", *sorted((root / "encoders").glob("*.py"))]
    quoted = re.compile("[\"'](" + "|".join(map(re.escape, METHODS)) + ")[\"']")
    for path in files:
        code = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))
        code = re.sub(r'"""[\s\S]*?"""', "", code)  # docstrings may name methods
        assert not quoted.findall(code), f"{path.name} names methods: {quoted.findall(code)}"


# ----------------------------------------------------------------------------- the single path == generate
@pytest.mark.parametrize("name", list(FAMILIES))
def test_every_method_equals_generate(tiny_models, name):
    model = _model(tiny_models[name], samples=2, temperature=1.0)
    for method in model.methods:
        got = model.encode_questions(MIXED, QUESTIONS[:2], method=method, batch_size=3)
        assert_same(got, reference(model, MIXED, QUESTIONS[:2], method))
        _forget(model)


@pytest.mark.parametrize("name", ["llama", "roberta", "t5"])
def test_every_method_equals_generate_unfiltered_at_another_layer(tiny_models, name):
    model = _model(tiny_models[name], filter_answer_words=False, layer=1)
    for method in (m for m in model.methods if SPECS[m].direct):
        assert_same(model.encode_questions(MIXED, QUESTIONS[:1], method=method), reference(model, MIXED, QUESTIONS[:1], method))
        _forget(model)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_one_text_alone_equals_it_in_a_batch_of_mixed_lengths(tiny_models, name):
    model = _model(tiny_models[name], samples=2, temperature=1.0)
    for method in model.methods:
        together = model.encode_questions(MIXED, QUESTIONS, method=method, batch_size=4)
        _forget(model)
        for position, text in enumerate(MIXED):
            alone = model.encode_questions([text], QUESTIONS, method=method)
            for question in QUESTIONS:
                np.testing.assert_allclose(alone[question].embeddings[0], together[question].embeddings[position],
                                           atol=1e-4, err_msg=f"{method} {text!r}")
                assert alone[question].answers[0] == together[question].answers[position]
            _forget(model)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_one_question_equals_it_among_many(tiny_models, name):
    model = _model(tiny_models[name], samples=2, temperature=1.0)
    for method in model.methods:
        many = model.encode_questions(MIXED, QUESTIONS, method=method)
        _forget(model)
        for question in QUESTIONS:
            one = model.encode_with_answers(MIXED, question, method=method)
            assert_same({question: one}, {question: many[question]})
            _forget(model)


def test_masked_re_enc_is_a_sentence_embedding(tiny_models):
    """Mask slots answer deterministically: re-enc embeds that one answer (not a reshaped fraction of it)."""
    model = _model(tiny_models["roberta"], samples=3)
    vectors = model.encode(TEXTS, QUESTIONS[0], method="re-enc")
    assert vectors.shape == (len(TEXTS), model.sentence_encoder.encode(["x"]).shape[1])


# ----------------------------------------------------------------------------- answer prefixes
def test_the_probe_is_generates_answers_shared_opening(tiny_models):
    model = _model(tiny_models["llama"], template="chat-brief", answer_prefix="auto")
    network, tokenizer = model.loaded.model, model.loaded.tokenizer
    stops = set(runners.stop_ids(model.loaded))
    for question in QUESTIONS:
        prompts = sorted((model.prompts.ids(question, text) for text in TEXTS), key=len)
        answers = []
        for ids in prompts:
            out = network.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                   max_new_tokens=PROBE_TOKENS, do_sample=False, pad_token_id=tokenizer.pad_token_id)
            answers.append([token for token in out[0, len(ids):].tolist() if token not in stops])
        opening = shared_opening(answers, tokenizer.decode, question, stops)
        expected = " ".join(tokenizer.decode(opening, skip_special_tokens=True).split())
        assert model.resolve_answer_prefix(TEXTS, question) == expected


def test_resolving_a_prefix_changes_nothing_and_encode_returns_it(tiny_models, monkeypatch):
    model = _model(tiny_models["llama"], template="chat-brief", answer_prefix="auto")
    monkeypatch.setattr(planner, "shared_opening", lambda answers, decode, question, stops: answers[0][:2])
    prompts = model.prompts
    prefix = model.resolve_answer_prefix(TEXTS, QUESTIONS[0])
    assert prefix and model.answer_prefix == "auto" and model.prompts is prompts
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.prompts.max_length = 3
    encoded = model.encode_with_answers(TEXTS, QUESTIONS[0])
    assert encoded.answer_prefix == prefix
    many = model.encode_questions(TEXTS, QUESTIONS[:2])
    assert many[QUESTIONS[0]].answer_prefix == prefix and many[QUESTIONS[1]].answer_prefix == model.resolve_answer_prefix(TEXTS, QUESTIONS[1])
    np.testing.assert_array_equal(many[QUESTIONS[0]].embeddings, encoded.embeddings)  # same key, read from the cache


def test_a_view_with_a_fixed_prefix_leaves_the_embedder_alone(tiny_models):
    model = _model(tiny_models["llama"], template="chat-brief", answer_prefix="auto")
    view = model.with_answer_prefix("The review is about")
    assert model.answer_prefix == "auto" and view.cache is model.cache and view.loaded is model.loaded
    chunked = np.concatenate([view.encode(TEXTS[:2], QUESTIONS[0]), view.encode(TEXTS[2:], QUESTIONS[0])])
    whole = _model(tiny_models["llama"], template="chat-brief", answer_prefix="The review is about").encode(TEXTS, QUESTIONS[0])
    np.testing.assert_allclose(chunked, whole, atol=1e-4)


def test_one_probe_pass_serves_every_question(tiny_models, monkeypatch):
    model = _model(tiny_models["llama"], template="chat-brief", answer_prefix="auto")
    calls = []
    real = runners.run_groups
    monkeypatch.setattr(runners, "run_groups", lambda loaded, groups, *a, **k: calls.append(len(groups)) or real(loaded, groups, *a, **k))
    prefixes = model.resolve_answer_prefixes(TEXTS, QUESTIONS)
    assert list(prefixes) == QUESTIONS and calls == [len(TEXTS)]  # one batch: every text with all three questions
    calls.clear()
    assert model.resolve_answer_prefixes(TEXTS, QUESTIONS) == prefixes and calls == []  # cached


# ----------------------------------------------------------------------------- cache keys
INBEDDER = "inbedder|### Input:\n{input}\n\n### Instruction:\n{instruction}\n\n### Response:|None|"
CHAT_BRIEF = "chat-brief|{input}\n\n{instruction}|Answer in one to three words.|"
EXTRAS = {  # today's formula: what each method adds to the common settings
    "1st-gen": {}, "avg-gen": {"filter_answer_words": True}, "last-gen": {"filter_answer_words": True}, "avg-ppt": {},
    "avg-all": {"filter_answer_words": True},
    "re-enc": {"sentence_encoder": "embedded:all-MiniLM-L6-v2", "samples": 3, "temperature": 0.7, "seed": 0, "sampler": "per-row"},
    "prompt": {"sentence_encoder": "embedded:all-MiniLM-L6-v2"},
}
# settings_key digests written by the code before the engine (commit c91269a), model fingerprint "fingerprint"
OLD_DIGESTS = {
    ("llama", "1st-gen", ""): "0791a0738aabc602c0c1514d5ac5fbc82bec71d29703da0001bd398377fc5ad8",
    ("llama", "1st-gen", "The answer is"): "e543597a761edef6c0fd6c24c1a752d595fba636355fe10a1dcc2a45bf37e7f4",
    ("llama", "avg-all", ""): "9815807a8357611aaba705a2ce6535aa3632fd728fe715e2ed5b5428a7a65614",
    ("llama", "avg-all", "The answer is"): "f9db63adc80e0590e4a304d24edeb83f78df7a13f0acc535cc56624a85c9beec",
    ("roberta", "avg-gen", ""): "45f731d4ea5da30f9e74c1d5c3a1f5eb547a99550294db2444bf7d7b2317efda",
    ("roberta", "avg-gen", "The answer is"): "cdd27f5bcd03236abfb108d76566d1cac423d9747e977736f9d3e654de6f5a91",
    ("t5", "1st-gen", "The answer is"): "e543597a761edef6c0fd6c24c1a752d595fba636355fe10a1dcc2a45bf37e7f4",
}
# the same with chat-brief, layer 1, 2 samples at temperature 1, seed 5, sentence encoder "my/encoder",
# no answer-word filter, max_length 256, 3 answer tokens
OLD_DIGESTS_CHANGED = {
    ("avg-gen", ""): "b2f5b60301f194e8f22113d7bdc716c947073874af7cf2d6d28b9e2842c69c5f",
    ("avg-ppt", "The answer is"): "82d8501ea1e29aec219924f426d7fad12c95ce608c5d097b82eaf73e26c03bb2",
    ("re-enc", ""): "c805d39ff13db4ee886566d644a66fd73f22bd38c1384c7d1084e27c1dca5da2",
    ("re-enc", "The answer is"): "c02628c6c09744ba4d140ee583cb9beb87556205c4ad0b3779720d83c57c9909",
    ("prompt", "The answer is"): "1e235f6654d85e910c05cca5c7c03b23d6378c949af265335e6e25d08b266707",
}
OLD_PROBE_KEYS = {  # probe of QUESTIONS[0] on the sample ["a", "b"]
    "inbedder": "55ad59e858cd2a467e14b5ecc75100a161cfe3cbf56789eb4aec561e42f9cf16",
    "chat-brief": "574d999bc2d68aa962492479b5206167cbce8c66931c5603854995ddefecd179",
}


def _expected(method: str, template: str, prefix: str, **changes) -> dict:
    settings = {"model": "fingerprint", "method": method, "template": template + prefix, "layer": None,
                "max_length": 512, "max_new_tokens": 4, "instruction": QUESTIONS[0], **EXTRAS[method]}
    settings.update({key: value for key, value in changes.items() if key in settings})
    return settings


@pytest.mark.parametrize("name", ["llama", "roberta", "t5"])
def test_cache_keys_are_todays(tiny_models, name):
    model = _model(tiny_models[name])
    model.loaded.fingerprint = "fingerprint"
    for prefix in ("", "The answer is"):
        for method in model.methods:
            settings = model.settings(method, QUESTIONS[0], answer_prefix=prefix)
            expected = _expected(method, INBEDDER, prefix)
            if name == "roberta" and method == "re-enc":
                # deliberately new: masked re-enc rows cached before the width fix were 384 / samples wide
                expected["pooled_width"] = "fixed"
            assert settings == expected, (method, prefix)
            if (name, method, prefix) in OLD_DIGESTS and "pooled_width" not in expected:
                assert settings_key(settings) == OLD_DIGESTS[name, method, prefix]
    assert planner.probe_key(model.parts(), ["a", "b"], QUESTIONS[0]) == OLD_PROBE_KEYS["inbedder"]


def test_cache_keys_follow_every_setting(tiny_models):
    model = InBedder(tiny_models["llama"], cache=False, device="cpu", template="chat-brief", layer=1, samples=2,
                     temperature=1.0, seed=5, sentence_encoder="my/encoder", filter_answer_words=False, max_length=256,
                     max_new_tokens=3)
    model.loaded.fingerprint = "fingerprint"
    changes = {"layer": 1, "samples": 2, "temperature": 1.0, "seed": 5, "sentence_encoder": "my/encoder",
               "filter_answer_words": False, "max_length": 256, "max_new_tokens": 3}
    for prefix in ("", "The answer is"):
        for method in model.methods:
            settings = model.settings(method, QUESTIONS[0], answer_prefix=prefix)
            assert settings == _expected(method, CHAT_BRIEF, prefix, **changes), (method, prefix)
            if (method, prefix) in OLD_DIGESTS_CHANGED:
                assert settings_key(settings) == OLD_DIGESTS_CHANGED[method, prefix]
    assert planner.probe_key(model.parts(), ["a", "b"], QUESTIONS[0]) == OLD_PROBE_KEYS["chat-brief"]


def test_encoded_rows_land_under_todays_keys_and_probe_keys(tiny_models):
    model = _model(tiny_models["llama"], answer_prefix="auto")
    model.encode_with_answers(TEXTS, QUESTIONS[0], method="avg-gen")
    prefix = model.resolve_answer_prefix(TEXTS, QUESTIONS[0])
    settings = _expected("avg-gen", INBEDDER, prefix) | {"model": model.loaded.fingerprint}
    found = model.cache.get([EmbeddingCache.key(settings_key(settings), text) for text in TEXTS])
    assert len(found) == len(TEXTS)
    probe = {"probe": "answer-prefix", "model": model.loaded.fingerprint, "template": INBEDDER,
             "max_length": 512, "instruction": QUESTIONS[0]}
    key = EmbeddingCache.key(settings_key(probe), "\x00".join(evenly_spaced(TEXTS)))
    assert planner.probe_key(model.parts(), evenly_spaced(TEXTS), QUESTIONS[0]) == key
    assert model.cache.get([key])[key] == (None, prefix)


def test_the_embedded_sentence_encoder_has_one_name():
    assert EMBEDDED_SENTENCE_ENCODER == "embedded:all-MiniLM-L6-v2"


# ----------------------------------------------------------------------------- the call itself
def test_progress_and_counts(tiny_models):
    model = _model(tiny_models["llama"])
    seen = []
    first = model.encode_with_answers(TEXTS + TEXTS[:1], QUESTIONS[0], progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (len(TEXTS), len(TEXTS)) and (first.cached, first.computed) == (0, len(TEXTS))
    seen.clear()
    many = model.encode_questions(TEXTS, QUESTIONS[:2], progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (len(TEXTS), len(TEXTS))  # only the new question's answers were left to compute
    assert (many[QUESTIONS[0]].cached, many[QUESTIONS[0]].computed) == (len(TEXTS), 0)
    assert (many[QUESTIONS[1]].cached, many[QUESTIONS[1]].computed) == (0, len(TEXTS))


def test_errors_name_the_python_parameter(tiny_models):
    model = _model(tiny_models["llama"])
    for call, parameter, pattern in [
        (lambda: model.encode(TEXTS, QUESTIONS[0], batch_size=0), "batch_size", r"^batch_size must be at least 1 \(got 0\)$"),
        (lambda: model.encode(TEXTS, QUESTIONS[0], method="mean"), "method", "unknown method 'mean'"),
        (lambda: model.encode_questions(TEXTS, "one question"), "instructions", "instructions must be"),
        (lambda: _model(tiny_models["llama"], max_length=8), "max_length", "max_length 8 is too small"),
        (lambda: InBedder(tiny_models["llama"], cache=False, max_new_tokens=0), "max_new_tokens", "max_new_tokens must be at least 1"),
        (lambda: InBedder(tiny_models["llama"], cache=False, seed=-1), "seed", "seed must be"),
        (lambda: InBedder(tiny_models["llama"], cache=False, template="{input} only"), "template", "template .* no {instruction} slot"),
        (lambda: InBedder(tiny_models["roberta"], cache=False, template="chat"), "template", "template 'chat' needs a chat model"),
        (lambda: InBedder(tiny_models["roberta"], cache=False, compile=True), "compile", "compile speeds up causal LMs only"),
    ]:
        with pytest.raises(InBedderError, match=pattern) as error:
            call()
        assert error.value.parameter == parameter and "--" not in str(error.value)
    with pytest.raises(InBedderError, match="max_length 40 leaves no room") as error:
        _model(tiny_models["llama"], max_length=40).prompts.ids("why? " * 40, "text")
    assert error.value.parameter == "max_length"

"""Encoders on tiny random models: shapes, equivalence with generate, padding invariance."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from inbedder import InBedder, InBedderError
from inbedder.encoding.embedder import METHODS

TEXTS = [
    "The soup was cold and the bread was stale.",
    "Our waiter was friendly.",
    "Prices are fair for the portion sizes, and the wine list is long and reasonably priced too.",
]
INSTRUCTION = "What is the review about?"
FAMILY_METHODS = {
    "llama": ("1st-gen", "avg-gen", "last-gen", "avg-ppt", "avg-all"),
    "opt": ("1st-gen", "avg-gen", "last-gen", "avg-ppt", "avg-all"),
    "roberta": ("avg-gen", "avg-ppt", "avg-all"),
    "t5": ("1st-gen", "avg-gen", "last-gen", "avg-ppt"),
}


def _model(tiny_models, name, **kwargs):
    kwargs.setdefault("answer_prefix", "")
    return InBedder(tiny_models[name], template="inbedder", cache=False, device="cpu", max_new_tokens=4, **kwargs)


@pytest.mark.parametrize("name", list(FAMILY_METHODS))
def test_each_method_returns_one_vector_per_text(tiny_models, name):
    model = _model(tiny_models, name)
    for method in FAMILY_METHODS[name]:
        vectors = model.encode(TEXTS, INSTRUCTION, method=method)
        assert vectors.shape == (len(TEXTS), model.loaded.model.config.hidden_size if name != "t5" else 32), method
        assert np.isfinite(vectors).all(), method
    assert model.methods == FAMILY_METHODS[name] + ("re-enc", "prompt")


@pytest.mark.parametrize("name", list(FAMILY_METHODS))
def test_a_padded_batch_equals_one_text_at_a_time(tiny_models, name):
    model = _model(tiny_models, name, filter_answer_words=False)
    for method in FAMILY_METHODS[name]:
        batched = model.encode(TEXTS, INSTRUCTION, method=method, batch_size=3)
        model.cache = type(model.cache)(":memory:")  # forget, so each text is computed alone
        single = np.stack([model.encode([text], INSTRUCTION, method=method)[0] for text in TEXTS])
        model.cache = type(model.cache)(":memory:")
        np.testing.assert_allclose(batched, single, atol=1e-4, err_msg=method)


@pytest.mark.parametrize("name", ["llama", "opt"])
def test_first_gen_is_the_state_behind_generates_first_scores(tiny_models, name):
    model = _model(tiny_models, name)
    network, tokenizer = model.loaded.model, model.loaded.tokenizer
    vectors = model.encode(TEXTS, INSTRUCTION, method="1st-gen")
    for text, vector in zip(TEXTS, vectors):
        ids = torch.tensor([model.prompts.ids(INSTRUCTION, text)])
        out = network.generate(
            ids, attention_mask=torch.ones_like(ids), max_new_tokens=1, do_sample=False,
            output_scores=True, return_dict_in_generate=True, pad_token_id=tokenizer.pad_token_id,
        )
        with torch.no_grad():
            logits = network.get_output_embeddings()(torch.from_numpy(vector))
        torch.testing.assert_close(logits, out.scores[0][0], atol=1e-4, rtol=1e-4)


def test_answers_are_what_greedy_generate_says(tiny_models):
    model = _model(tiny_models, "llama")
    tokenizer = model.loaded.tokenizer
    encoded = model.encode_with_answers(TEXTS, INSTRUCTION, method="1st-gen")
    for text, answer in zip(TEXTS, encoded.answers):
        ids = torch.tensor([model.prompts.ids(INSTRUCTION, text)])
        out = model.loaded.model.generate(
            ids, attention_mask=torch.ones_like(ids), max_new_tokens=4, do_sample=False, pad_token_id=tokenizer.pad_token_id
        )
        expected = " ".join(tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).split())
        assert answer == expected


def test_avg_gen_averages_the_states_that_produced_the_answer(tiny_models):
    model = _model(tiny_models, "llama", filter_answer_words=False)
    network = model.loaded.model
    ids = torch.tensor([model.prompts.ids(INSTRUCTION, TEXTS[0])])
    out = network.generate(
        ids, attention_mask=torch.ones_like(ids), max_new_tokens=4, do_sample=False,
        output_hidden_states=True, return_dict_in_generate=True, pad_token_id=model.loaded.tokenizer.pad_token_id,
    )
    # reference-style: step 0 holds the prompt's states, later steps the fed-back tokens' states
    states = [out.hidden_states[0][-1][0, -1]] + [step[-1][0, -1] for step in out.hidden_states[1:]]
    expected = torch.stack(states[: out.sequences.shape[1] - ids.shape[1]]).mean(0).numpy()
    np.testing.assert_allclose(model.encode([TEXTS[0]], INSTRUCTION, method="avg-gen")[0], expected, atol=1e-4)


def test_another_layer_gives_another_embedding(tiny_models):
    last = _model(tiny_models, "llama").encode(TEXTS, INSTRUCTION)
    first_layer = _model(tiny_models, "llama", layer=1).encode(TEXTS, INSTRUCTION)
    assert not np.allclose(last, first_layer)


def test_methods_missing_from_an_architecture_are_refused(tiny_models):
    model = _model(tiny_models, "roberta")
    with pytest.raises(InBedderError, match="1st-gen.*masked"):
        model.encode(TEXTS, INSTRUCTION, method="1st-gen")
    with pytest.raises(InBedderError, match="unknown method"):
        model.encode(TEXTS, INSTRUCTION, method="mean")
    assert set(METHODS) >= set(model.methods)


def test_long_inputs_are_cut_but_the_instruction_stays(tiny_models, caplog):
    model = InBedder(tiny_models["llama"], template="inbedder", cache=False, max_length=40, answer_prefix="")
    long_text = "word " * 500
    ids = model.prompts.ids(INSTRUCTION, long_text)
    assert len(ids) <= 40
    decoded = model.loaded.tokenizer.decode(ids)
    assert decoded.rstrip().endswith("### Instruction:\nWhat is the review about?\n\n### Response:")
    with caplog.at_level(logging.WARNING):
        model.encode([long_text, "short"], INSTRUCTION)
    assert sum("cut to fit" in record.message for record in caplog.records) == 1


def test_cache_serves_repeats_without_running_the_model(tiny_models, tmp_path):
    calls = []
    model = InBedder(tiny_models["llama"], template="inbedder", cache=tmp_path / "c.sqlite", answer_prefix="")
    model.loaded.model.base_model.register_forward_hook(lambda module, args, kwargs_out: calls.append(1))
    first = model.encode(TEXTS + TEXTS[:1], INSTRUCTION)  # a duplicate is embedded once
    assert len(calls) == 1
    again = InBedder(tiny_models["llama"], template="inbedder", cache=tmp_path / "c.sqlite", answer_prefix="")
    again.loaded.model.base_model.register_forward_hook(lambda module, args, kwargs_out: calls.append(1))
    np.testing.assert_array_equal(again.encode(TEXTS, INSTRUCTION), first[:3])
    assert len(calls) == 1
    again.encode(TEXTS, "Another question?")
    assert len(calls) == 2


def test_bad_arguments_give_one_line_errors(tiny_models):
    model = _model(tiny_models, "llama")
    for call, pattern in [
        (lambda: model.encode(TEXTS, "  "), "instruction is empty"),
        (lambda: model.encode([], INSTRUCTION), "no texts"),
        (lambda: model.encode("one text", INSTRUCTION), "list of strings"),
        (lambda: model.encode(["ok", ""], INSTRUCTION), "text #1"),
        (lambda: InBedder(tiny_models["llama"], template="{input} only"), "no {instruction} slot"),
        (lambda: InBedder("/no/such/model/dir"), "model folder .* does not exist"),
    ]:
        with pytest.raises(InBedderError, match=pattern) as error:
            call()
        assert "\n" not in str(error.value)


def test_a_lora_adapter_is_applied(tiny_models, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_models["llama"])
    torch.manual_seed(1)
    lora = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    lora.save_pretrained(tmp_path / "adapter")
    plain = _model(tiny_models, "llama").encode(TEXTS, INSTRUCTION)
    adapted_model = _model(tiny_models, "llama", adapter=str(tmp_path / "adapter"))
    adapted = adapted_model.encode(TEXTS, INSTRUCTION)
    assert not np.allclose(plain, adapted, atol=1e-3)
    ids = torch.tensor([adapted_model.prompts.ids(INSTRUCTION, TEXTS[0])])
    with torch.no_grad():
        expected = lora(input_ids=ids, output_hidden_states=True).hidden_states[-1][0, -1]
    np.testing.assert_allclose(adapted[0], expected.numpy(), atol=1e-4)
    assert "adapter" in adapted_model.loaded.fingerprint

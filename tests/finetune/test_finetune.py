"""Fine-tuning: data preparation rules, training on tiny models, adapters used everywhere."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from inbedder import InBedder, InBedderError
from inbedder.cli.main import FLAGS, main
from inbedder.finetune import FinetuneConfig, QAExample, finetune, prepare, strip_answer
from inbedder.finetune.data import split_by_input
from inbedder.finetune.features import IGNORE, FeatureBuilder
from inbedder.models.loading import CAUSAL, MASKED, load_generator
from inbedder.models.sources import run_options

PASSAGES = [
    ("The pasta was overcooked but the waiter was lovely.", "What is praised?", "The waiter."),
    ("The pasta was overcooked but the waiter was lovely.", "What went wrong?", "Overcooked pasta!"),
    ("Our flight was delayed by four hours in Denver.", "Where did it happen?", "In Denver"),
    ("Our flight was delayed by four hours in Denver.", "What is the problem?", "a delay"),
    ("The new phone has a great camera and poor battery.", "What is weak?", "the battery"),
    ("The new phone has a great camera and poor battery.", "What is good?", "Camera"),
    ("I finally finished my first marathon in Berlin.", "How does the writer feel?", "proud"),
    ("I finally finished my first marathon in Berlin.", "Where was the race?", "Berlin"),
]


def _as_cli(error: InBedderError) -> str:
    """The message as the CLI prints it: the library's parameter names (``answer_column``) as flags."""
    return error.renamed(FLAGS)


def _write_jsonl(path, rows):
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    return str(path)


@pytest.fixture
def qa_file(tmp_path):
    rows = [{"input": i, "instruction": q, "output": a} for i, q, a in PASSAGES]
    return _write_jsonl(tmp_path / "qa.jsonl", rows)


def test_answers_are_lowercased_and_stripped_of_punctuation_and_stopwords():
    assert strip_answer("The Waiter, mostly!") == "waiter mostly"
    assert strip_answer("It was about the prices.") == "prices"
    assert strip_answer("Who? Them.") == ""


def test_preparation_drops_and_counts_empty_answers(tmp_path):
    rows = [
        {"context": "A text.", "question": "What?", "answer": "Nothing at all"},
        {"context": "A text.", "question": "What?", "answer": "it is what it is"},  # only stopwords
        {"context": "", "question": "What?", "answer": "something"},  # empty input
    ]
    prepared = prepare([_write_jsonl(tmp_path / "qa.jsonl", rows)])
    assert [e.answer for e in prepared.examples] == ["nothing"]
    assert (prepared.read, prepared.dropped_empty_answer, prepared.dropped_missing_field) == (3, 1, 1)
    assert "3 examples read" in prepared.report() and "2.89" in prepared.report()


def test_column_flags_map_other_names(tmp_path):
    csv = tmp_path / "qa.csv"
    csv.write_text("passage,q,a\nThe cat sat.,Who sat?,The cat\n")
    prepared = prepare([str(csv)], input_column="passage", instruction_column="q", answer_column="a")
    assert prepared.examples == [QAExample("The cat sat.", "Who sat?", "cat")]
    with pytest.raises(InBedderError) as caught:
        prepare([str(csv)], input_column="passage", instruction_column="q", answer_column="answer")
    assert re.search("--answer-column 'answer' is not a column", _as_cli(caught.value))
    with pytest.raises(InBedderError, match="none of the columns"):
        prepare([str(csv)])


def test_held_out_split_keeps_passages_whole():
    examples = [QAExample(i, q, strip_answer(a)) for i, q, a in PASSAGES]
    train, held = split_by_input(examples, 0.25, seed=0)
    assert len(held) == 2 and len(train) == 6
    assert not {e.input for e in train} & {e.input for e in held}


def test_causal_features_put_the_loss_on_answer_tokens_only(tiny_models):
    loaded = load_generator(tiny_models["llama"], device="cpu")
    builder = FeatureBuilder(loaded.tokenizer, CAUSAL, "inbedder")
    example = QAExample("The soup was cold.", "What is the complaint?", "cold soup")
    feature = builder(example)
    prompt = builder.prompts.ids(example.instruction, example.input)
    assert feature["input_ids"][: len(prompt)] == prompt  # exactly the prompt the embedder uses
    answer = [t for t in feature["labels"] if t != IGNORE]
    assert loaded.tokenizer.decode(answer[:-1]).strip() == "cold soup"
    assert answer[-1] == loaded.tokenizer.eos_token_id
    assert feature["labels"][: len(prompt)] == [IGNORE] * len(prompt)


@pytest.mark.parametrize("name", ["llama", "opt"])
def test_the_loss_over_answer_logits_only_equals_the_loss_over_every_position(tiny_models, name):
    from inbedder.finetune.features import collate

    loaded = load_generator(tiny_models[name], device="cpu")
    builder = FeatureBuilder(loaded.tokenizer, loaded.family, "inbedder")
    features = [builder(QAExample(i, q, a)) for i, q, a in PASSAGES[:4]]  # prompts of different lengths
    full = collate(loaded.tokenizer.pad_token_id)(features)
    windowed = collate(loaded.tokenizer.pad_token_id, answer_logits_only=True)(features)
    with torch.no_grad():
        everywhere, answers_only = loaded.model(**full), loaded.model(**windowed)
    assert answers_only.logits.shape[1] < everywhere.logits.shape[1] / 2  # the prompt positions were skipped
    torch.testing.assert_close(answers_only.loss, everywhere.loss)


def test_masked_features_label_a_fixed_row_of_mask_slots(tiny_models):
    loaded = load_generator(tiny_models["roberta"], device="cpu")
    tokenizer = loaded.tokenizer
    builder = FeatureBuilder(tokenizer, MASKED, "inbedder", mask_slots=3)
    feature = builder(QAExample("The soup was cold.", "What is the complaint?", "cold soup"))
    slots = [i for i, t in enumerate(feature["input_ids"]) if t == tokenizer.mask_token_id]
    assert len(slots) == 3
    labelled = [i for i, t in enumerate(feature["labels"]) if t != IGNORE]
    assert labelled == slots
    long = builder(QAExample("x", "y?", "one two three four five six"))
    assert sum(t != IGNORE for t in long["labels"]) == 3 and builder.cut_answers == 1


@pytest.mark.parametrize("name", ["llama", "opt", "roberta"])
def test_a_few_steps_lower_the_loss_on_tiny_models(tiny_models, qa_file, tmp_path, name):
    config = FinetuneConfig(
        data=[qa_file], output=str(tmp_path / "run"), base=tiny_models[name], lora_r=8, lora_alpha=16,
        lr=2e-2, max_steps=12, batch_size=4, eval_split=0.0, device="cpu", save_steps=100,
    )
    before = _training_loss(tiny_models[name], qa_file)
    result = finetune(config, show_progress_bar=False, say=lambda line: None)
    after = _training_loss(tiny_models[name], qa_file, adapter=str(tmp_path / "run"))
    assert result.steps == 12
    assert after < before - 0.1, (before, after)  # deterministic: same data, same model, before vs after


def _training_loss(model_dir, qa_file, adapter=None) -> float:
    """Mean loss on the training examples, from a freshly loaded model (and adapter)."""
    from inbedder.finetune.features import collate

    loaded = load_generator(model_dir, adapter, device="cpu")
    builder = FeatureBuilder(loaded.tokenizer, loaded.family, "inbedder")
    batch = collate(loaded.tokenizer.pad_token_id)([builder(e) for e in prepare([qa_file]).examples])
    with torch.no_grad():
        return float(loaded.model(**batch).loss)


def test_saved_adapter_gives_the_trained_models_embeddings(tiny_models, qa_file, tmp_path):
    output = tmp_path / "run"
    result = finetune(
        FinetuneConfig(data=[qa_file], output=str(output), base=tiny_models["llama"], lr=2e-2, max_steps=4,
                       batch_size=4, eval_split=0.0, device="cpu"),
        show_progress_bar=False, say=lambda line: None,
    )
    meta = json.loads((output / "inbedder.json").read_text())
    assert meta["template"] == "inbedder" and meta["max_new_tokens"] == 3 and meta["answer_prefix"] == ""
    model = InBedder(adapter=str(output), cache=False, device="cpu")  # the adapter alone names the base
    assert model.template == "inbedder" and model.max_new_tokens == 3
    texts, question = ["The soup was cold.", "Lovely staff and quick service!"], "What is the review about?"
    loaded = model.encode(texts, question)
    trained = result.model.eval()
    with torch.no_grad():
        for row, text in enumerate(texts):
            ids = torch.tensor([model.prompts.ids(question, text)])
            expected = trained(input_ids=ids, output_hidden_states=True).hidden_states[-1][0, -1]
            np.testing.assert_allclose(loaded[row], expected.numpy(), atol=1e-4)
    base = InBedder(tiny_models["llama"], template="inbedder", answer_prefix="", cache=False, device="cpu")
    assert not np.allclose(base.encode(texts, question), loaded, atol=1e-3)


def test_a_full_run_trains_every_weight_and_loads_as_a_model(tiny_models, qa_file, tmp_path, capsys):
    output = tmp_path / "full"
    config = FinetuneConfig(data=[qa_file], output=str(output), base=tiny_models["llama"], full=True, lr=1e-2,
                            max_steps=12, batch_size=4, eval_split=0.0, device="cpu", save_steps=100)
    before = _training_loss(tiny_models["llama"], qa_file)
    result = finetune(config, show_progress_bar=False, say=lambda line: None)
    assert not (output / "adapter_config.json").exists()
    assert json.loads((output / "inbedder.json").read_text())["kind"] == "full"
    assert _training_loss(str(output), qa_file) < before - 0.1
    base = load_generator(tiny_models["llama"], device="cpu").model.state_dict()
    trained = load_generator(str(output), device="cpu").model.state_dict()
    unchanged = [name for name, weight in base.items() if torch.equal(weight, trained[name])]
    assert not unchanged, unchanged  # norms and embeddings too, not only the linear layers LoRA adapts
    model = InBedder(str(output), cache=False, device="cpu")  # the folder's inbedder.json sets the prompt
    assert (model.template, model.max_new_tokens, model.answer_prefix) == ("inbedder", 3, "")
    texts, question = ["The soup was cold.", "Lovely staff and quick service!"], "What is the review about?"
    network = result.model.eval()
    with torch.no_grad():
        ids = torch.tensor([model.prompts.ids(question, texts[0])])
        expected = network(input_ids=ids, output_hidden_states=True).hidden_states[-1][0, -1]
    np.testing.assert_allclose(model.encode(texts[:1], question)[0], expected.numpy(), atol=1e-4)
    assert run_options(str(output)) == {"model": str(output)}
    with pytest.raises(InBedderError, match="is a whole model"):
        InBedder(adapter=str(output), cache=False, device="cpu")
    with pytest.raises(InBedderError) as caught:
        finetune(FinetuneConfig(data=[qa_file], output=str(tmp_path / "again"), full=True, merge=True),
                 show_progress_bar=False, say=lambda line: None)
    assert "a --full run already is one, so drop --merge" in _as_cli(caught.value)
    from inbedder.finetune.ship import main as ship

    capsys.readouterr()
    assert ship([str(output), str(tmp_path / "shipped")]) == 2 and not (tmp_path / "shipped").exists()
    assert "only LoRA adapters are shipped" in capsys.readouterr().err


def test_a_killed_run_resumes_from_its_checkpoint(tiny_models, qa_file, tmp_path):
    def config(**kwargs):
        return FinetuneConfig(data=[qa_file], output=str(tmp_path / "run"), base=tiny_models["opt"], batch_size=2,
                              eval_split=0.0, device="cpu", save_steps=2, **kwargs)

    finetune(config(max_steps=2), show_progress_bar=False, say=lambda line: None)
    with pytest.raises(InBedderError) as caught:
        finetune(config(max_steps=4), show_progress_bar=False, say=lambda line: None)
    assert re.search("--resume", _as_cli(caught.value))
    resumed = finetune(config(max_steps=4, resume=True), show_progress_bar=False, say=lambda line: None)
    assert resumed.steps == 4
    assert (tmp_path / "run" / "checkpoints" / "checkpoint-4").is_dir()


def _cli_error(capsys, *argv: str) -> str:
    """Run ``inbedder finetune ARGV``; it must exit 2 with exactly one line on stderr."""
    assert main(["finetune", *argv]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("inbedder: error:") and "\n" not in error, error
    return error


def test_cli_reports_bad_data_in_one_line(tmp_path, capsys):
    error = _cli_error(capsys, "--data", str(tmp_path / "missing.jsonl"), "--output", str(tmp_path / "o"))
    assert "does not exist" in error and "datasets" not in error
    error = _cli_error(capsys, "--data", "someorg/some-qa-data", "--output", str(tmp_path / "o"))  # a hub id, no file
    assert "'someorg/some-qa-data' is not a local file" in error and "dataset" in error


@pytest.mark.parametrize("name", ["missing.jsonl", "data/qa.csv", "./qa", "~/surely/not/here/qa.parquet", "a/b/c"])
def test_a_missing_file_says_it_does_not_exist_not_pip_install_datasets(tmp_path, monkeypatch, capsys, name):
    monkeypatch.chdir(tmp_path)
    error = _cli_error(capsys, "--data", name, "--output", str(tmp_path / "o"))
    assert "does not exist" in error and "datasets" not in error and "hub" not in error


@pytest.mark.parametrize("flag, value", [
    ("--epochs", "0"), ("--epochs", "-1"), ("--epochs", "nan"), ("--lr", "0"), ("--lr", "-1e-4"), ("--lr", "inf"),
    ("--lora-r", "0"), ("--lora-alpha", "0"), ("--lora-dropout", "1"), ("--lora-dropout", "-0.1"),
    ("--batch-size", "0"), ("--grad-accum", "0"), ("--max-length", "0"), ("--mask-slots", "0"),
    ("--answer-tokens", "0"), ("--save-steps", "0"), ("--max-steps", "0"), ("--max-steps", "-5"),
    ("--seed", "-1"), ("--eval-split", "1"), ("--device", "tpu"),
])
def test_bad_numbers_are_refused_in_one_line_before_the_model_loads(tiny_models, qa_file, tmp_path, capsys, flag, value):
    output = tmp_path / "run"
    error = _cli_error(capsys, "--data", qa_file, "--base", tiny_models["llama"], "--output", str(output),
                       "--max-steps", "1", "--device", "cpu", "--quiet", f"{flag}={value}")
    assert flag in error and "training data" not in error  # refused before the data report, i.e. before any work
    assert not output.exists()


def test_a_missing_base_model_folder_is_refused_before_reading_data(tmp_path, capsys):
    error = _cli_error(capsys, "--data", str(tmp_path / "nope.jsonl"), "--base", str(tmp_path / "no-model"),
                       "--output", str(tmp_path / "o"))
    assert "model folder" in error and "does not exist" in error


@pytest.mark.slow
def test_two_steps_on_the_embedded_model(qa_file, tmp_path):
    output = tmp_path / "smol"
    assert main(["finetune", "--data", qa_file, "--output", str(output), "--max-steps", "2", "--batch-size", "2",
                 "--eval-split", "0", "--lora-r", "4", "--quiet"]) == 0
    config = json.loads((output / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "SmolLM2-135M-Instruct"  # portable: not this machine's cache path
    model = InBedder(adapter=str(output), cache=False, device="cpu")
    assert model.loaded.name == "SmolLM2-135M-Instruct" and model.template == "inbedder"
    assert model.encode(["The soup was cold."], "What is wrong?").shape == (1, 576)


def test_shipping_halves_the_weights_keeps_the_embeddings_and_records_the_source(tiny_models, qa_file, tmp_path, capsys):
    from inbedder.finetune.ship import main as ship

    run, shipped = tmp_path / "run", tmp_path / "adapters" / "mine"
    finetune(FinetuneConfig(data=[qa_file], output=str(run), base=tiny_models["llama"], lr=2e-2, max_steps=2,
                            batch_size=4, eval_split=0.0, device="cpu"), show_progress_bar=False, say=lambda line: None)
    assert ship([str(run), str(shipped)]) == 0
    weights = load_file(shipped / "adapter_model.safetensors")
    assert {tensor.dtype for tensor in weights.values()} == {torch.float16}
    assert set(weights) == set(load_file(run / "adapter_model.safetensors"))
    record = json.loads((shipped / "inbedder.json").read_text())
    assert record["shipped"]["dtype"] == "float16" and record["shipped"]["from"] == str(run)
    assert record["training"] == json.loads((run / "inbedder.json").read_text())["training"]
    texts, question = ["The soup was cold.", "Lovely staff and quick service!"], "What is the review about?"
    trained, halved = (InBedder(adapter=str(folder), cache=False, device="cpu").encode(texts, question) for folder in (run, shipped))
    np.testing.assert_allclose(halved, trained, atol=2e-3)
    capsys.readouterr()
    assert ship([str(run), str(shipped)]) == 2  # an existing folder is not replaced unasked
    assert ship([str(tmp_path), str(tmp_path / "other")]) == 2  # not a run folder
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and "--replace" in errors[0] and "adapter_config.json" in errors[1], errors
    assert ship([str(run), str(shipped), "--replace"]) == 0 and not (tmp_path / "other").exists()

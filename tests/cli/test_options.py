"""Options as dataclasses, and errors in the library's words shown as flags by the CLI.

The CLI, the evaluation CLI (and the explorer) build :class:`~inbedder.cli.options.ModelOptions`
from the same flags; the library names parameters (``layer=99``), the CLI prints flags
(``--layer 99``) through one table, :data:`inbedder.cli.FLAGS`.
"""

from __future__ import annotations

import copy
import inspect
import json
from dataclasses import MISSING, fields, replace

import numpy as np
import pandas as pd
import pytest

from inbedder import InBedder, InBedderError, InstructionClusterer
from inbedder.cli.main import FLAGS, build_parser, main, run_cluster
from inbedder.finetune import FinetuneConfig
from inbedder.io import read_corpus
from inbedder.cli.options import ClusterOptions, InputOptions, ModelOptions

TEXTS = [
    "The pasta was overcooked and bland.", "Lovely staff, they remembered our names.",
    "Far too expensive for tiny portions.", "Candlelight and soft jazz made the evening.",
    "Best ramen I have had in years.", "We waited an hour for the bill.",
]
MODEL_FLAGS = [
    "--model", "some/model", "--adapter", "none", "--method", "avg-gen", "--template", "chat", "--max-length", "128",
    "--max-new-tokens", "4", "--layer", "-2", "--answer-prefix", "none", "--no-filter", "--samples", "5",
    "--temperature", "0.5", "--sentence-encoder", "enc", "--batch-size", "3", "--device", "cpu", "--seed", "7",
    "--no-cache", "--compile",
]


def _public_parameters(function) -> list[str]:
    return [name for name in inspect.signature(function).parameters if name != "self"]


# ---------------------------------------------------------------- ModelOptions


def test_the_cli_and_the_evaluation_cli_build_the_same_model_options_from_the_same_flags():
    parser = build_parser()
    cluster = ModelOptions.from_args(parser.parse_args(["cluster", "in.csv", "-i", "q?", *MODEL_FLAGS]))
    embed = ModelOptions.from_args(parser.parse_args(["embed", "in.csv", "-i", "q?", "-o", "e.npy", *MODEL_FLAGS]))
    evaluate = ModelOptions.from_args(parser.parse_args(["evaluate", "awareness", *MODEL_FLAGS]))
    compare = ModelOptions.from_args(parser.parse_args(["evaluate", "compare", *MODEL_FLAGS]))
    assert cluster == embed == evaluate == compare
    assert cluster == ModelOptions(
        model="some/model", adapter="none", template="chat", method="avg-gen", max_length=128, max_new_tokens=4,
        layer=-2, filter_answer_words=False, answer_prefix="", samples=5, temperature=0.5, sentence_encoder="enc",
        device="cpu", cache=False, seed=7, compile=True, batch_size=3,
    )


def test_no_flags_give_the_default_options():
    parser = build_parser()
    assert ModelOptions.from_args(parser.parse_args(["cluster", "in.csv", "-i", "q?"])) == ModelOptions()
    assert ModelOptions.from_args(parser.parse_args(["evaluate", "robustness"])) == ModelOptions()
    args = parser.parse_args(["cluster", "in.csv", "-i", "q?"])
    assert ClusterOptions.from_args(args) == ClusterOptions()
    assert InputOptions.from_args(args) == InputOptions("in.csv")


def test_model_options_are_exactly_the_arguments_of_inbedder_with_its_defaults():
    signature = inspect.signature(InBedder.__init__).parameters
    options = {field.name: field.default for field in fields(ModelOptions) if field.name != "batch_size"}
    assert list(options) == [name for name in signature if name != "self"]
    assert options == {name: signature[name].default for name in options}
    assert ModelOptions().batch_size == inspect.signature(InBedder.encode).parameters["batch_size"].default


def test_build_gives_the_embedder_inbedder_itself_gives(tiny_models):
    options = ModelOptions(model=tiny_models["llama"], template="inbedder", max_new_tokens=2, cache=False)
    built, direct = options.build(), InBedder(tiny_models["llama"], template="inbedder", max_new_tokens=2, cache=False)
    assert type(built) is InBedder
    for attribute in ("template", "method", "max_new_tokens", "layer", "filter_answer_words", "samples", "temperature",
                      "seed", "adapter_metadata"):
        assert getattr(built, attribute) == getattr(direct, attribute), attribute
    assert built.loaded.fingerprint == direct.loaded.fingerprint and built.loaded.name == direct.loaded.name
    np.testing.assert_allclose(built.encode(TEXTS[:3], "What is it about?"), direct.encode(TEXTS[:3], "What is it about?"),
                               atol=1e-6)
    other = replace(options, model=tiny_models["opt"]).build()  # several models, as `evaluate compare --models`
    assert other.loaded.fingerprint != built.loaded.fingerprint and other.template == "inbedder"


def test_build_checks_the_model_before_torch_loads_anything(tmp_path):
    with pytest.raises(InBedderError, match="does not exist"):
        ModelOptions(model=str(tmp_path / "no-model")).build()


def test_check_refuses_numbers_out_of_range_in_the_librarys_words():
    with pytest.raises(InBedderError) as caught:
        ModelOptions(batch_size=0).check()
    assert str(caught.value).startswith("batch_size=0 is out of range") and caught.value.parameter == "batch_size"
    assert caught.value.renamed(FLAGS).startswith("--batch-size 0 is out of range")
    with pytest.raises(InBedderError, match=r"n_clusters=1 is out of range"):
        ClusterOptions(n_clusters=1).check()
    ClusterOptions(n_clusters="auto").check()


def test_input_options_read_the_corpus_read_corpus_reads(tmp_path):
    path = tmp_path / "in.csv"
    pd.DataFrame({"key": ["a", "b"], "body": ["one", "two"], "tag": ["x", "y"]}).to_csv(path, index=False)
    options = InputOptions(path, text_column="body", id_column="key", label_column="tag")
    assert options.read() == read_corpus(path, text_column="body", id_column="key", label_column="tag")


# ---------------------------------------------------------------- one table of flags


def test_the_flag_table_covers_every_parameter_of_the_public_api():
    from inbedder.finetune.data import prepare

    covered = {key.split("=")[0] for key in FLAGS}
    functions = [InBedder.__init__, InBedder.encode, InBedder.encode_with_answers, InBedder.encode_questions,
                 InstructionClusterer.__init__, read_corpus, prepare]
    missing = {name for function in functions for name in _public_parameters(function)} - covered
    missing |= {field.name for field in fields(FinetuneConfig)} - covered
    assert not missing


def test_every_flag_in_the_table_is_a_flag_of_the_command():
    parser = build_parser()
    known = set()
    stack = [parser]
    while stack:  # every parser and subparser
        current = stack.pop()
        for action in current._actions:
            known.update(action.option_strings)
            stack.extend(getattr(action, "choices", None).values() if isinstance(action.choices, dict) else ())
    assert {flag for flag in FLAGS.values() if flag} <= known


@pytest.mark.parametrize("message, parameter, shown", [
    ("batch_size=0 is out of range: use at least 1", "batch_size", "--batch-size 0 is out of range: use at least 1"),
    ("n_clusters=5 is larger than 3; lower n_clusters to at most 3", "n_clusters", "--k 5 is larger than 3; lower --k to at most 3"),
    ("device 'tpu' is not a device; use one of: cpu", "device", "--device 'tpu' is not a device; use one of: cpu"),
    ("drop device or use device='cpu'", "device", "drop --device or use --device cpu"),
    ("the embedding cache x is damaged; delete it or pass `cache=False`", "cache",
     "the embedding cache x is damaged; delete it or pass --no-cache"),
    ("the default model is missing; pass `model` with a local model directory", "model",
     "the default model is missing; pass --model with a local model directory"),
    ("pass instruction='What is it?'", "instruction", "pass --instruction 'What is it?'"),
    ("drop text_column and label_column", ("text_column", "label_column"), "drop --text-column and --label-column"),
    ("column 'text_column' is missing", "text_column", "column 'text_column' is missing"),  # a value, not the name
    ("compare takes methods, not method", ("methods", "method"), "compare takes --methods, not --method"),
])
def test_renamed_writes_parameters_as_flags(message, parameter, shown):
    error = InBedderError(message, parameter=parameter)
    assert str(error) == message and error.renamed(FLAGS) == shown
    assert error.renamed({}) == message


def test_an_error_without_a_parameter_is_printed_as_it_is():
    error = InBedderError("the layer of x is broken")
    assert error.parameter is None and error.parameters == () and error.renamed(FLAGS) == str(error)
    assert isinstance(error, ValueError)


# ---------------------------------------------------------------- the same error, two front ends


def test_a_library_error_names_the_parameter_in_python_and_the_flag_on_the_command_line(tiny_models, tmp_path, capsys):
    with pytest.raises(InBedderError) as caught:
        InBedder(tiny_models["llama"], layer=99, cache=False)
    assert str(caught.value).startswith("layer=99 is out of range") and "--layer" not in str(caught.value)
    source = tmp_path / "in.csv"
    pd.DataFrame({"text": TEXTS}).to_csv(source, index=False)
    assert main(["embed", str(source), "-i", "q?", "-o", str(tmp_path / "e.npy"), "--model", tiny_models["llama"],
                 "--layer", "99", "--quiet"]) == 2
    assert capsys.readouterr().err.startswith("inbedder: error: --layer 99 is out of range")


def test_a_reading_error_names_text_column_in_python_and_the_flag_on_the_command_line(tmp_path, capsys):
    source = tmp_path / "in.csv"
    pd.DataFrame({"title": ["a", "b"], "body": ["c", "d"]}).to_csv(source, index=False)
    with pytest.raises(InBedderError, match="pass text_column with one of"):
        read_corpus(source)
    assert main(["cluster", str(source), "-i", "q?", "--quiet"]) == 2
    assert "pass --text-column with one of" in capsys.readouterr().err


def test_an_empty_instruction_is_named_in_each_front_ends_words(tiny_models, capsys, tmp_path):
    model = InBedder(tiny_models["llama"], template="inbedder", max_new_tokens=2, cache=False)
    with pytest.raises(InBedderError, match="instruction is empty") as caught:
        InstructionClusterer(model, " ", n_clusters=2).fit(TEXTS)
    assert "instruction=" in str(caught.value) and "--instruction" in caught.value.renamed(FLAGS)


# ---------------------------------------------------------------- --k auto and run_cluster


def test_k_takes_a_number_or_auto_and_nothing_else(capsys):
    parser = build_parser()
    assert ClusterOptions.from_args(parser.parse_args(["cluster", "x.csv", "-i", "q", "--k", "auto"])).n_clusters == "auto"
    assert ClusterOptions.from_args(parser.parse_args(["cluster", "x.csv", "-i", "q", "--k", "4"])).n_clusters == 4
    with pytest.raises(SystemExit):
        parser.parse_args(["cluster", "x.csv", "-i", "q", "--k", "many"])
    assert "use a whole number such as 6, or auto" in capsys.readouterr().err


def test_k_auto_clusters_and_says_which_k_it_chose(tiny_models, tmp_path, capsys):
    source = tmp_path / "in.csv"
    pd.DataFrame({"text": TEXTS}).to_csv(source, index=False)
    output = tmp_path / "out.csv"
    code = main(["cluster", str(source), "-i", "What is it about?", "--k", "auto", "-o", str(output),
                 "--model", tiny_models["llama"], "--template", "inbedder", "--max-new-tokens", "2"])
    assert code == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    record = json.loads((tmp_path / "out.csv.run.json").read_text())
    chosen = record["options"]["k_chosen"]
    assert record["options"]["k"] == "auto" and 2 <= chosen <= len(TEXTS)
    assert f"--k auto chose k={chosen}" in out
    assert pd.read_csv(output)["cluster"].nunique() == chosen


def test_run_cluster_leaves_its_arguments_as_they_were(tiny_models, tmp_path):
    source = tmp_path / "in.csv"
    pd.DataFrame({"text": TEXTS}).to_csv(source, index=False)
    args = build_parser().parse_args([
        "cluster", str(source), "-i", "What is it about?", "-i", "Is it good?", "--k", "2", "-o", str(tmp_path / "o.csv"),
        "--model", tiny_models["llama"], "--template", "inbedder", "--max-new-tokens", "2", "--quiet",
    ])
    before = copy.deepcopy(vars(args))
    run_cluster(args)
    assert vars(args) == before
    assert (tmp_path / "o-q1.csv").is_file() and (tmp_path / "o-q2.csv").is_file()


def test_options_dataclasses_are_frozen_and_replaceable():
    options = ModelOptions()
    with pytest.raises(AttributeError):
        options.model = "x"  # type: ignore[misc]
    assert replace(options, model="x").model == "x" and options.model is None
    assert all(field.default is not MISSING for field in fields(ModelOptions))


def test_notes_about_the_input_name_flags_on_the_command_line(tmp_path, capsys):
    source = tmp_path / "in.csv"
    pd.DataFrame({"id": ["a", "b", "c"], "text": ["one", "two", "three"]}).to_csv(source, index=False)
    assert any("pass id_column to pick another column" in note for note in read_corpus(source).notes)
    assert main(["cluster", str(source), "-i", "q?", "--k", "2", "--model", str(tmp_path / "no-model")]) == 2
    err = capsys.readouterr().err
    assert "pass --id-column to pick another column" in err and "id_column" not in err

"""The ``inbedder`` command end to end on a tiny model: every input format, every bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load_file

from inbedder.cli.main import main

REVIEWS = [
    "The pasta was overcooked and bland.",
    "Lovely staff, they remembered our names.",
    "Far too expensive for tiny portions.",
    "Candlelight and soft jazz made the evening.",
    "Best ramen I have had in years.",
    "We waited an hour for the bill.",
]


def _write(path, fmt):
    frame = pd.DataFrame({"review": REVIEWS, "topic": ["food", "service", "price", "ambience", "food", "service"]})
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "tsv":
        frame.to_csv(path, sep="\t", index=False)
    elif fmt == "jsonl":
        frame.to_json(path, orient="records", lines=True)
    elif fmt == "parquet":
        frame.to_parquet(path)
    elif fmt == "txt":
        path.write_text("\n".join(REVIEWS) + "\n", encoding="utf-8")
    return path


def _tiny(tiny_models):
    return ["--model", tiny_models["llama"], "--template", "inbedder", "--max-new-tokens", "3", "--quiet"]


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "parquet", "txt"])
def test_cluster_round_trip_for_each_input_format(tiny_models, tmp_path, fmt):
    source = _write(tmp_path / f"reviews.{fmt}", fmt)
    column = [] if fmt == "txt" else ["--text-column", "review"]
    output = tmp_path / "out" / "clusters.parquet"
    code = main(["cluster", str(source), *column, "--instruction", "What is the review about?", "--k", "3",
                 "--output", str(output), "--embeddings", str(tmp_path / "emb.safetensors"), *_tiny(tiny_models)])
    assert code == 0
    rows = pd.read_parquet(output)
    assert list(rows.columns[:4]) == ["row", "text", "cluster", "answer"]  # row numbers: the input has no id column
    assert rows["text"].tolist() == REVIEWS and set(rows["cluster"]) <= {0, 1, 2}
    run = json.loads((tmp_path / "out" / "clusters.parquet.run.json").read_text())
    assert run["instruction"] == "What is the review about?" and run["options"]["k"] == 3
    assert sum(cluster["size"] for cluster in run["clusters"]) == len(REVIEWS)
    assert load_file(tmp_path / "emb.safetensors")["embeddings"].shape[0] == len(REVIEWS)


def test_cluster_reports_v_measure_with_a_label_column(tiny_models, tmp_path, capsys):
    source = _write(tmp_path / "r.csv", "csv")
    args = ["cluster", str(source), "--text-column", "review", "--label-column", "topic",
            "--instruction", "What is the review about?", "--k", "2", *_tiny(tiny_models)]
    args.remove("--quiet")
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "V-measure against the labels" in out and "top label" in out


def test_no_standardize_reaches_the_clusterer_the_sidecar_and_the_saved_clustering(tiny_models, tmp_path):
    from inbedder import InstructionClusterer

    source = _write(tmp_path / "r.csv", "csv")
    folders = {}
    for name, extra in (("scaled", []), ("plain", ["--no-standardize"])):
        output = tmp_path / name / "clusters.csv"
        folders[name] = tmp_path / name / "clustering"
        assert main(["cluster", str(source), "--text-column", "review", "--instruction", "What is the review about?",
                     "--k", "2", "--output", str(output), "--save-clustering", str(folders[name]), *extra,
                     *_tiny(tiny_models)]) == 0
        run = json.loads(output.with_name("clusters.csv.run.json").read_text())
        assert run["center"] is True and run["standardize"] is (name == "scaled")
    assert set(load_file(folders["scaled"] / "centroids.safetensors")) == {"cluster_centers", "mean", "scale"}
    assert set(load_file(folders["plain"] / "centroids.safetensors")) == {"cluster_centers", "mean"}
    assert InstructionClusterer.load(folders["plain"]).scale_ is None


def test_embed_writes_npy_with_ids_and_answers(tiny_models, tmp_path):
    source = _write(tmp_path / "r.jsonl", "jsonl")
    code = main(["embed", str(source), "--text-column", "review", "--instruction", "What is the topic?",
                 "--output", str(tmp_path / "e.npy"), "--answers", str(tmp_path / "a.csv"), *_tiny(tiny_models)])
    assert code == 0
    assert np.load(tmp_path / "e.npy").shape[0] == len(REVIEWS)
    assert (tmp_path / "e.ids.txt").read_text().split() == [str(i) for i in range(len(REVIEWS))]
    assert pd.read_csv(tmp_path / "a.csv")["text"].tolist() == REVIEWS


def test_empty_rows_are_skipped_counted_and_ids_kept(tiny_models, tmp_path, capsys):
    path = tmp_path / "gaps.csv"
    pd.DataFrame({"text": ["Great soup.", None, "  ", "Rude waiter.", "Cheap beer."]}).to_csv(path, index=False)
    output = tmp_path / "o.csv"
    args = ["cluster", str(path), "--instruction", "What is it about?", "--k", "2", "--output", str(output), *_tiny(tiny_models)]
    args.remove("--quiet")
    assert main(args) == 0
    assert pd.read_csv(output)["row"].tolist() == [0, 3, 4]
    assert "skipped 2 empty row(s)" in capsys.readouterr().err


@pytest.mark.parametrize(
    "setup, extra, message",
    [
        (lambda p: p.write_text(""), [], "empty"),
        (lambda p: p.write_text("review\nok\n"), ["--text-column", "body"], "'body'"),
        (lambda p: p.write_bytes(b"text\ncaf\xe9 au lait\nthe tea\n"), [], "not valid utf-8"),
        (lambda p: p.write_text("text\na\nb\n"), ["--k", "5"], "larger than the number of texts"),
        (lambda p: p.write_text("text\na\nb\n"), ["--k", "1"], "at least 2 clusters"),
        (lambda p: p.write_text("text\na\nb\n"), ["--instruction", " "], "instruction is empty"),
        (lambda p: p.write_text("text\na\nb\n"), ["--model", "/no/such/dir"], "does not exist"),
        (lambda p: p.write_text("text\na\nb\n"), ["--output", "x.xlsx"], "unsupported suffix"),
        (lambda p: None, [], "does not exist"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(tiny_models, tmp_path, capsys, setup, extra, message):
    path = tmp_path / "input.csv"
    setup(path)
    args = ["cluster", str(path), "--instruction", "What is it about?", "--k", "2",
            "--model", tiny_models["llama"], "--template", "inbedder", "--quiet"]
    for flag_index in range(0, len(extra), 2):  # later flags override the defaults above
        flag = extra[flag_index]
        if flag in args:
            args[args.index(flag) + 1] = extra[flag_index + 1]
        else:
            args += extra[flag_index : flag_index + 2]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("inbedder: error:") and message.lower() in err.lower()
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_unknown_method_is_refused_by_the_parser(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "inbedder.cli", "cluster", "x.csv", "-i", "q", "--method", "mean"],
        capture_output=True, text=True,
    )
    assert result.returncode == 2 and "invalid choice: 'mean'" in result.stderr


def test_help_teaches_with_examples():
    result = subprocess.run([sys.executable, "-m", "inbedder.cli", "cluster", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "--instruction" in result.stdout and "examples:" in result.stdout and "1st-gen" in result.stdout


def test_the_demo_ends_with_two_commands_the_parser_accepts():
    """The demo's last lines are the newcomer's next commands: each must be one the CLI takes as written."""
    import shlex

    from inbedder.cli.demo import NEXT_STEPS
    from inbedder.cli.main import build_parser

    commands = [shlex.split(line) for line in NEXT_STEPS.splitlines() if line.strip().startswith("inbedder ")]
    assert [argv[1] for argv in commands] == ["cluster", "app"]
    for argv in commands:
        parsed = build_parser().parse_args(argv[1:])
        assert parsed.command == argv[1]

"""Issue #26: formulas in CSV cells, non-finite numbers, id types, and one-line errors before any work.

Every test runs the real command line (in process through ``main``, or as a subprocess where
argparse itself answers) on real files and a tiny random llama, so what is checked is what a
user sees.
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from inbedder.cli.main import FLAGS, main
from inbedder.errors import InBedderError

TEXTS = [
    '=HYPERLINK("http://evil.example","click me")', "+1+2 is what the bill said", "-2+3 stars at most",
    "@SUM(A1:A9) was the table number", "Lovely staff, they remembered our names.", "Best ramen I have had in years.",
]
QUESTION = "What is the review about?"


def _tiny(tiny_models, *extra: str) -> list[str]:
    return ["--model", tiny_models["llama"], "--template", "inbedder", "--max-new-tokens", "3", "--quiet", *extra]


def _one_line_error(capsys, *words: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("inbedder: error:") and len(err.splitlines()) == 1 and "Traceback" not in err, err
    for word in words:
        assert word.lower() in err.lower(), (word, err)
    return err


def _cells(path, sep=","):
    """The file's cells exactly as written (pandas would not show a leading quote any differently, but
    this keeps the check independent of any reader's type guessing)."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter=sep))
    return [dict(zip(rows[0], row)) for row in rows[1:]]


def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "inbedder.cli", *argv], capture_output=True, text=True, timeout=120)


# ---------------------------------------------------------------- 5. formulas in CSV cells


def test_cluster_embed_and_assign_neutralise_formulas_in_csv_but_keep_parquet_exact(tiny_models, tmp_path):
    source = tmp_path / "in.jsonl"
    pd.DataFrame({"id": [-1, -2, 3, 4, 5, 6], "text": TEXTS}).to_json(source, orient="records", lines=True)
    out = tmp_path / "out"
    assert main(["cluster", str(source), "-i", QUESTION, "--k", "2", "-o", str(out / "c.csv"),
                 "--save-clustering", str(out / "saved"), *_tiny(tiny_models)]) == 0
    assert main(["cluster", str(source), "-i", QUESTION, "--k", "2", "-o", str(out / "c.parquet"), *_tiny(tiny_models)]) == 0
    assert main(["cluster", str(source), "-i", QUESTION, "--k", "2", "-o", str(out / "raw.tsv"), "--raw-csv",
                 *_tiny(tiny_models)]) == 0
    assert main(["embed", str(source), "-i", QUESTION, "-o", str(out / "e.npy"), "--answers", str(out / "a.tsv"),
                 *_tiny(tiny_models)]) == 0
    assert main(["assign", str(source), "--clustering", str(out / "saved"), "-o", str(out / "new.csv"), "--quiet"]) == 0
    neutral = ["'" + text if text[0] in "=+-@" else text for text in TEXTS]
    for path, sep in ((out / "c.csv", ","), (out / "a.tsv", "\t"), (out / "new.csv", ",")):
        rows = _cells(path, sep)
        assert [row["text"] for row in rows] == neutral, path
        assert [row["id"] for row in rows] == ["-1", "-2", "3", "4", "5", "6"]  # numbers are not formulas
        for row in rows:  # every string column: answers and names come from the model
            assert not any(value.startswith(("=", "+", "@", "\t", "\r")) for value in row.values()), row
    assert [row["text"] for row in _cells(out / "raw.tsv", "\t")] == TEXTS  # --raw-csv: as they are
    assert pd.read_parquet(out / "c.parquet")["text"].tolist() == TEXTS  # Parquet stays exact
    assert pd.read_csv(out / "c.csv")["id"].dtype == np.int64


def test_neutralise_formulas_touches_only_string_cells_that_would_run():
    from inbedder.io.writing import neutralise_formulas

    frame = pd.DataFrame({
        "text": ["=1+1", "\tcmd", "\rcmd", "-3.5", "+7", "- a list item", "@user", "plain", None],
        "score": [-1.5, 2.0, -3.0, 4.0, 5.0, 6.0, -7.0, 8.0, 9.0],
        "cluster": [-1, 0, 1, 2, 3, 4, 5, 6, 7],
    })
    out = neutralise_formulas(frame)
    assert out["text"].tolist()[:8] == ["'=1+1", "'\tcmd", "'\rcmd", "-3.5", "+7", "'- a list item", "'@user", "plain"]
    assert pd.isna(out["text"].iloc[8])
    assert out["score"].tolist() == frame["score"].tolist() and out["cluster"].dtype == frame["cluster"].dtype
    assert frame["text"][0] == "=1+1"  # a copy: the caller's frame is untouched


def test_the_explorers_csv_export_is_neutralised_and_its_parquet_exact():
    from inbedder.app import exports

    frame = pd.DataFrame({"text": ["=cmd|' /C calc'!A0", "fine"], "cluster": [-1, 0]})
    assert pd.read_csv(pd.io.common.BytesIO(exports.csv_bytes(frame)))["text"].tolist() == ["'=cmd|' /C calc'!A0", "fine"]
    assert pd.read_csv(pd.io.common.BytesIO(exports.csv_bytes(frame, raw=True)))["text"][0] == "=cmd|' /C calc'!A0"
    assert pd.read_parquet(pd.io.common.BytesIO(exports.parquet_bytes(frame)))["text"][0] == "=cmd|' /C calc'!A0"


# ---------------------------------------------------------------- 6. numbers that are not finite


@pytest.mark.parametrize("extra, words", [
    (["--temperature", "nan"], ["--temperature nan", "finite"]),
    (["--temperature", "inf"], ["--temperature inf", "finite"]),
    (["--temperature", "1000"], ["--temperature 1000", "at most 100"]),
    (["--answer-space", "5", "--state-weight", "nan"], ["--state-weight nan", "finite"]),
    (["--engine", "ray", "--output-dir", "runs-x", "--gpus-per-worker", "nan"], ["--gpus-per-worker nan"]),
])
def test_non_finite_numbers_are_refused_before_the_model_loads(tmp_path, capsys, monkeypatch, extra, words):
    """The model folder does not exist: had it been loaded first, the error would name it."""
    monkeypatch.chdir(tmp_path)
    source = tmp_path / "in.csv"
    pd.DataFrame({"text": TEXTS}).to_csv(source, index=False)
    assert main(["cluster", str(source), "-i", QUESTION, "--k", "2", "--model", str(tmp_path / "no-model"),
                 "--quiet", *extra]) == 2
    assert "no-model" not in _one_line_error(capsys, *words)
    assert not (tmp_path / "runs-x").exists()


def test_the_library_refuses_non_finite_numbers_before_any_work(tmp_path):
    from inbedder import InBedder, InstructionClusterer
    from inbedder.distributed import embed_dataset
    from inbedder.cli.options import ClusterOptions, ModelOptions

    for value in (math.nan, math.inf):
        with pytest.raises(InBedderError, match="temperature"):
            InBedder(str(tmp_path / "no-model"), temperature=value)  # not "does not exist": checked first
        with pytest.raises(InBedderError, match="temperature"):
            ModelOptions(temperature=value).check()
        with pytest.raises(InBedderError, match="state_weight"):
            ClusterOptions(state_weight=value).check()
        with pytest.raises(InBedderError, match="min_similarity"):
            InstructionClusterer(None, QUESTION, n_clusters=2, min_similarity=value).fit(["a", "b", "c"])
        with pytest.raises(InBedderError, match="gpus_per_worker"):
            embed_dataset(tmp_path / "in.csv", [QUESTION], output_dir=tmp_path / "o", gpus_per_worker=value)


# ---------------------------------------------------------------- 7. the input's id type


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_int_ids_come_back_as_ints_so_the_output_merges_onto_the_input(tiny_models, tmp_path, fmt):
    frame = pd.DataFrame({"id": np.array([101, 7, 3000000000, 42, -5, 9], dtype=np.int64), "text": TEXTS[::-1]})
    source = tmp_path / f"in.{fmt}"
    read = {"csv": pd.read_csv, "jsonl": lambda p: pd.read_json(p, lines=True), "parquet": pd.read_parquet}[fmt]
    {"csv": lambda: frame.to_csv(source, index=False), "jsonl": lambda: frame.to_json(source, orient="records", lines=True),
     "parquet": lambda: frame.to_parquet(source)}[fmt]()
    out = tmp_path / f"out.{fmt}"
    assert main(["cluster", str(source), "-i", QUESTION, "--k", "2", "-o", str(out), *_tiny(tiny_models)]) == 0
    assert main(["embed", str(source), "-i", QUESTION, "-o", str(tmp_path / "e.npy"),
                 "--answers", str(tmp_path / f"answers.{fmt}"), *_tiny(tiny_models)]) == 0
    for written in (out, tmp_path / f"answers.{fmt}"):
        result = read(written)
        assert result["id"].dtype == np.int64, (written, result["id"].dtype)
        merged = read(source).merge(result[["id", "answer"]], on="id")
        assert merged["id"].tolist() == frame["id"].tolist()


def test_assign_and_row_numbers_keep_their_types_in_parquet(tiny_models, tmp_path):
    source = tmp_path / "in.parquet"
    pd.DataFrame({"id": np.arange(10, 16, dtype=np.int64), "text": TEXTS}).to_parquet(source)
    plain = tmp_path / "plain.parquet"
    pd.DataFrame({"text": TEXTS}).to_parquet(plain)
    assert main(["cluster", str(source), "-i", QUESTION, "--k", "2", "--save-clustering", str(tmp_path / "saved"),
                 *_tiny(tiny_models)]) == 0
    assert main(["assign", str(source), "--clustering", str(tmp_path / "saved"), "-o", str(tmp_path / "a.parquet"),
                 "--quiet"]) == 0
    assigned = pd.read_parquet(tmp_path / "a.parquet")
    assert assigned["id"].dtype == np.int64 and assigned["id"].tolist() == list(range(10, 16))
    assert main(["cluster", str(plain), "-i", QUESTION, "--k", "2", "-o", str(tmp_path / "rows.parquet"),
                 *_tiny(tiny_models)]) == 0
    assert pd.read_parquet(tmp_path / "rows.parquet")["row"].tolist() == list(range(6))  # ints, as in a CSV


def test_text_ids_stay_text_even_when_they_look_like_numbers(tmp_path):
    from inbedder.io import read_corpus

    jsonl = tmp_path / "ids.jsonl"
    jsonl.write_text('{"id": "12", "text": "a"}\n{"id": "13", "text": "b"}\n', encoding="utf-8")
    assert read_corpus(jsonl).output_ids() == ["12", "13"]  # JSON said strings
    padded = tmp_path / "ids.csv"
    padded.write_text("id,text\n007,a\n008,b\n", encoding="utf-8")
    assert read_corpus(padded).output_ids() == ["007", "008"]  # an int would lose the zeros
    huge = tmp_path / "huge.csv"
    huge.write_text("id,text\n123456789012345678901234567890,a\n2,b\n", encoding="utf-8")
    assert read_corpus(huge).output_ids() == ["123456789012345678901234567890", "2"]  # beyond int64


# ---------------------------------------------------------------- 9. one line, before any work


def test_ray_sample_size_zero_and_an_output_dir_that_is_a_file_are_refused_before_any_work(tmp_path, capsys):
    pytest.importorskip("ray")
    source = tmp_path / "in.csv"
    pd.DataFrame({"text": TEXTS}).to_csv(source, index=False)
    args = ["cluster", str(source), "-i", QUESTION, "--k", "2", "--engine", "ray", "--model", str(tmp_path / "no-model"),
            "--quiet"]
    assert main([*args, "--output-dir", str(tmp_path / "run"), "--sample-size", "0"]) == 2
    _one_line_error(capsys, "--sample-size 0")
    assert not (tmp_path / "run").exists()
    blocker = tmp_path / "a-file"
    blocker.write_text("mine\n")
    for target in (blocker, blocker / "below"):
        assert main([*args, "--output-dir", str(target)]) == 2
        _one_line_error(capsys, "--output-dir", "file")
    assert blocker.read_text() == "mine\n"


def test_the_ray_rerun_message_speaks_of_the_flag(tmp_path):
    from inbedder.distributed.shards import start_run

    start_run(tmp_path / "run", {"questions": ["a"]})
    with pytest.raises(InBedderError) as raised:
        start_run(tmp_path / "run", {"questions": ["b"]})
    message = raised.value.renamed(FLAGS)
    assert "pass another --output-dir" in message and "output_dir" not in message


def test_finetune_output_naming_a_file_is_one_line_before_any_work(tmp_path, capsys):
    data = tmp_path / "qa.jsonl"
    data.write_text('{"input": "The soup was cold.", "instruction": "What was wrong?", "output": "cold soup"}\n')
    blocker = tmp_path / "a-file"
    blocker.write_text("mine\n")
    for target in (blocker, blocker / "run"):
        assert main(["finetune", "--data", str(data), "--output", str(target), "--quiet"]) == 2
        assert "training data" not in _one_line_error(capsys, "--output", "file")
    assert blocker.read_text() == "mine\n"


def test_finetune_keeps_the_users_readme_in_the_output_folder(tiny_models, tmp_path):
    from inbedder.finetune import FinetuneConfig, finetune

    data = tmp_path / "qa.jsonl"
    data.write_text("".join(json.dumps({"input": f"The soup was cold, visit {i}.", "instruction": "What was wrong?",
                                        "output": "cold soup"}) + "\n" for i in range(8)))
    output = tmp_path / "runs"
    output.mkdir()
    (output / "README.md").write_text("# my notes\n")
    finetune(FinetuneConfig(data=[str(data)], output=str(output), base=tiny_models["llama"], max_steps=1,
                            batch_size=4, eval_split=0.0, device="cpu", save_steps=100),
             show_progress_bar=False, say=lambda line: None)
    assert (output / "README.md").read_text() == "# my notes\n"
    assert (output / "adapter_config.json").is_file()


# ---------------------------------------------------------------- argparse's own errors are one line too


@pytest.mark.parametrize("argv, flag", [
    (["cluster", "x.csv", "-i", "q", "--min-similarity", "2"], "--min-similarity"),
    (["cluster", "x.csv", "-i", "q", "--outliers", "5%"], "--outliers"),
    (["cluster", "x.csv", "-i", "q", "--k", "2.5"], "--k"),
    (["cluster", "x.csv", "-i", "q", "--answer-space", "x"], "--answer-space"),
    (["cluster", "x.csv", "-i", "q", "--min-similarity", "nan"], "--min-similarity"),
    (["evaluate", "awareness", "--limit", "x"], "--limit"),
    (["finetune", "--data", "d.jsonl", "--output", "o", "--lr", "x"], "--lr"),
    (["assign", "x.csv", "--clustering", "d", "-o", "o.csv", "--batch-size", "x"], "--batch-size"),
    (["app", "--port", "x"], "--port"),
    (["demo", "--method", "bogus"], "--method"),
])
def test_argparse_errors_are_one_line_with_a_hint(argv, flag):
    result = _run(*argv)
    err = result.stderr.strip()
    assert result.returncode == 2 and len(err.splitlines()) == 1, err
    assert err.startswith("inbedder: error: ") and flag in err and f"inbedder {argv[0]}" in err and "--help" in err


# ---------------------------------------------------------------- seeds, the answer space, the state weight


@pytest.mark.parametrize("seeds, words", [
    ("", ["--seed-answers ''", "empty"]),
    ("food,Foods", ["'food' and 'Foods'", "repeat"]),
    ("food", ["--seed-answers food", "1 seed"]),
    (",".join(f"w{i}" for i in range(500)), ["--seed-answers gives 500 seeds", "6 different texts"]),
])
def test_seed_answers_are_refused_in_their_own_words(tiny_models, tmp_path, capsys, seeds, words):
    source = tmp_path / "in.csv"
    pd.DataFrame({"text": TEXTS}).to_csv(source, index=False)
    assert main(["cluster", str(source), "-i", QUESTION, "--seed-answers", seeds, *_tiny(tiny_models)]) == 2
    err = _one_line_error(capsys, *words)
    assert "--k" not in err


def test_answer_space_beyond_the_vocabulary_and_a_lone_state_weight_are_refused(tiny_models, tmp_path, capsys):
    source = tmp_path / "in.csv"
    pd.DataFrame({"text": TEXTS}).to_csv(source, index=False)
    args = ["cluster", str(source), "-i", QUESTION, "--k", "2", "-o", str(tmp_path / "o.csv"), *_tiny(tiny_models)]
    assert main([*args, "--answer-space", "10000000"]) == 2
    _one_line_error(capsys, "--answer-space 10000000", "vocabulary")
    assert main([*args, "--state-weight", "0.5"]) == 2
    _one_line_error(capsys, "--state-weight", "--answer-space")
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.slow
def test_quiet_hides_the_conversion_of_the_embedded_model(tmp_path):
    """A fresh cache: the GGUF conversion runs (about 30 s); under --quiet stderr holds only the error."""
    import os

    source = tmp_path / "in.csv"
    pd.DataFrame({"text": TEXTS}).to_csv(source, index=False)
    env = {**os.environ, "INBEDDER_CACHE": str(tmp_path / "fresh")}
    result = subprocess.run([sys.executable, "-m", "inbedder.cli", "embed", str(source), "-i", QUESTION, "-o",
                             str(tmp_path / "e.npy"), "--layer", "999", "--quiet"],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 2 and (tmp_path / "fresh" / "models").is_dir()  # converted, then refused --layer
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1 and err.startswith("inbedder: error:") and "GGUF" not in err, err

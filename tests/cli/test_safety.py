"""Issue #7: the user's files and rows are never lost, and every failure is one line, exit 2.

Each test runs the real command line on a tiny random llama (or refuses before any model
loads), so what is checked is what a user sees.
"""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from inbedder import InBedder, InstructionClusterer
from inbedder.cli.main import main

TEXTS = [
    "The pasta was overcooked and bland.", "Lovely staff, they remembered our names.",
    "Far too expensive for tiny portions.", "Candlelight and soft jazz made the evening.",
    "Best ramen I have had in years.", "We waited an hour for the bill.",
]


def _tiny(tiny_models, *extra):
    return ["--model", tiny_models["llama"], "--template", "inbedder", "--max-new-tokens", "3", "--quiet", *extra]


def _one_line_error(capsys, *words) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("inbedder: error:") and len(err.splitlines()) == 1 and "Traceback" not in err, err
    for word in words:
        assert word.lower() in err.lower(), (word, err)
    return err


def _csv(path, **columns):
    pd.DataFrame(columns or {"text": TEXTS}).to_csv(path, index=False)
    return path


# ---------------------------------------------------------------- outputs never replace inputs


@pytest.mark.parametrize("command, flag", [
    ("cluster", "--output"), ("cluster", "--embeddings-ids"), ("embed", "--answers"), ("cluster", "--sidecar"),
])
def test_no_output_may_overwrite_an_input(tiny_models, tmp_path, capsys, command, flag):
    if flag == "--embeddings-ids":  # e.npy brings e.ids.txt: the input may not be that file
        source = tmp_path / "e.ids.txt"
        source.write_text("\n".join(TEXTS) + "\n")
        outputs = ["--embeddings", str(tmp_path / "e.npy")]
    elif flag == "--sidecar":  # out.csv brings out.csv.run.json
        source = tmp_path / "out.csv.run.json"
        source.write_text('[{"text": "a"}, {"text": "b"}, {"text": "c"}]')
        outputs = ["--output", str(tmp_path / "out.csv")]
    else:
        source = _csv(tmp_path / "in.csv", text=TEXTS, note=list("abcdef"))
        outputs = [flag, str(tmp_path / "." / "in.csv")]
    if command == "embed":
        outputs += ["--output", str(tmp_path / "e.npy")]
    before = source.read_bytes()
    args = [command, str(source), "-i", "What is it about?", *outputs, *_tiny(tiny_models)]
    if command == "cluster":
        args += ["--k", "2"]
    assert main(args) == 2
    _one_line_error(capsys, "would overwrite the input")
    assert source.read_bytes() == before


def test_a_failed_run_leaves_the_previous_outputs_whole(tiny_models, tmp_path, capsys):
    """The .npy cannot hold an id with a line break: the run fails, nothing of it lands."""
    table, vectors = tmp_path / "out" / "clusters.csv", tmp_path / "out" / "e.npy"
    good = _csv(tmp_path / "good.csv", id=[f"r{i}" for i in range(6)], text=TEXTS)
    assert main(["cluster", str(good), "-i", "What is it about?", "--k", "2", "-o", str(table), *_tiny(tiny_models)]) == 0
    kept = {path.name: path.read_bytes() for path in table.parent.iterdir()}
    bad = _csv(tmp_path / "bad.csv", id=["a\nb", *[f"s{i}" for i in range(5)]], text=TEXTS)
    code = main(["cluster", str(bad), "-i", "What is it about?", "--k", "2", "-o", str(table),
                 "--embeddings", str(vectors), *_tiny(tiny_models)])
    assert code == 2
    _one_line_error(capsys, "line break")
    assert {path.name: path.read_bytes() for path in table.parent.iterdir()} == kept  # no .npy, no temp files


# ---------------------------------------------------------------- ids


def test_the_inputs_own_id_column_is_kept_and_row_numbers_are_called_row(tiny_models, tmp_path):
    with_ids = _csv(tmp_path / "ids.csv", id=["z9", "a1", "m5", "b2", "q7", "c3"], text=TEXTS)
    assert main(["cluster", str(with_ids), "-i", "What is it?", "--k", "2", "-o", str(tmp_path / "a.csv"), *_tiny(tiny_models)]) == 0
    out = pd.read_csv(tmp_path / "a.csv", dtype=str)
    assert out["id"].tolist() == ["z9", "a1", "m5", "b2", "q7", "c3"] and "row" not in out.columns
    plain = _csv(tmp_path / "plain.csv", text=TEXTS)
    assert main(["cluster", str(plain), "-i", "What is it?", "--k", "2", "-o", str(tmp_path / "b.csv"), *_tiny(tiny_models)]) == 0
    out = pd.read_csv(tmp_path / "b.csv")
    assert out["row"].tolist() == list(range(6)) and "id" not in out.columns


# ---------------------------------------------------------------- one line, before any work


@pytest.mark.parametrize("extra, words", [
    (["--top-n", "0"], ["--top-n 0"]),
    (["--seed", "-1"], ["--seed -1"]),
    (["--batch-size", "0"], ["--batch-size 0"]),
    (["--max-new-tokens", "0"], ["--max-new-tokens 0"]),
    (["--temperature", "0"], ["--temperature 0"]),
    (["--samples", "0"], ["--samples 0"]),
    (["--device", "tpu"], ["tpu"]),
    (["--device", "cuda"], ["cuda"]),
    (["-o", "/proc/inbedder/x.csv"], ["/proc/inbedder/x.csv"]),
    (["-o", "some_directory/"], ["folder"]),
    (["-i", "  "], ["instruction is empty"]),
])
def test_bad_options_are_refused_before_the_model_loads(tmp_path, capsys, monkeypatch, extra, words):
    """The model path does not exist: had it been loaded first, the error would name the model."""
    (tmp_path / "some_directory").mkdir()
    source = _csv(tmp_path / "in.csv")
    monkeypatch.chdir(tmp_path)
    args = ["cluster", str(source), "-i", "What is it?", "--k", "2", "--model", str(tmp_path / "no-model"), "--quiet"]
    assert main([*args, *extra]) == 2
    err = _one_line_error(capsys, *words)
    assert "no-model" not in err


def test_layer_out_of_range_names_the_models_layers(tiny_models, tmp_path, capsys):
    source = _csv(tmp_path / "in.csv")
    assert main(["embed", str(source), "-i", "q?", "-o", str(tmp_path / "e.npy"), "--layer", "99", *_tiny(tiny_models)]) == 2
    _one_line_error(capsys, "--layer 99", "2 layers")


def test_max_length_above_the_models_limit_is_refused(tiny_models, tmp_path, capsys):
    source = _csv(tmp_path / "in.csv")
    assert main(["embed", str(source), "-i", "q?", "-o", str(tmp_path / "e.npy"), "--max-length", "100000",
                 *_tiny(tiny_models)]) == 2
    _one_line_error(capsys, "--max-length 100000", "512")


@pytest.mark.parametrize("texts, words", [
    (["Same text."] * 6, ["all 6 texts are the same"]),
    (["Only one."], ["at least 2 texts"]),
])
def test_k_advice_is_advice_that_works(tiny_models, tmp_path, capsys, texts, words):
    source = _csv(tmp_path / "in.csv", text=texts)
    assert main(["cluster", str(source), "-i", "q?", "--k", "2", *_tiny(tiny_models)]) == 2
    err = _one_line_error(capsys, *words)
    assert "at most 1" not in err


def test_help_and_input_errors_do_not_import_torch(tmp_path):
    code = (
        "import sys, contextlib, io\n"
        "from inbedder.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try: main(['cluster', '--help'])\n"
        "    except SystemExit: pass\n"
        f"assert main(['cluster', {str(tmp_path / 'missing.csv')!r}, '-i', 'q?']) == 2\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sklearn') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert "does not exist" in result.stderr


# ---------------------------------------------------------------- order and progress


def test_clusters_do_not_depend_on_the_order_of_the_rows(tiny_models):
    rng = random.Random(0)
    words = "pasta staff price jazz ramen bill wine noise view dessert".split()
    texts = [f"{rng.choice(words)} {rng.choice(words)} {rng.choice(words)} number {i}" for i in range(60)]
    model = InBedder(tiny_models["llama"], template="inbedder", max_new_tokens=2, cache=False)
    shuffled = texts[:]
    rng.shuffle(shuffled)
    first = InstructionClusterer(model, "What is it about?", n_clusters=5, n_init=1).fit(texts)
    second = InstructionClusterer(model, "What is it about?", n_clusters=5, n_init=1).fit(shuffled)
    by_text = dict(zip(shuffled, second.labels_))
    relabelled = np.array([by_text[text] for text in texts])
    assert adjusted_rand_score(first.labels_, relabelled) == 1.0
    assert (first.labels_ == relabelled).all()  # the cluster numbers too


def test_progress_says_how_many_texts_came_from_the_cache(tiny_models, tmp_path, capsys):
    source = _csv(tmp_path / "in.csv")
    args = ["embed", str(source), "-i", "q?", "-o", str(tmp_path / "e.npy"), *_tiny(tiny_models)]
    args.remove("--quiet")
    assert main(args) == 0
    assert "0 texts cached, 6 to embed" in capsys.readouterr().err
    more = _csv(tmp_path / "more.csv", text=[*TEXTS, "A new review about the wine."])
    assert main([*args[:1], str(more), *args[2:]]) == 0
    assert "6 texts cached, 1 to embed" in capsys.readouterr().err


def test_staged_files_land_together_or_not_at_all(tmp_path):
    from inbedder.io import write_embeddings, write_table
    from inbedder.io.outputs import staged_files

    folder = tmp_path / "out"
    folder.mkdir()
    table, vectors = folder / "t.csv", folder / "e.npy"
    table.write_text("old table\n")
    with pytest.raises(RuntimeError):
        with staged_files() as staged:
            write_embeddings(np.ones((2, 3), dtype=np.float32), ["a", "b"], staged.path(vectors))
            raise RuntimeError("the disk filled up")
    assert table.read_text() == "old table\n" and sorted(p.name for p in folder.iterdir()) == ["t.csv"]
    with staged_files() as staged:
        write_embeddings(np.ones((2, 3), dtype=np.float32), ["a", "b"], staged.path(vectors))
        write_table(pd.DataFrame({"id": ["a", "b"]}), staged.path(table))
        assert table.read_text() == "old table\n"  # nothing lands before the end
    assert sorted(p.name for p in folder.iterdir()) == ["e.ids.txt", "e.npy", "t.csv"]
    assert table.read_text().split() == ["id", "a", "b"]

"""Tests for inbedder.io: every input format, skipped rows, and one-line user errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from inbedder.errors import InBedderError
from inbedder.io import Corpus, read_corpus, write_embeddings, write_json, write_table

TEXTS = ["Good café ☕", 'Bad, "quoted"\nover two lines', "  padded  ", "NA"]
TABLE = pd.DataFrame(
    {
        "id": ["r1", "r2", "r3", "007"],
        "text": TEXTS,
        "label": ["pos", "neg", None, "pos"],
        "score": [1, 2, 3, 4],
    }
)


def _write_source(frame: pd.DataFrame, path: Path) -> Path:
    """Write a test input with pandas itself, so reading is tested apart from write_table."""
    suffix = path.suffix
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".tsv":
        frame.to_csv(path, index=False, sep="\t")
    elif suffix in (".jsonl", ".ndjson"):
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    elif suffix == ".json":
        frame.to_json(path, orient="records", force_ascii=False)
    elif suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        raise AssertionError(suffix)
    return path


def _user_error(call: Callable[[], object], *names: str) -> str:
    """Run call, expect a one-line InBedderError naming every one of names."""
    with pytest.raises(InBedderError) as excinfo:
        call()
    message = str(excinfo.value)
    assert message and "\n" not in message, message
    for name in names:
        assert name in message, (name, message)
    return message


# ---------------------------------------------------------------------------- formats


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet"])
def test_tabular_round_trip(tmp_path: Path, suffix: str) -> None:
    path = _write_source(TABLE, tmp_path / f"data{suffix}")
    corpus = read_corpus(path, text_column="text", id_column="id", label_column="label")
    assert corpus == Corpus(
        texts=["Good café ☕", 'Bad, "quoted"\nover two lines', "padded", "NA"],
        ids=["r1", "r2", "r3", "007"],
        labels=["pos", "neg", None, "pos"],
        skipped=0,
        source=str(path),
    )


def test_txt_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_text("Good café ☕\n  padded  \n\nNA\n", encoding="utf-8")
    corpus = read_corpus(path)
    assert corpus.texts == ["Good café ☕", "padded", "NA"]
    assert corpus.ids == ["0", "1", "3"]
    assert corpus.labels is None
    assert corpus.skipped == 1


def test_txt_windows_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_bytes(b"one\r\ntwo\r\n")
    assert read_corpus(path).texts == ["one", "two"]


def test_numbers_become_strings(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text('{"text": 42, "id": 7, "label": 1.5}\n{"text": "x", "id": 8, "label": null}\n')
    corpus = read_corpus(path, id_column="id", label_column="label")
    assert corpus.texts == ["42", "x"]
    assert corpus.ids == ["7", "8"]
    assert corpus.labels == ["1.5", None]


# ---------------------------------------------------------------------------- skipped rows


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_empty_rows_are_skipped_and_ids_keep_gaps(tmp_path: Path, suffix: str) -> None:
    frame = pd.DataFrame({"text": ["first", None, "", "   \t", "fifth"], "label": list("abcde")})
    corpus = read_corpus(_write_source(frame, tmp_path / f"data{suffix}"), label_column="label")
    assert corpus.texts == ["first", "fifth"]
    assert corpus.ids == ["0", "4"]
    assert corpus.labels == ["a", "e"]
    assert corpus.skipped == 3


def test_skipped_rows_keep_their_named_ids(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("key,text\nk1,hello\nk2,\nk3,world\n", encoding="utf-8")
    corpus = read_corpus(path, id_column="key")
    assert corpus.ids == ["k1", "k3"]
    assert corpus.skipped == 1


def test_huge_text_is_kept_whole(tmp_path: Path) -> None:
    huge = "word " * 40_000 + "end"
    assert len(huge) > 200_000
    for suffix in (".csv", ".jsonl"):
        path = _write_source(pd.DataFrame({"text": [huge, "short"]}), tmp_path / f"big{suffix}")
        assert read_corpus(path).texts == [huge, "short"]


# ---------------------------------------------------------------------------- text column


def test_text_column_named_text_wins(tmp_path: Path) -> None:
    frame = pd.DataFrame({"title": ["t1", "t2"], "text": ["body 1", "body 2"]})
    assert read_corpus(_write_source(frame, tmp_path / "d.csv")).texts == ["body 1", "body 2"]


@pytest.mark.parametrize("suffix", [".csv", ".json", ".parquet"])
def test_only_string_column_is_detected(tmp_path: Path, suffix: str) -> None:
    frame = pd.DataFrame({"n": [1, 2], "review": ["great", "awful"], "stars": [4.5, 1.0]})
    corpus = read_corpus(_write_source(frame, tmp_path / f"d{suffix}"))
    assert corpus.texts == ["great", "awful"]


def test_ambiguous_text_column_lists_columns(tmp_path: Path) -> None:
    path = _write_source(pd.DataFrame({"title": ["a"], "body": ["b"]}), tmp_path / "d.csv")
    message = _user_error(lambda: read_corpus(path), "'title'", "'body'", "--text-column")
    assert "2 text-like columns" in message


def test_no_string_column(tmp_path: Path) -> None:
    path = _write_source(pd.DataFrame({"x": [1, 2]}), tmp_path / "d.parquet")
    _user_error(lambda: read_corpus(path), "'x'", "--text-column")


# ---------------------------------------------------------------------------- user errors


def test_missing_file(tmp_path: Path) -> None:
    _user_error(lambda: read_corpus(tmp_path / "nope.csv"), "nope.csv")


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    _user_error(lambda: read_corpus(folder), "folder.csv")


def test_unknown_suffix(tmp_path: Path) -> None:
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"x")
    _user_error(lambda: read_corpus(path), "'.xlsx'", ".csv", ".parquet", ".txt")


@pytest.mark.parametrize("name", ["empty.csv", "empty.txt", "empty.parquet", "blank.jsonl"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("\n \n" if name.startswith("blank") else "")
    _user_error(lambda: read_corpus(path), name, "empty")


@pytest.mark.parametrize(("name", "content"), [("head.csv", "id,text\n"), ("none.json", "[]")])
def test_no_rows(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    _user_error(lambda: read_corpus(path), name, "no rows")


def test_all_rows_empty(tmp_path: Path) -> None:
    path = tmp_path / "hollow.csv"
    path.write_text("id,text\n1,\n2,   \n")
    _user_error(lambda: read_corpus(path), "hollow.csv", "'text'", "2 rows")


@pytest.mark.parametrize("option", ["text_column", "id_column", "label_column"])
def test_unknown_column(tmp_path: Path, option: str) -> None:
    path = _write_source(TABLE, tmp_path / "data.csv")
    _user_error(
        lambda: read_corpus(path, **{option: "reviw"}),
        "'reviw'",
        "--" + option.replace("_", "-"),
        "'id', 'text', 'label', 'score'",
    )


def test_latin1_file_fails_as_utf8_then_reads_with_encoding(tmp_path: Path) -> None:
    path = tmp_path / "legacy.csv"
    path.write_bytes(b"id,text\n1,caf\xe9 au lait\n")
    message = _user_error(lambda: read_corpus(path), "legacy.csv", "--encoding latin-1")
    assert "offset 13" in message and "line 2" in message and "0xe9" in message
    assert read_corpus(path, encoding="latin-1").texts == ["café au lait"]


def test_unknown_encoding(tmp_path: Path) -> None:
    path = _write_source(TABLE, tmp_path / "data.csv")
    _user_error(lambda: read_corpus(path, encoding="latin-99"), "'latin-99'")


def test_utf8_bom_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("text,n\nhello,1\n".encode("utf-8-sig"))
    assert read_corpus(path, text_column="text").texts == ["hello"]


@pytest.mark.parametrize(
    ("name", "content", "where"),
    [
        ("bad.csv", "id,text\n1,a\n2,b,c\n", "line 3"),
        ("quote.csv", 'id,text\n1,"never closed\n2,b\n', "EOF"),
        ("shifted.csv", "text\na,b\n", "header"),
        ("bad.tsv", "id\ttext\n1\ta\n2\tb\tc\n", "line 3"),
        ("bad.jsonl", '{"text": "a"}\n{"text": oops}\n', "line 2"),
        ("list.jsonl", '{"text": "a"}\n["text"]\n', "record 1"),
        ("strings.json", '["a", "b"]', "JSON string, not an object"),
        ("bad.json", '[{"text": "a"},\n {"text": }]', "line 2"),
        ("lines.json", '{"text": "a"}\n{"text": "b"}\n', ".jsonl"),
        ("object.json", '{"text": ["a", "b"]}', "JSON object, not a list of records"),
        ("broken.parquet", "PAR1 this is not parquet", "Parquet"),
    ],
)
def test_malformed_file(tmp_path: Path, name: str, content: str, where: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    _user_error(lambda: read_corpus(path), name, where)


def test_txt_rejects_column_options(tmp_path: Path) -> None:
    path = tmp_path / "lines.txt"
    path.write_text("one\n")
    _user_error(lambda: read_corpus(path, text_column="review"), "lines.txt", "--text-column")


def test_missing_id_for_a_kept_row(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text("key,text\nk1,a\n,b\n")
    _user_error(lambda: read_corpus(path, id_column="key"), "ids.csv", "row 1", "'key'")


def test_duplicate_ids(tmp_path: Path) -> None:
    path = tmp_path / "dupes.csv"
    path.write_text("key,text\nk1,a\nk1,b\n")
    _user_error(lambda: read_corpus(path, id_column="key"), "dupes.csv", "'k1'")


# ---------------------------------------------------------------------------- writing


RESULTS = pd.DataFrame(
    {
        "id": ["r1", "r2"],
        "text": ["café", 'say "hi"\nbye'],
        "cluster": [0, 1],
        "score": [0.125, float("nan")],
        "keywords": [["a", "ü"], []],
    }
)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_write_table_round_trip(tmp_path: Path, suffix: str) -> None:
    path = write_table(RESULTS, tmp_path / "deep" / "er" / f"results{suffix}")
    assert path.is_file()
    if suffix == ".parquet":
        back = pd.read_parquet(path)
        back["keywords"] = back["keywords"].map(list)
    elif suffix == ".jsonl":
        back = pd.read_json(path, lines=True, dtype=False)
    else:
        back = pd.read_csv(path, sep="," if suffix == ".csv" else "\t")
        back["keywords"] = back["keywords"].map(json.loads)
    assert back["id"].tolist() == ["r1", "r2"]
    assert back["text"].tolist() == RESULTS["text"].tolist()
    assert back["cluster"].tolist() == [0, 1]
    assert back["score"].iloc[0] == 0.125 and pd.isna(back["score"].iloc[1])
    assert back["keywords"].tolist() == [["a", "ü"], []]


def test_write_table_jsonl_is_valid_json_with_null(tmp_path: Path) -> None:
    path = write_table(RESULTS, tmp_path / "results.jsonl")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert rows[1]["score"] is None and rows[0]["keywords"] == ["a", "ü"]


def test_write_table_reads_back_as_corpus(tmp_path: Path) -> None:
    path = write_table(RESULTS, tmp_path / "results.csv")
    assert read_corpus(path, id_column="id").texts == ["café", 'say "hi"\nbye']


def test_write_table_unknown_suffix(tmp_path: Path) -> None:
    _user_error(lambda: write_table(RESULTS, tmp_path / "out.xlsx"), "'.xlsx'", ".parquet")


def test_write_table_unwritable_path(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    _user_error(lambda: write_table(RESULTS, blocker / "out.csv"), "out.csv")


def test_write_embeddings_npy(tmp_path: Path) -> None:
    matrix = np.arange(6, dtype=np.float32).reshape(3, 2)
    path = write_embeddings(matrix, ["a", "b", "c"], tmp_path / "out" / "emb.npy")
    np.testing.assert_array_equal(np.load(path), matrix)
    ids_path = tmp_path / "out" / "emb.ids.txt"
    assert ids_path.read_text(encoding="utf-8").splitlines() == ["a", "b", "c"]


def test_write_embeddings_safetensors(tmp_path: Path) -> None:
    from safetensors import safe_open

    matrix = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    ids = ["r1", "r2", "x y", "ü"]
    path = write_embeddings(matrix, ids, tmp_path / "emb.safetensors")
    with safe_open(str(path), framework="numpy") as handle:
        np.testing.assert_array_equal(handle.get_tensor("embeddings"), matrix)
        assert json.loads(handle.metadata()["ids"]) == ids


def test_write_embeddings_unknown_suffix(tmp_path: Path) -> None:
    call = lambda: write_embeddings(np.zeros((1, 2)), ["a"], tmp_path / "emb.pt")  # noqa: E731
    _user_error(call, "'.pt'", ".npy", ".safetensors")


def test_write_embeddings_npy_rejects_multiline_ids(tmp_path: Path) -> None:
    call = lambda: write_embeddings(np.zeros((1, 2)), ["a\nb"], tmp_path / "e.npy")  # noqa: E731
    _user_error(call, "e.ids.txt", ".safetensors")


def test_write_json_is_pretty_utf8(tmp_path: Path) -> None:
    params = {"instruction": "Quelle émotion ?", "k": np.int64(5), "source": Path("d.csv")}
    path = write_json(params, tmp_path / "run" / "params.json")
    text = path.read_text(encoding="utf-8")
    assert "émotion" in text and '\n  "k": 5' in text
    assert json.loads(text) == {"instruction": "Quelle émotion ?", "k": 5, "source": "d.csv"}

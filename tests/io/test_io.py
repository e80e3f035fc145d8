"""Tests for inbedder.io: every input format, skipped rows, and one-line user errors."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from inbedder.cli.main import FLAGS
from inbedder.errors import InBedderError
from inbedder.io import (
    Corpus,
    check_writable,
    read_corpus,
    read_table,
    write_embeddings,
    write_json,
    write_table,
)

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
    """Run call, expect a one-line InBedderError naming every one of names, as the CLI prints it.

    The library names its parameters (``text_column``); the CLI shows their flags (``--text-column``).
    """
    with pytest.raises(InBedderError) as excinfo:
        call()
    assert "\n" not in str(excinfo.value)
    message = excinfo.value.renamed(FLAGS)
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
        id_name="id",
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


# ---------------------------------------------------------------------------- unmatched quotes

SWALLOWED = {
    # name: (file with a lone quote, the same file with that quote doubled, line of the quote)
    "closed by a later quote": (
        'id,text\n1,"Great food\n2,ok\n3,fine\n4,bad"\n5,x\n6,y\n',
        'id,text\n1,"""Great food"\n2,ok\n3,fine\n4,"bad"""\n5,x\n6,y\n', 2,
    ),
    "text first, labels after": (
        'text,label\nok,pos\n"Great,neg\nfine,pos\nbad",neg\nx,pos\ny,neg\n',
        'text,label\nok,pos\n"""Great",neg\nfine,pos\n"bad""",neg\nx,pos\ny,neg\n', 3,
    ),
    "text after the closing quote": (
        'id,text\n1,good\n2,"Best" pizza in town\n3,x\n',
        'id,text\n1,good\n2,"""Best"" pizza in town"\n3,x\n', 3,
    ),
    "never closed": ('id,text\n1,a\n2,"lone\n3,b\n', 'id,text\n1,a\n2,"""lone"\n3,b\n', 3),
}


@pytest.mark.parametrize("case", SWALLOWED, ids=list(SWALLOWED))
def test_a_lone_quote_never_swallows_the_rows_after_it(tmp_path: Path, case: str) -> None:
    broken, fixed, line = SWALLOWED[case]
    path = tmp_path / "reviews.csv"
    path.write_text(broken, encoding="utf-8")
    _user_error(lambda: read_corpus(path), "reviews.csv", f"line {line}", '""')
    path.write_text(fixed, encoding="utf-8")
    rows = len(fixed.splitlines()) - 1
    corpus = read_corpus(path)
    assert len(corpus.texts) == rows and corpus.skipped == 0
    assert any(text.startswith('"') for text in corpus.texts)


GENUINE_MULTILINE = [
    ["Great place, loved it.\nWill come back, definitely.", "Short one."],
    ["first line\nsecond, line", "x"],
    ["My issues:\n1, slow\n2, rude", "fine"],  # lines that look like rows, but ids 1 and 2 exist
]


@pytest.mark.parametrize("texts", GENUINE_MULTILINE)
@pytest.mark.parametrize("sep", [",", "\t"])
def test_closed_multiline_fields_still_read_whole(tmp_path: Path, texts: list[str], sep: str) -> None:
    frame = pd.DataFrame({"id": [1, 2], "text": texts, "label": ["pos", "pos"]})
    path = tmp_path / ("d.csv" if sep == "," else "d.tsv")
    frame.to_csv(path, index=False, sep=sep)
    corpus = read_corpus(path, label_column="label")
    assert corpus.texts == texts and corpus.ids == ["1", "2"] and corpus.id_name == "id"


def test_tsv_without_quoting_keeps_its_quotes_and_rows(tmp_path: Path) -> None:
    """TSV writers rarely quote: quotes that do not pair up are read as plain characters."""
    path = tmp_path / "naive.tsv"
    path.write_text('id\ttext\n1\t"Best" pizza\n2\t"lone quote\n3\tplain\n4\tends here"\n', encoding="utf-8")
    corpus = read_corpus(path)
    assert corpus.texts == ['"Best" pizza', '"lone quote', "plain", 'ends here"']
    assert corpus.ids == ["1", "2", "3", "4"]
    assert any("plain character" in note and "line 2" in note for note in corpus.notes)


def test_tsv_with_quoting_keeps_tabs_and_line_breaks_inside_fields(tmp_path: Path) -> None:
    path = tmp_path / "quoted.tsv"
    texts = ['a\ttab "and" quotes', "two\nlines\twith tab", "plain"]
    pd.DataFrame({"id": ["r1", "r2", "r3"], "text": texts}).to_csv(path, sep="\t", index=False)
    corpus = read_corpus(path)
    assert corpus.texts == texts and corpus.ids == ["r1", "r2", "r3"]
    assert not any("plain character" in note for note in corpus.notes)


# ---------------------------------------------------------------------------- separators


@pytest.mark.parametrize(("sep", "name"), [(";", "';'"), ("\t", "tab"), ("|", "'|'")])
def test_csv_with_another_separator_is_read_by_its_columns(tmp_path: Path, sep: str, name: str) -> None:
    path = tmp_path / "excel.csv"
    rows = [["id", "text", "stars"], ["a1", "Nice, really nice", "5"], ["b2", "Cold food", "1"]]
    path.write_text("".join(sep.join(row) + "\n" for row in rows), encoding="utf-8")
    corpus = read_corpus(path)
    assert corpus.texts == ["Nice, really nice", "Cold food"] and corpus.ids == ["a1", "b2"]
    assert any(f"{name}-separated" in note for note in corpus.notes)


def test_csv_that_looks_semicolon_separated_but_is_uneven(tmp_path: Path) -> None:
    path = tmp_path / "uneven.csv"
    path.write_text("id;text\n1;fine\n2;one;too many\n", encoding="utf-8")
    _user_error(lambda: read_corpus(path), "uneven.csv", "looks ';'-separated", "line 3")


# ---------------------------------------------------------------------------- ids


def test_the_inputs_id_column_is_used_when_no_id_column_is_given(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text("text,id\nfirst,z9\n,a1\nthird,m5\n", encoding="utf-8")
    corpus = read_corpus(path)
    assert corpus.ids == ["z9", "m5"] and corpus.id_name == "id" and corpus.skipped == 1
    assert any("'id' column" in note for note in corpus.notes)


@pytest.mark.parametrize(
    ("content", "id_column", "ids", "id_name"),
    [
        ("key,text\nk1,a\nk2,b\n", None, ["0", "1"], "row"),
        ("key,text\nk1,a\nk2,b\n", "key", ["k1", "k2"], "key"),
        ("id,key,text\n7,k1,a\n8,k2,b\n", "key", ["k1", "k2"], "key"),
    ],
)
def test_id_name_says_where_the_ids_come_from(
    tmp_path: Path, content: str, id_column: str | None, ids: list[str], id_name: str
) -> None:
    path = tmp_path / "d.csv"
    path.write_text(content, encoding="utf-8")
    corpus = read_corpus(path, id_column=id_column)
    assert corpus.ids == ids and corpus.id_name == id_name
    assert not any("'id' column" in note for note in corpus.notes)


@pytest.mark.parametrize(
    ("content", "words"),
    [("id,text\nk1,a\nk1,b\n", ["'k1'", "'id'", "--id-column"]), ("id,text\nk1,a\n,b\n", ["row 1", "'id'"])],
)
def test_the_inputs_id_column_gets_the_id_checks(tmp_path: Path, content: str, words: list[str]) -> None:
    path = tmp_path / "ids.csv"
    path.write_text(content, encoding="utf-8")
    _user_error(lambda: read_corpus(path), "ids.csv", *words)


def test_id_and_label_columns_are_not_taken_for_the_texts(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("id,review,aspect\nr1,Tasty,food\nr2,Slow,service\n", encoding="utf-8")
    corpus = read_corpus(path, label_column="aspect")
    assert corpus.texts == ["Tasty", "Slow"] and corpus.labels == ["food", "service"]


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_integer_ids_with_gaps_stay_integers(tmp_path: Path, suffix: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / f"d{suffix}"
    if suffix == ".jsonl":
        path.write_text('{"id": 7, "text": "a"}\n{"id": null, "text": ""}\n{"id": 9, "text": "c"}\n')
    else:
        pq.write_table(pa.table({"id": pa.array([7, None, 9], pa.int64()), "text": ["a", "", "c"]}), path)
    assert read_corpus(path).ids == ["7", "9"]


# ---------------------------------------------------------------------------- encodings


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be-bom", "utf-32"])
def test_a_byte_order_mark_decides_the_encoding(tmp_path: Path, codec: str) -> None:
    content = "id,text\n1,café ☕\n2,漢字\n"
    data = b"\xfe\xff" + content.encode("utf-16-be") if codec == "utf-16-be-bom" else content.encode(codec)
    path = tmp_path / "excel.csv"
    path.write_bytes(data)
    corpus = read_corpus(path)
    assert corpus.texts == ["café ☕", "漢字"] and corpus.ids == ["1", "2"]
    assert any("byte-order mark" in note for note in corpus.notes)


@pytest.mark.parametrize(
    ("data", "encoding", "advice"),
    [
        ("text\ncafé au lait\n".encode("utf-16-le"), "utf-8", "--encoding utf-16-le"),
        ("text\ncafe au lait\n".encode("utf-16-le"), "utf-8", "--encoding utf-16-le"),  # NULs only
        ("text\n“smart quotes” café\n".encode("cp1252"), "utf-8", "--encoding cp1252"),
        ("text\ncafé au lait\n".encode("utf-8"), "utf-16", "--encoding utf-8"),  # odd length
    ],
)
def test_encoding_advice_fits_the_bytes(tmp_path: Path, data: bytes, encoding: str, advice: str) -> None:
    path = tmp_path / "legacy.csv"
    path.write_bytes(data)
    message = _user_error(lambda: read_corpus(path, encoding=encoding), "legacy.csv", advice)
    assert "latin-1" not in message


# ---------------------------------------------------------------------------- cells


@pytest.mark.parametrize(
    ("name", "content", "option", "words"),
    [
        ("list.jsonl", '{"text": "a"}\n{"text": ["b", "c"]}\n', {}, ["row 1", "'text'", "list"]),
        ("object.json", '[{"text": {"en": "a"}}]', {}, ["row 0", "'text'", "object"]),
        ("ids.jsonl", '{"text": "a", "id": [1]}\n', {}, ["row 0", "'id'", "list"]),
        ("labels.jsonl", '{"text": "a", "tag": {"x": 1}}\n', {"label_column": "tag"}, ["row 0", "'tag'"]),
        ("list.parquet", None, {}, ["row 0", "'text'", "list"]),
        ("struct.parquet", None, {"label_column": "meta"}, ["row 0", "'meta'", "object"]),
    ],
)
def test_cells_that_are_not_single_values_are_refused(
    tmp_path: Path, name: str, content: str | None, option: dict, words: list[str]
) -> None:
    path = tmp_path / name
    if name == "list.parquet":
        pd.DataFrame({"text": [["a", "b"], ["c"]]}).to_parquet(path)
    elif name == "struct.parquet":
        pd.DataFrame({"text": ["a", "b"], "meta": [{"k": 1}, {"k": 2}]}).to_parquet(path)
    else:
        path.write_text(content or "", encoding="utf-8")
    _user_error(lambda: read_corpus(path, **option), name, *words)


def test_json_numbers_among_the_texts_are_used_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"text": "first"}\n{"text": 42}\n{"text": true}\n', encoding="utf-8")
    corpus = read_corpus(path)
    assert corpus.texts == ["first", "42", "True"]
    assert any("2 cell(s)" in note and "row 1" in note for note in corpus.notes)


@pytest.mark.parametrize(
    ("name", "content", "text_column", "column"),
    [
        ("prices.csv", "id,price,text\n1,3.50,a\n2,,b\n3,-4e2,c\n", "price", "'price'"),
        ("numbers.jsonl", '{"text": 1}\n{"text": 2.5}\n{"text": null}\n', None, "'text'"),
        ("numbers.csv", "text,label\n1,a\n007,b\n", None, "'text'"),
    ],
)
def test_a_text_column_of_numbers_is_refused(
    tmp_path: Path, name: str, content: str, text_column: str | None, column: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    _user_error(lambda: read_corpus(path, text_column=text_column), name, column, "only numbers", "--text-column")


@pytest.mark.parametrize("name", ["twice.csv", "twice.tsv", "twice.parquet", "twice.jsonl", "twice.json"])
def test_a_repeated_column_name_is_refused(tmp_path: Path, name: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / name
    if name.endswith(".parquet"):
        table = pa.table({"a": ["x"], "b": ["y"], "c": ["z"]}).rename_columns(["text", "note", "note"])
        pq.write_table(table, path)
    elif name.endswith(".json"):
        path.write_text('[{"text": "x", "note": "y", "note": "z"}]')
    elif name.endswith(".jsonl"):
        path.write_text('{"text": "x"}\n{"text": "x", "note": "y", "note": "z"}\n')
    else:
        sep = "," if name.endswith(".csv") else "\t"
        path.write_text(sep.join(["text", "note", "note"]) + "\n" + sep.join("xyz") + "\n")
    message = _user_error(lambda: read_corpus(path), name, "'note'", "twice")
    if name.endswith(".jsonl"):
        assert "line 2" in message


# ---------------------------------------------------------------------------- atomic writes


class _Unprintable:
    """A cell that fails while the file is being written, like a full disk would."""

    def __str__(self) -> str:
        raise RuntimeError("the disk filled up")


WRITERS: dict[str, Callable[[Path], object]] = {
    "csv": lambda path: write_table(RESULTS, path),
    "tsv": lambda path: write_table(RESULTS, path),
    "jsonl": lambda path: write_table(RESULTS, path),
    "parquet": lambda path: write_table(RESULTS, path),
    "npy": lambda path: write_embeddings(np.ones((2, 3), dtype=np.float32), ["r1", "r2"], path),
    "safetensors": lambda path: write_embeddings(np.ones((2, 3), dtype=np.float32), ["r1", "r2"], path),
    "json": lambda path: write_json({"k": 5}, path),
}


@pytest.mark.parametrize("suffix", WRITERS)
def test_writes_land_as_a_new_complete_file(tmp_path: Path, suffix: str) -> None:
    """Renamed into place: the old file is never opened for writing, and keeps its permissions."""
    folder = tmp_path / "results"
    folder.mkdir()
    path = folder / f"out.{suffix}"
    companion = folder / "out.ids.txt"
    for old in (path, companion) if suffix == "npy" else (path,):
        old.write_text("old\n")
        old.chmod(0o640)
    before = {p.name: p.stat().st_ino for p in folder.iterdir()}
    WRITERS[suffix](path)
    after = {p.name: p.stat() for p in folder.iterdir()}
    assert set(after) == set(before)  # no temporary file left behind
    for name, inode in before.items():
        assert after[name].st_ino != inode and after[name].st_mode & 0o777 == 0o640
    assert path.read_bytes() != b"old\n"


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
def test_a_failed_write_keeps_the_previous_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / "results" / f"out{suffix}"
    path.parent.mkdir()
    path.write_text("previous results\n")
    frame = pd.DataFrame({"id": ["r1", "r2"], "text": ["fine", _Unprintable()]})
    with pytest.raises((RuntimeError, TypeError)):
        write_table(frame, path)
    assert path.read_text() == "previous results\n"
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_a_failed_npy_write_keeps_both_previous_files(tmp_path: Path) -> None:
    """The .ids.txt cannot be written (a folder holds its name): the old .npy must stay too."""
    folder = tmp_path / "results"
    folder.mkdir()
    path, ids = folder / "e.npy", folder / "e.ids.txt"
    path.write_bytes(b"old matrix")
    ids.mkdir()
    _user_error(lambda: write_embeddings(np.zeros((1, 2)), ["a"], path), "e.npy")
    assert path.read_bytes() == b"old matrix" and ids.is_dir() and not list(ids.iterdir())
    assert sorted(p.name for p in folder.iterdir()) == ["e.ids.txt", "e.npy"]


@pytest.mark.parametrize("case", ["folder", "file as folder", "proc", "unwritable folder"])
def test_check_writable_refuses_what_cannot_be_written(tmp_path: Path, case: str) -> None:
    if case == "folder":
        (tmp_path / "out.csv").mkdir()
        target = tmp_path / "out.csv"
    elif case == "file as folder":
        (tmp_path / "plain").write_text("")
        target = tmp_path / "plain" / "deeper" / "out.csv"
    elif case == "proc":
        target = Path("/proc/inbedder-test/out.csv")
    else:
        if os.geteuid() == 0:
            pytest.skip("root may write into any folder")
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        target = locked / "sub" / "out.csv"
    _user_error(lambda: check_writable(target), str(target))


def test_check_writable_accepts_new_folders_and_leaves_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "kept.csv").write_text("x")
    check_writable(folder / "new" / "deeper" / "out.csv")
    check_writable(folder / "kept.csv")
    assert [p.name for p in folder.iterdir()] == ["kept.csv"]


def test_read_table_passes_notes_on(tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_text("a;b\n1;x\n", encoding="utf-8")
    notes: list[str] = []
    assert read_table(path, notes=notes).columns.tolist() == ["a", "b"]
    assert len(notes) == 1 and "';'-separated" in notes[0]


# ---------------------------------------------------------------------------- the library's own words


@pytest.mark.parametrize(
    ("content", "call", "words", "parameter"),
    [
        ("title,body\na,b\n", {}, ["pass text_column with one of"], "text_column"),
        ("text\na\n", {"text_column": "review"}, ["(from text_column)"], "text_column"),
        ("text\na\n", {"id_column": "key"}, ["(from id_column)"], "id_column"),
        ("text\na\n", {"label_column": "tag"}, ["(from label_column)"], "label_column"),
        ("id,text\nk1,a\nk1,b\n", {}, ["no id_column was given", "pass id_column with a unique column"], "id_column"),
        (b"text\ncaf\xe9\n", {}, ["pass encoding='latin-1'"], "encoding"),
    ],
)
def test_errors_from_python_name_the_parameters(tmp_path: Path, content, call: dict, words: list[str], parameter: str) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(InBedderError) as caught:
        read_corpus(path, **call)
    assert caught.value.parameter == parameter and "--" not in str(caught.value)
    for word in words:
        assert word in str(caught.value), (word, str(caught.value))


def test_a_txt_file_names_only_the_column_options_given(tmp_path: Path) -> None:
    path = tmp_path / "lines.txt"
    path.write_text("one\n")
    with pytest.raises(InBedderError) as caught:
        read_corpus(path, text_column="a", label_column="b")
    assert "drop text_column and label_column" in str(caught.value)
    assert "drop --text-column and --label-column" in caught.value.renamed(FLAGS)


def test_options_past_the_text_column_are_keyword_only(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("key,text,tag\nk1,a,x\nk2,b,y\n")
    with pytest.raises(TypeError):
        read_corpus(path, "text", "key", "tag")
    assert read_corpus(path, "text", id_column="key", label_column="tag").ids == ["k1", "k2"]

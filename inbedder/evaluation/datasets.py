"""The evaluation sets: the offline ones shipped in ``data/eval`` and the published ones on the hub.

Every loader returns the same small dataclasses, so the runners never know where data came from.
The shipped sets need nothing; the published sets (paper §3.2–3.3) need the optional
``datasets`` package and the Hugging Face hub, and say so in one line when either is missing.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from inbedder import data as shipped
from inbedder.errors import InBedderError, one_line

INTENT_INSTRUCTION = "What does the customer need?"
EMOTION_INSTRUCTION = "How does the customer feel?"
"""The paper's two IntentEmotion questions (also used for the shipped triplets)."""

REVIEW_LABELINGS = {
    "aspect": "Which aspect of the restaurant is this review about?",
    "sentiment": "Is the sentiment of this review positive or negative?",
}
"""The two-labelling review corpus: each labelling's question (the first correct robustness instruction)."""

HUB_TRIPLETS = "BrandonZYW/IntentEmotion"
HUB_STS = "BrandonZYW/InstructSTSB"
HUB_MULTILABEL = "BrandonZYW/NYTClustering"
HUB_NYT_LABELINGS = {"topic": "What is the topic of news?", "location": "Where did the news happen?"}
HUB_CLUSTERING = (
    "BrandonZYW/FeedbacksClustering",
    "BrandonZYW/RateMyProfClustering",
    "BrandonZYW/FewRelClustering",
    "BrandonZYW/FewNerdClustering",
    "BrandonZYW/FewEventClustering",
)
"""Single-labelling clustering sets (columns text, cluster) usable as robustness corpora."""

_INSTALL_HINT = (
    "reading the published sets needs `pip install datasets` and access to the Hugging Face hub; "
    "use the shipped sets instead (the default, offline), or a local corpus in the robustness spec"
)


@dataclass
class TripletSet:
    """Triplets (anchor, positive, negative) per criterion, each embedded under that criterion's question.

    A success is d(anchor, positive) < d(anchor, negative). The paper's emotion criterion, written
    as a reversed inequality over the intent triplet, is the same test on the mirrored triplet
    (positive and negative swapped), which is how both the hub set and ``data/eval`` store it.
    """

    triplets: dict[str, list[tuple[str, str, str]]]
    instructions: dict[str, str]
    source: str

    def texts(self) -> list[str]:
        return list(dict.fromkeys(text for rows in self.triplets.values() for row in rows for text in row))


@dataclass
class STSSet:
    """Sentence pairs, each with the instruction they are compared under and a 0/1 label (same answer?)."""

    sentence1: list[str]
    sentence2: list[str]
    instructions: list[str]
    labels: list[float]
    source: str

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class Labeling:
    """One way of labelling a corpus, with the question that asks for it."""

    name: str
    instruction: str
    labels: list[str]

    @property
    def k(self) -> int:
        return len(set(self.labels))


@dataclass
class MultiLabelSet:
    """One corpus clustered under several labellings (NYT topic/location; reviews aspect/sentiment)."""

    texts: list[str]
    labelings: list[Labeling]
    source: str


@dataclass
class RobustnessTask:
    """A clustering corpus with 10 correct, 10 implicit and 10 incorrect instructions (paper §3.3)."""

    name: str
    texts: list[str]
    labels: list[str]
    correct: list[str]
    implicit: list[str]
    incorrect: list[str]
    source: str
    k: int | None = None  # None: the number of distinct labels

    @property
    def n_clusters(self) -> int:
        return self.k or len(set(self.labels))

    def instruction_sets(self) -> dict[str, list[str]]:
        return {"correct": self.correct, "implicit": self.implicit, "incorrect": self.incorrect}


@dataclass
class AwarenessData:
    """The three instruction-awareness sets; a task left out is None."""

    triplets: TripletSet | None = None
    sts: STSSet | None = None
    clustering: MultiLabelSet | None = None
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- shipped sets
def shipped_triplets() -> TripletSet:
    rows = _read_jsonl(shipped.path("eval/intent_emotion.jsonl"))
    triplets: dict[str, list[tuple[str, str, str]]] = {"intent": [], "emotion": []}
    for row in rows:
        triplets[row["criterion"]].append((row["anchor"], row["positive"], row["negative"]))
    instructions = {"intent": INTENT_INSTRUCTION, "emotion": EMOTION_INSTRUCTION}
    return TripletSet(triplets, instructions, "data/eval/intent_emotion.jsonl")


def shipped_sts() -> STSSet:
    rows = _read_jsonl(shipped.path("eval/instruct_sts.jsonl"))
    return STSSet(
        [row["sentence1"] for row in rows], [row["sentence2"] for row in rows],
        [row["instruction"] for row in rows], [float(row["label"]) for row in rows],
        "data/eval/instruct_sts.jsonl",
    )


def shipped_multilabel() -> MultiLabelSet:
    import pandas as pd

    frame = pd.read_csv(shipped.path("reviews.csv"))
    labelings = [Labeling(name, question, frame[name].astype(str).tolist()) for name, question in REVIEW_LABELINGS.items()]
    return MultiLabelSet(frame["review"].astype(str).tolist(), labelings, "data/reviews.csv")


def shipped_robustness_spec() -> Path:
    return shipped.path("eval/robustness_instructions.json")


def robustness_tasks(spec: str | Path | None = None) -> list[RobustnessTask]:
    """Tasks from a JSON spec shaped like ``data/eval/robustness_instructions.json``.

    Each task names its ``corpus``: a file next to the spec (or the shipped ``reviews.csv``), or a
    hub clustering set such as ``BrandonZYW/FeedbacksClustering`` (columns text, cluster).
    """
    path = Path(spec) if spec else shipped_robustness_spec()
    if not path.is_file():
        raise InBedderError(f"the robustness file {str(path)!r} does not exist; leave out spec to use the shipped one",
                            parameter="spec")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        entries = document["tasks"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise InBedderError(f"{path} is not a robustness spec ({error}); it needs {{\"tasks\": [...]}} like the shipped one") from error
    return [_robustness_task(entry, path, number) for number, entry in enumerate(entries, 1)]


def _robustness_task(entry: dict, spec: Path, number: int) -> RobustnessTask:
    required = ("corpus", "correct", "implicit", "incorrect")
    missing = [key for key in required if key not in entry]
    if missing:
        raise InBedderError(f"task #{number} of {spec} lacks {', '.join(missing)}; every task needs {', '.join(required)}")
    corpus = str(entry["corpus"])
    if _is_hub_id(corpus, spec.parent):
        texts, labels = _hub_clustering(corpus, entry.get("config"))
        source = corpus
    else:
        texts, labels, source = _local_clustering(corpus, spec, entry.get("text_column", "text"), entry.get("label_column", "cluster"))
    sets = {key: [str(text) for text in entry[key]] for key in ("correct", "implicit", "incorrect")}
    for key, instructions in sets.items():
        if not instructions:
            raise InBedderError(f"task #{number} of {spec} has no {key} instructions")
    name = entry.get("name") or entry.get("label_column") or corpus
    return RobustnessTask(name, texts, labels, **sets, source=source, k=entry.get("k"))


def _local_clustering(corpus: str, spec: Path, text_column: str, label_column: str) -> tuple[list[str], list[str], str]:
    from inbedder.io import read_corpus

    path = spec.parent / corpus
    if not path.is_file() and spec.resolve() == shipped_robustness_spec().resolve():
        path = shipped.path(corpus)
    if not path.is_file():
        raise InBedderError(f"corpus {corpus!r} named in {spec} was not found next to it ({path})")
    read = read_corpus(str(path), text_column, label_column=label_column)
    keep = [i for i, label in enumerate(read.labels) if label is not None]
    return [read.texts[i] for i in keep], [str(read.labels[i]) for i in keep], str(path)


# --------------------------------------------------------------------------- hub sets
def hub_triplets(repo: str = HUB_TRIPLETS) -> TripletSet:
    triplets = {}
    for criterion in ("intent", "emotion"):
        rows = _hub_rows(repo, criterion, ("anchor", "positive", "negative"))
        triplets[criterion] = [(row["anchor"], row["positive"], row["negative"]) for row in rows]
    return TripletSet(triplets, {"intent": INTENT_INSTRUCTION, "emotion": EMOTION_INSTRUCTION}, repo)


def hub_sts(repo: str = HUB_STS) -> STSSet:
    rows = _hub_rows(repo, None, ("sentence1", "sentence2", "score", "instruction"))
    return STSSet(
        [row["sentence1"] for row in rows], [row["sentence2"] for row in rows],
        [row["instruction"] for row in rows], [float(row["score"]) for row in rows], repo,
    )


def hub_multilabel(repo: str = HUB_MULTILABEL, labelings: dict[str, str] | None = None) -> MultiLabelSet:
    """A corpus with one hub config per labelling (columns text, cluster), joined by text."""
    labelings = labelings or HUB_NYT_LABELINGS
    by_config = {name: {row["text"]: str(row["cluster"]) for row in _hub_rows(repo, name, ("text", "cluster"))} for name in labelings}
    texts = sorted(set.intersection(*(set(rows) for rows in by_config.values())))
    if not texts:
        raise InBedderError(f"the configs {', '.join(labelings)} of {repo} share no text; cannot cluster one corpus two ways")
    return MultiLabelSet(
        texts, [Labeling(name, question, [by_config[name][text] for text in texts]) for name, question in labelings.items()], repo
    )


def _hub_clustering(repo: str, config: str | None) -> tuple[list[str], list[str]]:
    rows = _hub_rows(repo, config, ("text", "cluster"))
    return [row["text"] for row in rows], [str(row["cluster"]) for row in rows]


def _hub_rows(repo: str, config: str | None, columns: Sequence[str]) -> list[dict[str, Any]]:
    """The test split of a hub dataset, checked for the columns the test needs."""
    try:
        from datasets import load_dataset
    except ImportError as error:
        raise InBedderError(f"cannot load {repo}: the `datasets` package is not installed; {_INSTALL_HINT}") from error
    try:
        loaded = load_dataset(repo, config)
    except Exception as error:  # network, missing repo or config: all reported the same way
        reason = textwrap.shorten(one_line(error), 200, placeholder="…")
        where = f"{repo} (config {config})" if config else repo
        raise InBedderError(f"cannot reach the dataset hub for {where}: {reason}; {_INSTALL_HINT}") from error
    split = "test" if "test" in loaded else (next(iter(loaded)) if len(loaded) == 1 else None)
    if split is None:
        raise InBedderError(f"{repo} has no test split (splits: {', '.join(loaded)})")
    missing = [name for name in columns if name not in loaded[split].column_names]
    if missing:
        raise InBedderError(f"{repo} lacks column(s) {', '.join(missing)} (has {', '.join(loaded[split].column_names)})")
    return list(loaded[split])


def _is_hub_id(corpus: str, base: Path) -> bool:
    """owner/name with no such local file: a hub id (never guessed: loading it fails loudly)."""
    return corpus.count("/") == 1 and not (base / corpus).exists() and not Path(corpus).suffix


# --------------------------------------------------------------------------- loading and subsampling
def load_awareness(source: str = "shipped", tasks: Sequence[str] = ("triplets", "sts", "clustering")) -> AwarenessData:
    """The awareness sets from ``shipped`` (data/eval, offline) or ``hub`` (the paper's published sets)."""
    if source not in ("shipped", "hub"):
        raise InBedderError(f"data={source!r} is unknown; use 'shipped' (offline, default) or 'hub' (the paper's sets)",
                            parameter="data")
    loaders = {
        "shipped": {"triplets": shipped_triplets, "sts": shipped_sts, "clustering": shipped_multilabel},
        "hub": {"triplets": hub_triplets, "sts": hub_sts, "clustering": hub_multilabel},
    }[source]
    return AwarenessData(**{task: loaders[task]() for task in tasks})


def sample_indices(n: int, limit: int | None, *, seed: int = 0) -> list[int]:
    """A seeded subset of ``limit`` of ``n`` rows, in their original order (all rows when no limit)."""
    if limit is None or limit >= n:
        return list(range(n))
    if limit < 1:
        raise InBedderError(f"limit must be at least 1 (got {limit})", parameter="limit")
    return sorted(np.random.default_rng(seed).permutation(n)[:limit].tolist())


def limit_awareness(data: AwarenessData, limit: int | None, *, seed: int = 0) -> AwarenessData:
    """Keep ``limit`` triplets per criterion, ``limit`` STS pairs and ``limit`` clustering texts."""
    if limit is None:
        return data
    out = AwarenessData(notes=list(data.notes))
    if data.triplets:
        out.triplets = replace(data.triplets, triplets={
            name: [rows[i] for i in sample_indices(len(rows), limit, seed=seed)] for name, rows in data.triplets.triplets.items()
        })
    if data.sts:
        keep = sample_indices(len(data.sts), limit, seed=seed)
        out.sts = STSSet(*([values[i] for i in keep] for values in (
            data.sts.sentence1, data.sts.sentence2, data.sts.instructions, data.sts.labels)), source=data.sts.source)
    if data.clustering:
        keep = sample_indices(len(data.clustering.texts), limit, seed=seed)
        out.clustering = MultiLabelSet(
            [data.clustering.texts[i] for i in keep],
            [Labeling(lab.name, lab.instruction, [lab.labels[i] for i in keep]) for lab in data.clustering.labelings],
            data.clustering.source,
        )
    return out


def limit_robustness(tasks: list[RobustnessTask], limit: int | None, *, seed: int = 0) -> list[RobustnessTask]:
    """Keep ``limit`` texts of each corpus (the same texts for every instruction)."""
    if limit is None:
        return tasks
    limited = []
    for task in tasks:
        keep = sample_indices(len(task.texts), limit, seed=seed)
        limited.append(replace(task, texts=[task.texts[i] for i in keep], labels=[task.labels[i] for i in keep]))
    return limited


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

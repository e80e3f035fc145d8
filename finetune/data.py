"""Training data: (input, question, answer) records with answers stripped to content words.

The paper (§4.4) trains on abstractive QA whose answers are lower-cased and stripped of
punctuation and English stopwords, so the model learns to answer with a few content words —
which is what makes its first generated token an instruction-following embedding.
"""

from __future__ import annotations

import logging
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import pandas as pd

from inbedder.errors import InBedderError, one_line
from inbedder.stopwords import content_words

logger = logging.getLogger(__name__)

INPUT_COLUMNS = ("input", "context", "passage", "text")
INSTRUCTION_COLUMNS = ("instruction", "question", "query")
ANSWER_COLUMNS = ("output", "answer", "response")


@dataclass(frozen=True)
class QAExample:
    """One training example: the answer is already stripped to content words."""

    input: str
    instruction: str
    answer: str


@dataclass
class PreparedData:
    """Examples kept after answer stripping, and what happened to the others."""

    examples: list[QAExample]
    read: int
    dropped_empty_answer: int
    dropped_missing_field: int
    sources: list[str] = field(default_factory=list)

    @property
    def mean_answer_words(self) -> float:
        if not self.examples:
            return 0.0
        return sum(len(e.answer.split()) for e in self.examples) / len(self.examples)

    def summary(self) -> dict:
        """What goes into the adapter's metadata and the printed report."""
        return {
            "sources": self.sources,
            "examples_read": self.read,
            "examples_kept": len(self.examples),
            "dropped_empty_answer": self.dropped_empty_answer,
            "dropped_missing_field": self.dropped_missing_field,
            "mean_answer_words": round(self.mean_answer_words, 2),
        }

    def report(self, samples: int = 5) -> str:
        """Human-readable summary: counts, mean answer length (paper: 2.89 words) and sample rows."""
        lines = [
            f"training data: {self.read} examples read from {', '.join(self.sources)}; {len(self.examples)} kept "
            f"({self.dropped_empty_answer} dropped: answer empty after stripping stopwords; "
            f"{self.dropped_missing_field} dropped: empty input, question or answer)",
            f"mean answer length: {self.mean_answer_words:.2f} words (the paper's training set: 2.89)",
        ]
        for example in self.examples[:samples]:
            text = example.input if len(example.input) <= 70 else example.input[:67] + "..."
            lines.append(f"  {text!r} | {example.instruction!r} -> {example.answer!r}")
        return "\n".join(lines)


def strip_answer(answer: str) -> str:
    """Lower-case, drop punctuation and English stopwords (nltk's list, shipped offline)."""
    return " ".join(content_words(answer))


def load_records(
    source: str,
    *,
    input_column: str | None = None,
    instruction_column: str | None = None,
    answer_column: str | None = None,
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """Read a JSONL/CSV/TSV/Parquet file, or a dataset-hub id, as columns input/instruction/answer."""
    frame = _read_local(source, encoding) if _is_local(source) else _read_hub(source)
    chosen = {
        "input": _pick_column(frame, source, input_column, INPUT_COLUMNS, "input_column"),
        "instruction": _pick_column(frame, source, instruction_column, INSTRUCTION_COLUMNS, "instruction_column"),
        "answer": _pick_column(frame, source, answer_column, ANSWER_COLUMNS, "answer_column"),
    }
    return pd.DataFrame({name: frame[column] for name, column in chosen.items()})


def prepare(
    sources: Sequence[str],
    *,
    input_column: str | None = None,
    instruction_column: str | None = None,
    answer_column: str | None = None,
    encoding: str = "utf-8",
) -> PreparedData:
    """Read every source, strip answers, drop examples whose answer or fields end up empty."""
    if not sources:
        raise InBedderError(
            "no training data given; pass sources: JSONL/CSV/Parquet files or dataset-hub ids", parameter="sources"
        )
    examples: list[QAExample] = []
    read = empty_answer = missing = 0
    for source in sources:
        frame = load_records(
            source, input_column=input_column, instruction_column=instruction_column, answer_column=answer_column,
            encoding=encoding,
        )
        for input_text, instruction, answer in frame[["input", "instruction", "answer"]].itertuples(index=False):
            read += 1
            input_text, instruction, answer = (_cell(v) for v in (input_text, instruction, answer))
            if not input_text or not instruction or not answer:
                missing += 1
                continue
            stripped = strip_answer(answer)
            if not stripped:
                empty_answer += 1
                continue
            examples.append(QAExample(input_text, instruction, stripped))
    if not examples:
        raise InBedderError(
            f"no usable training examples in {', '.join(sources)} ({read} read, {empty_answer} with answers "
            f"that are only stopwords, {missing} with empty fields); check input_column, instruction_column "
            "and answer_column",
            parameter=("input_column", "instruction_column", "answer_column"),
        )
    return PreparedData(examples, read, empty_answer, missing, [str(s) for s in sources])


def split_by_input(
    examples: list[QAExample], eval_fraction: float, *, seed: int
) -> tuple[list[QAExample], list[QAExample]]:
    """Hold out whole passages (all questions about them), so the held-out loss is on unseen texts."""
    if not 0 <= eval_fraction < 1:
        raise InBedderError(f"eval_split must be in [0, 1) (got {eval_fraction})", parameter="eval_split")
    inputs = sorted({e.input for e in examples})
    random.Random(seed).shuffle(inputs)
    held = set(inputs[: round(len(inputs) * eval_fraction)]) if eval_fraction else set()
    if eval_fraction and not held and len(inputs) > 1:
        held = {inputs[0]}
    train = [e for e in examples if e.input not in held]
    return train, [e for e in examples if e.input in held]


_FILE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet", ".txt", ".gz", ".zip")


def _is_local(source: str) -> bool:
    """Whether ``source`` means a file here: it exists, or it is spelt like a path (a table suffix,
    ./ ../ / ~ or backslashes, more than one slash), which a dataset-hub id (name or org/name) never is.
    A missing file then says "does not exist" instead of suggesting the dataset hub."""
    if Path(source).expanduser().exists():
        return True
    return (
        source.startswith((".", "/", "~")) or "\\" in source or source.count("/") > 1
        or Path(source).suffix.lower() in _FILE_SUFFIXES
    )


def _read_local(source: str, encoding: str) -> pd.DataFrame:
    from inbedder.io import read_table

    return read_table(Path(source).expanduser(), encoding)


def _read_hub(source: str) -> pd.DataFrame:
    """A dataset-hub id, for users who can reach the hub (never a silent fallback)."""
    try:
        import datasets
    except ImportError as error:
        raise InBedderError(
            f"{source!r} is not a local file (no such file here), and reading it as a dataset-hub id needs "
            "`pip install datasets`; pass the path of a JSONL/CSV/TSV/Parquet file"
        ) from error
    from inbedder.models.loading import hub_reachable

    if not os.environ.get("HF_HUB_OFFLINE") and not hub_reachable():
        raise InBedderError(
            f"{source!r} is not a local file, and the dataset hub cannot be reached to load it; pass a local "
            "JSONL/CSV/Parquet file, connect to the network, or set HF_HUB_OFFLINE=1 if it is in your datasets cache"
        )
    try:
        return datasets.load_dataset(source, split="train").to_pandas()
    except Exception as error:  # noqa: BLE001 - any hub failure becomes one line for the user
        raise InBedderError(
            f"{source!r} is not a local file and cannot be loaded from the dataset hub ({one_line(error, limit=200)}); "
            "pass a local JSONL/CSV/Parquet file"
        ) from error


def _pick_column(frame: pd.DataFrame, source: str, given: str | None, candidates: tuple[str, ...], parameter: str) -> str:
    columns = list(frame.columns)
    if given is not None:
        if given not in columns:
            raise InBedderError(
                f"{parameter} {given!r} is not a column of {source}; its columns are: {', '.join(map(str, columns))}",
                parameter=parameter,
            )
        return given
    for name in candidates:
        if name in columns:
            return name
    raise InBedderError(
        f"{source} has none of the columns {', '.join(candidates)}; name the right one with {parameter} "
        f"(its columns are: {', '.join(map(str, columns))})",
        parameter=parameter,
    )


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value).strip()

"""What the explorer clusters: an uploaded file or the shipped sample, checked before any work.

Uploads are read by :func:`inbedder.io.read_corpus` (and :func:`inbedder.io.read_table` for the
column pickers), so the page accepts exactly the files the CLI does and reports the same
problems, reworded for the page by :mod:`inbedder.app.messages`. Everything here raises
:class:`~inbedder.errors.InBedderError` with one line the page shows as is.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path, PurePath

from inbedder.app.messages import for_page
from inbedder.errors import InBedderError
from inbedder.io import Corpus, is_number, read_corpus, read_table

MAX_UPLOAD_MB = 32  # larger files: `inbedder cluster` has no limit and shows the same results
UPLOAD_TYPES = ("csv", "tsv", "jsonl", "ndjson", "json", "parquet", "txt")
ENCODINGS = ("utf-8", "latin-1", "cp1252", "utf-16")
SAMPLE_FILE = "reviews.csv"
SAMPLE_TEXT_COLUMN = "review"
SAMPLE_LABEL_COLUMNS = ("aspect", "sentiment")
SAMPLE_QUESTIONS = (
    "What aspect of the restaurant is the reviewer talking about?",
    "What is the sentiment of the review?",
)


@dataclass(frozen=True)
class TableInfo:
    """What the column pickers offer for a file: its columns and a sensible default for each."""

    name: str
    columns: tuple[str, ...]  # empty for .txt (one text per line, no header)
    rows: int
    text_default: str | None
    label_default: str | None


def digest(data: bytes) -> str:
    """Identifies an upload in caches and result records without keeping its bytes around."""
    return hashlib.sha256(data).hexdigest()[:16]


def check_size(name: str, size: int, *, limit_mb: float = MAX_UPLOAD_MB) -> None:
    """Refuse files the page would take minutes to parse and hours to embed."""
    if size > limit_mb * 2**20:
        raise InBedderError(
            f"{name} is {size / 2**20:.1f} MB; the explorer takes files up to {limit_mb:g} MB. Upload a "
            f"sample of it, or cluster the whole file from the terminal with `inbedder cluster {name} "
            "--instruction \"…\"` (same results, no size limit)"
        )


@contextmanager
def _as_file(name: str, data: bytes) -> Iterator[Path]:
    """The upload as a file under its own name, so messages name it as the user knows it."""
    check_size(name, len(data))
    safe = PurePath(name.replace("\\", "/")).name or "upload"
    suffix = PurePath(safe).suffix.lower().lstrip(".")
    if suffix not in UPLOAD_TYPES:
        raise InBedderError(
            f"unsupported file type {('.' + suffix) if suffix else '(no suffix)'} for {safe}; upload one of: "
            + ", ".join("." + kind for kind in UPLOAD_TYPES)
        )
    with tempfile.TemporaryDirectory(prefix="inbedder-upload-") as folder:
        path = Path(folder) / safe
        path.write_bytes(data)
        try:
            yield path
        except InBedderError as error:
            raise InBedderError(for_page(error, {str(path): safe})) from error


def inspect_upload(name: str, data: bytes, *, encoding: str = "utf-8") -> TableInfo:
    """Columns and defaults for an uploaded table; a .txt file has one text per line."""
    with _as_file(name, data) as path:
        if path.suffix.lower() == ".txt":
            corpus = read_corpus(path, encoding=encoding)
            return TableInfo(path.name, (), len(corpus.texts) + corpus.skipped, None, None)
        frame = read_table(path, encoding)
    if frame.empty:
        raise InBedderError(f"{path.name} has no rows; upload a file with at least two texts")
    columns = tuple(str(column) for column in frame.columns)
    texts = _text_columns(frame)
    if not texts:
        raise InBedderError(
            f"{path.name} has no column of texts (columns: {', '.join(columns)}; all empty or numbers); "
            "upload a file with a column holding the texts to cluster"
        )
    text_default = "text" if "text" in texts else max(texts, key=texts.get)
    label_default = next((c for c in ("label", "labels", "category", "class") if c in columns), None)
    return TableInfo(path.name, columns, len(frame), text_default, label_default)


def _text_columns(frame) -> dict[str, float]:
    """Columns holding words (not only numbers), with their mean text length: the longest is
    usually the one to cluster."""
    found = {}
    for column in frame.columns:
        cells = [v for v in frame[column].dropna() if isinstance(v, str) and v.strip()]
        words = [v for v in cells if not is_number(v)]
        if words:
            found[str(column)] = sum(map(len, words)) / len(words)
    return found


def read_upload(
    name: str,
    data: bytes,
    *,
    encoding: str = "utf-8",
    text_column: str | None = None,
    label_column: str | None = None,
) -> Corpus:
    """The non-empty texts (and labels) of an upload; empty rows are skipped and counted."""
    with _as_file(name, data) as path:
        if path.suffix.lower() == ".txt":
            text_column = label_column = None
        corpus = read_corpus(path, text_column, label_column=label_column, encoding=encoding)
    return replace(corpus, source=name)


def read_sample(label_column: str | None = SAMPLE_LABEL_COLUMNS[0]) -> Corpus:
    """The shipped restaurant reviews (256, labelled by aspect and by sentiment)."""
    from inbedder.data import path

    corpus = read_corpus(path(SAMPLE_FILE), SAMPLE_TEXT_COLUMN, id_column="id", label_column=label_column)
    return replace(corpus, source=f"sample: {SAMPLE_FILE}")


def first_rows(corpus: Corpus, limit: int | None) -> Corpus:
    """The first ``limit`` texts (for a quick look at a big file); None or 0 keeps all."""
    if not limit or limit >= len(corpus.texts):
        return corpus
    labels = None if corpus.labels is None else corpus.labels[:limit]
    return replace(corpus, texts=corpus.texts[:limit], ids=corpus.ids[:limit], labels=labels)


def check_clusterable(corpus: Corpus, k: int | None) -> None:
    """Clustering needs two texts and at most one cluster per text; say so before any work."""
    count = len(corpus.texts)
    if count < 2:
        raise InBedderError(
            f"{corpus.source} has only {count} non-empty text; clustering needs at least 2 "
            "(and at least as many as clusters)"
        )
    if k is not None and k > count:
        raise InBedderError(
            f"k = {k} is larger than the number of texts ({count}); lower k or use more rows"
        )
    if k is not None and k < 2:
        raise InBedderError(f"k = {k} is too small; ask for at least 2 clusters")


def subset(corpus: Corpus, rows: Sequence[int], note: str) -> Corpus:
    """The texts at ``rows`` (ids and labels kept), e.g. one cluster's texts for a follow-up question."""
    keep = [int(i) for i in rows]
    labels = None if corpus.labels is None else [corpus.labels[i] for i in keep]
    return replace(corpus, texts=[corpus.texts[i] for i in keep], ids=[corpus.ids[i] for i in keep], labels=labels,
                   skipped=0, notes=[*corpus.notes, note])

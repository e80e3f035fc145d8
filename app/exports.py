"""What the page lets the user download: per-text rows, the cluster summary, the run's parameters.

The per-text table has the text, cluster, answer and map position (x, y; empty for texts not
drawn on a sampled map); the parameters JSON is the record the CLI writes beside its output,
so a download can be traced back to the question, model and settings that produced it.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd

from inbedder.io import Corpus
from inbedder.report import id_column


def per_text_table(corpus: Corpus, labels: np.ndarray, answers: list[str], coords: np.ndarray) -> pd.DataFrame:
    """One row per text: id (or row), text, cluster, answer, x, y (and the gold label when there is one)."""
    frame = pd.DataFrame({
        id_column(corpus): corpus.ids, "text": corpus.texts, "cluster": np.asarray(labels, dtype=int), "answer": answers,
        "x": coords[:, 0].astype(float), "y": coords[:, 1].astype(float),
    })
    if corpus.labels is not None:
        frame["label"] = corpus.labels
    return frame


def summary_table(info: pd.DataFrame) -> pd.DataFrame:
    """The cluster cards as a flat table: lists joined with " | " so any spreadsheet opens it."""
    flat = info.copy()
    for column in flat.columns:
        if flat[column].map(lambda value: isinstance(value, (list, tuple, np.ndarray))).any():
            flat[column] = flat[column].map(lambda values: " | ".join(_cell(v) for v in values))
    return flat


def _cell(value) -> str:
    return f"{value:.4f}" if isinstance(value, (float, np.floating)) else " ".join(str(value).split())


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def json_bytes(record: dict) -> bytes:
    return (json.dumps(record, indent=2, ensure_ascii=False, default=_json_default) + "\n").encode("utf-8")


def _json_default(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return str(value)

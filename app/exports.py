"""What the page lets the user download: per-text rows, the cluster summary, the run's parameters.

The per-text table has the text, cluster (-1: outlier, "other"), answer, cluster name, the
text's similarity to its centroid and map position (x, y; empty for texts not drawn on a
sampled map), the columns ``inbedder cluster`` writes plus the map; the parameters JSON is the record the CLI writes beside its output,
so a download can be traced back to the question, model and settings that produced it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping

import numpy as np
import pandas as pd

from inbedder.io import Corpus
from inbedder.cli.report import id_column
from inbedder.io.writing import neutralise_formulas


def per_text_table(
    corpus: Corpus, labels: np.ndarray, answers: list[str], coords: np.ndarray, *,
    names: Mapping[int, str] | None = None, similarity: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per text: id (or row), text, cluster, answer, cluster_name, similarity, x, y (and the gold label).

    cluster_name and similarity come when ``names`` and ``similarity`` are given; nothing is dropped:
    outliers stay, as cluster -1 named "other".
    """
    labels = np.asarray(labels, dtype=int)
    frame = pd.DataFrame({id_column(corpus): corpus.output_ids(), "text": corpus.texts, "cluster": labels, "answer": answers})
    if names is not None:
        frame["cluster_name"] = [names.get(int(c), "other" if c == -1 else "") for c in labels]
    if similarity is not None:
        frame["similarity"] = np.round(np.asarray(similarity, dtype=float), 6)
    frame["x"], frame["y"] = coords[:, 0].astype(float), coords[:, 1].astype(float)
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


def csv_bytes(frame: pd.DataFrame, *, raw: bool = False) -> bytes:
    """The frame as CSV; a text that a spreadsheet would run as a formula gets a leading ``'``
    (:func:`inbedder.io.writing.neutralise_formulas`) unless ``raw``. The Parquet export stays exact."""
    return (frame if raw else neutralise_formulas(frame)).to_csv(index=False).encode("utf-8")


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

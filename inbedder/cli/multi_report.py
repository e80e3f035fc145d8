"""What ``--multi N`` shows and writes beside the usual run: texts with lists of clusters, and the long table.

The answers are clustered as rows of their own (:class:`~inbedder.clustering.multi.MultiAnswerClusterer`),
so the usual summary, sidecar and explanations describe *answers*; this module turns them back
into texts: one row per text with its clusters and answers (the ``--output`` table), and one
row per answer (``<output stem>.answers<suffix>``: id, text, answer, cluster, …).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from inbedder.cli.report import id_column

if TYPE_CHECKING:
    from inbedder.clustering.multi import MultiAnswerClusterer
    from inbedder.io import Corpus

LIST_SEPARATOR = "; "  # between the clusters, names and answers of one text (answers never hold one: they were split on it)


def answers_path(table: str | Path) -> Path:
    """``out/r.csv`` -> ``out/r.answers.csv``: where the long table of answers goes."""
    path = Path(table)
    return path.with_name(f"{path.stem}.answers{path.suffix}")


def gold_sets(labels: list[str | None] | None) -> list[list[str]] | None:
    """Each text's gold labels from a ``--label-column`` cell: "service; food" is two labels."""
    if labels is None:
        return None
    return [[part.strip() for part in str(label or "").split(";") if part.strip()] for label in labels]


def answer_rows_corpus(corpus: Corpus, multi: MultiAnswerClusterer) -> Corpus:
    """The corpus of answer rows: each row carries its text and that text's id (the long table's rows)."""
    rows = multi.encoded_.rows.tolist()
    return replace(corpus, texts=[corpus.texts[t] for t in rows], ids=[corpus.ids[t] for t in rows], labels=None, notes=[])


def list_columns(clusters: list[list[int]], names: dict[int, str]) -> dict[str, list[str]]:
    """Each text's ``clusters`` and ``cluster_names`` as "; "-joined lists (the --output table and assign's)."""
    return {"clusters": [LIST_SEPARATOR.join(str(c) for c in own) for own in clusters],
            "cluster_names": [LIST_SEPARATOR.join(names.get(c, "") for c in own) for own in clusters]}


def per_text_multi_frame(corpus: Corpus, multi: MultiAnswerClusterer) -> pd.DataFrame:
    """One row per text: id, text, cluster and cluster_name (its first answer's), then clusters, cluster_names,
    answers (each a "; "-joined list in the order of the answers) and n_answers (0: the model gave none)."""
    names = multi.answer_clusterer_.display_names() | {-1: "other"}
    frame = pd.DataFrame({
        id_column(corpus): corpus.output_ids(), "text": corpus.texts, "cluster": multi.labels_,
        "cluster_name": [names.get(int(c), "") for c in multi.labels_],
        **list_columns(multi.clusters_, names),
        "answers": [LIST_SEPARATOR.join(found) for found in multi.answers_],
        "n_answers": [len(found) for found in multi.answers_],
    })
    if corpus.labels is not None:
        frame["label"] = corpus.labels
    return frame


def multi_lines(multi: MultiAnswerClusterer) -> list[str]:
    """The summary's lines about the answers: how many, per text, texts without one, label recall."""
    texts, rows = len(multi.texts_), len(multi.encoded_.answers)
    several = sum(1 for own in multi.clusters_ if len(own) > 1)
    lines = [f"--multi {multi.max_answers}: {rows} answers from {texts} texts ({rows / texts:.2f} per text); "
             f"{several} texts in more than one cluster; {multi.no_answer_} gave no answer (kept, one empty answer each)"]
    if multi.label_recall_ is not None:
        lines.append(f"label recall (each text's gold labels found among its clusters' majority labels): {multi.label_recall_:.3f}")
    return lines


def multi_record(multi: MultiAnswerClusterer, answers_table: Path | None) -> dict[str, Any]:
    """The sidecar's ``multi`` entry."""
    return {"max_answers": multi.max_answers, "texts": len(multi.texts_), "answers": len(multi.encoded_.answers),
            "texts_in_several_clusters": sum(1 for own in multi.clusters_ if len(own) > 1),
            "texts_without_answer": multi.no_answer_, "label_recall": multi.label_recall_,
            "answers_table": str(answers_table) if answers_table else None}

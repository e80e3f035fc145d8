"""Do cluster names say what the clusters are? Name and description accuracy on labelled sets (issue #29).

Each set is clustered by the default embedder under its question with k = its number of labels.
Every cluster's name (or description) and every label name are embedded with all-MiniLM-L6-v2;
clusters and labels are paired by the Hungarian method on their cosines; a cluster counts as
named correctly when its paired label is the label most of its members carry. The score is the
share of clusters named correctly. Columns: today's answer-phrase name, today's generated name
(the clustering model with its adapter), and for each writer model the new name and the new
description. Also seconds of writing per cluster.

    python bench/explanations.py --writers smollm2-135m,qwen2.5-coder-1.5b --output docs/explanations.json

Sets: the shipped reviews by aspect (k 4) and by sentiment (k 2); the independent drug reviews by
condition (k 8) and the news by topic (k 6). The independent sets are evaluation data only.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from inbedder import InBedder, InstructionClusterer
from inbedder.cli.demo import DEMO_QUESTIONS
from inbedder.data import path as data_path
from inbedder.evaluation import load_independent
from inbedder.explain.writing import load_writer
from inbedder.models.embedded import sentence_encoder_path


def labelled_sets(names: list[str]) -> dict[str, tuple[str, list[str], list[str]]]:
    """{set: (question, texts, labels)}."""
    reviews = pd.read_csv(data_path("reviews.csv"))
    independent = load_independent(("clustering", "news"))
    drug, news = independent["clustering"], independent["news"]
    sets = {
        "reviews-aspect": (DEMO_QUESTIONS["aspect"][0], reviews["review"].tolist(), reviews["aspect"].tolist()),
        "reviews-sentiment": (DEMO_QUESTIONS["sentiment"][0], reviews["review"].tolist(), reviews["sentiment"].tolist()),
        "drug-condition": (drug.labelings[0].instruction, drug.texts, drug.labelings[0].labels),
        "news-topic": (news.labelings[0].instruction, news.texts, news.labelings[0].labels),
    }
    return {name: sets[name] for name in names}


def accuracy(encoder, names: dict[int, str], labels: np.ndarray, gold: list[str]) -> float:
    """Share of clusters whose Hungarian-paired label name is their members' majority label."""
    clusters = sorted(c for c in names if c >= 0)
    label_names = sorted(set(gold))
    majority = {c: Counter(g for g, l in zip(gold, labels) if l == c).most_common(1)[0][0] for c in clusters}
    vectors = encoder.encode([names[c] or "-" for c in clusters] + label_names, normalize_embeddings=True)
    cosine = vectors[: len(clusters)] @ vectors[len(clusters):].T
    rows, columns = linear_sum_assignment(-cosine)
    correct = sum(label_names[j] == majority[clusters[i]] for i, j in zip(rows, columns))
    return round(correct / len(clusters), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", default="smollm2-135m,qwen2.5-coder-1.5b")
    parser.add_argument("--sets", default="reviews-aspect,reviews-sentiment,drug-condition,news-topic")
    parser.add_argument("--output", help="also write the rows (with every name and description) as JSON here")
    args = parser.parse_args()
    from sentence_transformers import SentenceTransformer

    encoder = SentenceTransformer(sentence_encoder_path(), device="cpu")
    model = InBedder()
    writers = {name: load_writer(name) for name in args.writers.split(",")}
    rows = []
    for name, (question, texts, gold) in labelled_sets(args.sets.split(",")).items():
        k = len(set(gold))
        clusterer = InstructionClusterer(model, question, n_clusters=k, show_progress_bar=False).fit(texts, gold)
        labels = clusterer.labels_
        row = {"set": name, "k": k, "v_measure": round(clusterer.v_measure_, 3),
               "phrase_name": accuracy(encoder, clusterer.cluster_names_, labels, gold),
               "names": {"phrase": clusterer.cluster_names_}}
        started = time.perf_counter()
        row["generated_name"] = accuracy(encoder, clusterer.name_clusters(), labels, gold)
        row["generated_seconds_per_cluster"] = round((time.perf_counter() - started) / k, 2)
        row["names"]["generated"] = dict(clusterer.generated_names_)
        for writer_name, writer in writers.items():
            started = time.perf_counter()
            sentences = clusterer.describe_clusters(writer=writer)
            row[f"{writer_name}_seconds_per_cluster"] = round((time.perf_counter() - started) / k, 2)
            row[f"{writer_name}_name"] = accuracy(encoder, clusterer.generated_names_, labels, gold)
            row[f"{writer_name}_description"] = accuracy(encoder, sentences, labels, gold)
            row["names"][writer_name] = dict(clusterer.generated_names_)
            row.setdefault("descriptions", {})[writer_name] = sentences
        rows.append(row)
        scores = {key: value for key, value in row.items() if key not in ("names", "descriptions")}
        print(json.dumps(scores), flush=True)
    columns = ["phrase_name", "generated_name"] + [f"{w}_{kind}" for w in writers for kind in ("name", "description")]
    print("\n| set | k | V | " + " | ".join(columns) + " |\n|---|--:|--:|" + "--:|" * len(columns))
    for row in rows:
        print(f"| {row['set']} | {row['k']} | {row['v_measure']:.3f} | " + " | ".join(f"{row[c]:.2f}" for c in columns) + " |")
    if args.output:
        Path(args.output).write_text(json.dumps(rows, indent=1, ensure_ascii=False, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()

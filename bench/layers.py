"""Which way of grouping clusters into parents recovers a coarser labelling? (issue #29, item 2)

Each set is clustered finely (k = 2 × its number of labels) under its question by the default
embedder; the k centres are then grouped into parents by agglomerative clustering (average
linkage, cosine) and by k-means on the unit centres, with the parent count fixed to the number of
labels and chosen by silhouette. Printed: the V-measure of every text's parent against its label.

    python bench/layers.py
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from sklearn.metrics import v_measure_score

from inbedder import InBedder, InstructionClusterer
from inbedder.cli.demo import DEMO_QUESTIONS
from inbedder.clustering.layers import METHODS, find_parents
from inbedder.data import path as data_path
from inbedder.evaluation import load_independent


def main() -> None:
    reviews = pd.read_csv(data_path("reviews.csv"))
    drug = load_independent(("clustering",))["clustering"]
    sets = {
        "reviews-aspect": (DEMO_QUESTIONS["aspect"][0], reviews["review"].tolist(), reviews["aspect"].tolist()),
        "drug-condition": (drug.labelings[0].instruction, drug.texts, drug.labelings[0].labels),
    }
    model = InBedder()
    print("| set | labels | k | clusters V | method | parents (fixed) V | parents (silhouette) | V |")
    print("|---|--:|--:|--:|---|--:|--:|--:|")
    for name, (question, texts, gold) in sets.items():
        n = len(set(gold))
        clusterer = InstructionClusterer(model, question, n_clusters=2 * n, show_progress_bar=False).fit(texts, gold)
        for method in METHODS:
            fixed, _ = find_parents(clusterer.cluster_centers_, parents=n, method=method)
            chosen, scores = find_parents(clusterer.cluster_centers_, method=method)
            v_fixed = v_measure_score(gold, fixed[clusterer.labels_])
            v_chosen = v_measure_score(gold, chosen[clusterer.labels_])
            print(f"| {name} | {n} | {2 * n} | {clusterer.v_measure_:.3f} | {method} | {v_fixed:.3f} | "
                  f"{len(set(chosen.tolist()))} | {v_chosen:.3f} |", flush=True)
            print(json.dumps({"set": name, "method": method, "silhouette_by_parents": scores}), flush=True)


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()

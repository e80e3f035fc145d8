"""The demo: one corpus, two questions, two clusterings (the product in one screen).

The shipped restaurant reviews vary *aspect* (food, service, price, ambience) and *sentiment*
independently. Clustered under an aspect question they should group by aspect; under a
sentiment question, by sentiment. The V-measure table shows whether they do.
"""

from __future__ import annotations

import time

from inbedder.clustering.estimator import InstructionClusterer
from inbedder.encoding.embedder import InBedder
from inbedder.explain import v_measure
from inbedder.cli.report import format_summary

DEMO_QUESTIONS = {
    "aspect": ("What aspect of the restaurant is the reviewer talking about?", 4),
    "sentiment": ("What is the sentiment of the review?", 2),
}
LABELLINGS = ("aspect", "sentiment")


def v_measure_table(model: InBedder, method: str, *, show_progress_bar: bool = True, verbose: bool = True) -> dict:
    """V-measure of each question's clustering against each labelling: {question: {labelling: v}}."""
    import pandas as pd

    from inbedder.data import path

    frame = pd.read_csv(path("reviews.csv"))
    texts = frame["review"].tolist()
    table = {}
    for name, (question, k) in DEMO_QUESTIONS.items():
        clusterer = InstructionClusterer(model, question, n_clusters=k, method=method, show_progress_bar=show_progress_bar)
        clusterer.fit(texts, frame[name].tolist())
        table[name] = {labelling: v_measure(frame[labelling].tolist(), clusterer.labels_) for labelling in LABELLINGS}
        if verbose:
            print(format_summary(clusterer.cluster_info(), clusterer), end="\n\n")
    return table


def format_table(table: dict, method: str) -> str:
    lines = [f"V-measure ({method})        vs aspect labels   vs sentiment labels"]
    for question, scores in table.items():
        lines.append(f"  {question + ' question':<24} {scores['aspect']:>16.3f}   {scores['sentiment']:>19.3f}")
    return "\n".join(lines)


NEXT_STEPS = """next: your own file under your own question, then the explorer
  inbedder cluster YOUR_FILE.csv --text-column COLUMN -i "What is the customer complaining about?" --k auto -o clusters.csv
  inbedder app"""
"""What a newcomer needs after the demo: the two commands that turn it into their own analysis."""


def run(method: str = "1st-gen", *, model: str | None = None, show_progress_bar: bool = True) -> dict:
    """Run the demo with ``model`` (None: the default) and print its table, then the next two commands."""
    started = time.time()
    model = InBedder(model, method=method)
    print(f"model: {model.loaded.name} with {'its adapter' if model.loaded.adapter else 'no adapter'}, {model.dtype} "
          f"(`inbedder demo --model smollm2-135m`: the fast one)\n")
    table = v_measure_table(model, method, show_progress_bar=show_progress_bar)
    print(format_table(table, method))
    print(f"demo finished in {time.time() - started:.0f} s (cached embeddings make re-runs instant)")
    print(f"\n{NEXT_STEPS}")
    return table

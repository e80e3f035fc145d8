"""Does the self-check rank a good clustering above a bad one? (issue #29, item 4)

One corpus with known labels, clustered twice with the same k: under the question the labels
answer (correct) and under one they do not (incorrect). For each: the V-measure against the
labels (the truth), and the self-check — stability, answer purity and the judge's agreement
(for 40 seeded texts, is the writer's likeliest description their own cluster's?).

    python bench/judge.py --writer qwen2.5-coder-1.5b
"""

from __future__ import annotations

import argparse
import json
import time

import pandas as pd

from inbedder import InBedder, InstructionClusterer
from inbedder.cli.demo import DEMO_QUESTIONS
from inbedder.data import path as data_path
from inbedder.explain.writing import load_writer

CASES = {  # labels column: (correct question, an incorrect one)
    "aspect": (DEMO_QUESTIONS["aspect"][0], "What is the sentiment of the review?"),
    "sentiment": (DEMO_QUESTIONS["sentiment"][0], "What aspect of the restaurant is discussed?"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writer", default="qwen2.5-coder-1.5b")
    parser.add_argument("--sample", type=int, default=40)
    args = parser.parse_args()
    reviews = pd.read_csv(data_path("reviews.csv"))
    model, writer = InBedder(), load_writer(args.writer)
    print(f"| labels | question | V vs labels | stability | answer purity | judge agreement ({args.writer}) | seconds |")
    print("|---|---|--:|--:|--:|--:|--:|")
    for column, questions in CASES.items():
        k = reviews[column].nunique()
        for kind, question in zip(("correct", "incorrect"), questions):
            started = time.perf_counter()
            clusterer = InstructionClusterer(model, question, n_clusters=k, show_progress_bar=False).fit(
                reviews["review"], reviews[column])
            clusterer.judge(writer=writer, sample=args.sample)
            check = clusterer.self_check()
            print(f"| {column} | {kind}: {question} | {clusterer.v_measure_:.3f} | {check.stability:.3f} | "
                  f"{check.answer_purity:.3f} | {check.judge_agreement:.3f} | {time.perf_counter() - started:.0f} |", flush=True)
            print(json.dumps({"descriptions": clusterer.display_descriptions(), "names": clusterer.generated_names_}), flush=True)


if __name__ == "__main__":
    main()

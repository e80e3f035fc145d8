"""--multi on reviews that mention two aspects, mixed with reviews that mention one: recall, precision, cost.

The corpus: the 40 reviews of data/eval/two_aspects.csv (two of the four aspects each) and 40 of the
shipped reviews (one aspect each, 10 per aspect, seeded), clustered by aspect with k = 4. For each
model it prints, with one answer per text and with --multi N: label recall on the two-aspect reviews
(each text's aspects found among its clusters' majority aspects; one cluster per text reaches at
most 0.5), label precision over all memberships (a cluster a text joined stands for one of its
aspects), one-aspect reviews put in more than one cluster, answers per text, texts with none,
and seconds per text (listing and embedding, nothing cached; the lister's load not counted).

    python bench/multi.py                          # the default model; lister: the largest catalogue model fetched
    python bench/multi.py --models smollm2-135m,qwen2.5-coder-1.5b --lister smollm2-135m --output runs/multi.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from inbedder import InBedder, InstructionClusterer, MultiAnswerClusterer
from inbedder.cli.multi_report import gold_sets
from inbedder.clustering.multi import label_precision, label_recall
from inbedder.data import path as data_path
from inbedder.explain.writing import load_writer

QUESTION = "What aspect of the restaurant is discussed?"


def corpus(single: int = 10) -> tuple[list[str], list[list[str]]]:
    """The two-aspect reviews, then ``single`` one-aspect shipped reviews per aspect (seed 0)."""
    two = pd.read_csv(data_path("eval/two_aspects.csv"))
    one = pd.read_csv(data_path("reviews.csv")).groupby("aspect", group_keys=False).sample(single, random_state=0)
    texts = two["review"].tolist() + one["review"].tolist()
    return texts, gold_sets(two["aspects"].tolist()) + [[aspect] for aspect in one["aspect"]]


def scores(clusters: list[list[int]], gold: list[list[str]]) -> dict:
    pairs = [(own, labels) for own, labels in zip(clusters, gold)]
    two = [(own, labels) for own, labels in pairs if len(labels) == 2]
    one = [own for own, labels in pairs if len(labels) == 1]
    return {"recall_two": label_recall([o for o, _ in two], [g for _, g in two]) if two else None,
            "precision": label_precision(clusters, gold),
            "one_aspect_split": sum(len(own) > 1 for own in one) / len(one)}


def row(name: str, *, max_answers: int, k: int, dtype: str, lister) -> dict:
    texts, gold = corpus()
    model = InBedder(name, cache=False, dtype=dtype)
    started = time.perf_counter()
    single = InstructionClusterer(model, QUESTION, n_clusters=k, show_progress_bar=False).fit(texts)
    single_seconds = time.perf_counter() - started
    started = time.perf_counter()
    multi = MultiAnswerClusterer(InstructionClusterer(model, QUESTION, n_clusters=k, show_progress_bar=False),
                                 max_answers=max_answers, lister=lister).fit(texts)
    multi_seconds = time.perf_counter() - started
    one, many = scores([[int(c)] for c in single.labels_], gold), scores(multi.clusters_, gold)
    return {
        "model": name, "lister": multi.lister_, "dtype": model.dtype, "k": k, "max_answers": max_answers,
        **{f"{key}_single": value for key, value in one.items()}, **{f"{key}_multi": value for key, value in many.items()},
        "answers_per_text": len(multi.encoded_.answers) / len(texts), "no_answer": multi.no_answer_,
        "s_per_text_single": single_seconds / len(texts), "s_per_text_multi": multi_seconds / len(texts),
        "names": multi.answer_clusterer_.display_names(),
        "examples": [{"text": t, "answers": a, "clusters": c}
                     for t, a, c in list(zip(texts, multi.answers_, multi.clusters_))[::10]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="smollm2-135m", help="comma list of catalogue names or folders")
    parser.add_argument("--multi", default="3", help="answers per text, a comma list to compare (default %(default)s)")
    parser.add_argument("--k", type=int, default=4, help="clusters (default %(default)s: the four aspects)")
    parser.add_argument("--dtype", default="auto", help="auto, fp32 or bf16 (default %(default)s)")
    parser.add_argument("--lister", help="the model that lists the answers (default: the largest catalogue model fetched)")
    parser.add_argument("--output", help="also write the rows as JSON here")
    args = parser.parse_args()
    lister = load_writer(args.lister, cache=False)  # loaded once, shared by every row; nothing cached
    columns = ("recall_two_single", "recall_two_multi", "precision_single", "precision_multi", "one_aspect_split_multi",
               "answers_per_text", "no_answer", "s_per_text_single", "s_per_text_multi")
    print("| model | lister | N | dtype | " + " | ".join(columns) + " |")
    print("|---|---|--:|---|" + "--:|" * len(columns))
    rows = []
    for name in args.models.split(","):
        for max_answers in (int(n) for n in args.multi.split(",")):
            result = row(name, max_answers=max_answers, k=args.k, dtype=args.dtype, lister=lister)
            rows.append(result)
            cells = [f"{result[c]:.3f}" if isinstance(result[c], float) else str(result[c]) for c in columns]
            print(f"| {name} | {result['lister']} | {max_answers} | {result['dtype']} | " + " | ".join(cells) + " |", flush=True)
            print(f"  names: {result['names']}")
            for example in result["examples"]:
                print(f"  {example['clusters']} {example['answers']} | {example['text'][:70]}")
    if args.output:
        Path(args.output).write_text(json.dumps(rows, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()

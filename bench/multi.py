"""--multi on reviews that mention two aspects: recall of both aspects, against one answer per text.

data/eval/two_aspects.csv holds 40 reviews, each with two of the four aspects of the shipped
reviews. For each model this prints the label recall (each text's two aspects found among its
clusters' majority aspects; one cluster per text can reach at most 0.5), the answers listed per
text, texts in two or more clusters, texts with no answer, and seconds per text of --multi (listing and
embedding, nothing cached) beside one answer per text.

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
from inbedder.clustering.multi import label_recall
from inbedder.data import path as data_path

QUESTION = "What aspect of the restaurant is discussed?"


def row(name: str, *, max_answers: int, k: int, dtype: str, lister: str | None) -> dict:
    frame = pd.read_csv(data_path("eval/two_aspects.csv"))
    texts, gold = frame["review"].tolist(), gold_sets(frame["aspects"].tolist())
    model = InBedder(name, cache=False, dtype=dtype)
    started = time.perf_counter()
    single = InstructionClusterer(model, QUESTION, n_clusters=k, show_progress_bar=False).fit(texts)
    single_seconds = time.perf_counter() - started
    started = time.perf_counter()
    multi = MultiAnswerClusterer(InstructionClusterer(model, QUESTION, n_clusters=k, show_progress_bar=False),
                                 max_answers=max_answers, lister=lister).fit(texts, gold)
    multi_seconds = time.perf_counter() - started
    return {
        "model": name, "lister": multi.lister_, "dtype": model.dtype, "k": k, "max_answers": max_answers,
        "recall_single": label_recall([[int(c)] for c in single.labels_], gold),
        "recall_multi": multi.label_recall_,
        "answers_per_text": len(multi.encoded_.answers) / len(texts),
        "texts_in_several": sum(1 for own in multi.clusters_ if len(own) > 1),
        "no_answer": multi.no_answer_,
        "s_per_text_single": single_seconds / len(texts), "s_per_text_multi": multi_seconds / len(texts),
        "names": multi.answer_clusterer_.display_names(),
        "examples": [{"text": t, "answers": a, "clusters": c} for t, a, c in zip(texts[:6], multi.answers_, multi.clusters_)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="smollm2-135m", help="comma list of catalogue names or folders")
    parser.add_argument("--multi", type=int, default=3, help="answers per text (default %(default)s)")
    parser.add_argument("--k", type=int, default=4, help="clusters (default %(default)s: the four aspects)")
    parser.add_argument("--dtype", default="auto", help="auto, fp32 or bf16 (default %(default)s)")
    parser.add_argument("--lister", help="the model that lists the answers (default: the largest catalogue model fetched)")
    parser.add_argument("--output", help="also write the rows as JSON here")
    args = parser.parse_args()
    columns = ("recall_single", "recall_multi", "answers_per_text", "texts_in_several", "no_answer",
               "s_per_text_single", "s_per_text_multi")
    print("| model | lister | dtype | " + " | ".join(columns) + " |")
    print("|---|---|---|" + "--:|" * len(columns))
    rows = []
    for name in args.models.split(","):
        result = row(name, max_answers=args.multi, k=args.k, dtype=args.dtype, lister=args.lister)
        rows.append(result)
        cells = [f"{result[c]:.3f}" if isinstance(result[c], float) else str(result[c]) for c in columns]
        print(f"| {name} | {result['lister']} | {result['dtype']} | " + " | ".join(cells) + " |", flush=True)
        print(f"  names: {result['names']}")
        for example in result["examples"]:
            print(f"  {example['clusters']} {example['answers']} | {example['text'][:70]}")
    if args.output:
        Path(args.output).write_text(json.dumps(rows, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()

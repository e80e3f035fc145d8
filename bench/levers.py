"""Method levers of issue #11, measured one at a time: hidden layer and encoding method, no training.

For each (method, layer) it prints, on the shipped sets, the IntentEmotion triplet harmonic mean and
the two-labelling clustering harmonic mean of the reviews and, on the independent set (real texts
the project did not write; evaluation only), the drug reviews' two-labelling harmonic mean and
the news topic V-measure beside a plain all-MiniLM-L6-v2 encoding. Embeddings are cached, so a
rerun is quick.

    python bench/levers.py --layers last,24,18,12 --methods 1st-gen,avg-gen
    python bench/levers.py --layers last --adapter runs/smol-qa9k      # a newly trained adapter
    python bench/levers.py --layers last --blend re-enc --weights 0.5,0.7  # 1st-gen ⊕ re-enc
    python bench/levers.py --layers last --blend 1st-gen@24                 # last layer ⊕ layer 24
"""

from __future__ import annotations

import argparse
import json
import time

from inbedder import InBedder
from inbedder.evaluation import evaluate_multilabel, evaluate_triplets, load_awareness, load_independent
from inbedder.evaluation.independent import evaluate_news_topic, evaluate_two_labelling
from inbedder.evaluation.subjects import Blend, MethodSubject, NoInstruction


def subjects(method: str, layer: int | None, *, adapter: str | None, blend: str | None, weights: list[float]):
    """The method alone, then (with ``blend``) the method ⊕ the blend at each of the method's weights.

    ``blend`` is a method ("re-enc") or a method at another layer ("1st-gen@24": the same forward pass).
    """
    model = InBedder(adapter=adapter, layer=layer)
    alone = MethodSubject(model, method)
    yield alone
    if blend:
        other_method, _, other_layer = blend.partition("@")
        other_model = InBedder(adapter=adapter, layer=int(other_layer)) if other_layer else model
        other = MethodSubject(other_model, other_method, name=blend)
        for weight in weights:
            yield Blend(alone, other, weight=weight)


def measure(subject, layer: int | None, shipped, independent, *, adapter: str | None = None, center: bool = True) -> dict:
    started = time.perf_counter()
    row = {
        "adapter": adapter or "shipped", "method": subject.name, "layer": "last" if layer is None else layer,
        "center": center, "intemo_hm": evaluate_triplets(subject, shipped.triplets)["harmonic_mean"],
        "reviews_hm": evaluate_multilabel(subject, shipped.clustering, center=center)["harmonic_mean"],
        "drug_hm": evaluate_two_labelling(subject, independent["clustering"], center=center)["harmonic_mean"],
    }
    news = evaluate_news_topic(subject, independent["news"], reference=NoInstruction(), center=center)
    row["news_v"], row["news_minilm_v"] = news["topic"], news["reference"]
    row["seconds"] = round(time.perf_counter() - started, 1)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default="last,24,18,12", help="comma list of layers; last = the final one")
    parser.add_argument("--methods", default="1st-gen", help="comma list of encoding methods")
    parser.add_argument("--adapter", help="LoRA adapter folder to measure (default: the shipped one)")
    parser.add_argument("--blend", help="blend each method with this one: a method (re-enc) or method@layer (1st-gen@24)")
    parser.add_argument("--weights", default="0.5", help="comma list of the first method's weight in the blend")
    parser.add_argument("--no-center", action="store_true", help="k-means on the raw unit rows (as before issue #11)")
    parser.add_argument("--output", help="also write the rows as JSON here")
    args = parser.parse_args()
    shipped = load_awareness("shipped", tasks=("triplets", "clustering"))
    independent = load_independent(("clustering", "news"))
    rows = []
    print("| method | layer | IntEmo HM | reviews HM | drug reviews HM | news V | news V, MiniLM | s |")
    print("|---|---|--:|--:|--:|--:|--:|--:|")
    for method in args.methods.split(","):
        for layer in args.layers.split(","):
            number = None if layer == "last" else int(layer)
            weights = [float(weight) for weight in args.weights.split(",")]
            for subject in subjects(method, number, adapter=args.adapter, blend=args.blend, weights=weights):
                row = measure(subject, number, shipped, independent, adapter=args.adapter, center=not args.no_center)
                rows.append(row)
                print(f"| {row['method']} | {row['layer']} | {100 * row['intemo_hm']:.1f} | {100 * row['reviews_hm']:.1f} | "
                      f"{100 * row['drug_hm']:.1f} | {100 * row['news_v']:.1f} | {100 * row['news_minilm_v']:.1f} | "
                      f"{row['seconds']:.0f} |", flush=True)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    main()

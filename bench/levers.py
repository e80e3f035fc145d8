"""Method levers of issue #11, measured one at a time: hidden layer and encoding method, no training.

For each (method, layer) it prints, on the shipped sets, the IntentEmotion triplet harmonic mean and
the two-labelling clustering harmonic mean of the reviews and, on the independent set (real texts
the project did not write; evaluation only), the drug reviews' two-labelling harmonic mean and
the news topic V-measure beside a plain all-MiniLM-L6-v2 encoding. Embeddings are cached, so a
rerun is quick.

    python bench/levers.py --layers last,24,18,12 --methods 1st-gen,avg-gen
    python bench/levers.py --layers last --adapter runs/smol-qa9k      # a newly trained adapter
    python bench/levers.py --layers last --seeds 5                     # clustering columns: mean of 5 k-means seeds
    python bench/levers.py --layers last --blend re-enc --weights 0.5,0.7  # 1st-gen ⊕ re-enc
    python bench/levers.py --layers last --blend 1st-gen@24                 # last layer ⊕ layer 24
    python bench/levers.py --layers last --answer-space 50 --weights 0.2   # 1st-gen ⊕ its answer distribution
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from inbedder import InBedder
from inbedder.evaluation import evaluate_multilabel, evaluate_triplets, load_awareness, load_independent
from inbedder.evaluation.answer_distribution import AnswerDistribution
from inbedder.evaluation.independent import evaluate_two_labelling
from inbedder.evaluation.subjects import Blend, MethodSubject, NoInstruction
from inbedder.models.sources import run_options


def subjects(method: str, layer: int | None, *, adapter: str | None, blend: str | None, weights: list[float],
             answer_space: int | None = None):
    """The method alone, then (with ``blend``) the method ⊕ the blend at each of the method's weights.

    ``blend`` is a method ("re-enc") or a method at another layer ("1st-gen@24": the same forward pass).
    ``answer_space``: instead, 1st-gen ⊕ its answer distribution over that many tokens, at each
    of the state's weights.
    """
    model = InBedder(**run_options(adapter), layer=layer)
    if answer_space:
        for weight in weights:
            yield AnswerDistribution(model, tokens=answer_space, state_weight=weight)
        return
    alone = MethodSubject(model, method)
    yield alone
    if blend:
        other_method, _, other_layer = blend.partition("@")
        other_model = InBedder(**run_options(adapter), layer=int(other_layer)) if other_layer else model
        other = MethodSubject(other_model, other_method, name=blend)
        for weight in weights:
            yield Blend(alone, other, weight=weight)


def measure(subject, layer: int | None, shipped, independent, *, adapter: str | None = None, center: bool = True,
            standardize: bool = True, seeds: int = 1) -> dict:
    """One row; each clustering column is the mean over ``seeds`` k-means seeds (0, 1, …), with the
    per-seed values kept: one seed's V moves by 1–1.5 points on the news, more than some levers."""
    started = time.perf_counter()
    per_seed: dict[str, list[float]] = {"reviews_hm": [], "drug_hm": [], "news_v": [], "news_minilm_v": []}
    reference = NoInstruction()  # one MiniLM for every seed
    # how every clustering column places the rows; rows the subject placed itself are taken as they are
    framed = getattr(subject, "rows_are_framed", False)
    frame = {"center": center and not framed, "standardize": standardize and not framed}
    for seed in range(seeds):
        per_seed["reviews_hm"].append(evaluate_multilabel(subject, shipped.clustering, seed=seed, **frame)["harmonic_mean"])
        per_seed["drug_hm"].append(evaluate_two_labelling(subject, independent["clustering"], seed=seed, **frame)["harmonic_mean"])
        per_seed["news_v"].append(evaluate_multilabel(subject, independent["news"], seed=seed, **frame)["topic"])
        per_seed["news_minilm_v"].append(evaluate_multilabel(  # MiniLM's rows always go through the clusterer's frame
            reference, independent["news"], seed=seed, center=center, standardize=standardize)["topic"])
    row = {
        "adapter": adapter or "shipped", "method": subject.name, "layer": "last" if layer is None else layer,
        **frame, "seeds": seeds, "intemo_hm": evaluate_triplets(subject, shipped.triplets)["harmonic_mean"],
        **{name: float(np.mean(values)) for name, values in per_seed.items()},
        **{f"{name}_std": float(np.std(values)) for name, values in per_seed.items()},
        "per_seed": per_seed,
    }
    row["seconds"] = round(time.perf_counter() - started, 1)
    return row


def cell(row: dict, name: str) -> str:
    """``73.4`` for one seed, ``73.4 ± 0.2`` (the spread over seeds) for several."""
    std = row.get(f"{name}_std")
    return f"{100 * row[name]:.1f}" + (f" ± {100 * std:.1f}" if row["seeds"] > 1 and std is not None else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default="last,24,18,12", help="comma list of layers; last = the final one")
    parser.add_argument("--methods", default="1st-gen", help="comma list of encoding methods")
    parser.add_argument("--adapter", help="fine-tuning run to measure: a LoRA adapter or a --full model folder (default: the shipped adapter)")
    parser.add_argument("--blend", help="blend each method with this one: a method (re-enc) or method@layer (1st-gen@24)")
    parser.add_argument("--weights", default="0.5",
                        help="comma list of the first method's weight in the blend (the state's, with --answer-space)")
    parser.add_argument("--answer-space", type=int,
                        help="measure 1st-gen ⊕ its first answer token's log-probabilities over this many tokens, "
                             "the likeliest over each corpus (issue #11's answer-distribution lever)")
    parser.add_argument("--no-center", action="store_true", help="k-means on the raw unit rows (as before issue #11)")
    parser.add_argument("--no-standardize", action="store_true",
                        help="k-means without scaling each dimension to unit variance (as before this lever)")
    parser.add_argument("--seeds", type=int, default=1,
                        help="average each clustering column over this many k-means seeds (default 1: seed 0)")
    parser.add_argument("--output", help="also write the rows as JSON here")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1 (got {args.seeds})")
    if args.answer_space is not None and args.answer_space < 2:
        parser.error(f"--answer-space must be at least 2 (got {args.answer_space})")
    shipped = load_awareness("shipped", tasks=("triplets", "clustering"))
    independent = load_independent(("clustering", "news"))
    rows = []
    print("| method | layer | IntEmo HM | reviews HM | drug reviews HM | news V | news V, MiniLM | s |")
    print("|---|---|--:|--:|--:|--:|--:|--:|")
    for method in args.methods.split(","):
        for layer in args.layers.split(","):
            number = None if layer == "last" else int(layer)
            weights = [float(weight) for weight in args.weights.split(",")]
            for subject in subjects(method, number, adapter=args.adapter, blend=args.blend, weights=weights,
                                    answer_space=args.answer_space):
                row = measure(subject, number, shipped, independent, adapter=args.adapter, center=not args.no_center,
                              standardize=not args.no_standardize, seeds=args.seeds)
                rows.append(row)
                columns = " | ".join(cell(row, name) for name in ("intemo_hm", "reviews_hm", "drug_hm", "news_v", "news_minilm_v"))
                print(f"| {row['method']} | {row['layer']} | {columns} | {row['seconds']:.0f} |", flush=True)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    main()

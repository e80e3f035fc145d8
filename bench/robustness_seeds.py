"""Robustness (paper §3.3) of one or more adapters, each figure the mean over several k-means seeds.

The embeddings of the 30 questions are computed once (and cached); only k-means reruns per seed.
One seed's strict min(correct) − max(incorrect) hangs on a single instruction's V, so it moves by
several points from seed to seed; the mean over seeds is what tells two adapters apart.

    python bench/robustness_seeds.py --adapters shipped,runs/smol-r16 --seeds 5
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from inbedder import InBedder
from inbedder.evaluation import robustness_tasks
from inbedder.evaluation.answer_distribution import AnswerDistribution
from inbedder.evaluation.independent import independent_robustness
from inbedder.evaluation.robustness import evaluate_robustness_task
from inbedder.evaluation.subjects import MethodSubject
from inbedder.models.sources import run_options

FIGURES = ("correct", "incorrect", "delta_ci", "delta_ii", "strict_ci")


def seeded_figures(subject, task, seeds: int) -> dict[str, list[float]]:
    """Each summary figure of one task, once per k-means seed."""
    framed = getattr(subject, "rows_are_framed", False)  # rows the subject placed itself are taken as they are
    runs = [evaluate_robustness_task(subject, task, seed=seed, center=not framed, standardize=not framed)
            for seed in range(seeds)]
    return {name: [run[name] for run in runs] for name in FIGURES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapters", default="shipped", help="comma list of runs (LoRA adapter or --full model folders); shipped = the default adapter")
    parser.add_argument("--seeds", type=int, default=5, help="k-means seeds 0..N-1 (default %(default)s)")
    parser.add_argument("--output", help="also write every per-seed figure as JSON here")
    parser.add_argument("--answer-space", type=int,
                        help="measure 1st-gen ⊕ its answer distribution over this many tokens (bench/levers.py)")
    parser.add_argument("--state-weight", type=float, default=0.2, help="the state's weight beside it (default %(default)s)")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1 (got {args.seeds})")
    if args.answer_space is not None and args.answer_space < 2:
        parser.error(f"--answer-space must be at least 2 (got {args.answer_space})")
    sets = {"shipped": robustness_tasks(), "independent": independent_robustness()}
    print("| adapter | set | task | correct | incorrect | Δci | Δii | strict ci |")
    print("|---|---|---|--:|--:|--:|--:|--:|")
    out = []
    for adapter in args.adapters.split(","):
        model = InBedder(**run_options(adapter))
        subject = (AnswerDistribution(model, tokens=args.answer_space, state_weight=args.state_weight)
                   if args.answer_space else MethodSubject(model, model.method))  # 1st-gen (causal), avg-gen (masked)
        for set_name, tasks in sets.items():
            for task in tasks:
                figures = seeded_figures(subject, task, args.seeds)
                out.append({"adapter": adapter, "set": set_name, "task": task.name, "seeds": args.seeds, **figures})
                cells = " | ".join(f"{100 * np.mean(figures[name]):.1f}" for name in FIGURES)
                print(f"| {adapter} | {set_name} | {task.name} | {cells} |", flush=True)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            json.dump(out, handle, indent=2)


if __name__ == "__main__":
    main()

"""The shipped default's figures as tests/models/test_embedded.py asserts them, in one number format.

Prints the demo's V-measure table (with --demo), the IntentEmotion triplets (all 320) and the
shipped reviews' two-labelling clustering on a seeded 128 texts, each with the seconds so far.
Run once per format on the same machine to compare bf16 with fp32:

    python bench/default_model.py --dtype bf16 --demo
    python bench/default_model.py --dtype fp32 --demo --cache /tmp/fp32.sqlite

INBEDDER_MODEL is ignored here: the figures are the shipped default's.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from inbedder import InBedder
from inbedder.cli.demo import v_measure_table
from inbedder.evaluation import evaluate_multilabel, evaluate_triplets, load_awareness
from inbedder.evaluation.datasets import limit_awareness
from inbedder.evaluation.subjects import MethodSubject


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dtype", default="auto", choices=("auto", "fp32", "bf16"))
    parser.add_argument("--cache", help="embedding cache file (default: the user's cache)")
    parser.add_argument("--demo", action="store_true", help="also the demo's table (256 reviews, two questions)")
    args = parser.parse_args()
    os.environ.pop("INBEDDER_MODEL", None)
    started = time.time()
    model = InBedder(dtype=args.dtype, cache=args.cache)
    print(model.loaded.name, model.loaded.adapter, model.dtype, flush=True)
    if args.demo:
        table = v_measure_table(model, model.method, show_progress_bar=False, verbose=False)
        print("demo", json.dumps(table), f"{time.time() - started:.0f} s", flush=True)
    shipped = load_awareness("shipped", tasks=("triplets", "clustering"))
    shipped.clustering = limit_awareness(shipped, 128).clustering
    subject = MethodSubject(model, "1st-gen")
    print("triplets", json.dumps(evaluate_triplets(subject, shipped.triplets)), f"{time.time() - started:.0f} s", flush=True)
    print("clustering", json.dumps(evaluate_multilabel(subject, shipped.clustering)), f"{time.time() - started:.0f} s",
          flush=True)


if __name__ == "__main__":
    main()

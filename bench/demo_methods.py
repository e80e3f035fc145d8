"""V-measure of the demo (both questions × both labellings) for each encoding method, with timings.

Usage: python bench/demo_methods.py [--methods prompt,1st-gen,avg-gen,re-enc] [--adapter none|DIR] [--answer-prefix auto|none]
Prints a Markdown table; run it on a cold cache (INBEDDER_CACHE=$(mktemp -d)) for honest seconds.
"""

from __future__ import annotations

import argparse
import time

from inbedder import InBedder
from inbedder.cli.demo import v_measure_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="prompt,1st-gen,avg-gen,re-enc")
    parser.add_argument("--adapter", default=None, help="adapter directory, or 'none' for the bare base model (default: shipped)")
    parser.add_argument("--answer-prefix", default="auto")
    args = parser.parse_args()
    model = InBedder(adapter=args.adapter, answer_prefix="" if args.answer_prefix == "none" else args.answer_prefix)
    print(f"model: {model.loaded.name}, adapter: {model.loaded.adapter or 'none'}, template: {model.template}")
    print(f"| method | aspect q. vs aspect | sentiment q. vs aspect | sentiment q. vs sentiment | aspect q. vs sentiment | seconds |")
    print("|---|---|---|---|---|---|")
    for method in args.methods.split(","):
        started = time.time()
        table = v_measure_table(model, method, show_progress_bar=False, verbose=False)
        print(
            f"| {method} | {table['aspect']['aspect']:.3f} | {table['sentiment']['aspect']:.3f} | "
            f"{table['sentiment']['sentiment']:.3f} | {table['aspect']['sentiment']:.3f} | {time.time() - started:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()

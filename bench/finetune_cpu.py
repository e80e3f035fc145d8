"""Benchmark: LoRA fine-tuning of the embedded SmolLM2-135M-Instruct on the shipped QA set.

Prints wall time, training examples per second and the held-out loss before and after.
The defaults are the recipe of the shipped adapter (data/adapters/smollm2-135m-inbedder);
``--max-steps 40`` gives a quick throughput figure.

    python bench/finetune_cpu.py                    # the full shipped recipe (about an hour on 2 cores)
    python bench/finetune_cpu.py --max-steps 40     # throughput only
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch

from inbedder.data import path as data_path
from inbedder.finetune import FinetuneConfig, finetune

QA_FILES = [str(data_path("qa/qa_part_a.jsonl")), str(data_path("qa/qa_part_b.jsonl"))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--max-steps", type=int, default=-1)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lora-r", type=int, default=8)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        started = time.time()
        result = finetune(FinetuneConfig(
            data=QA_FILES, output=os.path.join(folder, "adapter"), lora_r=args.lora_r, lora_alpha=2 * args.lora_r,
            epochs=args.epochs, max_steps=args.max_steps, lr=args.lr, batch_size=args.batch_size,
            device=args.device, save_steps=10**9,
        ))
        wall = time.time() - started
    device = "cuda" if (args.device or "").startswith("cuda") or (args.device is None and torch.cuda.is_available()) else "cpu"
    print(f"\ndevice: {device} ({torch.get_num_threads()} threads)")
    print(f"steps: {result.steps} × batch {args.batch_size}; train examples: {result.train_examples}; held out: {result.eval_examples}")
    print(f"training time: {result.seconds:.0f} s ({result.examples_per_second:.2f} examples/s); wall time incl. loading and evaluation: {wall:.0f} s")
    print(f"held-out loss: {result.eval_loss_before:.3f} before → {result.eval_loss_after:.3f} after")


if __name__ == "__main__":
    main()

"""Benchmark: a training step with logits for the answer positions only, against logits everywhere.

``inbedder finetune`` asks a causal LM for logits from the batch's first answer token on
(``finetune.features.collate(answer_logits_only=True)``); the loss is the same. This times one
forward + backward pass of the embedded SmolLM2-135M-Instruct with a rank-8 LoRA (the shipped
recipe) on real batches of the shipped QA data, both ways, alternating on the same batches so that
the ratio comes from one run on a shared machine.

    python bench/answer_logits.py                 # 12 batches of 8, each timed both ways
    python bench/answer_logits.py --batches 30 --full   # every weight trainable, as `finetune --full`
"""

from __future__ import annotations

import argparse
import random
import time

import torch

from inbedder.data import path as data_path
from inbedder.finetune import prepare
from inbedder.finetune.features import FeatureBuilder, collate
from inbedder.models.loading import load_generator

QA_FILES = [str(data_path("qa/qa_part_a.jsonl")), str(data_path("qa/qa_part_b.jsonl"))]


def trainable(loaded, *, full: bool):
    """The model as ``finetune`` trains it: LoRA r = 8 on every linear layer, or every weight."""
    if full:
        return loaded.model.train()
    from peft import LoraConfig, get_peft_model

    return get_peft_model(loaded.model, LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM")).train()


def step_seconds(model, batch: dict) -> tuple[float, float]:
    """(seconds, loss) of one forward + backward pass."""
    started = time.perf_counter()
    loss = model(**batch).loss
    loss.backward()
    model.zero_grad(set_to_none=True)
    return time.perf_counter() - started, loss.item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=12, help="batches to time, each both ways (default %(default)s)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--full", action="store_true", help="every weight trainable instead of LoRA")
    args = parser.parse_args()
    loaded = load_generator("smollm2-135m", device="cpu", dtype=torch.float32)
    builder = FeatureBuilder(loaded.tokenizer, loaded.family, "inbedder")
    examples = sorted(prepare(QA_FILES).examples, key=lambda e: len(e.input))  # neighbours by length, as the sampler groups
    random.seed(0)
    starts = random.sample(range(len(examples) - args.batch_size), args.batches)
    model = trainable(loaded, full=args.full)
    pad = loaded.tokenizer.pad_token_id
    ways = {"every position": collate(pad), "answer positions only": collate(pad, answer_logits_only=True)}
    seconds = {name: 0.0 for name in ways}
    step_seconds(model, ways["every position"]([builder(e) for e in examples[: args.batch_size]]))  # warm-up
    for start in starts:
        features = [builder(e) for e in examples[start : start + args.batch_size]]
        losses = {}
        for name, way in ways.items():
            took, losses[name] = step_seconds(model, way(features))
            seconds[name] += took
        assert abs(losses["every position"] - losses["answer positions only"]) < 1e-3, losses
    print(f"{'LoRA r=8' if not args.full else 'full'}, {args.batches} batches of {args.batch_size}, {torch.get_num_threads()} threads")
    for name, total in seconds.items():
        print(f"  logits at {name}: {total / args.batches:.2f} s per step")
    print(f"  speed-up: {seconds['every position'] / seconds['answer positions only']:.2f}×")


if __name__ == "__main__":
    main()

"""The engine on a GPU: texts/s, tokens/s, share of the bf16 peak, and |Δ| against CPU fp32.

Run through ``bench/gpu_check.sh`` on a machine with CUDA (≤ 8 minutes). It embeds the
benchmark corpus (bench/embed_throughput.py's, 50–300 tokens) with 1st-gen under bf16
autocast, in large batches (the engine caps each batch by a token budget), and compares 64
texts' embeddings with the CPU fp32 result. ``--device cpu --texts 16`` smoke-tests the
script itself on a machine without a GPU.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from embed_throughput import QUESTION, corpus, non_embedding_parameters  # noqa: E402

from inbedder import InBedder  # noqa: E402

PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L4": 121.0}  # dense, no sparsity


def peak_tflops(device: str) -> float | None:
    if not device.startswith("cuda"):
        return None
    name = torch.cuda.get_device_name(0)
    return next((value for key, value in PEAK_BF16_TFLOPS.items() if key in name), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--texts", type=int, default=20000, help="texts to time (default %(default)s)")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--compare", type=int, default=64, help="texts compared against CPU fp32")
    args = parser.parse_args()

    gpu = InBedder(device=args.device, answer_prefix="", cache=False)
    texts = corpus(args.texts + 64, gpu.loaded.tokenizer)
    warm, texts = texts[-64:], texts[:-64]  # warm-up texts are not timed again (the cache would serve them)
    dtype = torch.bfloat16 if args.device.startswith("cuda") else torch.float32
    with torch.autocast(device_type=args.device.split(":")[0], dtype=dtype, enabled=dtype != torch.float32):
        gpu.encode(warm, QUESTION, batch_size=args.batch_size)  # warm-up: kernels, allocator
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        gpu.encode(texts, QUESTION, batch_size=args.batch_size)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        fast = gpu.encode(texts[: args.compare], QUESTION, batch_size=args.batch_size)  # from the timed bf16 run
    tokens = sum(len(gpu.loaded.tokenizer(t)["input_ids"]) for t in texts)
    flops = 2 * non_embedding_parameters(gpu.loaded.model) * tokens
    peak = peak_tflops(args.device)
    print(f"device: {torch.cuda.get_device_name(0) if args.device.startswith('cuda') else args.device}, dtype {dtype}")
    print(f"{len(texts)} texts, {tokens} tokens in {seconds:.2f} s: {len(texts) / seconds:.0f} texts/s, "
          f"{tokens / seconds:.0f} tokens/s, {flops / seconds / 1e12:.1f} TFLOP/s"
          + (f" = {100 * flops / seconds / 1e12 / peak:.1f} % of the {peak:.0f} TFLOP/s bf16 peak" if peak else ""))
    cpu = InBedder(device="cpu", answer_prefix="", cache=False)
    exact = cpu.encode(texts[: args.compare], QUESTION, batch_size=16)
    print(f"max |Δ| of {args.compare} embeddings vs CPU fp32: {np.abs(fast - exact).max():.4f} "
          f"(max |value| {np.abs(exact).max():.2f}); min cosine "
          f"{(np.sum(fast * exact, 1) / np.linalg.norm(fast, axis=1) / np.linalg.norm(exact, axis=1)).min():.4f}")


if __name__ == "__main__":
    main()

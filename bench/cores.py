"""fp32 matmul GFLOP/s: 1 process × 1 thread, 1 process × 2 threads, 2 processes × 1 thread.

Usage:
    python bench/cores.py [--seconds 5] [--rounds 2]

Tests the premise behind ``--engine ray --workers 2`` on a 2-core machine: that two processes of
one thread each get more of the matmul rate than one process with two threads. The shapes are a
135M model's (hidden 576, MLP 1536): a decode-like ``[64×576]@[576×1536]`` and a prefill-like
``[512×576]@[576×576]``. Every figure comes from fresh processes (spawned, so each sets its own
thread count before torch starts its pool), measured for ``--seconds`` per shape after a warm-up;
the two concurrent processes start measuring together, at a barrier, and their rates are summed.
The settings run in interleaved rounds and the table keeps each one's best round, since a shared
machine's other load only ever lowers a figure; every round is printed too. Prints Markdown
(figures, not a test); the whole run takes about 70 s at the defaults.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time

SHAPES = {"[64×576]@[576×1536]": (64, 576, 1536), "[512×576]@[576×576]": (512, 576, 576)}


def _rate(m: int, k: int, n: int, seconds: float) -> float:
    """GFLOP/s of repeated ``[m×k]@[k×n]`` matmuls for about ``seconds`` (after a short warm-up)."""
    import torch

    a, b = torch.randn(m, k), torch.randn(k, n)
    out = torch.empty(m, n)
    for _ in range(20):
        torch.mm(a, b, out=out)
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(20):
            torch.mm(a, b, out=out)
        calls += 20
    return 2 * m * k * n * calls / elapsed / 1e9


def _worker(threads: int, seconds: float, barrier, results) -> None:
    """One measuring process: set the thread count first, wait for its peers, then time each shape."""
    import torch

    torch.set_num_threads(threads)
    _rate(64, 576, 576, 0.3)  # load the kernels and start the thread pool before the barrier
    figures = {}
    for name, (m, k, n) in SHAPES.items():
        barrier.wait()  # concurrent processes time the same shape at the same time
        figures[name] = _rate(m, k, n, seconds)
    results.put(figures)


def measure(processes: int, threads: int, seconds: float) -> dict[str, float]:
    """Summed GFLOP/s per shape of ``processes`` concurrent processes of ``threads`` threads each."""
    context = mp.get_context("spawn")
    barrier, results = context.Barrier(processes), context.Queue()
    workers = [context.Process(target=_worker, args=(threads, seconds, barrier, results)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    parts = [results.get(timeout=120 + 4 * seconds) for _ in workers]
    for worker in workers:
        worker.join()
    return {name: sum(part[name] for part in parts) for name in SHAPES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="timed seconds per shape and setting")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds; the best of them is kept")
    args = parser.parse_args()
    settings = {"1 process × 1 thread": (1, 1), "1 process × 2 threads": (1, 2), "2 processes × 1 thread": (2, 1)}
    rounds: dict[str, list[dict[str, float]]] = {label: [] for label in settings}
    for number in range(1, args.rounds + 1):
        for label, (processes, threads) in settings.items():
            rounds[label].append(measure(processes, threads, args.seconds))
            print(f"round {number}, {label}: " + ", ".join(f"{v:.1f}" for v in rounds[label][-1].values()), flush=True)
    figures = {label: {name: max(r[name] for r in runs) for name in SHAPES} for label, runs in rounds.items()}
    single = figures["1 process × 1 thread"]
    print(f"\nfp32 torch.mm GFLOP/s, best of {args.rounds} rounds of {args.seconds:g} s per shape "
          "(summed over concurrent processes)\n")
    print("| setting | " + " | ".join(SHAPES) + " | × 1 thread (mean) |")
    print("|---|" + "--:|" * (len(SHAPES) + 1))
    for label, row in figures.items():
        ratio = sum(row[name] / single[name] for name in SHAPES) / len(SHAPES)
        print(f"| {label} | " + " | ".join(f"{row[name]:.1f}" for name in SHAPES) + f" | {ratio:.2f}× |")
    two_threads, two_procs = figures["1 process × 2 threads"], figures["2 processes × 1 thread"]
    ratio = sum(two_procs[name] / two_threads[name] for name in SHAPES) / len(SHAPES)
    print(f"\n2 processes × 1 thread / 1 process × 2 threads: {ratio:.2f}× (mean over shapes)")


if __name__ == "__main__":
    main()

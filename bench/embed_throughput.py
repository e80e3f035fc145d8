"""Throughput of InBedder's encoders: ours vs a reference-style `generate` path, and many questions on one input pass.

Usage:
    python bench/embed_throughput.py [--texts 512] [--batch-sizes 4,16] [--compile] [--question-texts 512]
                                     [--questions 30] [--memory-texts 1000,20000] [--threads N]

The sections can run as separate processes (``--skip``, ``--methods``), e.g. one per core with
``taskset -c 1 … --threads 1``: CPU seconds and the matmul rate are then per core and unaffected
by the other process. docs/speed.md lists the exact commands behind its figures.

Prints Markdown tables (figures, not a test). The corpus is generated deterministically from
data/qa/*.jsonl and data/reviews.csv: texts of 50–300 tokens (uniform), nothing downloaded.
Every timed run starts from an empty in-memory cache; the answer prefix is fixed ("") so the
timings measure encoding, not the one-off answer-prefix probe.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

DATA = Path(__file__).resolve().parent.parent / "data"
QUESTION = "What is the main topic of this text?"


# ----------------------------------------------------------------------------- corpus
def source_passages() -> list[str]:
    """Distinct passages from the shipped data, in file order."""
    passages: list[str] = []
    for path in sorted((DATA / "qa").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            passages.append(json.loads(line)["input"])
    with open(DATA / "reviews.csv", encoding="utf-8") as handle:
        passages += [row["review"] for row in csv.DictReader(handle)]
    return list(dict.fromkeys(p.strip() for p in passages if p.strip()))


def corpus(n: int, tokenizer, low: int = 50, high: int = 300) -> list[str]:
    """``n`` distinct texts whose token counts spread evenly over [low, high] (deterministic)."""
    passages = source_passages()
    texts, cursor = [], 0
    for i in range(n):
        target = low + (i * 97) % (high - low + 1)
        pieces, length = [], 0
        while length < target:
            passage = passages[cursor % len(passages)]
            cursor += 1
            pieces.append(passage)
            length += len(tokenizer(passage, add_special_tokens=False)["input_ids"])
        ids = tokenizer(" ".join(pieces), add_special_tokens=False)["input_ids"][:target]
        texts.append(tokenizer.decode(ids).strip() + f" (#{i})")
    return texts


def robustness_questions(count: int) -> list[str]:
    """The robustness set's paraphrases (correct, implicit, incorrect) of the aspect question."""
    task = json.loads((DATA / "eval" / "robustness_instructions.json").read_text())["tasks"][0]
    questions = task["correct"] + task["implicit"] + task["incorrect"]
    return questions[:count]


# ----------------------------------------------------------------------------- machine
def matmul_gflops(size: int = 1536, repeats: int = 4) -> float:
    """Measured fp32 matmul rate of this machine, per CPU-second of this process (best of 3)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for _ in range(repeats):
            a @ b
        best = min(best, time.process_time() - started)
    return 2 * size**3 * repeats / best / 1e9


def non_embedding_parameters(model) -> int:
    embedding = model.get_input_embeddings().weight
    return sum(p.numel() for p in model.parameters() if p is not embedding)


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM (Linux) is reset by exec, unlike ru_maxrss,
    which a child started by the benchmark would inherit from the big parent process."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------------- paths
class Clock:
    """Wall and CPU seconds of a block. CPU seconds (all threads of this process) are what
    to compare on a shared machine: other jobs inflate wall time, not our CPU time."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def fresh(embedder):
    """Forget cached results so every timed run computes everything."""
    embedder.cache = type(embedder.cache)(":memory:")
    return embedder


def time_ours(embedder, texts, method, batch_size) -> Clock:
    fresh(embedder)
    with Clock() as clock:
        embedder.encode(texts, QUESTION, method=method, batch_size=batch_size, show_progress_bar=False)
    return clock


@torch.no_grad()
def time_reference(embedder, texts, method, batch_size) -> Clock:
    """The paper's style: `generate` with every layer's hidden states, pooled afterwards.

    Same prompts (token ids) as ours; batches in input order, left-padded by the tokenizer.
    """
    model, tokenizer = embedder.loaded.model, embedder.loaded.tokenizer
    tokenizer.padding_side = "left"
    new_tokens = 1 if method == "1st-gen" else embedder.max_new_tokens
    clock = Clock().__enter__()
    for start in range(0, len(texts), batch_size):
        ids = [embedder.prompts.ids(QUESTION, text) for text in texts[start : start + batch_size]]
        inputs = tokenizer.pad({"input_ids": ids}, return_tensors="pt").to(model.device)
        out = model.generate(
            **inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
            output_hidden_states=True, return_dict_in_generate=True, pad_token_id=tokenizer.pad_token_id,
        )
        if method == "1st-gen":
            vectors = out.hidden_states[0][-1][:, -1]
        else:
            vectors = torch.stack([step[-1][:, -1] for step in out.hidden_states], 1).mean(1)
        vectors.cpu().numpy()
    clock.__exit__()
    return clock


def prompt_tokens(embedder, texts) -> int:
    return sum(len(embedder.prompts.ids(QUESTION, text)) for text in texts)


# ----------------------------------------------------------------------------- sections
def section_methods(embedder, texts, batch_sizes, methods, peaks, compiled=None) -> None:
    """Every method (ours) and the reference ``generate`` path; ``compiled`` adds 1st-gen rows under torch.compile."""
    tokens = prompt_tokens(embedder, texts)
    params = non_embedding_parameters(embedder.loaded.model)
    print(f"\n### Methods ({len(texts)} texts, {tokens} prompt tokens, median "
          f"{statistics.median(len(embedder.prompts.ids(QUESTION, t)) for t in texts):.0f})\n")
    print("| method | batch | ours texts/s (wall) | ours tokens/s (wall) | ours CPU-s | reference texts/s (wall) | reference CPU-s "
          "| speed-up (CPU-s) | ours GFLOP per CPU-s (% of best matmul rate so far) |")
    print("|---|---|---|---|---|---|---|---|---|")

    def flop_share(clock: Clock) -> str:
        peaks.append(matmul_gflops())  # re-measured after every 1st-gen run: the fraction is against the best seen
        rate = 2 * params * tokens / clock.cpu / 1e9
        return f"{rate:.1f} ({100 * rate / max(peaks):.0f} % of {max(peaks):.0f})"

    rows = [(method, embedder) for method in methods]
    if compiled is not None:
        rows.append(("1st-gen", compiled))
    for method, model in rows:
        swept = method in {"1st-gen", "avg-gen"} and model is embedder
        for batch_size in batch_sizes if swept else batch_sizes[-1:]:
            ours = time_ours(model, texts, method, batch_size)
            label = method + (" (--compile)" if model is compiled else "")
            reference = time_reference(model, texts, method, batch_size) if method in {"1st-gen", "avg-gen"} and model is embedder else None
            flops = flop_share(ours) if method == "1st-gen" else "–"
            ref = f"{len(texts) / reference.wall:.2f} | {reference.cpu:.0f}" if reference else "– | –"
            gain = f"{reference.cpu / ours.cpu:.2f}×" if reference else "–"
            print(f"| {label} | {batch_size} | {len(texts) / ours.wall:.2f} | {tokens / ours.wall:.0f} | {ours.cpu:.0f} | {ref} "
                  f"| {gain} | {flops} |", flush=True)


def compiled_embedder(texts, batch_sizes):
    """A second embedder with ``compile=True``, warmed up at the largest batch size (compile time
    printed, not counted in the rows)."""
    from inbedder import InBedder

    model = InBedder(answer_prefix="", cache=False, compile=True)
    with Clock() as clock:
        time_ours(model, texts[: 2 * batch_sizes[-1]], "1st-gen", batch_sizes[-1])
    print(f"\n--compile warm-up (inductor compile + {2 * batch_sizes[-1]} texts): {clock.wall:.0f} s wall")
    return model


def section_questions(embedder, texts, questions, batch_size, independent_questions) -> None:
    """One corpus under 1, 4 and N questions: shared input pass vs one pass per question, by length."""
    lengths = [len(embedder.prompts.ids(QUESTION, text)) for text in texts]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    bins = [order[i * len(order) // 3 : (i + 1) * len(order) // 3] for i in range(3)]

    def shared(subset, asked) -> Clock:
        fresh(embedder)
        with Clock() as clock:
            embedder.encode_questions(subset, asked, method="1st-gen", batch_size=batch_size, show_progress_bar=False, answers=False)
        return clock

    def independent(subset, asked) -> Clock:
        fresh(embedder)
        with Clock() as clock:
            for question in asked:
                embedder.encode_with_answers(subset, question, method="1st-gen", batch_size=batch_size, show_progress_bar=False, answers=False)
        return clock

    n, measured = len(questions), min(independent_questions, len(questions))
    scale = n / measured
    print(f"\n### Many questions, one input pass (1st-gen, {len(texts)} texts, median {statistics.median(lengths):.0f} prompt tokens)\n")
    one = independent(texts, questions[:1])
    four = shared(texts, questions[:4])
    print(f"- 1 question: {one.cpu:.0f} CPU-s ({one.wall:.0f} s wall); 4 questions shared: {four.cpu:.0f} CPU-s "
          f"({four.wall:.0f} s wall) = **{four.cpu / one.cpu:.2f}× one question** in CPU time, {four.wall / one.wall:.2f}× wall (target ≤ 1.6×)")
    note = "" if measured == n else f" (measured {measured}, ×{scale:g}: every pass is the same work)"
    print(f"\n| prompt tokens | texts | {n} questions shared: CPU-s (wall s) | {n} independent passes{note}: CPU-s (wall s) | speed-up, CPU (wall) |")
    print("|---|---|---|---|---|")
    totals = [0.0, 0.0, 0.0, 0.0]
    for members in bins:
        subset = [texts[i] for i in members]
        span = f"{lengths[members[0]]}–{lengths[members[-1]]}"
        fast, slow = shared(subset, questions), independent(subset, questions[:measured])
        row = [fast.cpu, fast.wall, slow.cpu * scale, slow.wall * scale]
        totals = [a + b for a, b in zip(totals, row)]
        print(f"| {span} | {len(subset)} | {row[0]:.0f} ({row[1]:.0f}) | {row[2]:.0f} ({row[3]:.0f}) | "
              f"{row[2] / row[0]:.2f}× ({row[3] / row[1]:.2f}×) |", flush=True)
    print(f"| all | {len(texts)} | {totals[0]:.0f} ({totals[1]:.0f}) | {totals[2]:.0f} ({totals[3]:.0f}) | "
          f"**{totals[2] / totals[0]:.2f}×** ({totals[3] / totals[1]:.2f}×) |")


def memory_run(n: int) -> None:
    """Child process: embed ``n`` texts with a 2-layer random llama sharing the real tokenizer; print peak RSS."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from inbedder import InBedder
    from inbedder.models.loading import embedded_generator_dir

    tokenizer = AutoTokenizer.from_pretrained(embedded_generator_dir())
    with tempfile.TemporaryDirectory() as folder:
        torch.manual_seed(0)
        tiny = LlamaForCausalLM(LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        ))
        tiny.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        texts = corpus(n, tokenizer)
        embedder = InBedder(folder, template="chat-brief", answer_prefix="", cache=Path(folder) / "cache.sqlite", device="cpu")
        before = peak_rss_mb()
        started = time.perf_counter()
        embedder.encode_questions(texts, [QUESTION, "Who is speaking?"], method="1st-gen", batch_size=32, show_progress_bar=False, answers=False)
        print(json.dumps({"texts": n, "seconds": time.perf_counter() - started, "rss_before_mb": before, "peak_rss_mb": peak_rss_mb()}))


def section_memory(sizes: list[int], threads: int | None) -> None:
    print("\n### Memory (pipeline with a 2-layer random llama and the real tokenizer, 2 questions, on-disk cache)\n")
    print("| texts | seconds | peak RSS before encoding (MB) | peak RSS (MB) |")
    print("|---|---|---|---|")
    for n in sizes:
        command = [sys.executable, __file__, "--memory-run", str(n)] + (["--threads", str(threads)] if threads else [])
        line = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        row = json.loads(line.strip().splitlines()[-1])
        print(f"| {n} | {row['seconds']:.0f} | {row['rss_before_mb']:.0f} | {row['peak_rss_mb']:.0f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=512, help="texts for the per-method table (default %(default)s)")
    parser.add_argument("--batch-sizes", default="4,16", help="batch sizes for 1st-gen/avg-gen vs reference")
    parser.add_argument("--methods", default="1st-gen,avg-gen,last-gen,avg-ppt,avg-all,re-enc,prompt")
    parser.add_argument("--question-texts", type=int, default=512, help="texts for the many-questions table")
    parser.add_argument("--questions", type=int, default=30, help="questions in the robustness-style run")
    parser.add_argument("--independent-questions", type=int, default=30,
                        help="time this many of the independent passes and scale to --questions (default: all)")
    parser.add_argument("--memory-texts", default="", help="e.g. 1000,20000: pipeline peak RSS at these corpus sizes")
    parser.add_argument("--skip", default="", help="comma list of sections to skip: methods,questions")
    parser.add_argument("--threads", type=int, help="torch threads (1 makes CPU seconds exact on a busy machine)")
    parser.add_argument("--compile", action="store_true", help="add a 1st-gen row with InBedder(compile=True) at the largest batch size")
    parser.add_argument("--memory-run", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_run:
        memory_run(args.memory_run)
        return
    from inbedder import InBedder

    embedder = InBedder(answer_prefix="", cache=False)
    model = embedder.loaded.model
    peaks = [matmul_gflops() for _ in range(3)]
    print(f"device: {model.device}, torch threads: {torch.get_num_threads()}, model: {embedder.loaded.name}, "
          f"non-embedding parameters: {non_embedding_parameters(model) / 1e6:.1f} M, template: {embedder.template}")
    print(f"measured fp32 matmul rate: {', '.join(f'{p:.1f}' for p in peaks)} GFLOP/s per CPU-second (re-measured during the run; the best is used)")
    texts = corpus(max(args.texts, args.question_texts), embedder.loaded.tokenizer)
    skip = set(args.skip.split(","))
    if "methods" not in skip:
        batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
        compiled = compiled_embedder(texts[args.texts:] or texts, batch_sizes) if args.compile else None
        section_methods(embedder, texts[: args.texts], batch_sizes, args.methods.split(","), peaks, compiled)
    if "questions" not in skip:
        section_questions(embedder, texts[: args.question_texts], robustness_questions(args.questions), 16,
                          args.independent_questions)
    if args.memory_texts:
        section_memory([int(n) for n in args.memory_texts.split(",")], args.threads)
    peaks.append(matmul_gflops())
    print(f"\nmatmul rate: best {max(peaks):.1f}, lowest {min(peaks):.1f} GFLOP/s per CPU-second over {len(peaks)} measurements; "
          f"peak RSS of this process: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()

"""The catalogue's models side by side: quality on every shipped and independent test, and speed.

For each model (zero-shot, or with an adapter given as MODEL=ADAPTER) it prints one row: the
IntentEmotion triplet harmonic mean, the shipped reviews' two-labelling clustering harmonic mean,
the independent drug reviews' harmonic mean and news topic V (beside plain all-MiniLM-L6-v2), the
demo's two V-measures, and texts/s of the prompt pass on 64 demo reviews in fp32 and, where this
CPU multiplies bf16 natively, in bf16 with the per-text cosine between the two states. All rows
come from one run, so their speeds compare (the machine is shared and noisy).

    python bench/models.py --models smollm2-135m,qwen2.5-coder-0.5b,qwen2.5-coder-0.5b=none   # =none: zero-shot
    python bench/models.py --models qwen2.5-coder-1.5b --skip quality      # speed and memory only
    python bench/models.py --models smollm2-135m --skip quality --texts 8 --bf16   # bf16 where only emulated

Run it from the repository root (the memory column starts one process per model, smallest first).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from levers import measure  # noqa: E402  (bench/levers.py: the same columns as the fine-tuning studies)

from inbedder import InBedder  # noqa: E402
from inbedder.data import path as data_path  # noqa: E402
from inbedder.cli.demo import v_measure_table  # noqa: E402
from inbedder.models.devices import cpu_has_bf16  # noqa: E402
from inbedder.evaluation import load_awareness, load_independent  # noqa: E402
from inbedder.evaluation.subjects import MethodSubject  # noqa: E402

QUESTION = "What aspect of the restaurant is discussed?"


def _texts(count: int) -> list[str]:
    import pandas as pd

    return pd.read_csv(data_path("reviews.csv"))["review"].astype(str).tolist()[:count]


def speed(name: str, adapter: str | None, dtype: str, texts: list[str]) -> tuple[float, np.ndarray]:
    """Texts/s of 1st-gen's prompt pass (batch 16, no cache) and the states it gave."""
    model = InBedder(name, adapter=adapter, dtype=dtype, cache=False, answer_prefix="")
    model.encode(texts[:16], "What is the topic of this review?", batch_size=16)  # warm-up, under another question: nothing cached
    started = time.perf_counter()
    states = model.encode(texts, QUESTION, batch_size=16, normalize_embeddings=True)
    return len(texts) / (time.perf_counter() - started), states


def peak_memory_gb(name: str, adapter: str | None) -> float:
    """Peak RSS of a fresh process that loads the model and embeds 16 reviews (fp32), in GB."""
    import resource
    import subprocess

    code = ("import sys; from inbedder import InBedder; sys.path.insert(0, 'bench'); from models import _texts, QUESTION; "
            f"InBedder({name!r}, adapter={adapter!r}, cache=False, dtype='fp32').encode(_texts(16), QUESTION)")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20  # the largest child so far: run models smallest first


def row(spec: str, *, texts: list[str], quality: bool, shipped, independent, bf16: bool) -> dict:
    name, _, adapter = spec.partition("=")
    from inbedder.models.catalogue import find

    entry = find(name)
    shipped_adapter = entry is not None and entry.adapter
    shown = {"": "shipped" if shipped_adapter else "none (zero-shot)", "none": "none (zero-shot)"}.get(adapter, adapter)
    result: dict = {"model": name, "adapter": shown}
    result["peak_rss_gb"] = peak_memory_gb(name, adapter or None)
    result["fp32_texts_s"], fp32 = speed(name, adapter or None, "fp32", texts)
    if bf16:
        result["bf16_texts_s"], bf16 = speed(name, adapter or None, "bf16", texts)
        result["bf16_min_cosine"] = float(np.min(np.sum(fp32 * bf16, axis=1)))
    if quality:
        model = InBedder(name, adapter=adapter or None)
        result.update({k: v for k, v in measure(MethodSubject(model, "1st-gen"), None, shipped, independent).items()
                       if k in ("intemo_hm", "reviews_hm", "drug_hm", "news_v", "news_minilm_v")})
        table = v_measure_table(model, "1st-gen", show_progress_bar=False, verbose=False)
        result["demo_aspect_v"], result["demo_sentiment_v"] = table["aspect"]["aspect"], table["sentiment"]["sentiment"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="smollm2-135m,qwen2.5-coder-0.5b",
                        help="comma list of catalogue names, each optionally =ADAPTER_DIR or =none (zero-shot; "
                             "without it a model runs with its shipped adapter, if it has one)")
    parser.add_argument("--texts", type=int, default=64, help="demo reviews for the speed columns (default %(default)s)")
    parser.add_argument("--skip", default="", help="quality: speed columns only")
    parser.add_argument("--bf16", action="store_true",
                        help="measure bf16 even where this CPU only emulates it (slow: use few --texts)")
    parser.add_argument("--output", help="also write the rows as JSON here")
    args = parser.parse_args()
    texts = _texts(args.texts)
    quality = "quality" not in args.skip
    shipped = load_awareness("shipped", tasks=("triplets", "clustering")) if quality else None
    independent = load_independent(("clustering", "news")) if quality else None
    print(f"bf16: {'native on this CPU' if cpu_has_bf16() else 'not native on this CPU (emulated, far slower): fp32 only'}")
    columns = ("peak_rss_gb", "fp32_texts_s", "bf16_texts_s", "bf16_min_cosine", "intemo_hm", "reviews_hm", "drug_hm", "news_v",
               "news_minilm_v", "demo_aspect_v", "demo_sentiment_v")
    print("| model | adapter | " + " | ".join(columns) + " |")
    print("|---|---|" + "--:|" * len(columns))
    rows = []
    for spec in args.models.split(","):
        result = row(spec, texts=texts, quality=quality, shipped=shipped, independent=independent,
                     bf16=args.bf16 or cpu_has_bf16())
        rows.append(result)
        cells = [f"{result[c]:.3f}" if isinstance(result.get(c), float) else "–" for c in columns]
        print(f"| {result['model']} | {result['adapter']} | " + " | ".join(cells) + " |", flush=True)
    if args.output:
        Path(args.output).write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()

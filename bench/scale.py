"""Scale-out figures: local engine vs Ray workers, and k-means at 100k / 1M embeddings.

Usage:
    python bench/scale.py [--texts 2000] [--skip embed,kmeans] [--kmeans-sizes 100000,1000000]
                          [--shard-rows 64] [--embed local,chunks,ray1,ray2]

Prints Markdown tables (figures, not a test). The embedding section runs the embedded model over
``--texts`` benchmark texts (bench/embed_throughput.py's corpus, 50–300 tokens) three ways, each
from an empty cache: the local engine in one process with both threads (on the whole corpus, and
in shard-sized chunks, which shows what batching within a shard alone costs), ``embed_dataset``
with one Ray worker, and with two (one thread each); it reports texts/s, the speed-ups, peak
memory of the driver and of the workers, and where the Ray runs' time went (model load per
actor, time to the first shard, shard work per worker and the rate that work alone reaches). The k-means section fits k=20 on synthetic 576-d
embeddings (20 Gaussian blobs on the sphere) with faiss, scikit-learn MiniBatchKMeans and
scikit-learn KMeans, then assigns every row.
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from embed_throughput import QUESTION, corpus  # noqa: E402


def _peak_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def section_embed(n: int, tokens: tuple[int, int] = (50, 300), *, shard_rows: int = 64,
                  settings: tuple[str, ...] = ("local", "chunks", "ray1", "ray2")) -> None:
    """Local engine (whole corpus, then shard-sized chunks) against 1 and 2 Ray workers, from empty caches."""
    from inbedder import InBedder

    local = InBedder(answer_prefix="", cache=False)
    texts = corpus(n, local.loaded.tokenizer, *tokens)
    folder = Path(tempfile.mkdtemp(prefix="inbedder-scale-"))
    source = folder / "texts.txt"
    source.write_text("\n".join(" ".join(t.split()) for t in texts) + "\n", encoding="utf-8")
    rows = []
    if "local" in settings:
        start = time.perf_counter()
        local.encode(texts, QUESTION, batch_size=16)
        rows.append(("local engine, 1 process, 2 threads", time.perf_counter() - start, _peak_mb(), None))
    if "chunks" in settings:  # the same engine, sorting and batching only within each shard's texts
        local = InBedder(answer_prefix="", cache=False)  # a fresh in-memory cache: nothing embedded yet
        local.loaded  # noqa: B018  # the model loads before the clock starts, as above
        start = time.perf_counter()
        for i in range(0, n, shard_rows):
            local.encode(texts[i : i + shard_rows], QUESTION, batch_size=16, show_progress_bar=False)
        rows.append((f"local engine, {shard_rows}-text chunks", time.perf_counter() - start, _peak_mb(), None))
    del local
    for workers in (1, 2):
        if f"ray{workers}" in settings:
            rows.append(_ray_row(source, folder / f"ray-{workers}", workers=workers, shard_rows=shard_rows))
    print(f"\n{n} texts of {tokens[0]}-{tokens[1]} tokens, 1st-gen, embedded model, shards of {shard_rows}\n")
    print("| engine | seconds | texts/s | × first row | driver peak MB | worker peak MB | load s/actor "
          "| 1st shard s | busy s/worker | texts/s busy |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for name, seconds, peak, ray_run in rows:
        worker = "–" if ray_run is None else f"{ray_run[0].worker_peak_mb:.0f}"
        extra = "| – | – | – | –" if ray_run is None else _breakdown(*ray_run, n)
        print(f"| {name} | {seconds:.0f} | {n / seconds:.2f} | {rows[0][1] / seconds:.2f}× | {peak:.0f} | {worker} {extra} |")


def _ray_row(source: Path, output_dir: Path, *, workers: int, shard_rows: int) -> tuple:
    """One ``embed_dataset`` run on a fresh local Ray (Ray's own start not timed; actors' start and load are)."""
    import ray

    from inbedder.distributed import embed_dataset

    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False, _node_ip_address="127.0.0.1")
    start = time.perf_counter()
    run = embed_dataset(source, [QUESTION], output_dir=output_dir, workers=workers, shard_rows=shard_rows,
                        model_options={"answer_prefix": ""})
    seconds = time.perf_counter() - start
    ray.shutdown()
    return (f"--engine ray --workers {workers}", seconds, _peak_mb(), (run, workers))


def _breakdown(run, workers: int, n: int) -> str:
    """Where a Ray run's time went: model load per actor, time to the first shard, shard work per worker."""
    busy = run.shard_seconds / workers
    return f"| {run.load_seconds / workers:.1f} | {run.first_shard_s:.1f} | {busy:.0f} | {n / busy:.2f}"


def blobs(n: int, dim: int = 576, k: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unit vectors around ``k`` random centres, and which centre each came from."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim)).astype(np.float32)
    labels = rng.integers(0, k, n)
    points = centres[labels] + 0.6 * rng.normal(size=(n, dim)).astype(np.float32)
    return points / np.linalg.norm(points, axis=1, keepdims=True), labels


def section_kmeans(sizes: list[int], k: int = 20) -> None:
    from sklearn.metrics import adjusted_rand_score

    from inbedder.distributed.clustering import fit_centroids
    from inbedder.clustering.outliers import nearest_centres as assign

    print(f"\nk-means, k={k}, 576-d unit vectors (fit on all rows, then assign every row)\n")
    print("| rows | library | fit s | assign s | ARI vs truth |")
    print("|--:|---|--:|--:|--:|")
    for n in sizes:
        data, truth = blobs(n, k=k)
        texts = [f"{i:09d}" for i in range(n)]  # already in canonical order
        for library in ("faiss", "minibatch", "kmeans"):
            if library == "faiss" and importlib.util.find_spec("faiss") is None:
                continue
            if library == "kmeans" and n > 200_000:
                print(f"| {n:,} | kmeans | – | – | not run (minutes per fit at this size) |")
                continue
            start = time.perf_counter()
            centroids = _faiss(data, k) if library == "faiss" else fit_centroids(data, texts, k, seed=0, library=library)
            fit = time.perf_counter() - start
            start = time.perf_counter()
            labels = np.concatenate([assign(data[i : i + 100_000], centroids)[0] for i in range(0, n, 100_000)])
            assigned = time.perf_counter() - start
            print(f"| {n:,} | {library} | {fit:.1f} | {assigned:.1f} | {adjusted_rand_score(truth, labels):.3f} |")


def _faiss(data: np.ndarray, k: int) -> np.ndarray:
    """faiss' k-means, measured against scikit-learn's (the library keeps MiniBatchKMeans)."""
    import faiss

    kmeans = faiss.Kmeans(data.shape[1], k, niter=25, nredo=3, seed=0, verbose=False)
    kmeans.train(np.ascontiguousarray(data, dtype=np.float32))
    return kmeans.centroids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--tokens", default="50,300", help="token range of the texts (default %(default)s)")
    parser.add_argument("--kmeans-sizes", default="100000,1000000")
    parser.add_argument("--skip", default="", help="comma list: embed,kmeans")
    parser.add_argument("--shard-rows", type=int, default=64, help="rows per Ray shard and local chunk (default %(default)s)")
    parser.add_argument("--embed", default="local,chunks,ray1,ray2", help="embedding rows to run (default %(default)s)")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    if "kmeans" not in skip:
        section_kmeans([int(size) for size in args.kmeans_sizes.split(",")])
    if "embed" not in skip:
        section_embed(args.texts, tuple(int(part) for part in args.tokens.split(",")), shard_rows=args.shard_rows,
                      settings=tuple(args.embed.split(",")))


if __name__ == "__main__":
    main()

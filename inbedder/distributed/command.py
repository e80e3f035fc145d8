"""``inbedder cluster … --engine ray``: embed on a Ray cluster, cluster at scale, print the summary.

Writes under ``--output-dir``: ``shards/`` (id, text, question, embedding, answer per text),
``run.json`` (parameters, finished shards), per question ``clusters/<hash>/`` (id, cluster,
similarity per text) and ``q<N>.summary.json`` (question, k, sizes, keywords, how it was fitted).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from inbedder.errors import InBedderError
from inbedder.cli.options import ClusterOptions, ModelOptions


def run_on_ray(args: argparse.Namespace, questions: list[str], model: ModelOptions, *, cluster: ClusterOptions) -> None:
    """The Ray path of ``inbedder cluster``; the same checks as locally came before this."""
    from inbedder.distributed.engine import embed_dataset, shared_ray_session
    from inbedder.distributed.shards import check_output_dir
    from inbedder.validation import check_options

    if not args.output_dir:
        raise InBedderError("--engine ray writes its shards to a folder: pass --output-dir")
    check_output_dir(args.output_dir)
    check_options(args)  # --sample-size, --workers, --shard-rows, --gpus-per-worker: before any text is embedded
    if args.k == "auto" or args.label_column or args.output or args.embeddings:
        raise InBedderError("--engine ray takes a number for --k and writes to --output-dir; "
                            "drop --k auto, --label-column, --output and --embeddings")
    head = _answer_head(model, cluster)  # refused before any text is embedded
    started = time.time()
    options = {key: value for key, value in asdict(model).items()
               if key not in ("model", "adapter", "batch_size", "method", "cache")}
    with shared_ray_session():  # Ray starts once for the embedding and every question's clustering
        run = embed_dataset(
            args.input, questions, output_dir=args.output_dir, method=model.method, model=model.model,
            adapter=model.adapter, workers=args.workers, gpus_per_worker=args.gpus_per_worker,
            batch_size=model.batch_size, shard_rows=args.shard_rows, text_column=args.text_column,
            id_column=args.id_column, model_options=options, address=args.address,
        )
        if not args.quiet:
            print(f"{run.texts} texts in {len(run.shards)} shards: {len(run.computed)} computed now, "
                  f"{len(run.skipped)} already done ({run.seconds:.0f} s)", file=sys.stderr)
        for number, question in enumerate(questions, 1):
            _cluster_question(args, run, number, question, seed=model.seed, started=started, cluster=cluster, head=head)


def _answer_head(model: ModelOptions, cluster: ClusterOptions):
    """The LM head for ``--answer-space`` (loaded in the driver, which fits the space), or None without it."""
    if cluster.answer_space is None:
        return None
    from inbedder.clustering.answer_space import check_answer_space

    embedder = model.build()
    return check_answer_space(embedder, embedder.method, cluster.answer_space, cluster.state_weight)


def _cluster_question(args: argparse.Namespace, run, number: int, question: str, *, seed: int, started: float,
                      cluster: ClusterOptions, head) -> None:
    """Cluster one question's embeddings at scale; write ``q<N>.summary.json`` and print the table."""
    from inbedder.distributed.clustering import cluster_run

    clusters = cluster_run(run.output_dir, run.shards, question, args.k, sample_size=args.sample_size, seed=seed,
                           top_n=args.top_n, address=args.address, center=not args.no_center,
                           standardize=not args.no_standardize, answer_space=cluster.answer_space,
                           state_weight=cluster.state_weight, head=head)
    summary = {
        "question": question, "k": args.k, "center": not args.no_center, "standardize": not args.no_standardize,
        "answer_space": cluster.answer_space, "state_weight": cluster.state_weight if head is not None else None,
        "texts": run.texts, "fit": clusters.library, "sampled": clusters.sampled,
        "sizes": clusters.sizes, "keywords": {c: [w for w, _ in kw] for c, kw in clusters.keywords.items()},
        "seconds": round(time.time() - started, 2),
    }
    path = Path(run.output_dir) / f"q{number}.summary.json"
    path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if not args.quiet:
        print(f"Instruction: {question!r}   k={args.k}   texts: {run.texts}   fit: {clusters.library} on {clusters.sampled}")
        print(f"{'cluster':>7}  {'size':>6}  keywords")
        for cluster, size in clusters.sizes.items():
            print(f"{cluster:>7}  {size:>6}  {', '.join(w for w, _ in clusters.keywords.get(cluster, [])[:5]) or '-'}")
        print(f"wrote {path}")

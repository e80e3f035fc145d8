"""``inbedder cluster … --engine ray``: embed on a Ray cluster, cluster at scale, print the summary.

Writes under ``--output-dir``: ``shards/`` (id, text, question, embedding, answer per text),
``run.json`` (parameters, finished shards), per question ``clusters/<hash>/`` (id, cluster,
similarity per text) and ``q<N>.summary.json`` (question, k, sizes, keywords, how it was fitted).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from inbedder.errors import InBedderError
from inbedder.cli.options import ClusterOptions, InputOptions, ModelOptions, OutputOptions, RayOptions


def run_on_ray(
    questions: list[str], *, source: InputOptions, model: ModelOptions, cluster: ClusterOptions, ray: RayOptions,
    outputs: OutputOptions, quiet: bool = False,
) -> None:
    """The Ray path of ``inbedder cluster``; the same checks as locally came before this."""
    from inbedder.distributed.engine import embed_dataset, shared_ray_session
    from inbedder.distributed.shards import check_output_dir
    from inbedder.validation import check_options

    if not ray.output_dir:
        raise InBedderError("--engine ray writes its shards to a folder: pass --output-dir")
    check_output_dir(ray.output_dir)
    check_options(ray)  # --sample-size, --workers, --shard-rows, --gpus-per-worker: before any text is embedded
    if cluster.n_clusters == "auto" or source.label_column or outputs.output or outputs.embeddings:
        raise InBedderError("--engine ray takes a number for --k and writes to --output-dir; "
                            "drop --k auto, --label-column, --output and --embeddings")
    head = _answer_head(model, cluster)  # refused before any text is embedded
    started = time.time()
    options = {key: value for key, value in asdict(model).items()
               if key not in ("model", "adapter", "batch_size", "method", "cache")}
    with shared_ray_session():  # Ray starts once for the embedding and every question's clustering
        run = embed_dataset(
            source.path, questions, output_dir=ray.output_dir, method=model.method, model=model.model,
            adapter=model.adapter, workers=ray.workers, gpus_per_worker=ray.gpus_per_worker,
            batch_size=model.batch_size, shard_rows=ray.shard_rows, text_column=source.text_column,
            id_column=source.id_column, model_options=options, address=ray.address,
        )
        if not quiet:
            print(f"{run.texts} texts in {len(run.shards)} shards: {len(run.computed)} computed now, "
                  f"{len(run.skipped)} already done ({run.seconds:.0f} s)", file=sys.stderr)
        for number, question in enumerate(questions, 1):
            _cluster_question(run, number, question, seed=model.seed, started=started, cluster=cluster, ray=ray,
                              head=head, quiet=quiet)


def _answer_head(model: ModelOptions, cluster: ClusterOptions):
    """The LM head for ``--answer-space`` (loaded in the driver, which fits the space), or None without it."""
    if cluster.answer_space is None:
        return None
    from inbedder.clustering.answer_space import check_answer_space

    embedder = model.build()
    return check_answer_space(embedder, embedder.method, cluster.answer_space, cluster.state_weight)


def _cluster_question(run, number: int, question: str, *, seed: int, started: float, cluster: ClusterOptions,
                      ray: RayOptions, head, quiet: bool) -> None:
    """Cluster one question's embeddings at scale; write ``q<N>.summary.json`` and print the table."""
    from inbedder.distributed.clustering import cluster_run

    clusters = cluster_run(run.output_dir, run.shards, question, cluster.n_clusters, sample_size=ray.sample_size,
                           seed=seed, top_n=cluster.top_n, address=ray.address, center=cluster.center,
                           standardize=cluster.standardize, answer_space=cluster.answer_space,
                           state_weight=cluster.state_weight, head=head)
    summary = {
        "question": question, "k": cluster.n_clusters, "center": cluster.center, "standardize": cluster.standardize,
        "answer_space": cluster.answer_space, "state_weight": cluster.state_weight if head is not None else None,
        "texts": run.texts, "fit": clusters.library, "sampled": clusters.sampled,
        "sizes": clusters.sizes, "keywords": {c: [w for w, _ in kw] for c, kw in clusters.keywords.items()},
        "seconds": round(time.time() - started, 2),
    }
    path = Path(run.output_dir) / f"q{number}.summary.json"
    path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if not quiet:
        print(f"Instruction: {question!r}   k={cluster.n_clusters}   texts: {run.texts}   "
              f"fit: {clusters.library} on {clusters.sampled}")
        print(f"{'cluster':>7}  {'size':>6}  keywords")
        for label, size in clusters.sizes.items():
            print(f"{label:>7}  {size:>6}  {', '.join(w for w, _ in clusters.keywords.get(label, [])[:5]) or '-'}")
        print(f"wrote {path}")

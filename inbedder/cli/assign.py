"""``inbedder assign``: sort new texts into a saved clustering (same groups as last month's run).

The texts are embedded with the settings the clustering was saved with — refused in one line
when the model, adapter or method here would embed differently — and each joins the nearest
saved centroid, or ``-1`` ("other") below the saved outlier threshold. The table has the
columns of ``inbedder cluster`` plus each text's similarity to its centroid.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

EPILOG = """example:
  inbedder cluster reviews.csv -i "What aspect is discussed?" --k 4 --save-clustering runs/aspect
  inbedder assign new_reviews.csv --clustering runs/aspect -o out/new.csv

Writes id (or row), text, cluster (-1: outlier), answer, cluster_name, similarity to --output and
the run's parameters beside it (<output>.run.json)."""


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``inbedder assign`` to the CLI's subcommands."""
    from inbedder.cli.main import RAW_CSV_HELP

    parser = commands.add_parser(
        "assign", help="sort new texts into a clustering saved with --save-clustering",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", help="texts: .csv .tsv .jsonl .json .parquet, or .txt with one text per line")
    parser.add_argument("--clustering", required=True, metavar="DIR", help="folder written by --save-clustering")
    parser.add_argument("--output", "-o", required=True, help="per-text results: .csv .tsv .jsonl or .parquet")
    parser.add_argument("--text-column", help="column holding the texts (default: 'text' or the only text column)")
    parser.add_argument("--id-column", help="column of ids to keep (default: the input's 'id' column, else row numbers)")
    parser.add_argument("--encoding", default="utf-8", help="input file encoding (default %(default)s)")
    parser.add_argument("--raw-csv", action="store_true", help=RAW_CSV_HELP)
    parser.add_argument("--batch-size", type=int, default=16, help="texts per batch (default %(default)s)")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars or summaries, errors only")
    parser.set_defaults(handler=run_assign)


@dataclass(frozen=True)
class AssignOptions:
    """How ``inbedder assign`` runs the saved clustering's embedder here: batch, device and cache."""

    batch_size: int = 16
    device: str | None = None
    cache: bool | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> AssignOptions:
        return cls(batch_size=args.batch_size, device=args.device, cache=False if args.no_cache else None)


def run_assign(args: argparse.Namespace) -> None:
    import numpy as np
    import pandas as pd

    from inbedder.cli.main import _read
    from inbedder.clustering.estimator import InstructionClusterer
    from inbedder.io import write_json, write_table
    from inbedder.cli.options import InputOptions
    from inbedder.io.outputs import Output, check_outputs, sidecar_path, staged_files, table_output
    from inbedder.clustering.persistence import CENTROIDS_FILE, CONFIG_FILE, build_embedder, read_saved
    from inbedder.cli.report import id_column
    from inbedder.validation import check_options

    started = time.time()
    options = AssignOptions.from_args(args)
    record = read_saved(args.clustering)[0]  # the JSON and the tensors checked before any model loads
    table = table_output(args.output, "--output")
    folder = Path(args.clustering)
    check_outputs([table, Output(sidecar_path(table.path), "--output (its .run.json)")],
                  [args.input, folder / CONFIG_FILE, folder / CENTROIDS_FILE])
    check_options(options)
    corpus = _read(InputOptions.from_args(args), quiet=args.quiet)
    model = build_embedder(record, device=options.device, cache=options.cache)
    clusterer = InstructionClusterer.load(folder, model=model)
    names = clusterer.display_names() | {-1: "other"}
    if getattr(clusterer, "multi_", None):  # saved from --multi: list each new text's answers and place every one
        labels, frame = _assign_answers(clusterer, corpus, names, options, quiet=args.quiet)
    else:
        encoded = clusterer.model.encode_with_answers(  # raw rows: predict places them (the answer space reads their length)
            corpus.texts, clusterer.instruction, method=clusterer.method_, batch_size=options.batch_size,
            show_progress_bar=not args.quiet, normalize_embeddings=False,
        )
        labels, similarity = clusterer.predict(corpus.texts, embeddings=encoded.embeddings, return_similarity=True)
        frame = pd.DataFrame({
            id_column(corpus): corpus.output_ids(), "text": corpus.texts, "cluster": labels.astype(int),
            "answer": encoded.answers, "cluster_name": [names.get(int(c), "") for c in labels],
            "similarity": np.round(similarity, 6),
        })
    descriptions = clusterer.display_descriptions()
    if descriptions:
        frame["cluster_description"] = [descriptions.get(int(c), "") for c in labels]
    sizes = {int(c): int(n) for c, n in zip(*np.unique(labels, return_counts=True))}
    if not args.quiet:
        print(_summary(clusterer, sizes, names, len(corpus.texts)))
    run = {"command": "assign", "input": str(args.input), "clustering": str(folder.resolve()),
           "instruction": clusterer.instruction, "texts": len(corpus.texts), "sizes": sizes,
           "names": {int(c): n for c, n in names.items()}, "outlier_threshold": clusterer.outlier_threshold_,
           "seconds": round(time.time() - started, 2)}
    with staged_files() as staged:
        write_table(frame, staged.path(table.path), raw_csv=args.raw_csv)
        write_json(run, staged.path(sidecar_path(table.path)))
    if not args.quiet:
        print(f"wrote {table.path}, {sidecar_path(table.path)}")


def _assign_answers(clusterer, corpus, names: dict[int, str], options: AssignOptions, *, quiet: bool):
    """(each text's primary cluster, the table) for a clustering of answers: every answer joins its nearest centroid."""
    import numpy as np
    import pandas as pd

    from inbedder.cli.multi_report import LIST_SEPARATOR, list_columns
    from inbedder.cli.report import id_column
    from inbedder.clustering.multi import clusters_of_texts
    from inbedder.encoding.multi import encode_answers

    from inbedder.explain.writing import load_writer

    lister = load_writer(clusterer.lister_, device=options.device) if clusterer.lister_ else None
    encoded = encode_answers(clusterer.model, corpus.texts, clusterer.instruction, max_answers=clusterer.multi_,
                             lister=lister, batch_size=options.batch_size, show_progress_bar=not quiet)
    rows = encoded.rows
    found, similarity = clusterer.predict([corpus.texts[t] for t in rows], embeddings=encoded.embeddings,
                                          return_similarity=True)
    clusters = clusters_of_texts(rows, found, len(corpus.texts))
    first = np.searchsorted(rows, np.arange(len(corpus.texts)))  # each text's first answer row
    labels = np.array([own[0] for own in clusters], dtype=int)
    frame = pd.DataFrame({
        id_column(corpus): corpus.output_ids(), "text": corpus.texts, "cluster": labels,
        "answer": [LIST_SEPARATOR.join(listed) for listed in encoded.listed],
        "cluster_name": [names.get(int(c), "") for c in labels], "similarity": np.round(similarity[first], 6),
        **list_columns(clusters, names),
    })
    return labels, frame


def _summary(clusterer, sizes: dict[int, int], names: dict[int, str], total: int) -> str:
    lines = [f"Assigned {total} texts to the {clusterer.n_clusters_} clusters of {clusterer.instruction!r}",
             f"{'cluster':>7}  {'size':>5}  {'share':>6}  name"]
    for cluster in sorted(set(sizes) | set(range(clusterer.n_clusters_))):
        count = sizes.get(cluster, 0)
        lines.append(f"{cluster:>7}  {count:>5}  {count / total:>6.1%}  {names.get(cluster, '')}")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    from inbedder.cli.main import main

    sys.exit(main(["assign", *sys.argv[1:]]))

"""The ``inbedder`` command: cluster or embed a file of texts by your own question.

Errors in the user's input print one line and exit with status 2; an interrupted run exits
with 130 and resumes from the on-disk cache when re-run.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from inbedder.errors import InBedderError, one_line, rename
from inbedder.cli.options import (
    ClusterOptions, InputOptions, ModelOptions, OutputOptions, add_input_arguments, add_model_arguments, parse_k,
)
from inbedder.cli.analyst import (
    add_analyst_arguments, check_analyst_outputs, finish_clustering, load_writer_for, within_corpus,
)
from inbedder.cli.cluster_command import ClusterCommand

if TYPE_CHECKING:
    from inbedder.encoding.embedder import InBedder
    from inbedder.io import Corpus

# Sub-packages that add their own subcommands: each has ``register(commands)`` which adds a
# parser and sets ``handler=`` on it. Their top level must stay light (no torch import).
SUBCOMMAND_MODULES = (
    "inbedder.evaluation.cli",
    "inbedder.finetune.cli",
    "inbedder.app.cli",
    "inbedder.cli.assign",
    "inbedder.cli.models",
)

EPILOG_CLUSTER = """examples:
  inbedder cluster reviews.csv --text-column review \\
      --instruction "What is the customer complaining about?" --k 6 --output clusters.parquet
  inbedder cluster tickets.jsonl --instruction "What does the customer need?" --k 8 \\
      --label-column intent --output out/tickets.csv --embeddings out/tickets.npy

  inbedder cluster reviews.csv --text-column review --k 4 \\
      --instruction "What is the review about?" --instruction "Is the customer happy?" -o out/r.csv

the analyst's loop (save, sort new texts in, drill down):
  inbedder cluster reviews.csv -i "What aspect is discussed?" --k 4 --outliers auto \\
      --save-clustering runs/aspect -o out/aspect.csv
  inbedder assign new_reviews.csv --clustering runs/aspect -o out/new.csv
  inbedder cluster reviews.csv --within runs/aspect:2 -i "What went wrong with the service?" --k auto
  inbedder cluster reviews.csv -i "What aspect is discussed?" --seed-answers "food,service,price,ambience"

explanations:
  inbedder cluster reviews.csv -i "What aspect is discussed?" --k 8 --levels 2 --describe --judge -o out/a.csv
  inbedder cluster reviews.csv -i "What does the customer complain about?" --k 6 --multi 3 -o out/c.csv
      (each text may join several clusters: out/c.csv lists them, out/c.answers.csv has one row per answer)

Writes per-text rows (id or row, text, cluster, answer, cluster_name, similarity) to --output and the run's parameters,
cluster keywords and scores beside it (<output>.run.json). Outputs are written under temporary
names and moved into place together once all are complete; no output may be an input file.
Embeddings and answers are cached, so re-running with another --k is instant and an
interrupted run resumes.

Several --instruction: each text's input is run through the model once for all questions
(shared prefix cache), then each question is clustered and reported on its own; files get a
suffix per question in the order given: out/r-q1.csv, out/r-q1.csv.run.json, out/r-q2.csv, …
(and --embeddings e.npy gives e-q1.npy, e-q2.npy, …)."""

EPILOG_EMBED = """example:
  inbedder embed news.txt --instruction "What is the topic?" --output news.npy

.npy writes the matrix plus <stem>.ids.txt; .safetensors stores ids in its metadata."""


RAW_CSV_HELP = ("write .csv/.tsv cells exactly as they are; by default a text starting with = + - @ tab or CR gets a "
                "leading ' so that a spreadsheet shows it instead of running it as a formula")


def _flags(*names: str) -> dict[str, str]:
    """Parameters whose flag is their name with dashes: ``batch_size`` -> ``--batch-size``."""
    return {name: "--" + name.replace("_", "-") for name in names}


FLAGS: dict[str, str | None] = {
    # InBedder(...), encode*(...), InstructionClusterer(...), read_corpus(...) and cluster_info(...)
    **_flags("model", "adapter", "template", "method", "max_length", "max_new_tokens", "layer", "answer_prefix",
             "samples", "temperature", "sentence_encoder", "device", "seed", "compile", "dtype", "instruction", "batch_size",
             "text_column", "id_column", "label_column", "encoding", "top_n"),
    "filter_answer_words=False": "--no-filter",
    "cache=False": "--no-cache",
    "center=False": "--no-center",
    "standardize=False": "--no-standardize",
    **_flags("answer_space", "state_weight", "levels", "multi"),
    "compile=True": "--compile",
    "instructions": "--instruction",
    "show_progress_bar=False": "--quiet",
    "n_clusters": "--k",
    "random_state": "--seed",
    "top_n_keywords": "--top-n",
    # no flag: the message keeps the Python word
    "texts": None, "path": None, "normalize_embeddings": None, "answers": None, "progress": None, "n_init": None,
    "clustering": None,
    # the outputs of cluster and embed
    **_flags("output", "embeddings"),
    # inbedder evaluate
    **_flags("tasks", "methods", "models", "data", "spec", "limit", "robustness_limit", "output_dir"),
    # inbedder finetune (FinetuneConfig's fields)
    **_flags("base", "lora_r", "lora_alpha", "lora_dropout", "target_modules", "epochs", "lr", "grad_accum",
             "eval_split", "mask_slots", "answer_tokens", "save_steps", "max_steps", "resume", "merge",
             "full", "input_column", "instruction_column", "answer_column"),
    "resume=True": "--resume",
    "merge=True": "--merge",
    "full=True": "--full",
    "sources": "--data",
    "extra": None,
    # --engine ray (inbedder.distributed)
    **_flags("address", "workers", "gpus_per_worker", "shard_rows", "sample_size"),
    # the analyst's loop: outliers, seeds, names, saved clusterings
    **_flags("min_similarity", "seed_answers", "name_clusters", "describe", "judge", "writer_model", "save_clustering", "within"),
}
"""Python parameter -> the flag that sets it: the one place the CLI renames a library error's words.

A key ``name=value`` renames that exact form (``cache=False`` -> ``--no-cache``); a plain key
renames the bare name and ``name=value`` (-> ``--flag value``). See :mod:`inbedder.errors`."""


class OneLineParser(argparse.ArgumentParser):
    """argparse whose own errors (a bad number, an unknown choice) are one line with exit 2, like ours.

    argparse prints the whole usage first (two dozen lines for ``cluster``), which buries the
    problem; the help is one ``--help`` away. Subcommand parsers are made of this class too
    (``add_subparsers`` uses the parent's class), also those other modules register.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"inbedder: error: {one_line(message)}; see `{self.prog} --help`\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="inbedder",
        description="Cluster and explain texts by how a language model answers YOUR question about them.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    cluster = commands.add_parser(
        "cluster", help="cluster texts by the answer to a question and explain each cluster",
        epilog=EPILOG_CLUSTER, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_arguments(cluster, several=True)
    cluster.add_argument("--k", type=parse_k, default=None,
                         help="number of clusters, or auto to choose it by silhouette (default 6, or the number of "
                              "--seed-answers)")
    cluster.add_argument("--label-column", help="gold labels: report V-measure and order clusters by purity")
    cluster.add_argument("--output", "-o", help="per-text results: .csv .tsv .jsonl or .parquet")
    cluster.add_argument("--embeddings", help="also save the embeddings: .npy or .safetensors")
    cluster.add_argument("--raw-csv", action="store_true", help=RAW_CSV_HELP)
    cluster.add_argument("--top-n", type=int, default=8, help="keywords per cluster (default %(default)s)")
    cluster.add_argument("--no-center", action="store_true",
                         help="cluster the raw unit vectors; by default the corpus' shared direction is taken out "
                              "first, which measured better on every test set (docs/fine-tuning.md)")
    cluster.add_argument("--no-standardize", action="store_true",
                         help="keep each dimension's own spread; by default every dimension is scaled to unit "
                              "variance over the corpus, so a few loud ones do not decide every distance")
    cluster.add_argument("--answer-space", type=int, metavar="N",
                         help="cluster in the answer space: the first answer token's log-probabilities over the "
                              "corpus' N likeliest tokens, beside the state (1st-gen of a causal LM; N = 50 measured "
                              "best: shipped reviews HM 77 → 82, robustness Δci 42 → 54, demo aspect V 0.88 → 0.83)")
    cluster.add_argument("--state-weight", type=float, default=None, metavar="W",
                         help="with --answer-space: the state's share of each cosine, 0..1 (default 0.2)")
    cluster.add_argument("--levels", type=int, choices=(1, 2), default=1,
                         help="2: also group the clusters into named parents (agglomerative on the centroids, the "
                              "number of parents by silhouette); with --describe each parent is described from its children")
    cluster.add_argument("--multi", type=int, metavar="N",
                         help="several answers per text: the model lists up to N (2-8) answers, each is embedded in "
                              "its text's context and the answers are clustered; a text joins every cluster one of "
                              "its answers falls in (--output gets clusters/answers lists, <output>.answers<suffix> "
                              "one row per answer; a --label-column cell 'a; b' is two labels)")
    add_analyst_arguments(cluster)
    add_model_arguments(cluster)
    scale = cluster.add_argument_group("scale-out (pip install -e '.[distributed]')")
    scale.add_argument("--engine", choices=("local", "ray"), default="local",
                       help="local: this process (default); ray: Ray Data workers, resumable Parquet shards in --output-dir")
    scale.add_argument("--address", help="Ray cluster to join: auto, host:port or ray://host:port (default: start one here)")
    scale.add_argument("--workers", type=int, default=1, help="Ray actors, each loads the model once (default %(default)s)")
    scale.add_argument("--gpus-per-worker", type=float, default=0, help="GPUs per Ray actor (default %(default)s)")
    scale.add_argument("--output-dir", help="--engine ray: folder for shards, clusters and summaries; a rerun resumes it")
    scale.add_argument("--shard-rows", type=int, default=256, help="texts per shard (default %(default)s)")
    scale.add_argument("--sample-size", type=int, default=100_000,
                       help="texts k-means is fitted on; every text is then assigned (default %(default)s)")

    embed = commands.add_parser(
        "embed", help="write instruction-following embeddings of texts",
        epilog=EPILOG_EMBED, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_input_arguments(embed)
    embed.add_argument("--output", "-o", required=True, help="embeddings file: .npy or .safetensors")
    embed.add_argument("--answers", help="also write each text's generated answer: .csv .tsv .jsonl or .parquet")
    embed.add_argument("--raw-csv", action="store_true", help=RAW_CSV_HELP)
    add_model_arguments(embed)

    demo = commands.add_parser("demo", help="cluster the shipped restaurant reviews under two questions")
    from inbedder.encoding.methods import METHODS

    demo.add_argument("--method", default="1st-gen", choices=METHODS, help="encoding method (default %(default)s)")
    demo.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    demo.add_argument("--model", help="a catalogue name (default: the default model, fetched on first use; "
                      "smollm2-135m is installed and the fastest)")
    for name in SUBCOMMAND_MODULES:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).register(commands)
    return parser


_READING_OPTIONS = ("text_column", "id_column", "label_column", "encoding")


def _read(source: InputOptions, *, quiet: bool) -> Corpus:
    corpus = source.read()
    if not quiet:
        for note in corpus.notes:  # notes name the reading options as the library does: show them as flags
            print(f"inbedder: {rename(note, FLAGS, _READING_OPTIONS)}", file=sys.stderr)
        if corpus.skipped:
            print(f"skipped {corpus.skipped} empty row(s) of {source.path}; their ids are left out of the output", file=sys.stderr)
    return corpus


def _questions(given: list[str]) -> list[str]:
    """The distinct questions in the order given; an empty one is refused before any work."""
    from inbedder.validation import check_instruction

    return list(dict.fromkeys(check_instruction(question) for question in given))


def run_cluster(args: argparse.Namespace) -> None:
    from inbedder.io.outputs import check_outputs
    from inbedder.validation import check_k, check_options

    started = time.time()
    run = ClusterCommand.from_args(args)  # below this line only options travel, never ``args``
    check_options(run.cluster, run.model)
    questions = _questions(args.instruction)
    plans = [_cluster_outputs(run.outputs, number if len(questions) > 1 else None, multi=bool(run.cluster.multi))
             for number in range(1, len(questions) + 1)]
    check_outputs([output for plan in plans for output in plan.values()], [run.source.path])
    check_analyst_outputs(run.analyst, len(questions), engine=run.engine, multi=bool(run.cluster.multi), files=[
        (Path(run.source.path), "the input"),
        *((file, f"an output ({output.flag})") for plan in plans for output in plan.values() for file in output.files)])
    if run.engine == "ray":
        from inbedder.cli.on_ray import run_on_ray

        if run.cluster.levels != 1:
            raise InBedderError("--engine ray does not take --levels 2 yet; run it with --engine local")

        run_on_ray(questions, source=run.source, model=run.model, cluster=run.cluster, ray=run.ray,
                   outputs=run.outputs, quiet=run.quiet)
        return
    corpus = _read(run.source, quiet=run.quiet)
    corpus, parent = within_corpus(corpus, within=run.analyst.within, batch_size=run.model.batch_size, quiet=run.quiet)
    if run.cluster.seed_answers:  # k is the number of seeds: speak of --seed-answers, not of a --k never typed
        from inbedder.clustering.seeding import check_seed_count

        check_seed_count(run.cluster.seed_answers, corpus.texts)
    check_k(run.cluster.n_clusters, corpus.texts)
    model = run.model.build()
    writer = load_writer_for(run.analyst, device=run.model.device, quiet=run.quiet, lists=bool(run.cluster.multi))
    if run.cluster.answer_space is not None:  # refused before any text is embedded
        from inbedder.clustering.answer_space import check_answer_space

        check_answer_space(model, model.method, run.cluster.answer_space, run.cluster.state_weight)
    if len(questions) > 1:  # one input pass for all questions; each clustering below then reads the cache
        model.encode_questions(corpus.texts, questions, batch_size=run.model.batch_size, show_progress_bar=not run.quiet)
    for number, (question, plan) in enumerate(zip(questions, plans), 1):
        _cluster_one(run, model, corpus, question, plan, started, parent=parent, writer=writer,
                     number=number if len(questions) > 1 else None)
        started = time.time()


def _cluster_outputs(outputs: OutputOptions, number: int | None, *, multi: bool = False) -> dict:
    """The files of one question's clustering: table, its sidecar (and answers table with --multi),
    embeddings (numbered when several)."""
    from inbedder.io.outputs import Output, embeddings_output, sidecar_path, table_output

    plan = {}
    if outputs.output:
        plan["table"] = table_output(_numbered(outputs.output, number), "--output")
        plan["sidecar"] = Output(sidecar_path(plan["table"].path), "--output (its .run.json)")
        if multi:
            from inbedder.cli.multi_report import answers_path

            plan["answers"] = table_output(answers_path(plan["table"].path), "--output (its .answers table)")
    if outputs.embeddings:
        plan["embeddings"] = embeddings_output(_numbered(outputs.embeddings, number), "--embeddings")
    return plan


def _numbered(path: str, number: int | None) -> str:
    """``out/r.csv`` -> ``out/r-q2.csv``: the file of the second question (unchanged for one question)."""
    if number is None:
        return path
    named = Path(path)
    return str(named.with_name(f"{named.stem}-q{number}{named.suffix}"))


def _cluster_one(run: ClusterCommand, model, corpus, question: str, plan: dict, started: float, *,
                 parent: dict | None, number: int | None, writer: InBedder | None = None) -> None:
    """Cluster, report and write the outputs of one question; the files land together or not at all."""
    from inbedder.io import write_embeddings, write_json, write_table
    from inbedder.io.outputs import staged_files
    from inbedder.cli.report import format_summary, per_text_frame, run_record

    clusterer = run.cluster.build(model, question, batch_size=run.model.batch_size, show_progress_bar=not run.quiet)
    multi, rows = None, corpus  # rows: what the clusterer's labels are of (texts, or with --multi answers)
    if run.cluster.multi:
        from inbedder.cli.multi_report import answer_rows_corpus, gold_sets
        from inbedder.clustering.multi import MultiAnswerClusterer

        multi = MultiAnswerClusterer(clusterer, max_answers=run.cluster.multi, lister=writer).fit(
            corpus.texts, gold_sets(corpus.labels))
        clusterer, rows = multi.answer_clusterer_, answer_rows_corpus(corpus, multi)
    else:
        clusterer.fit(corpus.texts, corpus.labels)
    clusterer.parent_ = parent
    info = finish_clustering(clusterer, top_n=run.cluster.top_n, name_clusters=run.analyst.name_clusters,
                             describe=run.analyst.describe, judge=run.analyst.judge, writer=writer, quiet=run.quiet)
    chosen = _chosen_k(run.cluster, clusterer)
    if not run.quiet:
        if chosen:
            print(chosen)
        print(format_summary(info, clusterer, rows))
        if multi is not None:
            from inbedder.cli.multi_report import multi_lines

            print("\n".join(multi_lines(multi)))
    with staged_files() as staged:
        if "embeddings" in plan:  # with --multi one row per answer, under its text's id
            write_embeddings(clusterer.embeddings_, rows.ids, staged.path(plan["embeddings"].path))
        if "table" in plan:
            write_table(per_text_frame(rows, clusterer), staged.path(plan["answers" if multi else "table"].path),
                        raw_csv=run.outputs.raw_csv)
            options = run.flags(instruction=question, output=str(plan["table"].path))
            if chosen:
                options["k_chosen"] = int(clusterer.n_clusters_)
            record = run_record(options, model, clusterer, info, rows, time.time() - started)
            if multi is not None:
                from inbedder.cli.multi_report import multi_record, per_text_multi_frame

                write_table(per_text_multi_frame(corpus, multi), staged.path(plan["table"].path), raw_csv=run.outputs.raw_csv)
                record["multi"] = multi_record(multi, plan["answers"].path)
                record["texts"] = len(corpus.texts)
            write_json(record, staged.path(plan["sidecar"].path))
    written = [str(output.path) for output in plan.values()]
    if run.analyst.save_clustering:
        written.append(str(clusterer.save(_numbered(run.analyst.save_clustering, number))))
    if not run.quiet and written:
        print("wrote " + ", ".join(written))


def _chosen_k(options: ClusterOptions, clusterer) -> str | None:
    """With ``--k auto``, the k the clusterer chose and the silhouette that chose it (None otherwise)."""
    if options.n_clusters != "auto":
        return None
    k = int(clusterer.n_clusters_)
    scores = getattr(clusterer, "silhouette_scores_", None) or {}
    tried = ", ".join(f"{n}: {score:.3f}" for n, score in sorted(scores.items()))
    return f"--k auto chose k={k}" + (f" by silhouette ({tried})" if tried else "")


def run_embed(args: argparse.Namespace) -> None:
    import pandas as pd

    from inbedder.io import write_embeddings, write_table
    from inbedder.io.outputs import check_outputs, embeddings_output, staged_files, table_output
    from inbedder.cli.report import id_column
    from inbedder.validation import check_options

    source, options = InputOptions.from_args(args), ModelOptions.from_args(args)
    check_options(options)
    question = _questions([args.instruction])[0]
    outputs = [embeddings_output(args.output, "--output")]
    if args.answers:
        outputs.append(table_output(args.answers, "--answers"))
    check_outputs(outputs, [args.input])
    corpus = _read(source, quiet=args.quiet)
    model = options.build()
    encoded = model.encode_with_answers(
        corpus.texts, question, batch_size=options.batch_size, show_progress_bar=not args.quiet,
        answers=bool(args.answers),
    )
    with staged_files() as staged:
        write_embeddings(encoded.embeddings, corpus.ids, staged.path(outputs[0].path))
        if args.answers:
            answers = pd.DataFrame({id_column(corpus): corpus.output_ids(), "text": corpus.texts, "answer": encoded.answers})
            write_table(answers, staged.path(outputs[1].path), raw_csv=args.raw_csv)
    if not args.quiet:
        print(f"wrote {encoded.embeddings.shape[0]} × {encoded.embeddings.shape[1]} embeddings to {outputs[0].path}")


def run_demo(args: argparse.Namespace) -> None:
    from inbedder.cli.demo import run

    run(method=args.method, model=args.model, show_progress_bar=not args.quiet)

def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.ERROR if getattr(args, "quiet", False) else logging.WARNING, format="inbedder: %(message)s")
    warnings.filterwarnings("ignore", category=FutureWarning)
    handlers = {"cluster": run_cluster, "embed": run_embed, "demo": run_demo}
    try:
        handler = handlers.get(args.command) or args.handler
        handler(args)
    except InBedderError as error:
        print(f"inbedder: error: {error.renamed(FLAGS)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("inbedder: interrupted; finished batches are cached, re-run the same command to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

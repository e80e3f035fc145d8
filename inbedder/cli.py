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

from inbedder.errors import InBedderError

# Sub-packages that add their own subcommands: each has ``register(commands)`` which adds a
# parser and sets ``handler=`` on it. Their top level must stay light (no torch import).
SUBCOMMAND_MODULES = (
    "inbedder.evaluation.cli",
    "inbedder.finetune.cli",
    "inbedder.app.cli",
)

EPILOG_CLUSTER = """examples:
  inbedder cluster reviews.csv --text-column review \\
      --instruction "What is the customer complaining about?" --k 6 --output clusters.parquet
  inbedder cluster tickets.jsonl --instruction "What does the customer need?" --k 8 \\
      --label-column intent --output out/tickets.csv --embeddings out/tickets.npy

  inbedder cluster reviews.csv --text-column review --k 4 \
      --instruction "What is the review about?" --instruction "Is the customer happy?" -o out/r.csv

Writes per-text rows (id or row, text, cluster, answer) to --output and the run's parameters,
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


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    from inbedder.methods import METHODS

    group = parser.add_argument_group("model")
    group.add_argument("--model", help="hub id or local model directory (default: the embedded SmolLM2-135M-Instruct, offline)")
    group.add_argument("--adapter", help="LoRA adapter directory to merge into the model (e.g. from `inbedder finetune`); "
                       "the embedded model uses the shipped InBedder adapter unless this is 'none'")
    group.add_argument("--method", choices=METHODS, help="encoding method (paper §4.1); default 1st-gen (avg-gen for masked LMs)")
    group.add_argument(
        "--template", default="auto",
        help="prompt template: inbedder, chat, chat-brief, or a string with {input} and {instruction} "
        "(default auto: the adapter's training template, else chat-brief for chat models)",
    )
    group.add_argument("--max-length", type=int, default=512, help="max prompt tokens; longer inputs are cut and reported (default %(default)s)")
    group.add_argument("--max-new-tokens", type=int, default=None, help="answer length in tokens (default: the adapter's recorded length, else 8)")
    group.add_argument("--layer", type=int, default=None, help="hidden layer to read (default: last)")
    group.add_argument(
        "--answer-prefix", default="auto",
        help="text put at the start of every answer; 'auto' (default) finds the words the model's answers "
        "share before the content (e.g. 'The sentiment of the review is') and skips them; 'none' to disable",
    )
    group.add_argument("--no-filter", action="store_true", help="keep stopword/instruction-word states in avg-gen (paper §4.3)")
    group.add_argument("--samples", type=int, default=3, help="answers sampled per text for re-enc (default %(default)s)")
    group.add_argument("--temperature", type=float, default=0.7, help="sampling temperature for re-enc (default %(default)s)")
    group.add_argument("--sentence-encoder", help="sentence-transformers model for re-enc/prompt (default: embedded all-MiniLM-L6-v2)")
    group.add_argument("--batch-size", type=int, default=16, help="texts per batch (default %(default)s)")
    group.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    group.add_argument("--seed", type=int, default=0, help="seed for k-means and sampling (default %(default)s)")
    group.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    group.add_argument("--compile", action="store_true",
                       help="torch.compile the prompt pass of causal LMs: ~20%% faster after a one-off 1-3 min compile; "
                            "worth it from a few thousand texts")


def _add_input_options(parser: argparse.ArgumentParser, several: bool = False) -> None:
    parser.add_argument("input", help="texts: .csv .tsv .jsonl .json .parquet, or .txt with one text per line")
    question = 'the question to answer about each text, e.g. "What is the topic?"'
    if several:
        parser.add_argument("--instruction", "-i", required=True, action="append",
                            help=question + "; repeat it to cluster under several questions in one input pass")
    else:
        parser.add_argument("--instruction", "-i", required=True, help=question)
    parser.add_argument("--text-column", help="column holding the texts (default: 'text' or the only text column)")
    parser.add_argument("--id-column", help="column of ids to keep in the output, as its 'id' column (default: the input's "
                        "own 'id' column when it has one, else 0-based row numbers in a column named 'row')")
    parser.add_argument("--encoding", default="utf-8", help="input file encoding (default %(default)s)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars or summaries, errors only")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inbedder",
        description="Cluster and explain texts by how a language model answers YOUR question about them.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    cluster = commands.add_parser(
        "cluster", help="cluster texts by the answer to a question and explain each cluster",
        epilog=EPILOG_CLUSTER, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_input_options(cluster, several=True)
    cluster.add_argument("--k", type=int, default=6, help="number of clusters (default %(default)s)")
    cluster.add_argument("--label-column", help="gold labels: report V-measure and order clusters by purity")
    cluster.add_argument("--output", "-o", help="per-text results: .csv .tsv .jsonl or .parquet")
    cluster.add_argument("--embeddings", help="also save the embeddings: .npy or .safetensors")
    cluster.add_argument("--top-n", type=int, default=8, help="keywords per cluster (default %(default)s)")
    _add_model_options(cluster)

    embed = commands.add_parser(
        "embed", help="write instruction-following embeddings of texts",
        epilog=EPILOG_EMBED, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_input_options(embed)
    embed.add_argument("--output", "-o", required=True, help="embeddings file: .npy or .safetensors")
    embed.add_argument("--answers", help="also write each text's generated answer: .csv .tsv .jsonl or .parquet")
    _add_model_options(embed)

    demo = commands.add_parser("demo", help="cluster the shipped restaurant reviews under two questions")
    demo.add_argument("--method", default="1st-gen", help="encoding method (default %(default)s)")
    demo.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    for name in SUBCOMMAND_MODULES:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).register(commands)
    return parser


def _embedder(args: argparse.Namespace):
    from inbedder.models import check_model, resolve_adapter

    check_model(args.model, adapter=resolve_adapter(args.model, args.adapter))  # before torch loads
    from inbedder.embedder import InBedder

    return InBedder(
        args.model, args.adapter, template=args.template, method=args.method, max_length=args.max_length,
        max_new_tokens=args.max_new_tokens, layer=args.layer, filter_answer_words=not args.no_filter,
        answer_prefix="" if args.answer_prefix == "none" else args.answer_prefix,
        samples=args.samples, temperature=args.temperature, sentence_encoder=args.sentence_encoder,
        device=args.device, cache=False if args.no_cache else None, seed=args.seed,
        compile=getattr(args, "compile", False),
    )


def _read(args: argparse.Namespace, label_column: str | None = None):
    from inbedder.io import read_corpus

    corpus = read_corpus(args.input, args.text_column, args.id_column, label_column, args.encoding)
    if not args.quiet:
        for note in getattr(corpus, "notes", ()):
            print(f"inbedder: {note}", file=sys.stderr)
        if corpus.skipped:
            print(f"skipped {corpus.skipped} empty row(s) of {args.input}; their ids are left out of the output", file=sys.stderr)
    return corpus


def _questions(given: list[str]) -> list[str]:
    """The distinct questions in the order given; an empty one is refused before any work."""
    from inbedder.validation import check_instruction

    return list(dict.fromkeys(check_instruction(question) for question in given))


def run_cluster(args: argparse.Namespace) -> None:
    from inbedder.outputs import check_outputs
    from inbedder.validation import check_k, check_options

    started = time.time()
    check_options(args)
    questions = _questions(args.instruction)
    plans = [_cluster_outputs(args, number if len(questions) > 1 else None) for number in range(1, len(questions) + 1)]
    check_outputs([output for plan in plans for output in plan.values()], [args.input])
    corpus = _read(args, args.label_column)
    check_k(args.k, corpus.texts)
    model = _embedder(args)
    if len(questions) > 1:  # one input pass for all questions; each clustering below then reads the cache
        model.encode_questions(corpus.texts, questions, method=args.method, batch_size=args.batch_size, show_progress_bar=not args.quiet)
    for question, plan in zip(questions, plans):
        _cluster_one(args, model, corpus, question, plan, started)
        started = time.time()


def _cluster_outputs(args: argparse.Namespace, number: int | None) -> dict:
    """The files of one question's clustering: table, its sidecar, embeddings (numbered when several)."""
    from inbedder.outputs import Output, embeddings_output, sidecar_path, table_output

    plan = {}
    if args.output:
        plan["table"] = table_output(_numbered(args.output, number), "--output")
        plan["sidecar"] = Output(sidecar_path(plan["table"].path), "--output (its .run.json)")
    if args.embeddings:
        plan["embeddings"] = embeddings_output(_numbered(args.embeddings, number), "--embeddings")
    return plan


def _numbered(path: str, number: int | None) -> str:
    """``out/r.csv`` -> ``out/r-q2.csv``: the file of the second question (unchanged for one question)."""
    if number is None:
        return path
    named = Path(path)
    return str(named.with_name(f"{named.stem}-q{number}{named.suffix}"))


def _cluster_one(args: argparse.Namespace, model, corpus, question: str, plan: dict, started: float) -> None:
    """Cluster, report and write the outputs of one question; the files land together or not at all."""
    from inbedder.clustering import InstructionClusterer
    from inbedder.io import write_embeddings, write_json, write_table
    from inbedder.outputs import staged_files
    from inbedder.report import format_summary, per_text_frame, run_record

    clusterer = InstructionClusterer(
        model, question, n_clusters=args.k, method=args.method, batch_size=args.batch_size, random_state=args.seed,
        show_progress_bar=not args.quiet,
    ).fit(corpus.texts, corpus.labels)
    info = clusterer.cluster_info(top_n_keywords=args.top_n)
    if not args.quiet:
        print(format_summary(info, clusterer, corpus))
    with staged_files() as staged:
        if "embeddings" in plan:
            write_embeddings(clusterer.embeddings_, corpus.ids, staged.path(plan["embeddings"].path))
        if "table" in plan:
            write_table(per_text_frame(corpus, clusterer), staged.path(plan["table"].path))
            options = vars(args) | {"instruction": question, "output": str(plan["table"].path)}
            record = run_record(options, model, clusterer, info, corpus, time.time() - started)
            write_json(record, staged.path(plan["sidecar"].path))
    if not args.quiet and plan:
        print("wrote " + ", ".join(str(output.path) for output in plan.values()))


def run_embed(args: argparse.Namespace) -> None:
    import pandas as pd

    from inbedder.io import write_embeddings, write_table
    from inbedder.outputs import check_outputs, embeddings_output, staged_files, table_output
    from inbedder.report import id_column
    from inbedder.validation import check_options

    check_options(args)
    question = _questions([args.instruction])[0]
    outputs = [embeddings_output(args.output, "--output")]
    if args.answers:
        outputs.append(table_output(args.answers, "--answers"))
    check_outputs(outputs, [args.input])
    corpus = _read(args)
    model = _embedder(args)
    encoded = model.encode_with_answers(
        corpus.texts, question, method=args.method, batch_size=args.batch_size, show_progress_bar=not args.quiet,
        answers=bool(args.answers),
    )
    with staged_files() as staged:
        write_embeddings(encoded.embeddings, corpus.ids, staged.path(outputs[0].path))
        if args.answers:
            answers = pd.DataFrame({id_column(corpus): corpus.ids, "text": corpus.texts, "answer": encoded.answers})
            write_table(answers, staged.path(outputs[1].path))
    if not args.quiet:
        print(f"wrote {encoded.embeddings.shape[0]} × {encoded.embeddings.shape[1]} embeddings to {outputs[0].path}")


def run_demo(args: argparse.Namespace) -> None:
    from inbedder.demo import run

    run(method=args.method, show_progress_bar=not args.quiet)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.ERROR if getattr(args, "quiet", False) else logging.WARNING, format="inbedder: %(message)s")
    warnings.filterwarnings("ignore", category=FutureWarning)
    handlers = {"cluster": run_cluster, "embed": run_embed, "demo": run_demo}
    try:
        handler = handlers.get(args.command) or args.handler
        handler(args)
    except InBedderError as error:
        print(f"inbedder: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("inbedder: interrupted; finished batches are cached, re-run the same command to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

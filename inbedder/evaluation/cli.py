"""``inbedder evaluate awareness|robustness|compare``: the paper's tests from the command line.

Every run prints its tables and writes ``results.json`` (every figure and the run's parameters)
and ``results.md`` (the tables) to ``--output-dir``. Heavy imports wait for the handler.
"""

from __future__ import annotations

import argparse
import platform
import shlex
import sys
import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from inbedder.errors import InBedderError
from inbedder.cli.options import ModelOptions, add_model_arguments

DEFAULT_METHODS = "prompt,1st-gen,avg-gen,re-enc"

EPILOG_AWARENESS = """examples:
  inbedder evaluate awareness                              # 1st-gen of the default model, shipped sets
  inbedder evaluate awareness --method avg-gen --tasks triplets,sts --limit 40
  inbedder evaluate awareness --model facebook/opt-1.3b --adapter runs/my-adapter --data hub

Tests (paper §3.2): triplets (IntentEmotion: harmonic mean of the intent and emotion success
rates), sts (InstructSTS: Spearman of cosine vs 0/1 label), clustering (one corpus under two
questions: harmonic mean of the two V-measures). The references `prompt` (sentence encoder on
instruction + text) and `no-instruction` (same encoder, text alone) are added to every table."""

EPILOG_ROBUSTNESS = """examples:
  inbedder evaluate robustness --method 1st-gen
  inbedder evaluate robustness --limit 64 --output-dir runs/robustness-quick
  inbedder evaluate robustness --spec my_tasks.json   # same shape as data/eval/robustness_instructions.json

Clusters each corpus under 10 correct, 10 implicit and 10 incorrect instructions (paper §3.3) and
reports the mean V-measure of each set, Δci = correct − incorrect, Δii = implicit − incorrect and
the strict forms min(correct/implicit) − max(incorrect). A spec's corpus may be a file next to it
or a hub clustering set such as BrandonZYW/FeedbacksClustering (needs `pip install datasets`)."""

EPILOG_COMPARE = """examples:
  inbedder evaluate compare                                 # prompt,1st-gen,avg-gen,re-enc, every test
  inbedder evaluate compare --methods 1st-gen,avg-gen --tasks triplets,sts --limit 40
  inbedder evaluate compare --limit 64 --robustness-limit 48 --output-dir runs/quick
  inbedder evaluate compare --models embedded,runs/my-merged-model --methods 1st-gen

The paper's Table 1 shape: one row per method (and per model with --models) plus the references
`prompt` and `no-instruction`, one column per test. Embeddings are cached on disk, so a second
run with more methods only embeds what is new; an interrupted run resumes."""


def register(commands) -> None:
    """Add ``evaluate`` and its three subcommands to the ``inbedder`` command."""
    evaluate = commands.add_parser(
        "evaluate", help="measure how well an embedder follows instructions (paper §3.2–3.3)",
        description="Instruction-awareness and instruction-robustness tests, with a comparison table.",
    )
    tests = evaluate.add_subparsers(dest="evaluate_command", required=True, metavar="TEST")

    awareness = tests.add_parser(
        "awareness", help="triplets, instruction STS and multi-labelling clustering for one method",
        epilog=EPILOG_AWARENESS, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    awareness.add_argument("--tasks", default="all", help="all, or a comma list of: triplets,sts,clustering (default all)")
    _add_data_option(awareness)
    _add_run_options(awareness, limit_help="keep N triplets per criterion, N STS pairs and N clustering texts (seeded)")
    add_model_arguments(awareness)
    awareness.set_defaults(handler=run_awareness)

    robustness = tests.add_parser(
        "robustness", help="clustering under correct, implicit and incorrect instructions for one method",
        epilog=EPILOG_ROBUSTNESS, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_spec_option(robustness)
    _add_run_options(robustness, limit_help="keep N texts of each corpus (seeded); each is embedded under 30 instructions")
    add_model_arguments(robustness)
    robustness.set_defaults(handler=run_robustness)

    compare = tests.add_parser(
        "compare", help="every test for several methods (and models) plus references: the paper's Table 1",
        epilog=EPILOG_COMPARE, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compare.add_argument("--methods", default=DEFAULT_METHODS, help="comma list of encoding methods (default %(default)s)")
    compare.add_argument("--models", help="comma list of models to compare ('embedded' = the default model); default: --model")
    compare.add_argument("--tasks", default="all", help="all, or a comma list of: triplets,sts,clustering,robustness (default all)")
    _add_data_option(compare)
    _add_spec_option(compare)
    _add_run_options(compare, limit_help="keep N triplets per criterion, N STS pairs and N corpus texts (seeded)")
    compare.add_argument("--robustness-limit", type=int, metavar="N", help="texts per robustness corpus (default: --limit)")
    add_model_arguments(compare)
    compare.set_defaults(handler=run_compare)


def _add_data_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", default="shipped", choices=("shipped", "hub"),
        help="shipped: the offline sets in data/eval and data/reviews.csv (default); hub: the paper's published "
        "sets (BrandonZYW/IntentEmotion, InstructSTSB, NYTClustering; needs `pip install datasets` and network)",
    )


def _add_spec_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spec", help="robustness tasks as JSON (default: the shipped data/eval/robustness_instructions.json)")


def _add_run_options(parser: argparse.ArgumentParser, limit_help: str) -> None:
    parser.add_argument("--limit", type=int, metavar="N", help=f"{limit_help}; for quick runs (default: full sets)")
    parser.add_argument("--output-dir", "-o", help="where results.json and results.md go (default runs/evaluate-<test>-<time>/)")
    parser.add_argument("--no-references", action="store_true", help="leave out the prompt and no-instruction reference rows")
    parser.add_argument("--no-center", action="store_true",
                        help="k-means on the raw unit rows, not centred on the corpus mean (the clusterer's --no-center)")
    parser.add_argument("--no-standardize", action="store_true",
                        help="k-means without scaling each dimension to unit variance (the clusterer's --no-standardize)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars or tables, errors only")


# --------------------------------------------------------------------------- handlers
@dataclass(frozen=True)
class EvaluateOptions:
    """One ``inbedder evaluate`` run, as options: the test, the models, its data and limits, k-means, the output.

    ``parameters`` are the flags as typed (the subcommand's own set), kept for ``results.json``.
    """

    test: str
    model: ModelOptions
    models: str | None = None
    data: str = "shipped"
    spec: str | None = None
    limit: int | None = None
    robustness_limit: int | None = None
    output_dir: str | None = None
    references: bool = True
    center: bool = True
    standardize: bool = True
    quiet: bool = False
    parameters: dict | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> EvaluateOptions:
        return cls(
            test=args.evaluate_command, model=ModelOptions.from_args(args), models=getattr(args, "models", None),
            data=getattr(args, "data", "shipped"), spec=getattr(args, "spec", None), limit=args.limit,
            robustness_limit=getattr(args, "robustness_limit", None), output_dir=args.output_dir,
            references=not args.no_references, center=not args.no_center, standardize=not args.no_standardize,
            quiet=args.quiet, parameters={key: value for key, value in vars(args).items() if key != "handler"},
        )


def run_awareness(args: argparse.Namespace) -> None:
    from inbedder.evaluation.suite import AWARENESS_TASKS, parse_tasks

    tasks = parse_tasks(args.tasks, AWARENESS_TASKS)
    _run(EvaluateOptions.from_args(args), tasks, methods=[args.method] if args.method else None)


def run_robustness(args: argparse.Namespace) -> None:
    _run(EvaluateOptions.from_args(args), ["robustness"], methods=[args.method] if args.method else None)


def run_compare(args: argparse.Namespace) -> None:
    from inbedder.encoding.methods import METHODS
    from inbedder.evaluation.suite import parse_tasks

    if args.method:
        raise InBedderError("compare takes methods (a comma list), not method", parameter=("methods", "method"))
    methods = [name.strip() for name in args.methods.split(",") if name.strip()]
    unknown = [name for name in methods if name not in METHODS]
    if unknown or not methods:
        raise InBedderError(f"methods={args.methods!r}: unknown method(s) {', '.join(unknown) or '(none given)'}; "
                            f"choose from: {', '.join(METHODS)}", parameter="methods")
    tasks = parse_tasks(args.tasks)
    _run(EvaluateOptions.from_args(args), tasks, methods)


def _run(options: EvaluateOptions, tasks: list[str], methods: list[str] | None) -> None:
    from inbedder.evaluation.api import build_subjects, build_suite
    from inbedder.evaluation.report import all_tables, write_run
    from inbedder.evaluation.suite import run_suite
    from inbedder.validation import check_options

    check_options(options.model)
    started = time.time()
    output_dir = _output_dir(options.output_dir, test=options.test)
    suite = build_suite(
        tasks, options.data, spec=options.spec, limit=options.limit, robustness_limit=options.robustness_limit,
        seed=options.model.seed, center=options.center, standardize=options.standardize,
    )
    models = [replace(options.model, model=name).build() for name in _model_names(options.models, options.model)]
    methods = methods or [models[0].method]
    subjects = build_subjects(models, methods, references=options.references, batch_size=options.model.batch_size,
                              show_progress_bar=not options.quiet)

    def record(rows: list[dict], complete: bool) -> dict:
        return {
            "command": f"evaluate {options.test}",
            "command_line": _command_line(options.test),
            "complete": complete,  # False while a long run is still going: the rows so far
            "started": datetime.fromtimestamp(started).isoformat(timespec="seconds"),
            "wall_seconds": round(time.time() - started, 1),
            "model": ", ".join(model.loaded.name for model in models),
            "adapter": ", ".join(model.loaded.adapter or "none" for model in models),  # as resolved: shipped default included
            "tasks": tasks,
            "center": suite.center,  # k-means on centred rows (the default) or raw unit rows
            "standardize": suite.standardize,  # each dimension scaled to unit variance (the default)
            "parameters": dict(options.parameters or {}),
            "data": suite.describe(),
            "subjects": rows,
            "environment": _environment(),
        }

    rows = run_suite(subjects, suite, show_progress_bar=not options.quiet,
                     on_row=lambda so_far: write_run(record(so_far, False), output_dir))
    final = record(rows, True)
    json_path, md_path = write_run(final, output_dir)
    if not options.quiet:
        print(all_tables(rows))
        print(f"\nwall time {final['wall_seconds']:.0f} s; wrote {json_path} and {md_path}")


def _model_names(models: str | None, model: ModelOptions) -> list[str | None]:
    """The models to evaluate: ``--models`` ('embedded' = the default model), else ``--model``."""
    if not models:
        return [model.model]
    names = [None if name.strip() in ("embedded", "default") else name.strip()
             for name in models.split(",") if name.strip()]
    if model.adapter and len(names) > 1:
        raise InBedderError("adapter with several models is ambiguous; run compare once per adapter",
                            parameter=("adapter", "models"))
    return names


def _output_dir(output_dir: str | None, *, test: str) -> Path:
    folder = Path(output_dir) if output_dir else Path("runs") / f"evaluate-{test}-{datetime.now():%Y%m%d-%H%M%S}"
    if folder.exists() and not folder.is_dir():
        raise InBedderError(f"output_dir={str(folder)!r} is a file; give a folder", parameter="output_dir")
    return folder  # created when the results are written, so a failed run leaves nothing behind


def _command_line(test: str) -> str:
    if Path(sys.argv[0]).name == "inbedder":
        return shlex.join(["inbedder", *sys.argv[1:]])
    return f"inbedder evaluate {test} (called from Python: see parameters)"


def _environment() -> dict:
    import sklearn
    import torch
    import transformers

    from inbedder.version import __version__

    return {"inbedder": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "scikit-learn": sklearn.__version__,
            "threads": torch.get_num_threads()}

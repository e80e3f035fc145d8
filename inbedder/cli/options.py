"""The options of a run as dataclasses, built by every front end (as :class:`FinetuneConfig` is).

* :class:`ModelOptions`: everything :class:`~inbedder.InBedder` takes, plus ``batch_size`` (how
  many texts each encode call runs at once); :meth:`ModelOptions.build` makes the embedder.
* :class:`InputOptions`: the file and its columns; :meth:`InputOptions.read` gives the corpus.
* :class:`ClusterOptions`: k (or ``"auto"``), keywords per cluster, the k-means seed;
  :meth:`ClusterOptions.build` makes the :class:`~inbedder.InstructionClusterer`.

The command-line side lives here too: :func:`add_model_arguments` and :func:`add_input_arguments`
declare the flags and each ``from_args`` reads them back, so a flag, its default and its field
cannot drift apart. ``inbedder cluster|embed``, ``inbedder evaluate`` and the explorer all build
options this way; for several models use ``dataclasses.replace(options, model=name)``.

Importing this module imports neither torch nor the embedder (``inbedder --help`` stays fast).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from inbedder.models.settings import EmbedderSettings
from inbedder.validation import AUTO, check_options

if TYPE_CHECKING:
    from inbedder.clustering.estimator import InstructionClusterer
    from inbedder.encoding.embedder import InBedder
    from inbedder.io import Corpus

__all__ = [
    "ClusterOptions", "InputOptions", "ModelOptions", "add_input_arguments", "add_model_arguments", "parse_k",
]


@dataclass(frozen=True)
class ModelOptions(EmbedderSettings):
    """How to build the embedder (:class:`~inbedder.models.settings.EmbedderSettings`) and run it.

    ``batch_size`` is not an ``InBedder`` setting but the one of every ``encode`` call made with
    the built model.
    """

    batch_size: int = 16

    def build(self) -> InBedder:
        """The embedder; the model and adapter are checked first, in one line, before torch loads."""
        from inbedder.encoding.building import embedder_from_settings

        return embedder_from_settings(self)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ModelOptions:
        """The options given by the flags of :func:`add_model_arguments`."""
        return cls(
            model=args.model, adapter=args.adapter, template=args.template, method=args.method,
            max_length=args.max_length, max_new_tokens=args.max_new_tokens, layer=args.layer,
            filter_answer_words=not args.no_filter,
            answer_prefix="" if args.answer_prefix == "none" else args.answer_prefix,
            samples=args.samples, temperature=args.temperature, sentence_encoder=args.sentence_encoder,
            device=args.device, cache=False if args.no_cache else None, seed=args.seed, compile=args.compile,
            dtype=getattr(args, "dtype", "auto"), batch_size=args.batch_size,
        )


@dataclass(frozen=True)
class InputOptions:
    """The file of texts and which of its columns hold texts, ids and gold labels."""

    path: str | Path
    text_column: str | None = None
    id_column: str | None = None
    label_column: str | None = None
    encoding: str = "utf-8"

    def read(self) -> Corpus:
        """The corpus; see :func:`inbedder.io.read_corpus`."""
        from inbedder.io import read_corpus

        return read_corpus(self.path, **{name: value for name, value in asdict(self).items() if name != "path"})

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> InputOptions:
        """The options given by :func:`add_input_arguments` (and ``--label-column`` where a command has it)."""
        return cls(
            path=args.input, text_column=args.text_column, id_column=args.id_column,
            label_column=getattr(args, "label_column", None), encoding=args.encoding,
        )


@dataclass(frozen=True)
class ClusterOptions:
    """How to cluster and explain: ``n_clusters`` (an int ≥ 2, or ``"auto"``), keywords, seed,
    outliers (``min_similarity``: a cosine, ``"auto"`` or None), ``seed_answers``, ``center``, ``standardize``
    and the answer space (``answer_space``, ``state_weight``)."""

    n_clusters: int | Literal["auto"] = 6
    top_n: int = 8
    random_state: int = 0
    min_similarity: float | Literal["auto"] | None = None
    seed_answers: tuple[str, ...] | None = None
    center: bool = True
    standardize: bool = True
    answer_space: int | None = None
    state_weight: float = 0.2
    levels: int = 1
    multi: int | None = None

    def check(self) -> None:
        check_options(self)

    def build(
        self, model: InBedder, instruction: str, *, batch_size: int = 16, show_progress_bar: bool | None = None,
    ) -> InstructionClusterer:
        """An unfitted clusterer of ``model``'s answers to ``instruction``."""
        from inbedder.clustering.estimator import InstructionClusterer

        return InstructionClusterer(
            model, instruction, n_clusters=self.n_clusters, batch_size=batch_size, random_state=self.random_state,
            min_similarity=self.min_similarity, seed_answers=self.seed_answers, center=self.center,
            standardize=self.standardize, answer_space=self.answer_space, state_weight=self.state_weight,
            levels=self.levels, show_progress_bar=show_progress_bar,
        )

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ClusterOptions:
        """``--k`` (default 6, or the number of ``--seed-answers``), ``--min-similarity``/``--outliers``."""
        from inbedder.errors import InBedderError
        from inbedder.clustering.layers import check_levels
        from inbedder.clustering.outliers import check_min_similarity
        from inbedder.clustering.seeding import parse_seeds

        seeds = tuple(parse_seeds(args.seed_answers)) if getattr(args, "seed_answers", None) is not None else None
        k = args.k
        if seeds and k is not None and k != len(seeds):
            raise InBedderError(f"--seed-answers gives {len(seeds)} seeds, so k is {len(seeds)}; drop --k or pass --k {len(seeds)}")
        if getattr(args, "outliers", None) and getattr(args, "min_similarity", None) is not None:
            raise InBedderError("--outliers auto and --min-similarity both set the outlier threshold; pass one of them")
        similarity = "auto" if getattr(args, "outliers", None) == "auto" else getattr(args, "min_similarity", None)
        check_min_similarity(similarity)
        levels = getattr(args, "levels", 1)
        check_levels(levels, len(seeds) if seeds else k)  # fewer than three clusters to group: refused here
        multi = getattr(args, "multi", None)
        if multi is not None:
            from inbedder.encoding.multi import check_max_answers

            check_max_answers(multi)
            if getattr(args, "engine", "local") == "ray" or getattr(args, "answer_space", None) is not None:
                raise InBedderError("--multi lists answers in this process, by the states of the answer text: drop "
                                    "--engine ray and --answer-space, or drop --multi")
        weight = getattr(args, "state_weight", None)
        if weight is not None and getattr(args, "answer_space", None) is None:  # it would be ignored, yet recorded
            raise InBedderError("--state-weight weighs the state against the answer space, which is off; "
                                "add --answer-space N (50 measured best) or drop --state-weight")
        return cls(n_clusters=len(seeds) if seeds else (6 if k is None else k), top_n=args.top_n, random_state=args.seed,
                   min_similarity=similarity, seed_answers=seeds, center=not getattr(args, "no_center", False),
                   standardize=not getattr(args, "no_standardize", False),
                   answer_space=getattr(args, "answer_space", None), state_weight=0.2 if weight is None else weight,
                   levels=levels, multi=multi)


# --------------------------------------------------------------------------- the flags


def parse_k(text: str) -> int | str:
    """``--k``: a whole number (its range is checked with the other numbers) or ``auto``."""
    if text.strip().lower() == AUTO:
        return AUTO
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of clusters: use a whole number such as 6, or auto") from None


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``model`` flags: each field of :class:`ModelOptions`, read back by :meth:`ModelOptions.from_args`."""
    from inbedder.encoding.methods import METHODS

    group = parser.add_argument_group("model")
    group.add_argument("--model", help="a catalogue name (`inbedder models`: smollm2-135m, qwen2.5-coder-0.5b, "
                       "qwen2.5-coder-1.5b; fetched on first use), a hub id or a local model directory "
                       "(default: qwen2.5-coder-1.5b with its adapter, or INBEDDER_MODEL; smollm2-135m is "
                       "installed, offline and 4-10x faster)")
    group.add_argument("--dtype", choices=("auto", "fp32", "bf16"), default="auto",
                       help="number format: auto (default) is bf16 on CUDA and on CPUs with AVX512-BF16 or AMX "
                            "(2-6× faster), fp32 elsewhere (bf16 is emulated there and far slower); INBEDDER_DTYPE=fp32 "
                            "makes auto fp32 on every machine (the same figures everywhere)")
    group.add_argument("--adapter", help="LoRA adapter directory to merge into the model (e.g. from `inbedder finetune`); "
                       "a catalogue model uses its shipped InBedder adapter unless this is 'none'")
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


def add_input_arguments(parser: argparse.ArgumentParser, *, several: bool = False) -> None:
    """The input file, its columns, the question (``several``: repeatable) and ``--quiet``."""
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


# --------------------------------------------------------------------------- inbedder cluster's other flags


@dataclass(frozen=True)
class OutputOptions:
    """Where ``inbedder cluster`` writes: the per-text table, the embeddings, and how CSV cells are written."""

    output: str | None = None
    embeddings: str | None = None
    raw_csv: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> OutputOptions:
        return cls(output=args.output, embeddings=args.embeddings, raw_csv=args.raw_csv)


@dataclass(frozen=True)
class RayOptions:
    """``--engine ray``: the Ray cluster to join, its actors, the shards' folder and size, the k-means sample."""

    address: str | None = None
    workers: int = 1
    gpus_per_worker: float = 0
    output_dir: str | None = None
    shard_rows: int = 256
    sample_size: int = 100_000

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RayOptions:
        return cls(address=args.address, workers=args.workers, gpus_per_worker=args.gpus_per_worker,
                   output_dir=args.output_dir, shard_rows=args.shard_rows, sample_size=args.sample_size)

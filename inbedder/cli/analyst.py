"""The analyst's flags of ``inbedder cluster``: outliers, seed answers, names, saving, question trees.

Kept out of :mod:`inbedder.cli.main` so that the command reads as the pipeline: read → (within a
parent cluster) → fit → name → report → write → save.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inbedder.errors import InBedderError

if TYPE_CHECKING:
    import pandas as pd

    from inbedder.clustering.estimator import InstructionClusterer
    from inbedder.encoding.embedder import InBedder
    from inbedder.io import Corpus


@dataclass(frozen=True)
class AnalystOptions:
    """The analyst's flags as typed: outliers, seed answers, generated names, the save folder, the parent cluster.

    :class:`~inbedder.cli.options.ClusterOptions` holds the clusterer's reading of the first three;
    these are kept as given for the checks below and the run record.
    """

    min_similarity: float | None = None
    outliers: str | None = None
    seed_answers: str | None = None
    name_clusters: bool = False
    describe: bool = False
    judge: bool = False
    writer_model: str | None = None
    save_clustering: str | None = None
    within: str | None = None

    def given(self) -> bool:
        """Whether any of these flags was set (``--engine ray`` takes none of them yet)."""
        return any(astuple(self))

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> AnalystOptions:
        return cls(min_similarity=args.min_similarity, outliers=args.outliers, seed_answers=args.seed_answers,
                   name_clusters=args.name_clusters, describe=args.describe, judge=args.judge, writer_model=args.writer_model,
                   save_clustering=args.save_clustering, within=args.within)


def parse_similarity(text: str) -> float:
    """``--min-similarity``: a cosine in -1..1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a cosine similarity: use a number such as 0.5") from None
    if not -1.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not in -1..1 (a cosine similarity)")
    return value


def add_analyst_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags for outliers, seeds, names, saving and drilling down."""
    group = parser.add_argument_group("outliers, names, saved clusterings, question trees")
    group.add_argument("--min-similarity", type=parse_similarity, metavar="S",
                       help="texts whose cosine to their centroid is below S get cluster -1 ('other'); counted, never dropped")
    group.add_argument("--outliers", choices=("auto",),
                       help="auto: cluster -1 for texts below the 5th percentile of similarity to their centroid")
    group.add_argument("--seed-answers", metavar="WORDS",
                       help='start k-means from the texts whose answers contain each word, e.g. "food,service,price"; '
                            "k is the number of seeds; seeds matching nothing are reported")
    group.add_argument("--name-clusters", action="store_true",
                       help="also let the model write a name of at most five words per cluster (cached, greedy)")
    group.add_argument("--describe", action="store_true",
                       help="write a name and one sentence per cluster saying what its answers share and what sets it "
                            "apart from its two nearest clusters, with three evidence texts (cached, greedy; see --writer-model)")
    group.add_argument("--judge", action="store_true",
                       help="experimental self-check with the writer model: for 40 seeded texts it picks the cluster "
                            "description that fits each best; the share it puts back in their own cluster is printed and "
                            "recorded (implies --describe; small models favour some menu positions: docs/explanations.md)")
    group.add_argument("--writer-model", metavar="NAME",
                       help="the model that writes --describe and --name-clusters and lists --multi's answers: a catalogue "
                            "name (`inbedder models`), hub id or folder, zero-shot; default for --describe and --multi: the "
                            "largest catalogue model fetched here")
    group.add_argument("--save-clustering", metavar="DIR",
                       help="save centroids and settings to DIR, for `inbedder assign` and --within")
    group.add_argument("--within", metavar="DIR:N",
                       help="cluster only the texts that the clustering saved in DIR puts in cluster N (ask a follow-up question)")


def check_analyst_outputs(
    analyst: AnalystOptions, questions: int, *, engine: str, files: Sequence[tuple[Path, str]] = (), multi: bool = False,
) -> None:
    """Before any work: the save folder is writable as a clustering and holds none of the run's files.

    ``files``: (path, what it is) of the run's input and outputs. The save folder may be none of
    them, nor hold one, nor be (or hold) the ``--within`` clustering or one of its ancestors.
    """
    from inbedder.clustering.persistence import check_save_target, read_record
    from inbedder.clustering.trees import ancestors, parse_within

    if engine == "ray" and analyst.given():
        raise InBedderError("--engine ray does not take --min-similarity, --outliers, --seed-answers, --name-clusters, "
                            "--describe, --judge, --save-clustering or --within yet; run them with --engine local")
    if analyst.writer_model and not (analyst.describe or analyst.name_clusters or analyst.judge or multi):
        raise InBedderError(f"--writer-model {analyst.writer_model} writes nothing without --describe, --judge, "
                            "--name-clusters or --multi; add one of them or leave --writer-model out")
    keep = list(files)
    if analyst.within:
        parent = parse_within(analyst.within)[0]
        keep.append((parent, "the --within clustering (an input)"))
        keep += [(folder, "an ancestor of the --within clustering") for folder, _ in ancestors(read_record(parent), parent)]
    if analyst.save_clustering:
        for number in range(1, questions + 1):
            folder = analyst.save_clustering
            target = Path(folder if questions == 1 else _numbered_folder(folder, number))
            check_save_target(target, keep=keep)


def _numbered_folder(path: str, number: int) -> str:
    named = Path(path)
    return str(named.with_name(f"{named.stem}-q{number}{named.suffix}"))


def within_corpus(
    corpus: Corpus, *, within: str | None, batch_size: int, quiet: bool,
) -> tuple[Corpus, dict[str, Any] | None]:
    """The corpus to cluster: all of it, or (``within="DIR:N"``) cluster N's texts, and the parent record."""
    if not within:
        return corpus, None
    from inbedder.clustering.trees import members, parse_within

    folder, cluster = parse_within(within)
    subset, parent = members(corpus, folder, cluster, batch_size=batch_size, quiet=quiet)
    if not quiet:
        print(f"inbedder: {subset.notes[-1]}", file=sys.stderr)
    return subset, parent


def load_writer_for(analyst: AnalystOptions, *, device: str | None, quiet: bool, lists: bool = False) -> InBedder | None:
    """The writing model of ``--describe`` / ``--writer-model`` (and the lister of ``--multi``: ``lists``), loaded
    before any text is embedded (a bad name fails in one line first); None: names come from the clustering's own model."""
    if not (lists or analyst.describe or analyst.judge or (analyst.name_clusters and analyst.writer_model)):
        return None
    from inbedder.explain.writing import default_writer, load_writer

    name = analyst.writer_model or default_writer()
    if not quiet:
        roles = (["lists the answers (--multi)"] if lists else []) + (
            ["writes the cluster names" + (" and descriptions" if analyst.describe or analyst.judge else "")
             + (" and judges them" if analyst.judge else "")] if analyst.describe or analyst.judge or analyst.name_clusters else [])
        print(f"inbedder: {name} " + " and ".join(roles), file=sys.stderr)
        if name == "smollm2-135m":  # measured: it writes sentences where a list or a sentence of substance is asked
            print("inbedder: the 135M model writes and lists poorly; `inbedder models fetch qwen2.5-coder-1.5b` "
                  "(1.1 GB) makes it the writer", file=sys.stderr)
    return load_writer(name, device=device)


def finish_clustering(
    clusterer: InstructionClusterer, *, top_n: int, name_clusters: bool, quiet: bool,
    describe: bool = False, judge: bool = False, writer: InBedder | None = None,
) -> pd.DataFrame:
    """Generated names (and descriptions) when asked, seed matches reported, then the cluster table."""
    if clusterer.seed_matches_ and not quiet:
        unmatched = [seed for seed, count in clusterer.seed_matches_.items() if not count]
        matched = ", ".join(f"{seed} ({count})" for seed, count in clusterer.seed_matches_.items() if count)
        print(f"inbedder: seed answers matched: {matched}" + (f"; matched nothing: {', '.join(unmatched)}" if unmatched else ""),
              file=sys.stderr)
    if describe or judge:
        clusterer.describe_clusters(writer=writer)
        if judge:
            clusterer.judge(writer=writer)
    elif name_clusters:
        clusterer.name_clusters(top_n_keywords=top_n, writer=writer)
    return clusterer.cluster_info(top_n_keywords=top_n)

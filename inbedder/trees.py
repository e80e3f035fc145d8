"""Question trees: cluster one cluster's texts again under a follow-up question.

``--within runs/aspect:2`` loads the clustering saved in ``runs/aspect``, sorts the input's
texts into it (with the saved embedder, so the fitted texts get back exactly their labels)
and keeps those of cluster 2; the follow-up question then clusters only them. The child run
records its parent (folder, cluster, its name, the parent's question) so a tree of questions
can be walked back from any leaf.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inbedder.errors import InBedderError

if TYPE_CHECKING:
    from inbedder.embedder import InBedder
    from inbedder.io import Corpus


def parse_within(text: str) -> tuple[Path, int]:
    """``"runs/aspect:2"`` -> (Path("runs/aspect"), 2); checked before any work."""
    from inbedder.persistence import read_record

    folder, _, cluster = str(text).rpartition(":")
    if not folder or not cluster.lstrip("-").isdigit():
        raise InBedderError(f"--within {text!r} is not DIR:CLUSTER; pass a saved clustering's folder and a cluster "
                            "number, e.g. --within runs/aspect:2")
    record = read_record(folder)
    number = int(cluster)
    known = sorted(int(c["cluster"]) for c in record["clusters"])
    if number not in known:
        raise InBedderError(f"--within {text!r}: {folder} has no cluster {number}; its clusters are "
                            f"{', '.join(map(str, known))}")
    return Path(folder), number


def members(corpus: Corpus, folder: Path, cluster: int, *, batch_size: int = 16, quiet: bool = False,
            model: InBedder | None = None) -> tuple[Corpus, dict[str, Any]]:
    """The sub-corpus of the texts the saved clustering puts in ``cluster``, and the parent record."""
    from inbedder.clustering import InstructionClusterer

    parent = InstructionClusterer.load(folder, model=model)
    parent.batch_size, parent.show_progress_bar = batch_size, not quiet
    labels = parent.predict(corpus.texts)
    keep = [i for i, label in enumerate(labels) if label == cluster]
    name = parent.display_names().get(cluster)
    if not keep:
        raise InBedderError(f"no text of {corpus.source} falls in cluster {cluster} ({name!r}) of {folder}; "
                            "pick another cluster or the file that clustering was made from")
    subset = replace(
        corpus, texts=[corpus.texts[i] for i in keep], ids=[corpus.ids[i] for i in keep],
        labels=None if corpus.labels is None else [corpus.labels[i] for i in keep],
        notes=[*corpus.notes, f"clustering the {len(keep)} of {len(corpus.texts)} texts in cluster {cluster} "
               f"({name!r}) of {folder}"],
    )
    record = {"clustering": str(folder.resolve()), "cluster": cluster, "name": name, "instruction": parent.instruction,
              "texts": len(keep), "parent": parent.parent_}
    return subset, record

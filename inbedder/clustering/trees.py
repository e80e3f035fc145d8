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
    from inbedder.encoding.embedder import InBedder
    from inbedder.io import Corpus


def parse_within(text: str) -> tuple[Path, int]:
    """``"runs/aspect:2"`` -> (Path("runs/aspect"), 2); checked before any work (tensors and ancestors too)."""
    from inbedder.clustering.persistence import read_saved

    folder, _, cluster = str(text).rpartition(":")
    if not folder or not cluster.lstrip("-").isdigit():
        raise InBedderError(f"--within {text!r} is not DIR:CLUSTER; pass a saved clustering's folder and a cluster "
                            "number, e.g. --within runs/aspect:2")
    record = read_saved(folder)[0]
    number = int(cluster)
    known = sorted(int(c["cluster"]) for c in record["clusters"])
    if number not in known:
        raise InBedderError(f"--within {text!r}: {folder} has no cluster {number}; its clusters are "
                            f"{', '.join(map(str, known))}")
    ancestors(record, Path(folder))
    return Path(folder), number


def ancestors(record: dict[str, Any], folder: Path) -> list[tuple[Path, int]]:
    """The (folder, cluster) filters above a saved drill-down, root first, each checked to be unchanged.

    Why: a drill-down's centroids only sort texts that its ancestors' filters let through; any
    other text lands in one of its clusters too. So ``--within child:0`` applies every
    ancestor's filter first, and refuses (one line) an ancestor that is gone or has changed
    since the child was saved (its centroids' sha256, recorded then).
    """
    from inbedder.clustering.persistence import centroids_digest, read_record

    chain, parent = [], record.get("parent")
    while parent:
        place, cluster = parent.get("clustering"), int(parent["cluster"])
        if place is None:
            raise InBedderError(f"{folder} was drilled down from a clustering that was never saved to a folder (in the "
                                "explorer); --within needs every ancestor's folder: save the parent and drill down with "
                                "--within PARENT:N")
        if not parent.get("centroids_sha256"):
            raise InBedderError(f"{folder} records its parent {place} without a digest (saved by an older InBedder), so "
                                f"a changed parent cannot be told apart; drill down again with --within {place}:{cluster}")
        try:
            read_record(place)
            same = centroids_digest(place) == parent["centroids_sha256"]
        except (InBedderError, OSError) as error:
            raise InBedderError(f"{folder}'s ancestor {place} is missing or not a saved clustering any more; restore "
                                f"it or drill down again (--within {place}:{cluster})") from error
        if not same:
            raise InBedderError(f"{folder}'s ancestor {place} has changed since {folder} was saved (other centroids); "
                                f"drill down again with --within {place}:{cluster}")
        chain.append((Path(place), cluster))
        parent = parent.get("parent")
    return chain[::-1]


def members(corpus: Corpus, folder: Path, cluster: int, *, batch_size: int = 16, quiet: bool = False,
            model: InBedder | None = None) -> tuple[Corpus, dict[str, Any]]:
    """The sub-corpus of the texts the saved clustering puts in ``cluster``, and the parent record.

    Every ancestor's filter is applied first, root to leaf (:func:`ancestors`); ``model`` (when
    given) embeds for ``folder`` itself, the ancestors' models are built from their settings.
    """
    from inbedder.clustering.persistence import centroids_digest, read_record

    steps = [*ancestors(read_record(folder), folder), (folder, cluster)]
    models: dict[str, InBedder] = {}
    subset, total = corpus, len(corpus.texts)
    for place, number in steps:
        leaf = _load(place, models, model if place == folder else None)
        leaf.batch_size, leaf.show_progress_bar = batch_size, not quiet
        labels = leaf.predict(subset.texts)
        keep = [i for i, label in enumerate(labels) if label == number]
        name = leaf.display_names().get(number)
        if not keep:
            raise InBedderError(f"no text of {corpus.source} falls in cluster {number} ({name!r}) of {place}; "
                                "pick another cluster or the file that clustering was made from")
        subset = replace(subset, texts=[subset.texts[i] for i in keep], ids=[subset.ids[i] for i in keep],
                         labels=None if subset.labels is None else [subset.labels[i] for i in keep])
    above = f" (within {', '.join(f'cluster {n} of {p}' for p, n in steps[:-1])})" if len(steps) > 1 else ""
    subset = replace(subset, notes=[*corpus.notes, f"clustering the {len(subset.texts)} of {total} texts in cluster "
                                    f"{cluster} ({name!r}) of {folder}{above}"])
    record = {"clustering": str(folder.resolve()), "cluster": cluster, "name": name, "instruction": leaf.instruction,
              "texts": len(subset.texts), "centroids_sha256": centroids_digest(folder), "parent": leaf.parent_}
    return subset, record


def _load(folder: Path, models: dict[str, InBedder], model: InBedder | None) -> Any:
    """The clusterer saved in ``folder``; ancestors with the same embedder settings share one model."""
    import json

    from inbedder.clustering.estimator import InstructionClusterer
    from inbedder.clustering.persistence import build_embedder, read_saved

    if model is None:
        record = read_saved(folder)[0]  # checked before the model loads
        settings = {key: value for key, value in record["embedder"].items() if key != "answer_prefix"}
        key = json.dumps([settings, record["method"]], sort_keys=True)
        model = models.get(key) or models.setdefault(key, build_embedder(record))
    return InstructionClusterer.load(folder, model=model)

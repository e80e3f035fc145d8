"""What a clustering run shows and writes: the terminal summary, per-text rows, the run record.

Following latent-scope, every run writes its parameters beside its outputs so a result file
can always be traced back to the question, model and settings that produced it.
"""

from __future__ import annotations

import platform
import textwrap
from datetime import datetime, timezone

from typing import TYPE_CHECKING, Any

import pandas as pd

from inbedder.version import __version__

if TYPE_CHECKING:
    from inbedder.clustering.estimator import InstructionClusterer
    from inbedder.encoding.embedder import InBedder
    from inbedder.io import Corpus


def _clip(text: str, width: int) -> str:
    """Shorten for display only; files always keep the whole text."""
    return textwrap.shorten(" ".join(text.split()), width=width, placeholder="…")


def format_summary(
    info: pd.DataFrame, clusterer: InstructionClusterer, corpus: Corpus | None = None, *, example_width: int = 70,
) -> str:
    """A readable table: cluster, size, keywords, one example (and label purity when known)."""
    lines = [f"Instruction: {clusterer.instruction!r}   method: {clusterer.method_}   k={clusterer.n_clusters_}   "
             f"{'answers' if getattr(clusterer, 'multi_', None) else 'texts'}: {len(clusterer.texts_)}"]
    if corpus is not None and corpus.skipped:
        lines[0] += f"   (skipped {corpus.skipped} empty)"
    if clusterer.v_measure_ is not None:
        lines.append(f"V-measure against the labels: {clusterer.v_measure_:.3f}")
    lines.append(clusterer.self_check().line())
    threshold = getattr(clusterer, "outlier_threshold_", None)
    if threshold is not None:
        outliers = int((clusterer.labels_ == -1).sum())
        lines.append(f"outliers (cluster -1, 'other'): {outliers} texts with similarity to their centroid below {threshold:.3f}")
    has_labels = "top_label" in info.columns
    has_names = "name" in info.columns
    header = f"{'cluster':>7}  {'size':>4}  " + (f"{'name':<20}  " if has_names else "") + f"{'keywords':<38}"
    header += f"  {'top label':<16}" if has_labels else ""
    lines += [header + "  example", "-" * (len(header) + 2 + example_width)]
    for row in info.itertuples():
        keywords = _clip(", ".join(row.keywords[:5]) or "-", 38)
        name = f"{_clip(row.name or '-', 20):<20}  " if has_names else ""
        line = f"{row.cluster:>7}  {row.size:>4}  {name}{keywords:<38}"
        if has_labels:
            label = f"{row.top_label} {row.top_label_share:.0%}" if row.top_label is not None else "-"
            line += f"  {_clip(label, 16):<16}"
        example = row.examples[0] if row.examples else ""
        lines.append(line + "  " + _clip(example, example_width))
    return "\n".join(lines + _layer_lines(clusterer) + _description_lines(info, clusterer, example_width))


def _layer_lines(clusterer: InstructionClusterer) -> list[str]:
    """Under the table, with --levels 2: each parent, its children, and its sentence when described."""
    layers = getattr(clusterer, "layers_", None)
    if layers is None:
        return []
    names, written = clusterer.display_parent_names(), getattr(clusterer, "parent_descriptions_", None)
    shown = clusterer.display_names()
    lines = ["", f"parents ({len(names)}, {layers.method} on the centroids):"]
    for parent, children in layers.children().items():
        kids = ", ".join(f"{c} {shown.get(c, '')}" for c in children)
        sentence = f": {written.sentences.get(parent, '')}" if written is not None else ""
        lines.append(f"{parent:>7}  {names.get(parent, '')}  ← clusters {kids}{sentence}")
    return lines


def _description_lines(info: pd.DataFrame, clusterer: InstructionClusterer, width: int) -> list[str]:
    """Under the table, when described: each cluster's name, its sentence and its evidence texts."""
    described = getattr(clusterer, "descriptions_", None)
    if described is None:
        return []
    lines = ["", f"descriptions (written by {described.writer}; evidence: text → its answer)"]
    for row in info.itertuples():
        if row.cluster not in described.sentences:
            continue
        lines.append(f"{row.cluster:>7}  {row.name}: {described.sentences[row.cluster] or '-'}")
        for index in described.evidence.get(row.cluster, []):
            lines.append(f"           “{_clip(clusterer.texts_[index], width)}” → {_clip(clusterer.answers_[index] or '', 40)}")
    return lines


def id_column(corpus: Corpus) -> str:
    """The output's id column: ``id`` for the input's own ids, ``row`` for 0-based row numbers.

    Naming row numbers ``row`` keeps a merge on ``id`` from pairing the wrong rows.
    """
    return "row" if corpus.id_name == "row" else "id"


def per_text_frame(corpus: Corpus, clusterer: InstructionClusterer) -> pd.DataFrame:
    """One row per kept text: id (see :func:`id_column`), text, cluster (-1: outlier), answer,
    cluster_name, similarity (cosine to the centroid) and the gold label when given."""
    names = clusterer.display_names()
    frame = pd.DataFrame({
        id_column(corpus): corpus.output_ids(), "text": corpus.texts, "cluster": clusterer.labels_.astype(int),
        "answer": clusterer.answers_, "cluster_name": [names.get(int(c), "") for c in clusterer.labels_],
        "similarity": clusterer.similarity_.round(6),
    })
    described = getattr(clusterer, "descriptions_", None)
    if described is not None:
        frame["cluster_description"] = [described.sentences.get(int(c), "") for c in clusterer.labels_]
    layers = getattr(clusterer, "layers_", None)
    if layers is not None:
        parents = [layers.parent_of.get(int(c), -1) for c in clusterer.labels_]
        frame["parent"] = parents
        parent_names = clusterer.display_parent_names()
        frame["parent_name"] = [parent_names.get(p, "other") for p in parents]
    if corpus.labels is not None:
        frame["label"] = corpus.labels
    return frame


def run_record(
    options: dict[str, Any], model: InBedder, clusterer: InstructionClusterer, info: pd.DataFrame, corpus: Corpus,
    seconds: float,
) -> dict[str, Any]:
    """The parameters, environment and per-cluster results of a run, for the JSON sidecar.

    ``n_clusters`` is the k used (the chosen one when "auto", with ``silhouette_by_k``, the
    score of every k tried); ``answer_prefix`` is the one this clustering's answers were
    continued from (None when fitted on given embeddings and never explained).
    """
    clusters = info[[c for c in info.columns if c in {"cluster", "name", "size", "keywords", "keyword_scores", "entropy",
                                                      "top_label", "top_label_share"}]]
    record = {
        "inbedder_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "options": {key: value for key, value in options.items() if key != "func"},
        "model": model.loaded.name,
        "model_fingerprint": model.loaded.fingerprint,
        "template": model.template,
        "answer_prefix": clusterer.answer_prefix_,
        "method": clusterer.method_,
        "instruction": clusterer.instruction,
        "n_clusters": clusterer.n_clusters_,
        "center": clusterer.center,
        "standardize": clusterer.standardize,
        "answer_space": clusterer.answer_space, "state_weight": clusterer.state_weight,
        "n_clusters_auto": clusterer.silhouette_scores_ is not None,
        "texts": len(corpus.texts),
        "skipped_rows": corpus.skipped,
        "id_column": id_column(corpus),
        "v_measure": clusterer.v_measure_,
        "seconds": round(seconds, 2),
        "clusters": clusters.to_dict(orient="records"),
    }
    if clusterer.silhouette_scores_ is not None:
        record["silhouette_by_k"] = dict(clusterer.silhouette_scores_)
    record["self_check"] = clusterer.self_check().as_record()
    record.update(_analyst_fields(clusterer, corpus))
    return record


def _analyst_fields(clusterer: InstructionClusterer, corpus: Corpus) -> dict[str, Any]:
    """Outliers, seeds, generated names and descriptions (with what the writer was shown, and evidence) and the parent."""
    fields: dict[str, Any] = {
        "min_similarity": clusterer.min_similarity,
        "outlier_threshold": clusterer.outlier_threshold_,
        "outliers": int((clusterer.labels_ == -1).sum()),
        "cluster_names": {int(c): n for c, n in (clusterer.cluster_names_ or {}).items()},
    }
    if clusterer.seed_answers:
        fields["seed_answers"] = list(clusterer.seed_answers)
        fields["seed_matches"] = clusterer.seed_matches_
    described = getattr(clusterer, "descriptions_", None)
    if getattr(clusterer, "generated_names_", None):
        from inbedder.explain.names import NAME_QUESTION

        fields["generated_names"] = {int(c): n for c, n in clusterer.generated_names_.items()}
        if described is None:  # described names were written from the description's input: see description_prompt
            fields["name_prompt"] = {"question": NAME_QUESTION, "decoding": "greedy",
                                     "inputs": {int(c): t for c, t in clusterer.name_prompts_.items()}}
    if described is not None:
        ids = corpus.output_ids()
        fields["descriptions"] = {int(c): text for c, text in described.sentences.items()}
        fields["description_prompt"] = described.prompt_record()
        fields["evidence"] = {int(c): [{"id": ids[i], "text": clusterer.texts_[i], "answer": clusterer.answers_[i]}
                                       for i in rows] for c, rows in described.evidence.items()}
    if getattr(clusterer, "layers_", None) is not None:
        fields["layers"] = clusterer.layers_.as_record()
        written, names = getattr(clusterer, "parent_descriptions_", None), clusterer.display_parent_names()
        for parent, entry in fields["layers"]["parents"].items():
            entry["name"] = names.get(parent, entry["name"])
            if written is not None:
                entry["description"] = written.sentences.get(parent, "")
    if getattr(clusterer, "parent_", None):
        fields["parent"] = clusterer.parent_
    return fields

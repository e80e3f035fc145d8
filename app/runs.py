"""Running one clustering for the page: the cached model and map, the progress bar, the kept result.

Shared by the sidebar's run, the drill-down (:mod:`inbedder.app.tree_view`) and loading a saved
clustering (:mod:`inbedder.app.saved_view`), so they load the model once and report problems the
same way: one line in the page (``st.error``), and ``None`` instead of a result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import streamlit as st

from inbedder.app import access, exports, loading, pipeline, projection, sidebar
from inbedder.app.messages import duration, for_page
from inbedder.errors import InBedderError
from inbedder.io import Corpus


@dataclass
class Result:
    """A finished clustering as the page keeps it between reruns."""

    corpus_key: tuple
    corpus: Corpus
    clustering: pipeline.Clustering
    projection: projection.Projection
    downloads: dict[str, bytes] = field(default_factory=dict, repr=False)  # made once, on first need

    def table(self) -> pd.DataFrame:
        """Per-text rows as the page lists and exports them, with each text's point on the map."""
        clustering = self.clustering
        table = exports.per_text_table(
            self.corpus, clustering.labels, clustering.answers, self.projection.coords,
            names=clustering.names, similarity=clustering.similarity,
        )
        table.insert(0, "point", np.arange(len(table)))  # position on the map; "row" may be an id column
        return table


@st.cache_resource(show_spinner="Loading the model (the first time converts it, about 30 s)…", max_entries=2)
def _model(model: str, adapter: str, cache_folder: str):
    """One model per (model, adapter, cache folder), shared by every tab of the browser."""
    return pipeline.load_model(model, adapter)


@st.cache_resource(show_spinner="Loading the writing model…", max_entries=1)
def _writer(name: str, cache_folder: str):
    """The model that writes names and descriptions, zero-shot (one at a time: the large ones take GBs)."""
    from inbedder.explain.writing import load_writer

    return load_writer(name)


def writer(name: str):
    """The writing model ``name``: one of :func:`writer_choices`, so a page never starts a download."""
    from inbedder.models.loading import cache_dir

    if name not in writer_choices():
        raise InBedderError(f"{name} is not a writing model fetched on this server; choose one of: "
                            f"{', '.join(writer_choices())}")
    return _writer(name, str(cache_dir()))


def writer_choices() -> list[str]:
    """Catalogue models fetched here, largest (the best writer) first."""
    from inbedder.models.catalogue import catalogue, status

    return [name for name, entry in reversed(catalogue().items()) if status(entry)["fetched"]]


@st.cache_data(show_spinner="Drawing the map (UMAP)…", max_entries=16)
def _project(embeddings: np.ndarray, limit: int, seed: int) -> projection.Projection:
    return projection.project(embeddings, limit, seed=seed)


def model(name: str | None, adapter: str | None):
    """The page's model for this choice, refused in one line outside what this page may load."""
    access.check_model_choice(name, adapter, allow_any=sidebar.allow_any_model())
    from inbedder.models.loading import cache_dir

    return _model(name or "", adapter or "", str(cache_dir()))


def progress_bar(bar, verb: str = "Embedding") -> pipeline.Progress:
    """A progress callback drawing ``bar`` with an ETA (its update is where Stop interrupts a run)."""
    def progress(done: int, total: int, left: float | None) -> None:
        eta = f" · about {duration(left)} left" if left is not None and done < total else ""
        bar.progress(done / max(1, total), text=f"{verb}: {done:,} of {total:,} texts{eta}")

    return progress


def run(corpus: Corpus, corpus_key: tuple, params: pipeline.RunParams, slot: str | None = None) -> Result | None:
    """Embed (with a progress bar and ETA) and cluster; errors show in the page and return None.

    ``slot``: the session-state key that keeps the result (None: the caller keeps it).
    """
    bar = st.progress(0.0, text="Loading the model…")
    try:
        loading.check_clusterable(corpus, params.k)
        pipeline.check_question(params.question)
        page_model = model(params.model, params.adapter)
        progress = progress_bar(bar)
        progress(0, len(set(corpus.texts)), None)
        report = pipeline.embed(page_model, corpus.texts, params.question, method=params.method, progress=progress)
        bar.progress(1.0, text="Clustering and explaining…")
        clustering = pipeline.cluster(page_model, corpus.texts, params, labels=corpus.labels, corpus=corpus)
        clustering.report = report
        bar.progress(1.0, text="Drawing the map…")
        mapped = _project(clustering.embeddings, projection.DISPLAY_LIMIT, params.seed)
    except InBedderError as error:
        bar.empty()
        st.error(for_page(error))
        return None
    bar.empty()
    result = Result(corpus_key, corpus, clustering, mapped)
    if slot is not None:
        st.session_state[slot] = result
    return result

"""Save and load in the page: the clustering as a .zip (or a folder here), and assigning texts to a saved one.

Loading takes a .zip upload anywhere, and a folder path only on a page that may read the
server's folders (:func:`inbedder.app.access.check_server_folders`, the rule for model paths).
The saved clustering's own model is loaded through the page's model picker rules, and refused
in one line when this machine's would embed differently. Assigning embeds the sidebar's texts
with it (progress and cache as for a run) and lists each text's cluster, name and similarity.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from inbedder.app import access, exports, pipeline, runs, saved, sidebar
from inbedder.app.messages import count, escape_markdown, for_page
from inbedder.errors import InBedderError
from inbedder.io import Corpus

LOADED, ASSIGNED = "loaded_clustering", "assigned_texts"
FOLDER, ZIP = "Folder on this machine", "Upload a .zip"


@dataclass
class Loaded:
    """A saved clustering ready to assign texts to, with what it was loaded from."""

    source: str
    clusterer: object  # InstructionClusterer (imported lazily: torch)
    record: dict


def stem(result: runs.Result) -> str:
    """File name stem for a result's downloads, from its question."""
    question = result.clustering.params.question.lower()
    return "inbedder-" + "".join(ch if ch.isalnum() else "-" for ch in question)[:40].strip("-")


def save_section(result: runs.Result) -> None:
    """Download the shown clustering as a .zip; on a local page, also save it to a folder."""
    st.markdown("**Save this clustering** (centroids and settings, no pickle) to sort new texts into the same "
                "clusters later: here under *Load*, or with `inbedder assign new.csv --clustering DIR`.")
    try:
        if "clustering.zip" not in result.downloads:
            result.downloads["clustering.zip"] = saved.zip_bytes(result.clustering.clusterer, stem(result))
    except InBedderError as error:
        st.error(for_page(error))
        return
    st.download_button("Save clustering (.zip)", result.downloads["clustering.zip"], f"{stem(result)}.clustering.zip",
                       "application/zip", key="dl_clustering", on_click="ignore")
    if not sidebar.allow_any_model():
        return
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    folder = left.text_input("Or save to a folder on this machine", key="save_folder", placeholder="runs/aspect")
    if right.button("Save to folder", key="save_run"):
        try:
            access.check_server_folders(allow_any=sidebar.allow_any_model())
            if not folder.strip():
                raise InBedderError("type the folder to save the clustering in, e.g. runs/aspect")
            written = result.clustering.clusterer.save(Path(folder.strip()).expanduser())
            st.success(f"Saved to {written.resolve()}")
        except InBedderError as error:
            st.error(for_page(error))


def _load(folder: Path, source: str) -> Loaded:
    """Read, check and load the clustering in ``folder`` with the page's model for it."""
    from inbedder.clustering.estimator import InstructionClusterer
    from inbedder.clustering.persistence import read_saved

    record = read_saved(folder)[0]  # the JSON and the tensors checked before the model loads
    name, adapter = saved.embedder_choice(record)
    model = runs.model(name, adapter)
    with st.spinner("Checking the saved clustering against this machine's model…"):
        clusterer = InstructionClusterer.load(folder, model=model)
    return Loaded(source, clusterer, record)


def _load_controls() -> Loaded | None:
    """The folder path or .zip upload and the Load button; the loaded clustering, or None (errors: one line)."""
    local = sidebar.allow_any_model()
    way = st.radio("Load from", (FOLDER, ZIP), key="load_from", horizontal=True) if local else ZIP
    if way == FOLDER:
        path = st.text_input("Saved clustering folder", key="load_folder", placeholder="runs/aspect")
    else:
        upload = st.file_uploader("Saved clustering (.zip)", type=["zip"], key="load_zip")
    if not st.button("Load", key="load_run"):
        return None
    try:
        if way == FOLDER:
            access.check_server_folders(allow_any=local)
            if not path.strip():
                raise InBedderError("type the folder of a saved clustering, e.g. runs/aspect")
            folder = Path(path.strip()).expanduser()
            return _load(folder, str(folder.resolve()))
        if upload is None:
            raise InBedderError("choose the .zip of a saved clustering first")
        with saved.unzipped(upload.name, upload.getvalue()) as folder:
            try:
                return _load(folder, upload.name)
            except InBedderError as error:
                raise InBedderError(for_page(error, {str(folder): upload.name})) from error
    except InBedderError as error:
        st.error(for_page(error))
        return None


def _names_table(loaded: Loaded) -> pd.DataFrame:
    return pd.DataFrame([{"cluster": c["cluster"], "name": c.get("name") or "", "texts at fit": c.get("size"),
                          "keywords": ", ".join(c.get("keywords") or [])} for c in loaded.record["clusters"]])


def load_section(corpus: Corpus, corpus_key: tuple) -> None:
    """Load a saved clustering, then sort the sidebar's texts into it."""
    st.markdown("**Load a saved clustering** and sort the texts chosen in the sidebar into its clusters.")
    fresh = _load_controls()
    if fresh is not None:
        st.session_state[LOADED] = fresh
        st.session_state.pop(ASSIGNED, None)
    loaded: Loaded | None = st.session_state.get(LOADED)
    if loaded is None:
        return
    st.caption(f"Loaded {escape_markdown(loaded.source)}: {escape_markdown(saved.describe(loaded.record))}")
    st.dataframe(_names_table(loaded), hide_index=True, width="stretch")
    if st.button(f"Assign the {count(len(corpus.texts))} to it", key="assign_run", type="primary"):
        _assign(loaded, corpus, corpus_key)
    done = st.session_state.get(ASSIGNED)
    if done is not None and done[0] is loaded and done[1] == corpus_key:
        _show_assigned(loaded, done[2])


def _assign(loaded: Loaded, corpus: Corpus, corpus_key: tuple) -> None:
    bar = st.progress(0.0, text="Embedding…")
    try:
        frame = pipeline.assign(loaded.clusterer, corpus, progress=runs.progress_bar(bar))
    except InBedderError as error:
        st.error(for_page(error))
        return
    finally:
        bar.empty()
    st.session_state[ASSIGNED] = (loaded, corpus_key, frame)


def _show_assigned(loaded: Loaded, frame: pd.DataFrame) -> None:
    """Texts per saved cluster with its name, then every text with its cluster, name and similarity."""
    names = loaded.clusterer.display_names() | {-1: "other"}
    sizes = pipeline.assigned_sizes(frame, names, loaded.clusterer.n_clusters_)
    others = int((frame["cluster"] == -1).sum())
    note = f" · {others} “other” (below the saved similarity threshold)" if others else ""
    st.markdown(f"**Assigned {count(len(frame))}**{note}")
    st.dataframe(sizes, hide_index=True, width="stretch")
    st.dataframe(frame, hide_index=True, width="stretch", height=360)
    st.download_button("Assigned texts (CSV)", exports.csv_bytes(frame), "inbedder-assigned.csv", "text/csv",
                       key="dl_assigned", on_click="ignore")

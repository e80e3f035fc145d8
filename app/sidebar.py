"""The explorer's sidebar: where the texts come from, the question, k, outliers, model and method.

Controls take their defaults from session state (not ``value=``), so the URL's query
parameters can prefill them (:func:`apply_query_params`). Each function lays out its part of
the sidebar and returns what the user chose; reading an upload is cached across reruns.
"""

from __future__ import annotations

import os

import streamlit as st

from inbedder.app import access, loading, pipeline
from inbedder.app.messages import for_page
from inbedder.errors import InBedderError
from inbedder.io import Corpus

NONE = "(none)"
SAMPLE, UPLOAD = "Sample: 256 restaurant reviews", "Upload a file"
DEFAULT_METHOD = "default (1st-gen; avg-gen for masked LMs)"
OUTLIERS_OFF, OUTLIERS_AUTO, OUTLIERS_MIN = "off", "auto (5th percentile)", "minimum similarity"


@st.cache_data(show_spinner=False, max_entries=8)
def _inspect(name: str, data: bytes, encoding: str) -> loading.TableInfo:
    return loading.inspect_upload(name, data, encoding=encoding)


@st.cache_data(show_spinner="Reading the file…", max_entries=8)
def _read_upload(name: str, data: bytes, encoding: str, text: str | None, label: str | None) -> Corpus:
    return loading.read_upload(name, data, encoding=encoding, text_column=text, label_column=label)


@st.cache_data(show_spinner=False, max_entries=4)
def _read_sample(label: str | None) -> Corpus:
    return loading.read_sample(label)


def allow_any_model() -> bool:
    """Whether visitors may load any model: set by `inbedder app`, else by the listen address."""
    return access.page_allows_any_model(os.environ, st.get_option("server.address"))


DEFAULTS = {
    "source": SAMPLE, "sample_label": loading.SAMPLE_LABEL_COLUMNS[0], "limit": 0,
    "question": loading.SAMPLE_QUESTIONS[0], "k": 4, "k_auto": False,
    "question2": loading.SAMPLE_QUESTIONS[1], "k2": 2, "k2_auto": False,
    "outliers": OUTLIERS_OFF, "min_similarity": 0.3,
}


def min_similarity(choice: str, value: float) -> float | str | None:
    """The outlier control as ``InstructionClusterer(min_similarity=…)``: None, "auto" or the slider's cosine."""
    if choice == OUTLIERS_AUTO:
        return "auto"
    if choice == OUTLIERS_MIN:
        return round(float(value), 3)
    return None


def _outliers_from_query(value: str) -> None:
    """``outliers=off|auto|0.65`` in the URL sets the outlier control (anything else is ignored)."""
    if value in ("off", "auto"):
        st.session_state["outliers"] = OUTLIERS_OFF if value == "off" else OUTLIERS_AUTO
        return
    try:
        cut = float(value)
    except ValueError:
        return
    if 0.0 <= cut <= 1.0:
        st.session_state["outliers"], st.session_state["min_similarity"] = OUTLIERS_MIN, cut


def apply_query_params() -> bool:
    """Prefill controls from the URL once per session; True when the URL asks to run.

    Controls take their defaults from session state (not ``value=``), so a URL can set them.
    """
    for key, value in DEFAULTS.items():
        st.session_state.setdefault(key, value)
    if st.session_state.get("_query_applied"):
        return False
    st.session_state["_query_applied"] = True
    query = st.query_params
    if query.get("sample") in ("1", "true", "yes"):
        st.session_state["source"] = SAMPLE
    if "label" in query:
        st.session_state["sample_label"] = query["label"] or NONE
    if "question" in query:
        st.session_state["question"] = query["question"]
    if "question2" in query:
        st.session_state["question2"] = query["question2"]
    for name, target in (("k", "k"), ("k2", "k2")):
        value = query.get(name)
        if value == "auto":
            st.session_state[f"{target}_auto"] = True
        elif value and value.isdigit():
            st.session_state[target] = max(2, int(value))
            st.session_state[f"{target}_auto"] = False
    if (query.get("limit") or "").isdigit():
        st.session_state["limit"] = int(query["limit"])
    if "outliers" in query:
        _outliers_from_query(query["outliers"])
    return query.get("run") in ("1", "true", "yes")


def data_controls() -> tuple[Corpus, tuple] | None:
    """The corpus the user chose (and a key identifying it), or None after showing why not."""
    st.sidebar.header("1 · Data")
    source = st.sidebar.radio("Texts", (SAMPLE, UPLOAD), key="source", label_visibility="collapsed")
    if source == SAMPLE:
        label = st.sidebar.selectbox(
            "Label column (optional)", (NONE, *loading.SAMPLE_LABEL_COLUMNS), key="sample_label",
            help="Gold labels, to score the clustering (V-measure) and show each cluster's make-up.",
        )
        label = None if label == NONE else label
        corpus, key = _read_sample(label), ("sample", label)
    else:
        upload = st.sidebar.file_uploader(
            f"CSV, TSV, JSONL, JSON, Parquet or TXT (one text per line), up to {loading.MAX_UPLOAD_MB} MB",
            type=list(loading.UPLOAD_TYPES), key="upload",
        )
        if upload is None:
            st.info("Upload a file in the sidebar, or pick the sample, to begin.")
            return None
        encoding = st.sidebar.selectbox("Encoding", loading.ENCODINGS, key="encoding")
        data = upload.getvalue()
        try:
            info = _inspect(upload.name, data, encoding)
            text = label = None
            if info.columns:
                text = st.sidebar.selectbox(
                    "Text column", info.columns, key="upload_text",
                    index=info.columns.index(info.text_default) if info.text_default in info.columns else 0,
                )
                options = (NONE, *[c for c in info.columns if c != text])
                label = st.sidebar.selectbox(
                    "Label column (optional)", options, key="upload_label",
                    index=options.index(info.label_default) if info.label_default in options else 0,
                )
                label = None if label == NONE else label
            corpus = _read_upload(upload.name, data, encoding, text, label)
        except InBedderError as error:
            st.error(for_page(error))
            return None
        key = ("upload", loading.digest(data), encoding, text, label)
    limit = st.sidebar.number_input(
        "Use the first N texts (0 = all)", min_value=0, step=16, key="limit",
        help="A quick look at a big file; clustering a subset also keeps runs short on a CPU.",
    )
    limited = loading.first_rows(corpus, int(limit))
    parts = [f"**{len(limited.texts):,}** texts"]
    if len(limited.texts) < len(corpus.texts):
        parts.append(f"of {len(corpus.texts):,}")
    if corpus.skipped:
        parts.append(f"· {corpus.skipped} empty row(s) skipped")
    if corpus.labels is not None:
        parts.append("· with labels")
    st.sidebar.markdown(" ".join(parts), help=f"Source: {corpus.source}")
    return limited, (*key, int(limit))


def outlier_controls() -> float | str | None:
    """Off, auto or a minimum similarity: texts far from their centroid become "other" (-1), never dropped."""
    choice = st.sidebar.radio(
        "Outliers (“other”)", (OUTLIERS_OFF, OUTLIERS_AUTO, OUTLIERS_MIN), key="outliers",
        help="Texts whose similarity to their cluster's centre is low are labelled “other” (cluster -1). "
             "They stay in every table and export; auto marks the least similar 5%.",
    )
    value = st.sidebar.slider(
        "Minimum similarity to the centre", min_value=0.0, max_value=1.0, step=0.01, key="min_similarity",
        disabled=choice != OUTLIERS_MIN,
        help="Cosine of a text's embedding to its centroid, both centred on the corpus (sample reviews: 0.09–0.75).",
    )
    return min_similarity(choice, value)


def question_controls() -> tuple[pipeline.RunParams, bool, bool]:
    """The question, k, model and method; and whether Run or Stop was pressed."""
    from inbedder.clustering.answer_space import DEFAULT_ANSWER_SPACE
    from inbedder.encoding.methods import METHODS

    st.sidebar.header("2 · Question")
    question = st.sidebar.text_input(
        "Your question about each text", key="question",
        help="The model answers it for every text; texts with similar answers end up together.",
    )
    auto = st.sidebar.checkbox("Choose k automatically (silhouette, 2–10)", key="k_auto")
    k = st.sidebar.number_input("Clusters (k)", min_value=2, max_value=200, key="k", disabled=auto)
    outliers = outlier_controls()
    with st.sidebar.expander("Model and method"):
        if allow_any_model():
            from inbedder.models.catalogue import default_model

            model = st.text_input(f"Model (catalogue name such as smollm2-135m, hub id or folder; "
                                  f"empty: the default, {default_model()})", key="model")
            adapter = st.text_input(
                "LoRA adapter folder", key="adapter",
                help="Empty: the model's shipped InBedder adapter, if it has one; 'none': no adapter.",
            )
        else:
            offered = access.offered_models()
            model = st.selectbox(
                "Model", offered, key="model_choice", disabled=len(offered) < 2,
                help="This page is reachable from other machines, so it offers only the embedded smollm2-135m and "
                     "the catalogue models fetched on this server (`inbedder models fetch NAME`); start it with "
                     "`inbedder app --allow-any-model` to load your own.",
            )
            choices = access.adapter_choices(model)
            label = st.selectbox("LoRA adapter", tuple(choices), key="adapter_choice")
            adapter = choices[label] or ""
        method = st.selectbox("Method", (DEFAULT_METHOD, *METHODS), key="method",
                              help="1st-gen (the default) reads the state that chooses the answer's first word.")
        answer_space = st.checkbox(
            "Answer space (1st-gen)", key="answer_space",
            help="Also place each text by how likely each of the corpus' 50 likeliest first answer words is "
                 "(`--answer-space 50`): sharper answers on most tests, weaker on the demo's aspect question.",
        )
    params = pipeline.RunParams(
        question=" ".join(question.split()), k=None if auto else int(k),
        method=None if method == DEFAULT_METHOD else method, model=model.strip() or None,
        adapter=adapter.strip() or None, min_similarity=outliers, answer_space=DEFAULT_ANSWER_SPACE if answer_space else None,
    )
    left, right = st.sidebar.columns(2)
    run = left.button("Run", type="primary", key="run", width="stretch")
    stop = right.button("Stop", key="stop", width="stretch", help="Stops after the current batch; finished texts stay cached.")
    return params, run, stop

"""The InBedder explorer page: load texts, ask a question, see and compare the clusterings.

Run with ``inbedder app`` or ``streamlit run app/explorer.py``. This module only lays out the
page; the work is in the sibling modules of :mod:`inbedder.app`. Every problem the user can
cause shows as one line in the page (``st.error``), never as a traceback.

A page reachable from other machines offers only the catalogue models on the server and the
shipped adapters (a picker, not free fields; see :mod:`inbedder.app.access`): loading a model reads any folder
or hub id the server can reach.

Query parameters prefill the controls (for links and the browser test), e.g.
``?sample=1&question=What+is+the+sentiment%3F&k=2&limit=48&run=1`` (``k=auto`` for silhouette);
the sidebar that reads them is :mod:`inbedder.app.sidebar`.

Clusters show with their names ("2 · wait times"; texts far from every centre as "other"),
and each card can be drilled into with a follow-up question (:mod:`inbedder.app.tree_view`,
breadcrumbs back up); a clustering can be saved, loaded and have new texts assigned to it
(:mod:`inbedder.app.saved_view`).
"""

from __future__ import annotations

import logging

import numpy as np
import streamlit as st

from inbedder.app import exports, figures, loading, pipeline, projection, runs, saved_view, sidebar, tree_view
from inbedder.app.messages import count, escape_markdown, for_page, shorten, unexpected
from inbedder.app.runs import Result, run
from inbedder.errors import InBedderError
from inbedder.io import Corpus

logger = logging.getLogger("inbedder.app")


# --------------------------------------------------------------------------- showing
def _map(result: Result, key: str, *, height: int = 520) -> None:
    """The map with click/lasso selection: the selected texts are listed under it."""
    table = result.table()
    names = figures.cluster_names(result.clustering.info)
    event = st.plotly_chart(
        figures.map_figure(table, names, height=height), key=key, on_select="rerun",
        selection_mode=("points", "box", "lasso"), width="stretch",
    )
    st.caption(result.projection.note + " Hover for text and answer; click or lasso points to list them.")
    rows = _selected_rows(event)
    if rows:
        st.markdown(f"**{len(rows)} selected text(s)**")
        columns = [c for c in ("text", "cluster", "cluster_name", "answer", "label") if c in table.columns]
        st.dataframe(table.iloc[rows][columns], hide_index=True, width="stretch")


def _selected_rows(event) -> list[int]:
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return []
    rows = []
    for point in points:
        data = point.get("customdata")
        if isinstance(data, (list, tuple)) and data:
            rows.append(int(data[0]))
        elif isinstance(data, (int, float)):
            rows.append(int(data))
    return sorted(set(rows))


def _summary(result: Result) -> None:
    """What was done (cache use, k, V-measure, outliers) and the button that names clusters with the model."""
    clustering = result.clustering
    if clustering.report is not None:
        st.success(clustering.report.message)
    columns = st.columns(5)
    columns[0].metric("Texts", f"{len(result.corpus.texts):,}")
    columns[1].metric("Clusters", clustering.k, help="chosen by silhouette" if clustering.silhouettes else None)
    if clustering.v_measure is not None:
        columns[2].metric("V-measure vs labels", f"{clustering.v_measure:.3f}")
    if clustering.outlier_threshold is not None:
        columns[3].metric("Outliers (“other”)", f"{clustering.outliers:,}",
                          help=f"similarity to their centre below {clustering.outlier_threshold:.3f}; kept, as cluster -1")
    if result.corpus.skipped:
        columns[4].metric("Empty rows skipped", result.corpus.skipped)
    if clustering.silhouettes:
        tried = ", ".join(f"k={k}: {s:.2f}" for k, s in clustering.silhouettes.items())
        st.caption(f"k chosen automatically: {clustering.k} has the best silhouette ({tried}).")
    _describe_controls(result)  # before the self-check's metrics, so a judged run shows its agreement at once
    _self_check(clustering)
    if st.button("Name the clusters with the model", key="name_run",
                 help="Asks the model for a name of at most five words per cluster, from its answers and keywords "
                      "(instead of the answers' most common phrase)."):
        try:
            with st.spinner("Writing cluster names…"):
                pipeline.name_with_model(clustering)
            result.downloads.clear()  # the saved clustering carries the names
        except InBedderError as error:
            st.error(for_page(error))


def _describe_controls(result: Result) -> None:
    """The writing model and the button that describes every cluster (issue #29)."""
    choices = runs.writer_choices()
    if not choices:
        return
    left, right = st.columns([2, 3])
    name = left.selectbox("Writing model", choices, key="writer",
                          help="writes each cluster's name and one sentence on what sets it apart from its nearest "
                               "clusters (zero-shot; the largest fetched model writes best, the smallest fastest)")
    right.markdown("&nbsp;")
    if right.button("Describe the clusters", key="describe_run",
                    help="a name, one contrastive sentence and three evidence texts per cluster; cached and greedy"):
        try:
            with st.spinner(f"{name} is writing the descriptions…"):
                pipeline.describe_with_model(result.clustering, runs.writer(name))
            result.downloads.clear()  # the saved clustering carries the descriptions
        except InBedderError as error:
            st.error(for_page(error))
    if right.button("Judge the descriptions", key="judge_run",
                    help="the writing model reads 40 seeded texts and picks the description that fits each; "
                         "the share it puts in their own cluster joins the self-check"):
        try:
            with st.spinner(f"{name} is judging…"):
                pipeline.describe_with_model(result.clustering, runs.writer(name), judge=True)
            result.downloads.clear()
        except InBedderError as error:
            st.error(for_page(error))


def _self_check(clustering) -> None:
    """Stability and answer purity (issue #29): can the analyst trust these clusters?"""
    if clustering.clusterer is None:
        return
    check = clustering.clusterer.self_check()
    columns = st.columns(5)
    if check.stability is not None:
        columns[0].metric("Stability (self-check)", f"{check.stability:.2f}",
                          help="mean adjusted Rand index of k-means re-fitted on five 80% samples: "
                               "1 = the same clusters whatever the sample, near 0 = one split among many")
    if check.answer_purity is not None:
        columns[1].metric("Answer purity (self-check)", f"{check.answer_purity:.0%}",
                          help="share of texts whose own answer contains their cluster's name")
    if check.judge_sample:
        columns[2].metric("Judge agreement (self-check)", "–" if check.judge_agreement is None else f"{check.judge_agreement:.0%}",
                          help=f"the writing model placed {check.judge_sample} seeded texts by the descriptions alone; "
                               "the share it put back in their own cluster")


def _card_title(row, label: str) -> str:
    dot = f"<span style='color:{figures.colour(row.cluster)}'>●</span>"
    if row.cluster == figures.OUTLIER:
        return f"{dot} **Other** (cluster -1) · {count(row.size)} far from every centre"
    return f"{dot} **Cluster {escape_markdown(label)}** · {count(row.size)}"


def _cards(result: Result, state) -> None:
    """One card per cluster: name, size, keyword bars, the texts nearest its centre, and the drill-down."""
    info = result.clustering.info
    info = info.iloc[sorted(range(len(info)), key=lambda i: info["cluster"].iloc[i] == figures.OUTLIER)]  # "other" last
    names, bare = figures.cluster_names(info), result.clustering.names
    has_labels = "entropy" in info.columns
    st.subheader("Clusters")
    if has_labels:
        st.caption("Ordered by label entropy: the purest cluster first.")
        st.plotly_chart(
            figures.composition_figure(result.clustering.composition, list(info["cluster"]), names),
            key="composition", width="stretch",
        )
    opened = _layers(result, names)
    if opened is not None:
        info = info[info["cluster"].isin(opened)]
    columns = st.columns(2)
    for position, row in enumerate(info.itertuples()):
        with columns[position % 2].container(border=True, key=f"card_{row.cluster}"):
            st.markdown(_card_title(row, names[int(row.cluster)]), unsafe_allow_html=True)
            if has_labels and row.top_label is not None:
                st.caption(f"Top label: {row.top_label} ({row.top_label_share:.0%}) · entropy {row.entropy:.2f}")
            _card_description(result.clustering, int(row.cluster))
            _card_body(row)
            tree_view.drill_form(state, int(row.cluster), names[int(row.cluster)], bare.get(int(row.cluster)), row.size)


def _layers(result: Result, names: dict[int, str]) -> list[int] | None:
    """Clusters grouped into named parents (issue #29), drawn as a sunburst; the clusters of the opened parent."""
    clusterer = result.clustering.clusterer
    if clusterer is None or clusterer.n_clusters_ < 3:
        return None
    if not st.checkbox("Group the clusters into parents (layers)", key="layers",
                       help="agglomerative clustering of the cluster centres; the number of parents by silhouette"):
        return None
    layers = pipeline.layers(result.clustering)
    parent_names = clusterer.display_parent_names()
    sizes = {int(c): int(n) for c, n in zip(*np.unique(result.clustering.labels, return_counts=True))}
    st.plotly_chart(figures.sunburst_figure(layers.children(), parent_names, names, sizes), key="sunburst", width="stretch")
    written = getattr(clusterer, "parent_descriptions_", None)
    choices = ["all parents"] + [f"{p}: {parent_names.get(p, '')}" for p in layers.children()]
    chosen = st.selectbox("Open a parent", choices, key="open_parent")
    if chosen == choices[0]:
        return None
    parent = int(chosen.split(":")[0])
    if written is not None and written.sentences.get(parent):
        st.markdown(f"*{escape_markdown(written.sentences[parent])}*")
    return layers.children()[parent]


def _card_description(clustering, cluster: int) -> None:
    """The written description and its evidence texts, when the clusters were described."""
    described = getattr(clustering.clusterer, "descriptions_", None)
    if described is None or cluster not in described.sentences:
        return
    st.markdown(f"*{escape_markdown(described.sentences[cluster]) or '(no description)'}*")
    quotes = [f"- {escape_markdown(shorten(clustering.clusterer.texts_[i], 240))}  \n"
              f"  → *{escape_markdown(shorten(clustering.answers[i] or '', 100)) or '(no answer)'}*"
              for i in described.evidence.get(cluster, [])]
    st.markdown("**Evidence**\n\n" + "\n".join(quotes))


def _card_body(row) -> None:
    """A card's keyword bars and keywords, then its texts nearest the centre with their answers."""
    if len(row.keywords):
        st.plotly_chart(
            figures.keyword_figure(row.keywords, row.keyword_scores, row.cluster),
            key=f"keywords_{row.cluster}", width="stretch", config={"displayModeBar": False},
        )
        st.markdown("Keywords: " + ", ".join(escape_markdown(k) for k in row.keywords))
    else:
        st.caption("No keywords: the answers in this cluster are all stopwords or empty.")
    lines = [
        f"- {escape_markdown(shorten(text, 240))}  \n  → *{escape_markdown(shorten(answer, 100)) or '(no answer)'}*"
        for text, answer in zip(row.examples, row.example_answers)
    ]
    st.markdown("**Nearest the centre**\n\n" + "\n".join(lines))


def _texts(result: Result) -> None:
    query = st.text_input("Search texts and answers", key="search", placeholder="e.g. waiter")
    table = result.table()
    found = pipeline.search(table, query)
    columns = [c for c in ("text", "cluster", "cluster_name", "answer", "similarity", "label", "id", "row")
               if c in table.columns]
    st.caption(f"{len(found):,} of {len(table):,} texts" + (f" contain “{query}”" if query.strip() else ""))
    st.dataframe(found[columns], hide_index=True, width="stretch", height=480)


def _compare(first: Result, params: pipeline.RunParams) -> None:
    """A second question on the same texts: two maps, and where each text went under each."""
    st.markdown(f"Question 1: **{escape_markdown(first.clustering.params.question)}** (k = {first.clustering.k})")
    question = st.text_input("Question 2", key="question2")
    auto = st.checkbox("Choose k automatically", key="k2_auto")
    k = st.number_input("Clusters for question 2", min_value=2, max_value=200, key="k2", disabled=auto)
    second_params = pipeline.RunParams(
        question=" ".join(question.split()), k=None if auto else int(k), method=params.method,
        model=params.model, adapter=params.adapter, seed=params.seed, min_similarity=params.min_similarity,
    )
    if st.button("Compare", key="compare_run", type="primary"):
        run(first.corpus, first.corpus_key, second_params, "compare")
    second: Result | None = st.session_state.get("compare")
    if second is None or second.corpus_key != first.corpus_key:
        st.caption("Ask a second question to see how it regroups the same texts.")
        return
    if second.clustering.report is not None:
        st.caption(second.clustering.report.message)
    left, right = st.columns(2)
    with left:
        st.markdown(f"**Q1** · {escape_markdown(first.clustering.params.question)}")
        _map(first, "map_q1", height=420)
    with right:
        st.markdown(f"**Q2** · {escape_markdown(second.clustering.params.question)}")
        _map(second, "map_q2", height=420)
    _agreement(first, second)


def _agreement(first: Result, second: Result) -> None:
    """How alike the two groupings are (AMI), and the flows of texts between their clusters."""
    from sklearn.metrics import adjusted_mutual_info_score

    agreement = adjusted_mutual_info_score(first.clustering.labels, second.clustering.labels)
    st.metric("Agreement of the two groupings (AMI; 0 = unrelated, 1 = same)", f"{agreement:.2f}")
    table = pipeline.crosstab(first.clustering.labels, second.clustering.labels)
    names_a, names_b = figures.cluster_names(first.clustering.info), figures.cluster_names(second.clustering.info)
    st.plotly_chart(figures.sankey_figure(table, names_a, names_b), key="sankey", width="stretch")
    st.plotly_chart(figures.crosstab_figure(table, names_a, names_b), key="crosstab", width="stretch")


def _downloads(result: Result) -> None:
    table = result.table().drop(columns="point")
    stem = saved_view.stem(result)
    st.download_button("Per-text table (CSV)", exports.csv_bytes(table), f"{stem}.csv", "text/csv", key="dl_csv", on_click="ignore")
    st.download_button("Per-text table (Parquet)", exports.parquet_bytes(table), f"{stem}.parquet",
                       "application/octet-stream", key="dl_parquet", on_click="ignore")
    st.download_button("Cluster summary (CSV)", exports.csv_bytes(exports.summary_table(result.clustering.info)),
                       f"{stem}.clusters.csv", "text/csv", key="dl_summary", on_click="ignore")
    record = result.clustering.record | {"map": {"method": result.projection.method, "drawn": int(len(result.projection.shown)),
                                                 "display_limit": projection.DISPLAY_LIMIT}}
    st.download_button("Run parameters (JSON)", exports.json_bytes(record), f"{stem}.run.json", "application/json",
                       key="dl_params", on_click="ignore")
    st.caption("cluster_name and similarity (to the cluster's centre) come with every text; cluster -1 is “other”. "
               "x and y are the map position; they are empty for texts not drawn on a sampled map.")


# --------------------------------------------------------------------------- page
def _root(corpus: Corpus, corpus_key: tuple, params: pipeline.RunParams, pressed: bool, stop: bool) -> Result | None:
    """The sidebar's clustering of all the texts: run when asked, or again from the cache when only k or outliers changed."""
    result: Result | None = st.session_state.get("result")
    if stop:
        st.warning("Stopped. Texts embedded so far are cached: press Run to continue where it stopped.")
    elif pressed:
        result = run(corpus, corpus_key, params, "result") or result
    elif result is not None and result.corpus_key == corpus_key and params.same_embeddings(result.clustering.params) \
            and params != result.clustering.params:
        result = run(corpus, corpus_key, params, "result") or result  # another k or outlier cut: cached, so instant
    return result


def main() -> None:
    st.title("InBedder explorer")
    st.caption("Cluster your texts by **your** question: a language model answers it for every text, "
               "texts with similar answers are grouped, and the answers' keywords explain each group.")
    autorun = sidebar.apply_query_params()
    chosen = sidebar.data_controls()
    params, pressed, stop = sidebar.question_controls()
    if chosen is None:
        return
    corpus, corpus_key = chosen
    result = _root(corpus, corpus_key, params, pressed or autorun, stop)
    if result is None or result.corpus_key != corpus_key:
        st.info("The data changed since the last run: press **Run** to cluster it." if result is not None else
                "Type a question in the sidebar and press **Run**. "
                f"Try “{loading.SAMPLE_QUESTIONS[0]}” (k = 4) or “{loading.SAMPLE_QUESTIONS[1]}” (k = 2).")
        with st.expander("Or load a saved clustering and assign these texts to it"):
            saved_view.load_section(corpus, corpus_key)
        return
    if result.clustering.params != params:
        st.caption(f"Showing the last run: “{escape_markdown(result.clustering.params.question)}”. Press **Run** for the new settings.")
    state = tree_view.current(result)
    tree_view.handle_request(state, params.min_similarity)
    tree_view.breadcrumb_bar(state)
    shown: Result = state.shown
    overview, texts, compare, download, keep = st.tabs(
        ["Map and clusters", "Texts", "Compare questions", "Export", "Save and assign"])
    with overview:
        _summary(shown)
        _map(shown, "map_main")
        _cards(shown, state)
    with texts:
        _texts(shown)
    with compare:
        _compare(shown, params)
    with download:
        _downloads(shown)
    with keep:
        saved_view.save_section(shown)
        st.divider()
        saved_view.load_section(corpus, corpus_key)


st.set_page_config(page_title="InBedder explorer", page_icon="🧭", layout="wide")
try:
    main()
except InBedderError as error:
    st.error(for_page(error))
except Exception as error:  # noqa: BLE001 - the page shows one line; the terminal gets the traceback
    logger.exception("explorer failed")
    st.error(unexpected(error))

"""The drill-down in the page: a follow-up question on a cluster card, the breadcrumbs back up.

"Drill into this cluster" on a card takes a follow-up question and k; submitting it stores a
request (a form callback cannot draw a progress bar where the page wants it), and the next
run of the page clusters that cluster's texts under the new question at the top of the page
(:func:`handle_request`) and shows the result. Every clustering opened stays in the
:class:`~inbedder.app.tree.QuestionTree` in ``st.session_state``, so a breadcrumb click back
up, or the same drill-down again, is instant.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import streamlit as st

from inbedder.app import loading, runs, tree
from inbedder.app.messages import count, escape_markdown, shorten

TREE, REQUEST = "question_tree", "drill_request"
K_CHOICES = ("auto", *range(2, 11))
CRUMB_WIDTH = 60


@dataclass(frozen=True)
class Request:
    """A submitted "Drill into this cluster" form, done at the top of the next run."""

    path: tree.Path
    cluster: int
    label: str
    name: str | None
    question: str
    k: int | None


def current(root: runs.Result) -> tree.QuestionTree:
    """The page's question tree for this root clustering (a new root starts a new tree)."""
    state = tree.reset_if_new_root(st.session_state.get(TREE), root)
    st.session_state[TREE] = state
    return state


def _submit(path: tree.Path, cluster: int, label: str, name: str | None, keys: tuple[str, str]) -> None:
    """Form callback: keep what was asked; :func:`handle_request` runs it where the page shows progress."""
    question, k = (st.session_state.get(key) for key in keys)
    st.session_state[REQUEST] = Request(path, cluster, label, name, " ".join(str(question or "").split()),
                                        None if k == "auto" else int(k))


def drill_form(state: tree.QuestionTree, cluster: int, label: str, name: str | None, size: int) -> None:
    """On a cluster card: the follow-up question and k for clustering only this cluster's texts."""
    node = state.node_id()
    keys = (f"drill_question_{node}_{cluster}", f"drill_k_{node}_{cluster}")
    with st.expander("Drill into this cluster", key=f"drill_open_{node}_{cluster}"), \
            st.form(key=f"drill_{node}_{cluster}", border=False):
        st.text_input("Follow-up question", key=keys[0], placeholder="e.g. What went wrong with the service?",
                      help=f"Asked of the {count(size)} of {label} only; their answers group them again.")
        st.selectbox("Clusters", K_CHOICES, key=keys[1], help="auto: the best silhouette of k = 2–10.")
        st.form_submit_button(f"Cluster {'this' if size == 1 else 'these'} {count(size)}", key=f"drill_run_{node}_{cluster}",
                              type="primary", on_click=_submit, args=(state.current, cluster, label, name, keys))


def handle_request(state: tree.QuestionTree, min_similarity: float | str | None) -> None:
    """Do a submitted drill-down: reuse the child made before, else cluster the cluster's texts (errors: one line)."""
    request: Request | None = st.session_state.pop(REQUEST, None)
    if request is None or request.path not in state.nodes:
        return
    step = tree.Step(request.cluster, request.label, request.question, request.k, min_similarity)
    made = state.child(step, request.path)
    if made is not None:
        state.descend(step, made, request.path)
        return
    parent: runs.Result = state.nodes[request.path]
    rows = np.flatnonzero(parent.clustering.labels == request.cluster)
    note = f"the {len(rows)} texts of cluster {request.label} under “{parent.clustering.params.question}”"
    texts = loading.subset(parent.corpus, rows, note)
    params = replace(parent.clustering.params, question=request.question, k=request.k, min_similarity=min_similarity)
    child = runs.run(texts, (*parent.corpus_key, "within", request.cluster, request.question, request.k), params)
    if child is None:
        return
    child.clustering.clusterer.parent_ = tree.parent_record(
        parent.clustering.params.question, request.cluster, request.name, len(rows),
        getattr(parent.clustering.clusterer, "parent_", None),
    )
    state.descend(step, child, request.path)


def breadcrumb_bar(state: tree.QuestionTree) -> None:
    """``All 256 texts › question › 2 · wait times › follow-up``: every crumb above the current level goes back."""
    root: runs.Result = state.root
    crumbs = tree.breadcrumbs(len(root.corpus.texts), root.clustering.params.question, state.current)
    with st.container(horizontal=True, key="breadcrumbs", gap="small", vertical_alignment="center"):
        for position, crumb in enumerate(crumbs):
            if position:
                st.markdown("›")
            text = escape_markdown(shorten(crumb.label, CRUMB_WIDTH))
            text = f"*{text}*" if crumb.kind == "question" else text
            if crumb.current:
                st.markdown(f"**{text}**")
            else:
                st.button(text, key=f"crumb_{position}", type="tertiary", on_click=state.go_to, args=(crumb.depth,),
                          help="Back to this level (kept: no new run)")

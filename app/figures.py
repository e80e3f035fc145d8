"""Plotly figures for the page: the map, keyword bars, label composition, question comparison.

Pure functions from data to figures (no Streamlit), so they are testable and the page only
places them. A cluster keeps one colour in every figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from inbedder.app.messages import hover_text, shorten

PALETTE = qualitative.Plotly + qualitative.Dark24
LABEL_PALETTE = qualitative.Set2 + qualitative.Pastel2  # gold labels: muted, unlike cluster colours
WEBGL_FROM = 3000  # SVG markers are crisper, WebGL keeps large maps responsive
OUTLIER, OUTLIER_NAME, OUTLIER_COLOUR = -1, "other", "#9e9e9e"  # texts far from every centroid: grey


def colour(cluster: int) -> str:
    """One colour per cluster in every figure; outliers are grey so they read as "not a group"."""
    return OUTLIER_COLOUR if int(cluster) == OUTLIER else PALETTE[int(cluster) % len(PALETTE)]


def cluster_label(cluster: int, name: str | None, keywords: Sequence[str] = (), *, words: int = 2) -> str:
    """'2 · wait times': the number (to find it in tables) with its name; "other" for outliers.

    A cluster with no name of its own (its answers had no content word: "cluster 2") falls back
    on its top keywords, then on the bare number.
    """
    cluster = int(cluster)
    if cluster == OUTLIER:
        return OUTLIER_NAME
    name = " ".join((name or "").split())
    if not name or name == f"cluster {cluster}":
        name = ", ".join(list(keywords)[:words])
    return f"{cluster} · {name}" if name else str(cluster)


def cluster_names(info: pd.DataFrame) -> dict[int, str]:
    """{cluster: '2 · wait times'} for legends, axes and cards, from the cluster table's names."""
    names = info["name"] if "name" in info.columns else [None] * len(info)
    return {int(row.cluster): cluster_label(row.cluster, name, row.keywords) for row, name in zip(info.itertuples(), names)}


def map_figure(points: pd.DataFrame, names: Mapping[int, str], *, height: int = 520) -> go.Figure:
    """Scatter of the drawn texts coloured by cluster; hover shows text and answer.

    ``points`` needs columns point, x, y, cluster, text, answer; rows with no x (not drawn) are
    left out. Each marker carries its point (position in the table) in ``customdata`` so selections map back to texts.
    """
    drawn = points[np.isfinite(points["x"].to_numpy(dtype=float))]
    trace = go.Scattergl if len(drawn) >= WEBGL_FROM else go.Scatter
    figure = go.Figure()
    for cluster in sorted(drawn["cluster"].unique(), key=lambda c: (c == OUTLIER, c)):  # "other" last
        part = drawn[drawn["cluster"] == cluster]
        hover = [
            f"{hover_text(text)}<br><i>→ {hover_text(answer, 120)}</i>"
            for text, answer in zip(part["text"], part["answer"])
        ]
        figure.add_trace(trace(
            x=part["x"], y=part["y"], mode="markers", name=shorten(names.get(int(cluster), str(cluster)), 40),
            marker=dict(color=colour(cluster), size=7 if len(drawn) < 2000 else 4, opacity=0.85),
            customdata=part[["point"]].to_numpy(), text=hover,
            hovertemplate="%{text}<extra>%{fullData.name}</extra>",
        ))
    figure.update_layout(
        height=height, margin=dict(l=10, r=10, t=10, b=10), dragmode="lasso",
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0), hoverlabel=dict(align="left"),
        xaxis=dict(showticklabels=False, title=None, zeroline=False),
        yaxis=dict(showticklabels=False, title=None, zeroline=False),
    )
    return figure


def keyword_figure(keywords: Sequence[str], scores: Sequence[float], cluster: int) -> go.Figure:
    """Horizontal bars of a cluster's TF-IDF keyword scores, the strongest on top."""
    figure = go.Figure(go.Bar(
        x=list(scores)[::-1], y=list(keywords)[::-1], orientation="h", marker_color=colour(cluster),
        hovertemplate="%{y}: %{x:.3f}<extra></extra>",
    ))
    figure.update_layout(
        height=40 + 22 * max(1, len(keywords)), margin=dict(l=10, r=10, t=5, b=5),
        xaxis=dict(title=None, showticklabels=False), yaxis=dict(title=None, automargin=True),
    )
    return figure


def composition_figure(composition: pd.DataFrame, order: Sequence[int], names: Mapping[int, str]) -> go.Figure:
    """Stacked bars: the gold labels inside each cluster, clusters in the given order (purest first)."""
    rows = [c for c in order if c in composition.index]
    figure = go.Figure()
    for position, label in enumerate(composition.columns):
        figure.add_trace(go.Bar(
            marker_color=LABEL_PALETTE[position % len(LABEL_PALETTE)],
            y=[names.get(int(c), str(c)) for c in rows], x=composition.loc[rows, label].tolist(),
            name=str(label), orientation="h",
        ))
    figure.update_layout(
        barmode="stack", height=80 + 32 * len(rows), margin=dict(l=10, r=10, t=30, b=10),
        yaxis=dict(autorange="reversed", automargin=True), xaxis_title="texts",
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0),
    )
    return figure


def crosstab_figure(table: pd.DataFrame, names_a: Mapping[int, str], names_b: Mapping[int, str]) -> go.Figure:
    """Heatmap of texts per (cluster under question 1, cluster under question 2)."""
    figure = go.Figure(go.Heatmap(
        z=table.to_numpy(), x=[shorten(names_b.get(int(c), str(c)), 28) for c in table.columns],
        y=[shorten(names_a.get(int(c), str(c)), 28) for c in table.index],
        colorscale="Blues", text=table.to_numpy(), texttemplate="%{text}", showscale=False,
        hovertemplate="%{y} → %{x}: %{z} texts<extra></extra>",
    ))
    figure.update_layout(
        height=120 + 30 * len(table.index), margin=dict(l=10, r=10, t=10, b=10),
        xaxis=dict(title="question 2", side="top"), yaxis=dict(title="question 1", autorange="reversed"),
    )
    return figure


def sankey_figure(table: pd.DataFrame, names_a: Mapping[int, str], names_b: Mapping[int, str]) -> go.Figure:
    """Flows of texts from question 1's clusters (left) to question 2's (right)."""
    left = [int(c) for c in table.index]
    right = [int(c) for c in table.columns]
    labels = [f"Q1 {names_a.get(c, str(c))}" for c in left] + [f"Q2 {names_b.get(c, str(c))}" for c in right]
    sources, targets, values, colours = [], [], [], []
    for i, a in enumerate(left):
        for j, b in enumerate(right):
            count = int(table.loc[a, b])
            if count:
                sources.append(i)
                targets.append(len(left) + j)
                values.append(count)
                colours.append(_translucent(colour(a)))
    figure = go.Figure(go.Sankey(
        node=dict(label=[shorten(label, 40) for label in labels], pad=12,
                  color=[colour(c) for c in left] + [colour(c) for c in right]),
        link=dict(source=sources, target=targets, value=values, color=colours),
    ))
    figure.update_layout(height=max(320, 40 * max(len(left), len(right))), margin=dict(l=10, r=10, t=10, b=10))
    return figure


def _translucent(hex_colour: str, alpha: float = 0.35) -> str:
    value = hex_colour.lstrip("#")
    red, green, blue = (int(value[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({red},{green},{blue},{alpha})"


def sunburst_figure(children: Mapping[int, Sequence[int]], parent_names: Mapping[int, str],
                    names: Mapping[int, str], sizes: Mapping[int, int]) -> go.Figure:
    """Parents in the middle ring, their clusters outside, each sized by its texts."""
    ids, labels, parents, values, colours = [], [], [], [], []
    for parent, kids in children.items():
        ids.append(f"p{parent}")
        labels.append(shorten(parent_names.get(parent, f"parent {parent}"), 30))
        parents.append("")
        values.append(sum(sizes.get(c, 0) for c in kids))
        colours.append("#dddddd")
        for cluster in kids:
            ids.append(f"c{cluster}")
            labels.append(shorten(f"{cluster}: {names.get(cluster, '')}", 30))
            parents.append(f"p{parent}")
            values.append(sizes.get(cluster, 0))
            colours.append(colour(cluster))
    figure = go.Figure(go.Sunburst(ids=ids, labels=labels, parents=parents, values=values, branchvalues="total",
                                   marker={"colors": colours}, hovertemplate="%{label}<br>%{value} texts<extra></extra>"))
    figure.update_layout(margin={"l": 0, "r": 0, "t": 10, "b": 0}, height=380)
    return figure

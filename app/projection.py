"""The 2-D map: UMAP of the answer embeddings, drawn for at most a display limit of points.

Clustering always uses every text; only the drawing is sampled, because a browser slows
down with tens of thousands of markers and UMAP's time grows with the points it lays out.
Tiny corpora get PCA: UMAP needs more points than neighbours and says little about a handful.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass

import numpy as np

from inbedder.vectors import unit_rows

DISPLAY_LIMIT = 20_000  # points drawn; see docs/explorer.md for UMAP time at this size
MIN_UMAP_POINTS = 15  # below this the map is PCA (UMAP's default neighbourhood is 15)
NEIGHBOURS = 15

logger = logging.getLogger(__name__)


@dataclass
class Projection:
    """x, y per text (NaN where not drawn), which texts are drawn, and how the map was made."""

    coords: np.ndarray  # [n, 2]
    shown: np.ndarray  # indices of the drawn texts, ascending
    method: str  # "UMAP" or "PCA"
    seconds: float

    @property
    def note(self) -> str:
        n = len(self.coords)
        drawn = f"all {n} texts" if len(self.shown) == n else f"a random {len(self.shown):,} of {n:,} texts (clustering uses all)"
        return f"{self.method} map of {drawn}, computed in {self.seconds:.1f} s."


def display_sample(n: int, limit: int = DISPLAY_LIMIT, *, seed: int = 0) -> np.ndarray:
    """Indices of the texts to draw: all of them, or a reproducible random subset of ``limit``."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def project(embeddings: np.ndarray, limit: int = DISPLAY_LIMIT, *, seed: int = 0) -> Projection:
    """Lay out the drawn texts in 2-D (UMAP, cosine); never fails for tiny or degenerate input."""
    started = time.perf_counter()
    embeddings = np.asarray(embeddings, dtype=np.float32)
    shown = display_sample(len(embeddings), limit, seed=seed)
    points = embeddings[shown]
    method = "UMAP"
    if len(points) < MIN_UMAP_POINTS:
        xy, method = _pca(points), "PCA"
    else:
        try:
            xy = _umap(points, seed)
        except Exception as error:  # noqa: BLE001 - a map is worth less than a crash-free page
            logger.warning("UMAP failed (%s); drawing a PCA map instead", error)
            xy, method = _pca(points), "PCA"
    coords = np.full((len(embeddings), 2), np.nan, dtype=np.float32)
    coords[shown] = xy
    return Projection(coords, shown, method, time.perf_counter() - started)


def _umap(points: np.ndarray, seed: int) -> np.ndarray:
    """UMAP on cosine neighbours computed here: exact, and it skips UMAP's own neighbour search,
    whose just-in-time compilation is the slowest part of a first map (tens of seconds)."""
    import umap

    neighbours = min(NEIGHBOURS, len(points) - 1)
    indices, distances = cosine_neighbours(points, neighbours)
    reducer = umap.UMAP(
        n_neighbors=neighbours, n_components=2, metric="cosine", random_state=seed,
        init="spectral" if len(points) > 2 * NEIGHBOURS else "random",
        precomputed_knn=(indices, distances),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # n_jobs overridden by random_state, spectral fallbacks
        xy = reducer.fit_transform(points)
    if not np.isfinite(xy).all():
        raise ValueError("UMAP produced non-finite coordinates")
    return xy


def cosine_neighbours(points: np.ndarray, k: int, *, block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Each point's k nearest points by cosine distance (itself first), exactly, in row blocks."""
    unit = unit_rows(points, dtype=np.float32)
    indices = np.empty((len(unit), k), dtype=np.int64)
    distances = np.empty((len(unit), k), dtype=np.float32)
    for start in range(0, len(unit), block):
        rows = np.arange(start, min(start + block, len(unit)))
        similarity = unit[rows] @ unit.T
        similarity[np.arange(len(rows)), rows] = np.inf  # itself first, even among duplicates
        top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(similarity, top, axis=1), axis=1, kind="stable")
        indices[rows] = np.take_along_axis(top, order, axis=1)
        best = np.take_along_axis(similarity, indices[rows], axis=1)
        distances[rows] = np.clip(1.0 - np.where(np.isinf(best), 1.0, best), 0.0, 2.0)
    return indices, distances


def _pca(points: np.ndarray) -> np.ndarray:
    """First two principal components; zeros where the data has fewer dimensions of variance."""
    centred = points - points.mean(axis=0, keepdims=True)
    xy = np.zeros((len(points), 2), dtype=np.float32)
    if len(points) < 2 or not np.any(centred):
        return xy
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    parts = centred @ vt[:2].T
    xy[:, : parts.shape[1]] = parts
    return xy

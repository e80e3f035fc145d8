"""Small operations on embedding matrices shared by encoding, clustering, evaluation and the map."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def unit_rows(matrix: np.ndarray, *, dtype: type | None = None) -> np.ndarray:
    """Rows scaled to length 1 (a zero row stays zero), so dot products are cosines.

    The result keeps the input's float type unless ``dtype`` is given (metrics ask for float64).
    """
    matrix = np.asarray(matrix)
    if dtype is not None or not np.issubdtype(matrix.dtype, np.floating):
        matrix = matrix.astype(dtype or np.float64)
    return matrix / np.clip(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12, None)


@dataclass(frozen=True)
class CorpusFrame:
    """Where a corpus sits: its mean unit row and each dimension's spread (None: not applied).

    Fitted once on the corpus (:meth:`fit`) and applied to it and to every later text
    (:meth:`apply`), so new texts are measured in the frame the clusters were found in.
    """

    mean: np.ndarray | None = None
    scale: np.ndarray | None = None

    @classmethod
    def fit(cls, matrix: np.ndarray, *, center: bool = True, standardize: bool = False) -> tuple[np.ndarray, CorpusFrame]:
        """(the corpus' rows in its own frame, that frame): scikit-learn's ``StandardScaler`` on the unit rows.

        ``center``: take out the direction every text shares. Why: a language model's states
        share one dominant direction (1st-gen on the shipped reviews: mean pairwise cosine 0.83),
        so raw cosines all sit near 1 and the question's answer moves them little.
        ``standardize``: give each dimension unit variance over the corpus. Why: a few
        dimensions of the model's state vary far more than the rest and decide every distance;
        scaled, the others count too (issue #11: news topic V 51.0 → 58.5, reviews HM 73.4 → 77.6).
        """
        unit = unit_rows(matrix, dtype=np.float64)
        if not (center or standardize):
            return unit, cls()
        from sklearn.preprocessing import StandardScaler

        scaler = StandardScaler(with_mean=center, with_std=standardize).fit(unit)
        frame = cls(mean=scaler.mean_ if center else None, scale=scaler.scale_ if standardize else None)
        return frame.apply(unit), frame

    def apply(self, matrix: np.ndarray) -> np.ndarray:
        """Rows made unit, less the corpus' ``mean``, divided by its ``scale``, made unit again (float64)."""
        rows = unit_rows(matrix, dtype=np.float64)
        if self.mean is None and self.scale is None:
            return rows
        if self.mean is not None:
            rows = rows - np.asarray(self.mean, dtype=np.float64)
        if self.scale is not None:
            rows = rows / np.asarray(self.scale, dtype=np.float64)
        return unit_rows(rows, dtype=np.float64)

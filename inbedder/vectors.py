"""Small operations on embedding matrices shared by encoding, clustering, evaluation and the map."""

from __future__ import annotations

import numpy as np


def unit_rows(matrix: np.ndarray, *, dtype: type | None = None) -> np.ndarray:
    """Rows scaled to length 1 (a zero row stays zero), so dot products are cosines.

    The result keeps the input's float type unless ``dtype`` is given (metrics ask for float64).
    """
    matrix = np.asarray(matrix)
    if dtype is not None or not np.issubdtype(matrix.dtype, np.floating):
        matrix = matrix.astype(dtype or np.float64)
    return matrix / np.clip(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12, None)

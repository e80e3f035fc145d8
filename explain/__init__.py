"""Explain clusters of InBedder embeddings by the answers the model generated for them.

Keywords are mined with TF-IDF from each cluster's concatenated answers (paper section 6.1) and
shown next to the texts nearest each centroid and, when gold labels exist, the cluster's purity.
"""

from .keywords import cluster_keywords
from .summary import (
    cluster_table,
    label_composition,
    label_entropy,
    representative_indices,
    v_measure,
)

__all__ = [
    "cluster_keywords",
    "cluster_table",
    "label_composition",
    "label_entropy",
    "representative_indices",
    "v_measure",
]

"""Instruction-awareness tests (paper §3.2): triplets, instruction STS, multi-labelling clustering.

Each test embeds its texts through a :class:`~inbedder.evaluation.subjects.Subject` and returns a
plain dict of scores in [0, 1] (Spearman in [-1, 1]) plus the sizes it was computed on.
"""

from __future__ import annotations

import numpy as np

from inbedder.evaluation.datasets import MultiLabelSet, STSSet, TripletSet
from inbedder.evaluation.metrics import (
    clustering_v_measure,
    harmonic_mean,
    instruction_sts_spearman,
    triplet_success_rate,
)
from inbedder.evaluation.subjects import Subject


def evaluate_triplets(subject: Subject, data: TripletSet) -> dict:
    """Success rate per criterion (intent, emotion) and their harmonic mean.

    The corpus is embedded once per criterion's question (one ``encode_questions`` call).
    """
    texts = data.texts()
    row = {text: i for i, text in enumerate(texts)}
    vectors = subject.embed(texts, [data.instructions[name] for name in data.triplets])
    rates = {}
    for name, triplets in data.triplets.items():
        matrix = vectors[data.instructions[name]]
        anchor, positive, negative = (matrix[[row[t[j]] for t in triplets]] for j in range(3))
        rates[name] = triplet_success_rate(anchor, positive, negative)
    return {**rates, "harmonic_mean": harmonic_mean(list(rates.values())),
            "n_triplets": {name: len(rows) for name, rows in data.triplets.items()}}


def evaluate_sts(subject: Subject, data: STSSet) -> dict:
    """Spearman between the pairs' cosine similarity under their instruction and the 0/1 label.

    Pairs are grouped by instruction so every sentence is embedded once per question it meets.
    """
    first = [None] * len(data)
    second = [None] * len(data)
    by_instruction: dict[str, list[int]] = {}
    for i, instruction in enumerate(data.instructions):
        by_instruction.setdefault(instruction, []).append(i)
    for instruction, rows in by_instruction.items():
        texts = list(dict.fromkeys(text for i in rows for text in (data.sentence1[i], data.sentence2[i])))
        matrix = subject.embed(texts, [instruction])[instruction]
        where = {text: j for j, text in enumerate(texts)}
        for i in rows:
            first[i] = matrix[where[data.sentence1[i]]]
            second[i] = matrix[where[data.sentence2[i]]]
    spearman = instruction_sts_spearman(np.stack(first), np.stack(second), data.labels)
    return {"spearman": spearman, "n_pairs": len(data), "n_instructions": len(by_instruction)}


def evaluate_multilabel(
    subject: Subject, data: MultiLabelSet, *, seed: int = 0, center: bool = True, standardize: bool = True,
) -> dict:
    """V-measure of k-means (k = classes of the labelling) under each labelling's question; harmonic mean.

    The clustering is :class:`~inbedder.clustering.estimator.InstructionClusterer`'s (texts in canonical
    order), so a score here is what ``inbedder cluster`` reports for the same embeddings.
    """
    vectors = subject.embed(data.texts, [labeling.instruction for labeling in data.labelings])
    scores = {
        labeling.name: clustering_v_measure(
            vectors[labeling.instruction], labeling.labels, k=labeling.k, seed=seed, texts=data.texts, center=center,
            standardize=standardize,
        )
        for labeling in data.labelings
    }
    return {**scores, "harmonic_mean": harmonic_mean(list(scores.values())), "n_texts": len(data.texts),
            "k": {labeling.name: labeling.k for labeling in data.labelings}}

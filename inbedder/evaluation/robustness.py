"""Instruction-robustness test (paper §3.3): one corpus clustered under 30 wordings of the question.

An embedder that follows instructions clusters well under the 10 correct and 10 implicit wordings
and badly under the 10 incorrect ones; the gaps Δci and Δii measure that.
"""

from __future__ import annotations

import numpy as np

from inbedder.evaluation.datasets import RobustnessTask
from inbedder.evaluation.metrics import clustering_v_measure, robustness_summary
from inbedder.evaluation.subjects import Subject

SUMMARY_KEYS = ("correct", "implicit", "incorrect", "delta_ci", "delta_ii", "strict_ci", "strict_ii")


def evaluate_robustness_task(
    subject: Subject, task: RobustnessTask, *, seed: int = 0, center: bool = True, standardize: bool = True,
) -> dict:
    """V-measure under every instruction, the mean of each set, Δci, Δii and their strict forms
    (k-means centred and scaled as the clusterer's ``center`` and ``standardize``)."""
    sets = task.instruction_sets()
    every = [instruction for instructions in sets.values() for instruction in instructions]
    vectors = subject.embed(task.texts, every)  # one corpus, 30 questions: a single encode_questions call
    score = {
        instruction: clustering_v_measure(matrix, task.labels, k=task.n_clusters, seed=seed, texts=task.texts,
                                          center=center, standardize=standardize)
        for instruction, matrix in vectors.items()
    }
    per_set = {name: [score[instruction] for instruction in instructions] for name, instructions in sets.items()}
    return {
        **robustness_summary(per_set["correct"], per_set["implicit"], per_set["incorrect"]),
        "scores": {name: dict(zip(sets[name], values)) for name, values in per_set.items()},
        "n_texts": len(task.texts), "k": task.n_clusters, "source": task.source,
    }


def mean_over_tasks(results: dict[str, dict]) -> dict[str, float]:
    """Each summary figure averaged over the robustness tasks (what the comparison table shows)."""
    return {key: float(np.mean([result[key] for result in results.values()])) for key in SUMMARY_KEYS}

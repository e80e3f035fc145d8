"""Run chosen tests over several subjects (methods and references): one result row per subject."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from inbedder.errors import InBedderError
from inbedder.evaluation.awareness import evaluate_multilabel, evaluate_sts, evaluate_triplets
from inbedder.evaluation.datasets import AwarenessData, RobustnessTask
from inbedder.evaluation.robustness import evaluate_robustness_task, mean_over_tasks
from inbedder.evaluation.subjects import Subject

AWARENESS_TASKS = ("triplets", "sts", "clustering")
TASKS = AWARENESS_TASKS + ("robustness",)


def parse_tasks(value: str, allowed: Sequence[str] = TASKS) -> list[str]:
    """``all`` or a comma list of test names, checked against ``allowed``."""
    if value.strip() == "all":
        return list(allowed)
    chosen = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in allowed]
    if unknown or not chosen:
        raise InBedderError(f"tasks={value!r}: unknown test(s) {', '.join(unknown) or '(none given)'}; "
                            f"choose 'all' or a comma list of: {', '.join(allowed)}", parameter="tasks")
    return [name for name in allowed if name in chosen]


@dataclass
class Suite:
    """The data of the tests to run; a test whose data is absent is skipped."""

    awareness: AwarenessData = field(default_factory=AwarenessData)
    robustness: list[RobustnessTask] = field(default_factory=list)
    seed: int = 0
    center: bool = True  # k-means on centred rows, as the clusterer's default; False: raw unit rows
    standardize: bool = True  # each dimension scaled to unit variance first, as the clusterer's default

    @property
    def tasks(self) -> list[str]:
        present = [name for name in AWARENESS_TASKS if getattr(self.awareness, name) is not None]
        return present + (["robustness"] if self.robustness else [])

    def describe(self) -> dict:
        """Where each test's data came from and how big it is (for the run record)."""
        info: dict = {}
        data = self.awareness
        if data.triplets:
            info["triplets"] = {"source": data.triplets.source, "instructions": data.triplets.instructions,
                                "n_triplets": {k: len(v) for k, v in data.triplets.triplets.items()}}
        if data.sts:
            info["sts"] = {"source": data.sts.source, "n_pairs": len(data.sts)}
        if data.clustering:
            info["clustering"] = {"source": data.clustering.source, "n_texts": len(data.clustering.texts),
                                  "labelings": {lab.name: {"instruction": lab.instruction, "k": lab.k} for lab in data.clustering.labelings}}
        if self.robustness:
            info["robustness"] = {task.name: {"source": task.source, "n_texts": len(task.texts), "k": task.n_clusters,
                                              **{name: len(items) for name, items in task.instruction_sets().items()}}
                                  for task in self.robustness}
        return info


def evaluate_subject(subject: Subject, suite: Suite, bar: tqdm | None = None) -> dict:
    """Every test of the suite on one subject: its scores, the paper's average and seconds per test."""
    row = {**subject.describe(), "seconds": {}}
    steps = [(name, None) for name in suite.tasks if name != "robustness"] + [("robustness", task) for task in suite.robustness]
    for name, task in steps:
        if bar is not None:
            bar.set_description(f"{subject.name} · {task.name if task else name}")
        started = time.perf_counter()
        if name == "triplets":
            row["triplets"] = evaluate_triplets(subject, suite.awareness.triplets)
        elif name == "sts":
            row["sts"] = evaluate_sts(subject, suite.awareness.sts)
        elif name == "clustering":
            row["clustering"] = evaluate_multilabel(subject, suite.awareness.clustering, seed=suite.seed,
                                                    center=suite.center, standardize=suite.standardize)
        else:
            row.setdefault("robustness", {"tasks": {}})["tasks"][task.name] = evaluate_robustness_task(
                subject, task, seed=suite.seed, center=suite.center, standardize=suite.standardize)
        key = f"robustness:{task.name}" if task else name
        row["seconds"][key] = round(time.perf_counter() - started, 2)
        if bar is not None:
            bar.update(1)
    if all(name in row for name in AWARENESS_TASKS):
        # The paper's Table 1 "Avg": mean of I.STSB Spearman, IntEmo and NYT harmonic means.
        row["awareness_avg"] = float(np.mean([row["sts"]["spearman"], row["triplets"]["harmonic_mean"], row["clustering"]["harmonic_mean"]]))
    if "robustness" in row:
        row["robustness"]["mean"] = mean_over_tasks(row["robustness"]["tasks"])
    row["seconds"]["total"] = round(sum(row["seconds"].values()), 2)
    return row


def run_suite(
    subjects: Sequence[Subject], suite: Suite, *, show_progress_bar: bool = True,
    on_row: Callable[[list[dict]], None] | None = None,
) -> list[dict]:
    """One row per subject, in the given order; ``on_row(rows_so_far)`` after each (to save partial runs)."""
    if not suite.tasks:
        raise InBedderError("no test to run: every test's data is missing")
    steps = len([name for name in suite.tasks if name != "robustness"]) + len(suite.robustness)
    rows: list[dict] = []
    with tqdm(total=steps * len(subjects), unit="test", disable=not show_progress_bar) as bar:
        for subject in subjects:
            rows.append(evaluate_subject(subject, suite, bar))
            if on_row is not None:
                on_row(rows)
    return rows

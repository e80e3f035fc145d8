"""The evaluation in one call: choose tests and data, embedders and methods, get one row per subject.

>>> from inbedder import InBedder
>>> from inbedder.evaluation import compare
>>> rows = compare(InBedder(), methods=["1st-gen", "avg-gen"], tasks=["triplets", "sts"], limit=40)
>>> rows[0]["triplets"]["harmonic_mean"], rows[0]["sts"]["spearman"]
"""

from __future__ import annotations

from typing import Sequence

from inbedder.errors import InBedderError
from inbedder.evaluation.datasets import limit_awareness, limit_robustness, load_awareness, robustness_tasks
from inbedder.evaluation.subjects import PROMPT_METHOD, MethodSubject, NoInstruction, Subject
from inbedder.evaluation.suite import AWARENESS_TASKS, TASKS, Suite, run_suite


def build_suite(
    tasks: Sequence[str] = TASKS,
    data: str = "shipped",
    *,
    spec: str | None = None,
    limit: int | None = None,
    robustness_limit: int | None = None,
    seed: int = 0,
    center: bool = True, standardize: bool = True,
) -> Suite:
    """Load the data of ``tasks``: awareness sets from ``data`` (shipped|hub), robustness from ``spec``.

    ``limit`` keeps a seeded subset of every set (triplets per criterion, STS pairs, corpus texts);
    ``robustness_limit`` overrides it for the robustness corpora, which are embedded 30 times.
    ``center=False`` / ``standardize=False`` run k-means without the clusterer's centring / scaling.
    """
    unknown = [task for task in tasks if task not in TASKS]
    if unknown:
        raise InBedderError(f"unknown test(s) {', '.join(unknown)}; choose from: {', '.join(TASKS)}", parameter="tasks")
    for name, value in (("limit", limit), ("robustness_limit", robustness_limit)):
        if value is not None and value < 2:
            raise InBedderError(f"{name} must be at least 2 (got {value}); leave it out to use the full sets", parameter=name)
    awareness = load_awareness(data, [task for task in AWARENESS_TASKS if task in tasks])
    robustness = robustness_tasks(spec) if "robustness" in tasks else []
    return Suite(
        limit_awareness(awareness, limit, seed=seed),
        limit_robustness(robustness, robustness_limit if robustness_limit is not None else limit, seed=seed),
        seed,
        center,
        standardize,
    )


def build_subjects(
    models: Sequence,
    methods: Sequence[str],
    *,
    references: bool = True,
    batch_size: int = 16,
    show_progress_bar: bool = False,
) -> list[Subject]:
    """The references ``prompt`` and ``no-instruction`` (cheap, so first), then a subject per (model, method).

    ``prompt`` is a reference, so it appears once (with the first model's sentence encoder) even
    when listed among ``methods``; with several models, rows are named ``<model>:<method>``.
    """
    if not models:
        raise InBedderError("no model to evaluate")
    if not methods and not references:
        raise InBedderError("nothing to evaluate: give at least one method or keep the references")
    for model in models:
        for method in methods:
            model.check_method(method)
    several = len(models) > 1
    subjects: list[Subject] = []
    if references or PROMPT_METHOD in methods:
        subjects.append(MethodSubject(models[0], PROMPT_METHOD, batch_size=batch_size, show_progress_bar=show_progress_bar))
    if references:
        first = models[0]
        subjects.append(NoInstruction(first.sentence_encoder_name, str(first.loaded.model.device)))
    subjects += [
        MethodSubject(model, method, batch_size=batch_size, show_progress_bar=show_progress_bar,
                      name=f"{model.loaded.name}:{method}" if several else method)
        for model in models for method in methods if method != PROMPT_METHOD
    ]
    return subjects


def compare(
    model=None,
    methods: Sequence[str] = ("prompt", "1st-gen", "avg-gen", "re-enc"),
    *,
    tasks: Sequence[str] = TASKS,
    data: str = "shipped",
    spec: str | None = None,
    limit: int | None = None,
    robustness_limit: int | None = None,
    seed: int = 0,
    center: bool = True, standardize: bool = True,
    references: bool = True,
    batch_size: int = 16,
    show_progress_bar: bool = True,
) -> list[dict]:
    """Every chosen test for every method of ``model`` (an InBedder, or a list of them) plus the references."""
    from inbedder.encoding.embedder import InBedder

    models = model if isinstance(model, (list, tuple)) else [model or InBedder()]
    suite = build_suite(tasks, data, spec=spec, limit=limit, robustness_limit=robustness_limit, seed=seed,
                        center=center, standardize=standardize)
    subjects = build_subjects(models, methods, references=references, batch_size=batch_size)
    return run_suite(subjects, suite, show_progress_bar=show_progress_bar)

"""Does an embedder follow instructions? The paper's awareness and robustness tests (§3.2–3.3).

Start with :func:`compare` (every test, several methods, both references); the tests alone are
:func:`evaluate_triplets`, :func:`evaluate_sts`, :func:`evaluate_multilabel` and
:func:`evaluate_robustness_task`, and the scores alone live in :mod:`inbedder.evaluation.metrics`.
Exports load on first use, so ``inbedder --help`` stays fast.
"""

from importlib import import_module

_EXPORTS = {
    "compare": "api", "build_suite": "api", "build_subjects": "api",
    "Suite": "suite", "run_suite": "suite", "evaluate_subject": "suite", "TASKS": "suite",
    "evaluate_triplets": "awareness", "evaluate_sts": "awareness", "evaluate_multilabel": "awareness",
    "evaluate_robustness_task": "robustness",
    "MethodSubject": "subjects", "NoInstruction": "subjects",
    "TripletSet": "datasets", "STSSet": "datasets", "MultiLabelSet": "datasets", "Labeling": "datasets",
    "RobustnessTask": "datasets", "load_awareness": "datasets", "robustness_tasks": "datasets",
    "triplet_success_rate": "metrics", "instruction_sts_spearman": "metrics", "harmonic_mean": "metrics",
    "clustering_v_measure": "metrics", "robustness_summary": "metrics",
    "evaluate_independent": "independent", "load_independent": "independent",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"inbedder.evaluation.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'inbedder.evaluation' has no attribute {name!r}")

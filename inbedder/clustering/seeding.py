"""Guided clusters: k-means started from the texts whose answers match the analyst's seed words.

An analyst often knows some of the groups ("food, service, price, ambience"). Each seed's
starting centroid is the mean of the texts whose generated answer contains the seed's words
(case-folded, a plural "s" ignored); k-means (:func:`inbedder.clustering.kmeans.kmeans_from_centres`)
then refines from there, so cluster i is the seed i group. Seeds that match no answer are reported
and left out. What is here is about seeds alone: parsing them, matching answers, the starting centroids.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from inbedder.clustering.kmeans import kmeans_from_centres
from inbedder.errors import InBedderError
from inbedder.stopwords import singular, words
from inbedder.vectors import unit_rows


def parse_seeds(text: str | Sequence[str]) -> list[str]:
    """Seeds from "food,service" or a list: stripped, distinct, in order, at least 2.

    Seeds match answers case-folded with a plural "s" ignored, so "food" and "Foods" would
    start two clusters from the same texts: such a repeat is refused, as is an empty seed.
    """
    items = text.split(",") if isinstance(text, str) else list(text)
    seeds = [str(item).strip() for item in items]
    if not any(seeds):
        raise InBedderError(f"seed_answers={text!r} is empty; give at least 2 comma-separated words such as "
                            "'food,service,price', or leave seed_answers out", parameter="seed_answers")
    if any(not seed or not _stems(seed) for seed in seeds):
        raise InBedderError(f"seed answers {text!r} include an empty seed; give comma-separated words such as "
                            "'food,service,price'", parameter="seed_answers")
    first: dict[frozenset[str], str] = {}
    for seed in seeds:
        key = frozenset(_stems(seed))
        if key in first:
            same = first[key]
            detail = "" if same == seed else f" ({same!r} and {seed!r} match the same answers: case and a plural s are ignored)"
            raise InBedderError(f"seed answers {text!r} repeat a seed{detail}; give each once", parameter="seed_answers")
        first[key] = seed
    if len(seeds) < 2:
        raise InBedderError(f"seed_answers={text!r} gives 1 seed; each seed starts a cluster and clustering needs at "
                            "least 2, such as 'food,service'", parameter="seed_answers")
    return seeds


def check_seed_count(seeds: Sequence[str], texts: Sequence[str]) -> None:
    """Every seed starts its own cluster, so there can be at most as many as different texts."""
    distinct = len(set(texts))
    if len(seeds) > distinct:
        raise InBedderError(f"seed_answers gives {len(seeds)} seeds but there are only {distinct} different texts; "
                            f"give at most {distinct} seeds or add texts", parameter="seed_answers")


def _stems(text: str) -> set[str]:
    return {singular(word) for word in words(text)}


def matching_rows(answers: Sequence[str], seed: str) -> np.ndarray:
    """Indices of the answers that contain every word of ``seed``."""
    wanted = _stems(seed)
    return np.array([i for i, answer in enumerate(answers) if wanted <= _stems(answer or "")], dtype=int)


def seed_centres(vectors: np.ndarray, answers: Sequence[str], seeds: Sequence[str]) -> tuple[np.ndarray, dict[str, int]]:
    """(starting centroids of the seeds that matched, {seed: number of matching texts} for every seed)."""
    unit = unit_rows(vectors, dtype=np.float64)
    matched = {seed: matching_rows(answers, seed) for seed in seeds}
    counts = {seed: int(len(rows)) for seed, rows in matched.items()}
    centres = [unit[rows].mean(axis=0) for rows in matched.values() if len(rows)]
    if len(centres) < 2:
        hits = ", ".join(f"{seed!r}: {count}" for seed, count in counts.items())
        raise InBedderError(f"fewer than 2 seed answers match any generated answer ({hits}); use words the answers "
                            "contain (see the answer column of a plain run)", parameter="seed_answers")
    return np.stack(centres), counts


def seeded_kmeans(
    vectors: np.ndarray, texts: Sequence[str], answers: Sequence[str], seeds: Sequence[str], *, random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """(labels, centres, matches): k-means from the seeds' starting centroids, refined, in canonical order.

    Cluster i is the i-th seed that matched (the fit, :func:`inbedder.clustering.kmeans.kmeans_from_centres`,
    keeps the order of explicit starting centres).
    """
    starts, matches = seed_centres(unit_rows(vectors, dtype=np.float64), answers, seeds)
    labels, centres = kmeans_from_centres(vectors, starts, texts=texts, random_state=random_state)
    return labels, centres, matches

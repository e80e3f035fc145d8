"""The analyst's loop with the real embedded model on the shipped reviews (issue #10).

cluster → name → save → assign → drill down, plus outliers, automatic k, seed answers and a
refusal when the adapter on this machine is not the one the clustering was saved with.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load_file, save_file

from inbedder import InBedder, InstructionClusterer
from inbedder.cli.main import main
from inbedder.data import path as data_path
from inbedder.cli.demo import DEMO_QUESTIONS
from inbedder.models.loading import resolve_adapter
from inbedder.clustering.seeding import matching_rows

pytestmark = pytest.mark.slow

ASPECT = DEMO_QUESTIONS["aspect"][0]  # shared with the demo's tests: embedded once per session


@pytest.fixture(scope="module")
def reviews() -> pd.DataFrame:
    return pd.read_csv(data_path("reviews.csv"))


@pytest.fixture(scope="module")
def model(embedded_cache_dir):
    return InBedder(cache=embedded_cache_dir / "embeddings.sqlite")


@pytest.fixture(scope="module")
def aspect(model, reviews):
    """The reviews clustered by aspect, k=4, outliers below the 5th percentile."""
    return InstructionClusterer(model, ASPECT, n_clusters=4, min_similarity="auto").fit(reviews["review"], reviews["aspect"])


@pytest.fixture
def shared_cache_env(embedded_cache_dir, monkeypatch):
    monkeypatch.setenv("INBEDDER_CACHE", str(embedded_cache_dir))


def test_k_auto_on_the_reviews_picks_between_3_and_6(model, reviews, capsys):
    auto = InstructionClusterer(model, ASPECT, n_clusters="auto").fit(reviews["review"])
    with capsys.disabled():
        print(f"\n--k auto on the shipped reviews (4 aspects): k={auto.n_clusters_}, silhouettes {auto.silhouette_scores_}")
    assert 3 <= auto.n_clusters_ <= 6 and sorted(auto.silhouette_scores_) == list(range(2, 11))


def test_outliers_are_labelled_not_dropped(aspect, reviews):
    outliers = aspect.labels_ == -1
    assert len(aspect.labels_) == len(reviews)  # every text keeps a row
    assert outliers.sum() == (aspect.similarity_ < np.percentile(aspect.similarity_, 5)).sum() > 0
    assert aspect.cluster_info().set_index("cluster").loc[-1, "size"] == outliers.sum()
    stricter = InstructionClusterer(aspect.model, ASPECT, n_clusters=4, min_similarity=0.4).fit(reviews["review"])
    assert (stricter.labels_ == -1).sum() > outliers.sum()
    assert (stricter.labels_[~(stricter.labels_ == -1)] == aspect.labels_[~(stricter.labels_ == -1)]).mean() > 0.95


def test_names_come_from_the_members_answers(aspect):
    names = aspect.cluster_names_
    assert len(set(names.values())) == len(names) and names[-1] == "other"
    for cluster, name in names.items():
        if cluster >= 0:
            members = [answer.lower() for answer, label in zip(aspect.answers_, aspect.labels_) if label == cluster]
            assert any(word in " ".join(members) for word in name.split()), (cluster, name)
    # on this corpus the four aspect clusters are named by the aspect their answers give
    assert {"food", "price"} <= set(names.values())


def test_generated_names_have_at_most_five_words(aspect):
    names = aspect.name_clusters()
    assert sorted(names) == [0, 1, 2, 3] and all(0 < len(name.split()) <= 5 for name in names.values())
    assert aspect.name_clusters() == names  # greedy and cached: the same names again
    assert all(0 < len(prompt.split("; ")) <= 4 for prompt in aspect.name_prompts_.values())


def test_save_load_assign_gives_back_the_fit_labels(aspect, reviews, tmp_path, shared_cache_env):
    folder = aspect.save(tmp_path / "runs" / "aspect")
    loaded = InstructionClusterer.load(folder)
    assert loaded.predict(reviews["review"]).tolist() == aspect.labels_.tolist()
    assert main(["assign", str(data_path("reviews.csv")), "--text-column", "review", "--clustering", str(folder),
                 "-o", str(tmp_path / "assigned.csv"), "--quiet"]) == 0
    assigned = pd.read_csv(tmp_path / "assigned.csv")
    assert assigned["cluster"].tolist() == aspect.labels_.tolist()
    np.testing.assert_allclose(assigned["similarity"], aspect.similarity_, atol=1e-5)
    names = aspect.display_names()
    assert assigned["cluster_name"].tolist() == [names[c] for c in aspect.labels_]


def test_a_saved_clustering_names_its_model_so_a_new_default_does_not_change_it(aspect, reviews, tmp_path,
                                                                                shared_cache_env, monkeypatch):
    """Issue #27 moved the default to the 1.5B: clusterings saved by smollm2-135m (named, or null in files
    written before the move) must load with smollm2-135m, never with whatever the default is now."""
    folder = aspect.save(tmp_path / "runs" / "aspect")
    record = json.loads((folder / "clustering.json").read_text())
    assert record["embedder"]["model"] == "smollm2-135m"
    record["embedder"]["model"] = None  # as written before the default moved
    (folder / "clustering.json").write_text(json.dumps(record))
    monkeypatch.delenv("INBEDDER_MODEL")  # the shipped default (not fetched in this cache) ...
    monkeypatch.setenv("INBEDDER_PACKAGES", str(tmp_path))  # ... and no wheels: loading it would fail
    loaded = InstructionClusterer.load(folder)
    assert loaded.model.loaded.model.config.model_type == "llama"
    assert loaded.predict(reviews["review"][:32]).tolist() == aspect.labels_[:32].tolist()


def test_assign_refuses_an_adapter_that_changed(reviews, tmp_path, capsys, monkeypatch):
    adapter = shutil.copytree(resolve_adapter(None, None), tmp_path / "adapter")
    texts = reviews["review"].tolist()[:24]
    fitted = InstructionClusterer(InBedder(adapter=str(adapter)), ASPECT, n_clusters=3).fit(texts)
    folder = fitted.save(tmp_path / "runs" / "small")
    pd.DataFrame({"review": texts}).to_csv(tmp_path / "new.csv", index=False)
    weights = adapter / "adapter_model.safetensors"
    tensors = load_file(weights)
    first = sorted(tensors)[0]
    tensors[first] = tensors[first] + 0.01  # retrained: same file name, other weights
    save_file(tensors, weights)
    capsys.readouterr()
    assert main(["assign", str(tmp_path / "new.csv"), "--clustering", str(folder), "-o", str(tmp_path / "o.csv"), "--quiet"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "another embedder" in error and "adapter:" in error
    assert not (tmp_path / "o.csv").exists()


def test_within_clusters_only_that_clusters_texts(aspect, reviews, tmp_path, shared_cache_env):
    parent = aspect.save(tmp_path / "runs" / "aspect")
    service = int(pd.Series(aspect.labels_[reviews["aspect"].eq("service").to_numpy()]).mode()[0])
    output = tmp_path / "service.csv"
    assert main(["cluster", str(data_path("reviews.csv")), "--text-column", "review", "--within", f"{parent}:{service}",
                 "-i", "What went wrong with the service?", "--k", "2", "-o", str(output), "--quiet"]) == 0
    child = pd.read_csv(output)
    assert set(child["id"]) == set(reviews["id"][aspect.labels_ == service])
    record = json.loads(output.with_name(output.name + ".run.json").read_text())
    assert record["parent"]["cluster"] == service and record["parent"]["instruction"] == ASPECT
    assert record["parent"]["name"] == aspect.display_names()[service] and record["texts"] == len(child)


def test_seed_answers_start_from_the_matching_texts(aspect, reviews):
    seeds = ["food", "price", "staff", "parking lot"]
    seeded = InstructionClusterer(aspect.model, ASPECT, seed_answers=seeds).fit(reviews["review"])
    assert seeded.seed_matches_["parking lot"] == 0 and seeded.n_clusters_ == 3  # reported, left out
    for cluster, seed in enumerate(seeds[:3]):
        matched = matching_rows(aspect.answers_, seed)
        assert seeded.seed_matches_[seed] == len(matched) > 0
        assert (seeded.labels_[matched] == cluster).mean() > 0.8  # cluster i is seed i's group


def test_a_drill_down_of_a_drill_down_holds_only_its_ancestors_texts(aspect, reviews, tmp_path, shared_cache_env):
    """Issue #26: --within child:0 applies the parent's filter first (three levels, the real model)."""
    base, child = aspect.save(tmp_path / "base"), tmp_path / "child"
    service = int(pd.Series(aspect.labels_[reviews["aspect"].eq("service").to_numpy()]).mode()[0])
    source = [str(data_path("reviews.csv")), "--text-column", "review", "--quiet"]
    assert main(["cluster", *source, "--within", f"{base}:{service}", "-i", "What went wrong with the service?",
                 "--k", "2", "--save-clustering", str(child)]) == 0
    assert main(["cluster", *source, "--within", f"{child}:0", "-i", "Is the customer happy?", "--k", "2",
                 "-o", str(tmp_path / "grand.csv")]) == 0
    grand = pd.read_csv(tmp_path / "grand.csv")
    saved_child = InstructionClusterer.load(child)
    in_base = reviews[aspect.labels_ == service]
    expected = set(in_base["id"][saved_child.predict(in_base["review"]) == 0])
    assert set(grand["id"]) == expected
    everyone = set(reviews["id"][saved_child.predict(reviews["review"]) == 0])
    assert everyone - expected  # what --within child:0 returned before: reviews never in the service cluster
    parent = json.loads((tmp_path / "grand.csv.run.json").read_text())["parent"]
    assert parent["clustering"] == str(child.resolve()) and parent["parent"]["clustering"] == str(base.resolve())
    assert parent["parent"]["cluster"] == service and parent["texts"] == len(grand)

"""The analyst's loop on a tiny model and plain arrays: names, outliers, seeds, saved clusterings."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from inbedder import InBedder, InstructionClusterer
from inbedder.cli.main import main
from inbedder.errors import InBedderError, NotFittedError
from inbedder.explain.names import clean_name, phrase_names
from inbedder.clustering.outliers import mark, nearest_centres, threshold
from inbedder.clustering.persistence import CENTROIDS_FILE, CONFIG_FILE, read_record
from inbedder.clustering.seeding import matching_rows, parse_seeds, seed_centres

WORDS = "pasta staff price jazz ramen bill wine noise view dessert waiter table".split()
TEXTS = [f"The {WORDS[i % 12]} and the {WORDS[(i * 5) % 12]} were {'good' if i % 3 else 'bad'}, visit {i}." for i in range(30)]
QUESTION = "What is the review about?"


# --------------------------------------------------------------------------- names
def test_a_phrase_every_cluster_says_loses_to_one_this_cluster_says():
    answers = ["food", "food", "food", "food", "wait times", "wait time", "wait times", "food", "price", "price"]
    labels = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
    names = phrase_names(answers, labels, instruction="What aspect is discussed?")
    assert names == {0: "food", 1: "wait times", 2: "price"}  # "wait time(s)" counted as one phrase


def test_names_are_unique_and_outliers_are_other():
    names = phrase_names(["The food.", "food", "Food!", "food", "bad parking"], [0, 0, 1, 1, -1])
    assert names[-1] == "other" and len(set(names.values())) == 3
    assert phrase_names(["the", "a"], [0, 1]) == {0: "cluster 0", 1: "cluster 1"}  # no content word at all


def test_generated_names_are_cut_to_five_words():
    assert clean_name('"Slow and rude service at the counter"\nmore text') == "Slow and rude service at"
    assert clean_name("  ") == ""
    assert clean_name("FoodPrices") == "Food Prices" and clean_name("iPhone battery") == "iPhone battery"


# --------------------------------------------------------------------------- outliers
def test_outliers_fall_below_the_threshold_and_keep_their_rows():
    rng = np.random.default_rng(0)
    vectors = np.vstack([rng.normal([5, 0, 0], 0.3, (40, 3)), rng.normal([0, 5, 0], 0.3, (40, 3)), [[1, 1, 5]]])
    centres = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    labels, similarity = nearest_centres(vectors, centres)
    cutoff = threshold(similarity, "auto")
    assert cutoff == pytest.approx(np.percentile(similarity, 5))
    marked = mark(labels, similarity, cutoff)
    assert len(marked) == len(vectors) and marked[-1] == -1  # the odd one out is "other", not dropped
    assert (marked == -1).sum() == (similarity < cutoff).sum() and (labels != -1).all()
    assert threshold(similarity, None) is None and (mark(labels, similarity, None) == labels).all()
    with pytest.raises(InBedderError, match="-1..1"):
        threshold(similarity, 1.5)


# --------------------------------------------------------------------------- seeds
def test_seeds_match_answers_by_words_and_report_misses():
    answers = ["Food quality", "foods", "slow service", "price", "prices", "decor"]
    assert matching_rows(answers, "food").tolist() == [0, 1] and matching_rows(answers, "price").tolist() == [3, 4]
    vectors = np.eye(6)
    centres, counts = seed_centres(vectors, answers, ["food", "price", "parking"])
    assert counts == {"food": 2, "price": 2, "parking": 0}
    np.testing.assert_allclose(centres[0], vectors[[0, 1]].mean(axis=0))
    with pytest.raises(InBedderError, match="fewer than 2 seed answers match"):
        seed_centres(vectors, answers, ["food", "parking"])
    with pytest.raises(InBedderError, match="empty seed"):
        parse_seeds("food,,price")
    with pytest.raises(InBedderError, match="repeat"):
        parse_seeds("food,food")


# --------------------------------------------------------------------------- saved clusterings (tiny model)
@pytest.fixture
def tiny(tiny_models):
    return InBedder(tiny_models["llama"], template="inbedder", max_new_tokens=3)


def test_save_load_predict_gives_back_the_fit_labels(tiny, tmp_path):
    fitted = InstructionClusterer(tiny, QUESTION, n_clusters=3, min_similarity="auto").fit(TEXTS)
    folder = fitted.save(tmp_path / "runs" / "about")
    assert sorted(p.name for p in folder.iterdir()) == [CENTROIDS_FILE, CONFIG_FILE]  # no pickle, nothing partial
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]
    record = read_record(folder)
    assert record["instruction"] == QUESTION and record["n_clusters"] == 3
    assert record["outlier_threshold"] == pytest.approx(fitted.outlier_threshold_)
    assert [c["name"] for c in record["clusters"]] == [fitted.display_names()[c["cluster"]] for c in record["clusters"]]
    loaded = InstructionClusterer.load(folder, model=tiny)
    labels, similarity = loaded.predict(TEXTS, return_similarity=True)
    assert labels.tolist() == fitted.labels_.tolist() and (labels == -1).any()
    np.testing.assert_allclose(similarity, fitted.similarity_, atol=1e-6)
    assert InstructionClusterer.load(folder).predict(TEXTS).tolist() == fitted.labels_.tolist()  # model rebuilt from the settings
    with pytest.raises(NotFittedError, match="keeps no texts"):
        loaded.cluster_info()
    assert record["center"] is True and loaded.center and record["standardize"] is True and loaded.standardize
    np.testing.assert_allclose(loaded.mean_, fitted.mean_)
    np.testing.assert_allclose(loaded.scale_, fitted.scale_)


def test_an_uncentred_clustering_saves_without_a_mean_and_a_missing_mean_is_refused(tiny, tmp_path):
    from safetensors.numpy import load_file, save_file

    raw = InstructionClusterer(tiny, QUESTION, n_clusters=3, center=False, standardize=False).fit(TEXTS)
    loaded = InstructionClusterer.load(raw.save(tmp_path / "raw"), model=tiny)
    record = read_record(tmp_path / "raw")
    assert record["center"] is False and record["standardize"] is False and loaded.mean_ is None and loaded.scale_ is None
    assert loaded.predict(TEXTS).tolist() == raw.labels_.tolist()
    centred = InstructionClusterer(tiny, QUESTION, n_clusters=3).fit(TEXTS).save(tmp_path / "centred")
    tensors = load_file(str(centred / CENTROIDS_FILE))
    for missing in ("mean", "scale"):
        save_file({name: value for name, value in tensors.items() if name != missing}, str(centred / CENTROIDS_FILE))
        with pytest.raises(InBedderError, match=f"is damaged .*'{missing}'"):
            InstructionClusterer.load(centred, model=tiny)


def test_a_clustering_saved_before_standardising_existed_loads_unscaled(tiny, tmp_path):
    import json

    fitted = InstructionClusterer(tiny, QUESTION, n_clusters=3, standardize=False).fit(TEXTS)
    folder = fitted.save(tmp_path / "old")
    record = read_record(folder)
    del record["standardize"]
    record["format_version"] = 1
    (folder / CONFIG_FILE).write_text(json.dumps(record), encoding="utf-8")
    loaded = InstructionClusterer.load(folder, model=tiny)
    assert loaded.standardize is False and loaded.scale_ is None
    assert loaded.predict(TEXTS).tolist() == fitted.labels_.tolist()


def test_load_refuses_an_embedder_that_differs(tiny, tiny_models, tmp_path):
    folder = InstructionClusterer(tiny, QUESTION, n_clusters=3).fit(TEXTS).save(tmp_path / "about")
    other = InBedder(tiny_models["opt"], template="inbedder", max_new_tokens=3)
    with pytest.raises(InBedderError, match="another embedder.*model"):
        InstructionClusterer.load(folder, model=other)
    longer = InBedder(tiny_models["llama"], template="inbedder", max_new_tokens=5)
    with pytest.raises(InBedderError, match="max_new_tokens: 3 -> 5"):
        InstructionClusterer.load(folder, model=longer)


def test_saving_refuses_a_folder_of_other_files_and_reading_refuses_non_clusterings(tiny, tmp_path):
    fitted = InstructionClusterer(tiny, QUESTION, n_clusters=3).fit(TEXTS)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(InBedderError, match="holds other files"):
        fitted.save(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    with pytest.raises(InBedderError, match="is not a saved clustering"):
        InstructionClusterer.load(tmp_path / "mine")
    folder = fitted.save(tmp_path / "about")
    (folder / CONFIG_FILE).write_text("{broken")
    with pytest.raises(InBedderError, match="not readable JSON"):
        read_record(folder)


def test_cli_save_assign_within_and_seeds(tiny_models, tmp_path, capsys):
    source = tmp_path / "reviews.csv"
    pd.DataFrame({"id": [f"r{i}" for i in range(len(TEXTS))], "review": TEXTS}).to_csv(source, index=False)
    tiny = ["--model", tiny_models["llama"], "--template", "inbedder", "--max-new-tokens", "3", "--quiet"]
    runs, out = tmp_path / "runs", tmp_path / "out"
    assert main(["cluster", str(source), "-i", QUESTION, "--k", "3", "--outliers", "auto", "--save-clustering",
                 str(runs / "about"), "-o", str(out / "about.csv"), *tiny]) == 0
    fit = pd.read_csv(out / "about.csv")
    assert list(fit.columns) == ["id", "text", "cluster", "answer", "cluster_name", "similarity"]
    assert len(fit) == len(TEXTS) and (fit["cluster"] == -1).sum() >= 1
    record = json.loads((out / "about.csv.run.json").read_text())
    assert record["outliers"] == (fit["cluster"] == -1).sum() and record["outlier_threshold"] is not None
    # assign: the fitted texts get back their own labels, with the same columns
    assert main(["assign", str(source), "--clustering", str(runs / "about"), "-o", str(out / "back.csv"), "--quiet"]) == 0
    back = pd.read_csv(out / "back.csv")
    assert list(back.columns) == list(fit.columns) and back["cluster"].tolist() == fit["cluster"].tolist()
    # within: only cluster c's texts, parent recorded
    c = int(fit["cluster"].value_counts().drop(-1, errors="ignore").idxmax())
    assert main(["cluster", str(source), "--within", f"{runs / 'about'}:{c}", "-i", "Is the customer happy?", "--k", "2",
                 "-o", str(out / "child.csv"), *tiny]) == 0
    child = pd.read_csv(out / "child.csv")
    assert set(child["id"]) == set(fit.loc[fit["cluster"] == c, "id"])
    parent = json.loads((out / "child.csv.run.json").read_text())["parent"]
    assert parent["cluster"] == c and parent["instruction"] == QUESTION and parent["texts"] == len(child)
    capsys.readouterr()
    # refusals in one line, exit 2, before any work
    assert main(["cluster", str(source), "--within", f"{runs / 'about'}:9", "-i", "Why?", *tiny]) == 2
    assert main(["cluster", str(source), "-i", QUESTION, "--seed-answers", "a,b", "--k", "3", *tiny]) == 2
    assert main(["cluster", str(source), "-i", QUESTION, "--within", f"{runs / 'about'}:{c}", "--save-clustering",
                 str(runs / "about"), *tiny]) == 2
    assert main(["assign", str(source), "--clustering", str(tmp_path), "-o", str(out / "x.csv")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 4 and all(line.startswith("inbedder: error: ") for line in errors)
    assert "has no cluster 9" in errors[0] and "drop --k or pass --k 2" in errors[1]
    assert "is the --within clustering" in errors[2] and "is not a saved clustering" in errors[3]

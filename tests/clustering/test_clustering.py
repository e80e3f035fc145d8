"""InstructionClusterer: the scikit-learn contract, "auto" k, given clusterers and embeddings, and the
one definition of a clustering shared with the evaluation (synthetic vectors and a tiny random model)."""

from __future__ import annotations

import random
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score

from inbedder import InBedder, InstructionClusterer
from inbedder.errors import InBedderError, NotFittedError
from inbedder.evaluation import metrics
from inbedder.evaluation.awareness import evaluate_multilabel
from inbedder.evaluation.datasets import Labeling, MultiLabelSet, RobustnessTask
from inbedder.evaluation.robustness import evaluate_robustness_task
from inbedder.explain import v_measure
from inbedder.vectors import unit_rows

QUESTION = "What is it about?"


def blobs(n_per: int = 20, k: int = 3, dim: int = 8, noise: float = 0.02, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.eye(dim)[:k]
    return centres[np.repeat(np.arange(k), n_per)] + noise * rng.normal(size=(n_per * k, dim))


def names(n: int) -> list[str]:
    return [f"text {i:03d}" for i in range(n)]


def standardised(points: np.ndarray) -> np.ndarray:
    """What the clusterer clusters by default, computed here by hand: unit rows, centred, each
    dimension divided by its spread over the corpus, unit again."""
    unit = points / np.linalg.norm(points, axis=1, keepdims=True)
    scaled = (unit - unit.mean(axis=0)) / unit.std(axis=0)
    return scaled / np.linalg.norm(scaled, axis=1, keepdims=True)


def loud_and_quiet(n_per: int = 30, k: int = 3, seed: int = 0) -> tuple[np.ndarray, list[int]]:
    """Clusters that live in quiet dimensions beside two loud dimensions of pure noise, as a
    language model's states have a few dimensions that vary far more than the rest."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(k), n_per)
    quiet = 0.3 * np.eye(6)[labels] + 0.03 * rng.normal(size=(len(labels), 6))
    loud = 3.0 * rng.normal(size=(len(labels), 2))
    return np.hstack([loud + 10.0, quiet]), labels.tolist()


class NoModel:
    """A model that must not be asked: every encode fails the test."""

    method = "1st-gen"

    def encode_with_answers(self, *args, **kwargs):
        raise AssertionError("the model was run")

    encode = encode_questions = encode_with_answers


@pytest.fixture(scope="module")
def tiny(tiny_models):
    return InBedder(tiny_models["llama"], template="inbedder", max_new_tokens=2, cache=False)


@pytest.fixture(scope="module")
def reviews() -> list[str]:
    rng = random.Random(0)
    words = "pasta staff price jazz ramen bill wine noise view dessert".split()
    return [f"{rng.choice(words)} {rng.choice(words)} {rng.choice(words)} number {i}" for i in range(40)]


# --------------------------------------------------------------------------- the sklearn contract
def test_init_stores_the_parameters_unchanged_and_validates_nothing():
    model, estimator = object(), AgglomerativeClustering(n_clusters=3)
    given = dict(n_clusters=-3, method=None, clustering=estimator, batch_size=0, random_state=7, n_init=1,
                 min_similarity=7.5, seed_answers="", center="yes", standardize="no", answer_space=-1, state_weight="x", levels=0,
                 show_progress_bar=False)
    clusterer = InstructionClusterer(model, "", **given)  # nonsense values: checked by fit, not here
    params = clusterer.get_params()
    assert params == {"model": model, "instruction": "", **given}
    assert params["model"] is model and params["clustering"] is estimator
    assert not [name for name in vars(clusterer) if name.endswith("_")]  # nothing learned yet
    copy = clone(clusterer)
    assert copy is not clusterer and copy.get_params()["n_clusters"] == -3
    assert copy.model is model and copy.clustering is not estimator  # the model is shared, the estimator cloned
    assert clusterer.set_params(n_clusters=4) is clusterer and clusterer.n_clusters == 4
    with pytest.raises(InBedderError, match="unknown parameter 'k'"):
        clusterer.set_params(k=4)


def test_method_is_resolved_at_fit_not_at_init(tiny, reviews):
    clusterer = InstructionClusterer(tiny, QUESTION, n_clusters=3, n_init=1)
    assert clusterer.method is None
    assert clusterer.fit(reviews) is clusterer  # fit returns self
    assert clusterer.method is None and clusterer.method_ == tiny.method


def test_unfitted_clusterer_raises_not_fitted():
    clusterer = InstructionClusterer(NoModel(), QUESTION)
    for call in (lambda: clusterer.predict(["a"]), clusterer.cluster_info, clusterer.label_composition):
        with pytest.raises(NotFittedError, match="not fitted yet; call fit") as caught:
            call()
        assert isinstance(caught.value, AttributeError) and isinstance(caught.value, InBedderError)


def test_predict_on_the_fitted_texts_gives_labels_and_new_texts_join_their_cluster(tiny, reviews):
    clusterer = InstructionClusterer(tiny, QUESTION, n_clusters=4, n_init=2).fit(reviews)
    np.testing.assert_array_equal(clusterer.predict(reviews), clusterer.labels_)
    assert clusterer.fit_predict(reviews).tolist() == clusterer.labels_.tolist()
    points = blobs()
    fitted = InstructionClusterer(NoModel(), QUESTION, n_clusters=3).fit(names(60), embeddings=points)
    np.testing.assert_array_equal(fitted.predict(names(60), embeddings=points), fitted.labels_)
    new = np.eye(8)[[2, 0, 1]] * 5.0  # far from the fitted texts but in the direction of each blob
    expected = [fitted.labels_[40], fitted.labels_[0], fitted.labels_[20]]
    assert fitted.predict(["a", "b", "c"], embeddings=new).tolist() == expected


def test_standardising_lets_the_quiet_dimensions_decide_and_new_texts_share_the_frame():
    points, gold = loud_and_quiet()
    texts = names(len(points))
    scaled = InstructionClusterer(NoModel(), QUESTION, n_clusters=3).fit(texts, gold, embeddings=points)
    plain = InstructionClusterer(NoModel(), QUESTION, n_clusters=3, standardize=False).fit(texts, gold, embeddings=points)
    assert scaled.v_measure_ > 0.95 > 0.5 > plain.v_measure_  # the loud noise decides unless scaled
    assert plain.scale_ is None and scaled.scale_.shape == (points.shape[1],)
    np.testing.assert_allclose(scaled.embeddings_, standardised(points))
    assert scaled.predict(texts, embeddings=points).tolist() == scaled.labels_.tolist()
    # a few new rows of one cluster are placed in the fit's frame; scaled on their own spread they would scatter
    assert scaled.predict(texts[:6], embeddings=points[:6]).tolist() == scaled.labels_[:6].tolist()


def test_learned_attributes(tiny, reviews):
    labels = ["x" if i % 2 else "y" for i in range(len(reviews))]
    clusterer = InstructionClusterer(tiny, QUESTION, n_clusters=3, n_init=1).fit(reviews, labels)
    assert clusterer.labels_.shape == (len(reviews),) and clusterer.n_clusters_ == 3
    assert clusterer.cluster_centers_.shape == (3, clusterer.embeddings_.shape[1])
    np.testing.assert_allclose(np.linalg.norm(clusterer.embeddings_, axis=1), 1.0, rtol=1e-5)
    assert len(clusterer.answers_) == len(reviews) and isinstance(clusterer.answer_prefix_, str)
    assert clusterer.silhouette_scores_ is None and clusterer.texts_ == reviews
    assert clusterer.v_measure_ == pytest.approx(v_measure(labels, clusterer.labels_))
    assert clusterer.label_composition().to_numpy().sum() == len(reviews)


# --------------------------------------------------------------------------- given embeddings and clusterers
def test_fit_with_embeddings_does_not_run_the_model_until_answers_are_needed(tiny, reviews):
    points = unit_rows(blobs(n_per=10, k=4))[: len(reviews)]
    clusterer = InstructionClusterer(NoModel(), QUESTION, n_clusters=4).fit(reviews, embeddings=points)
    assert clusterer.answers_ is None and clusterer.answer_prefix_ is None
    np.testing.assert_allclose(clusterer.embeddings_, standardised(points))
    raw = InstructionClusterer(NoModel(), QUESTION, n_clusters=4, center=False, standardize=False).fit(
        reviews, embeddings=points)
    assert raw.mean_ is None and raw.scale_ is None
    np.testing.assert_allclose(raw.embeddings_, points)
    with pytest.raises(AssertionError, match="the model was run"):
        clusterer.cluster_info()  # the answers come from the model (here one that refuses)

    calls = []
    real = tiny.encode_with_answers

    def counting(*args, **kwargs):
        calls.append(kwargs.get("answers", True))
        return real(*args, **kwargs)

    tiny.encode_with_answers = counting
    try:
        fitted = InstructionClusterer(tiny, QUESTION, n_clusters=4).fit(reviews, embeddings=points)
        assert calls == []
        info = fitted.cluster_info()
        fitted.cluster_info(top_n_keywords=3)
    finally:
        del tiny.encode_with_answers
    assert calls == [True]  # fetched once, when first needed
    assert info["size"].sum() == len(reviews) and len(fitted.answers_) == len(reviews)
    with pytest.raises(InBedderError, match="no model to embed") as caught:
        InstructionClusterer(None, QUESTION, n_clusters=4).fit(reviews, embeddings=points).cluster_info()
    assert caught.value.parameter == "model"


def test_embeddings_must_have_one_row_per_text():
    with pytest.raises(InBedderError, match=r"embeddings must be a numeric \[texts, dim\] array with 5 rows") as caught:
        InstructionClusterer(NoModel(), QUESTION, n_clusters=2).fit(names(5), embeddings=np.ones((4, 3)))
    assert caught.value.parameter == "embeddings"


def test_a_given_clusterer_is_used_on_unit_rows_in_canonical_order():
    # two long thin chains: single linkage follows each chain, k-means cuts them across
    t = np.linspace(0, 1, 30)
    chains = np.concatenate([np.stack([t * 6, np.zeros(30)], 1), np.stack([t * 6, np.full(30, 1.0)], 1)])
    points = np.hstack([chains, np.full((60, 1), 20.0)])  # keep the directions apart after normalising
    texts = names(60)
    estimator = AgglomerativeClustering(n_clusters=2, linkage="single")
    clusterer = InstructionClusterer(NoModel(), QUESTION, n_clusters=6, clustering=estimator, center=False,
                                     standardize=False).fit(
        texts, embeddings=points)
    direct = AgglomerativeClustering(n_clusters=2, linkage="single").fit_predict(unit_rows(points, dtype=np.float64))
    assert clusterer.n_clusters_ == 2  # the estimator's own k, not n_clusters=6
    assert adjusted_rand_score(direct, clusterer.labels_) == 1.0
    kmeans = KMeans(n_clusters=2, n_init=10, random_state=0).fit_predict(unit_rows(points, dtype=np.float64))
    assert adjusted_rand_score(kmeans, clusterer.labels_) < 0.5  # so it really was not k-means
    assert estimator.get_params()["n_clusters"] == 2 and not hasattr(estimator, "labels_")  # a copy was fitted
    members = unit_rows(points, dtype=np.float64)
    for cluster in range(2):
        np.testing.assert_allclose(clusterer.cluster_centers_[cluster], members[clusterer.labels_ == cluster].mean(0))


def test_auto_with_a_given_clusterer_sets_its_n_clusters():
    points = blobs(k=4, noise=0.02)
    clusterer = InstructionClusterer(NoModel(), QUESTION, n_clusters="auto", clustering=AgglomerativeClustering())
    clusterer.fit(names(80), embeddings=points)
    assert clusterer.n_clusters_ == 4 and sorted(clusterer.silhouette_scores_) == list(range(2, 11))
    with pytest.raises(InBedderError, match="needs a clusterer with an n_clusters parameter"):
        InstructionClusterer(NoModel(), QUESTION, n_clusters="auto", clustering=_NoK()).fit(names(80), embeddings=points)


class _NoK(AgglomerativeClustering):
    """A clusterer without an n_clusters parameter."""

    def __init__(self, linkage: str = "ward"):
        super().__init__(linkage=linkage)


# --------------------------------------------------------------------------- automatic k
def test_auto_picks_the_best_silhouette_of_2_to_10_and_records_the_curve():
    points = blobs(n_per=15, k=5, noise=0.15, seed=3)
    texts = names(75)
    auto = InstructionClusterer(NoModel(), QUESTION, n_clusters="auto", random_state=1).fit(texts, embeddings=points)
    unit = standardised(points)  # what is clustered
    expected = {}
    for k in range(2, 11):
        labels = InstructionClusterer(NoModel(), QUESTION, n_clusters=k, random_state=1).fit(texts, embeddings=points).labels_
        expected[k] = silhouette_score(unit, labels)
    assert list(auto.silhouette_scores_) == list(range(2, 11))
    assert auto.silhouette_scores_ == pytest.approx(expected)
    best = max(expected, key=expected.get)
    assert auto.n_clusters_ == best == 5
    same = InstructionClusterer(NoModel(), QUESTION, n_clusters=best, random_state=1).fit(texts, embeddings=points)
    np.testing.assert_array_equal(auto.labels_, same.labels_)  # "auto" is the fit with the chosen k


def test_auto_needs_varied_embeddings_and_the_range_shrinks_with_few_texts():
    with pytest.raises(InBedderError, match="too few to choose k automatically") as caught:
        InstructionClusterer(NoModel(), QUESTION, n_clusters="auto").fit(names(6), embeddings=np.ones((6, 4)))
    assert caught.value.parameter == "n_clusters"
    few = InstructionClusterer(NoModel(), QUESTION, n_clusters="auto").fit(names(5), embeddings=np.eye(5))
    assert sorted(few.silhouette_scores_) == [2, 3, 4]  # k up to distinct - 1


# --------------------------------------------------------------------------- errors in API words
@pytest.mark.parametrize(("k", "text"), [(1, "too small"), (7, r"larger than the number of texts \(6\)"),
                                          ("six", "not a number of clusters")])
def test_bad_k_is_refused_before_embedding_in_the_parameters_words(k, text):
    with pytest.raises(InBedderError, match=text) as caught:
        InstructionClusterer(NoModel(), QUESTION, n_clusters=k).fit(names(6))  # NoModel: refused before any run
    message = str(caught.value)
    assert caught.value.parameter == "n_clusters" and "n_clusters" in message and "--k" not in message
    assert "--k" in caught.value.renamed({"n_clusters": "--k"})


def test_too_few_different_embeddings_for_k():
    points = np.repeat(np.eye(3), 2, axis=0)
    with pytest.raises(InBedderError, match=r"only 3 different embedding\(s\).*lower n_clusters to at most 3"):
        InstructionClusterer(NoModel(), QUESTION, n_clusters=4).fit(names(6), embeddings=points)


def test_gold_labels_must_match_the_texts():
    with pytest.raises(InBedderError, match="y has 2 labels for 6 texts") as caught:
        InstructionClusterer(NoModel(), QUESTION, n_clusters=2).fit(names(6), ["a", "b"], embeddings=blobs(2, 3))
    assert caught.value.parameter == "y"


# --------------------------------------------------------------------------- one definition of a clustering
def test_rows_in_any_order_give_the_same_clusters():
    points = blobs(n_per=12, k=4, noise=0.3, seed=5)
    texts = names(48)
    order = np.random.default_rng(0).permutation(48)
    first = InstructionClusterer(NoModel(), QUESTION, n_clusters=4, n_init=1).fit(texts, embeddings=points)
    second = InstructionClusterer(NoModel(), QUESTION, n_clusters=4, n_init=1).fit(
        [texts[i] for i in order], embeddings=points[order])
    np.testing.assert_array_equal(first.labels_[order], second.labels_)


class GivenVectors:
    """An evaluation subject that answers every question with the given matrix."""

    name, kind = "given", "method"

    def __init__(self, vectors: dict[str, np.ndarray]):
        self.vectors = vectors

    def embed(self, texts, instructions):
        return {instruction: self.vectors[instruction] for instruction in instructions}


def _noisy_labelled(seed: int) -> tuple[list[str], np.ndarray, list[str]]:
    points = blobs(n_per=20, k=4, dim=6, noise=0.45, seed=seed)
    labels = [f"class {i // 20}" for i in range(80)]
    texts = names(80)
    shuffled = np.random.default_rng(seed).permutation(80)  # rows not in text order, as in a real file
    return [texts[i] for i in shuffled], points[shuffled], [labels[i] for i in shuffled]


def test_evaluation_v_measure_is_the_clusterers_on_the_same_embeddings():
    differs = 0
    for seed in range(4):
        texts, points, labels = _noisy_labelled(seed)
        data = MultiLabelSet(texts, [Labeling("aspect", "Which aspect?", labels)], "hand-made")
        evaluated = evaluate_multilabel(GivenVectors({"Which aspect?": points}), data, seed=seed)["aspect"]
        clusterer = InstructionClusterer(NoModel(), "Which aspect?", n_clusters=4, random_state=seed)
        assert evaluated == clusterer.fit(texts, labels, embeddings=points).v_measure_
        task = RobustnessTask("toy", texts, labels, ["c"], ["i"], ["x"], source="hand-made")
        robust = evaluate_robustness_task(GivenVectors(dict.fromkeys("cix", points)), task, seed=seed)
        assert robust["correct"] == evaluated
        row_order = KMeans(n_clusters=4, n_init=10, random_state=seed).fit_predict(unit_rows(points, dtype=np.float64))
        differs += v_measure(labels, row_order) != evaluated
    assert differs  # k-means in the file's row order would have scored differently: the test can fail


def test_one_v_measure_with_one_rule_for_missing_labels():
    assert metrics.v_measure is v_measure
    true = ["a", None, "b", float("nan"), "b", "a"]
    clusters = [0, 1, 1, 0, 1, 0]
    assert v_measure(true, clusters) == pytest.approx(1.0)  # the unlabelled texts are left out
    points = np.eye(3)[[0, 0, 1, 1, 2, 2]] + 0.01
    texts = names(6)
    true = ["a", "a", "b", None, "c", "c"]
    clusterer = InstructionClusterer(NoModel(), QUESTION, n_clusters=3).fit(texts, true, embeddings=points)
    assert clusterer.v_measure_ == metrics.clustering_v_measure(points, true, texts=texts) == pytest.approx(1.0)


# --------------------------------------------------------------------------- the run record
def test_run_record_has_the_chosen_k_and_the_silhouette_curve(tiny, reviews):
    from inbedder.cli.report import format_summary, run_record

    corpus = SimpleNamespace(texts=reviews, skipped=0, id_name="row")
    auto = InstructionClusterer(tiny, QUESTION, n_clusters="auto", n_init=1).fit(reviews)
    info = auto.cluster_info()
    record = run_record({"k": "auto"}, tiny, auto, info, corpus, 1.0)
    assert record["n_clusters"] == auto.n_clusters_ == max(auto.silhouette_scores_, key=auto.silhouette_scores_.get)
    assert record["n_clusters_auto"] is True and record["silhouette_by_k"] == auto.silhouette_scores_
    assert record["answer_prefix"] == auto.answer_prefix_ and record["method"] == tiny.method
    assert f"k={auto.n_clusters_}" in format_summary(info, auto)
    fixed = InstructionClusterer(tiny, QUESTION, n_clusters=3, n_init=1).fit(reviews)
    record = run_record({"k": 3}, tiny, fixed, fixed.cluster_info(), corpus, 1.0)
    assert record["n_clusters"] == 3 and record["n_clusters_auto"] is False and "silhouette_by_k" not in record

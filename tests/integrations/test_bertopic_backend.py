"""The BERTopic backend with the real BERTopic: topics follow the instruction, vectors are InBedder's.

The tests on the embedded model (``slow``) fit BERTopic on 48 shipped reviews with a
deterministic reducer and clusterer (PCA, k-means) so that only the embeddings can move the
topics; the fast ones use the tiny random llama for the plumbing (prefix pinning, pickling).
"""

from __future__ import annotations

import importlib
import pickle
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("bertopic")

from bertopic import BERTopic  # noqa: E402
from bertopic.backend import BaseEmbedder  # noqa: E402
from bertopic.representation import MaximalMarginalRelevance  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.metrics import adjusted_rand_score, v_measure_score  # noqa: E402

from inbedder import InBedder, InBedderError  # noqa: E402
from inbedder.data import path  # noqa: E402
from inbedder.cli.demo import DEMO_QUESTIONS  # noqa: E402
from inbedder.integrations.bertopic import InBedderBackend  # noqa: E402

ASPECT = DEMO_QUESTIONS["aspect"][0]
SENTIMENT = DEMO_QUESTIONS["sentiment"][0]


def topic_model(backend: InBedderBackend, **extra) -> BERTopic:
    """BERTopic whose reducer and clusterer are deterministic, so only the embeddings decide."""
    return BERTopic(
        embedding_model=backend, umap_model=PCA(n_components=5),
        hdbscan_model=KMeans(n_clusters=4, n_init=10, random_state=0), **extra,
    )


@pytest.fixture(scope="module")
def reviews() -> pd.DataFrame:
    return pd.read_csv(path("reviews.csv")).head(48)


@pytest.fixture(scope="module")
def shared_model(tmp_path_factory, converted_model_dir) -> InBedder:
    """The embedded default, with one cache for the module, loaded once."""
    return InBedder(cache=tmp_path_factory.mktemp("bertopic") / "embeddings.sqlite")


# ---------------------------------------------------------------------- the embedded model
@pytest.mark.slow
def test_bertopic_fits_on_the_default_backend_with_inbedder_vectors(reviews, shared_model):
    docs = reviews["review"].tolist()
    backend = InBedderBackend(instruction=ASPECT)  # the lazy default: built here, own cache
    model = topic_model(backend, representation_model=MaximalMarginalRelevance(diversity=0.3))
    topics, _ = model.fit_transform(docs)

    assert isinstance(backend, BaseEmbedder) and model.embedding_model is backend
    assert len(topics) == len(docs) and set(topics) == {0, 1, 2, 3}
    from inbedder.models.loading import shipped_adapter_dir

    assert backend.inbedder.loaded.adapter == str(shipped_adapter_dir())
    expected = shared_model.encode(docs, ASPECT)  # computed apart, in another cache
    # float32 states of a 30-layer pass differ by ~1e-5 when the batches around a text differ (other
    # matmul shapes, other CPU kernels); another question or method moves them by 0.1 or more
    close = {"atol": 1e-4, "rtol": 0}
    np.testing.assert_allclose(model._extract_embeddings(docs), expected, **close)
    # the vectors BERTopic fitted on: each topic's embedding is the mean of its documents'
    topics = np.asarray(topics)
    for row, topic in enumerate(sorted(set(topics))):
        np.testing.assert_allclose(model.topic_embeddings_[row], expected[topics == topic].mean(axis=0), **close)
    # MMR embedded the topic words through embed_words: the same question on each word
    words = [word for word, _ in model.get_topic(0)][:3]
    np.testing.assert_allclose(backend.embed_words(words), shared_model.encode(words, ASPECT), **close)
    assert v_measure_score(reviews["aspect"], topics) > 0.5  # measured 0.90 on these 48


@pytest.mark.slow
def test_two_instructions_give_two_topic_models_of_one_corpus(reviews, shared_model):
    docs = reviews["review"].tolist()
    by_aspect = InBedderBackend(ASPECT, model=shared_model)
    by_sentiment = InBedderBackend(SENTIMENT, model=shared_model)
    aspect_topics = np.asarray(topic_model(by_aspect).fit_transform(docs)[0])
    sentiment_topics = np.asarray(topic_model(by_sentiment).fit_transform(docs)[0])

    assert not np.allclose(by_aspect.embed(docs), by_sentiment.embed(docs), atol=1e-3)
    assert adjusted_rand_score(aspect_topics, sentiment_topics) < 0.6  # measured 0.24
    # each question's topics follow its own labels more than the other question's topics do
    assert v_measure_score(reviews["aspect"], aspect_topics) > v_measure_score(reviews["aspect"], sentiment_topics) + 0.2
    assert v_measure_score(reviews["sentiment"], sentiment_topics) > v_measure_score(reviews["sentiment"], aspect_topics) + 0.2


# ---------------------------------------------------------------------- errors, before any model
@pytest.mark.parametrize("instruction", ["", "   "])
def test_an_empty_instruction_is_a_one_line_error(instruction):
    with pytest.raises(InBedderError, match="instruction is empty") as caught:
        InBedderBackend(instruction)
    assert "\n" not in str(caught.value) and caught.value.parameter == "instruction"


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"batch_size": 0}, "batch_size=0 is out of range"),
        ({"method": "mean-pool"}, "unknown method 'mean-pool'"),
        ({"max_new_token": 3}, "unknown InBedder option 'max_new_token'"),
        ({"seed": -1}, "seed=-1 is out of range"),
    ],
)
def test_bad_options_fail_when_the_backend_is_built(options, match):
    with pytest.raises(InBedderError, match=match) as caught:
        InBedderBackend(ASPECT, **options)
    assert "\n" not in str(caught.value)


def test_without_bertopic_the_import_says_how_to_install_it(monkeypatch):
    for name in [name for name in sys.modules if name == "bertopic" or name.startswith("bertopic.")]:
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    monkeypatch.setitem(sys.modules, "bertopic", None)
    monkeypatch.delitem(sys.modules, "inbedder.integrations.bertopic")
    with pytest.raises(InBedderError, match=r"pip install -e '\.\[bertopic\]'") as caught:
        importlib.import_module("inbedder.integrations.bertopic")
    assert "\n" not in str(caught.value)


# ---------------------------------------------------------------------- the tiny model: plumbing
TINY = {"template": "inbedder", "max_new_tokens": 2, "cache": False, "adapter": "none"}


@pytest.fixture(scope="module")
def tiny_docs(reviews) -> list[str]:
    return reviews["review"].tolist()[:24]


def test_an_inbedder_object_is_shared_and_its_options_are_not_overridden(tiny_models):
    built = InBedder(tiny_models["llama"], template="inbedder", max_new_tokens=2, cache=False)
    backend = InBedderBackend(ASPECT, model=built)
    assert backend.inbedder is built
    with pytest.raises(InBedderError, match="cannot change an InBedder that is already built") as caught:
        InBedderBackend(ASPECT, model=built, adapter="none", device="cpu")
    assert caught.value.parameters == ("adapter", "device")
    with pytest.raises(InBedderError, match="`model` must be a hub id"):
        InBedderBackend(ASPECT, model=3)


def test_the_backend_loads_on_first_use_and_takes_what_bertopic_passes(tiny_models, tiny_docs):
    backend = InBedderBackend(ASPECT, model=tiny_models["llama"], batch_size=8, **TINY)
    assert backend.embedding_model is None  # building BERTopic loads nothing
    first = backend.embed_documents(np.array(tiny_docs, dtype=object))
    assert backend.embedding_model is not None
    np.testing.assert_allclose(first, backend.inbedder.encode(tiny_docs, ASPECT), atol=1e-6)
    assert backend.embed("one search term").shape == (1, first.shape[1])  # find_topics passes a string
    with pytest.raises(InBedderError, match="text #1 is empty"):
        backend.embed(["fine", ""])


@pytest.mark.slow
def test_documents_pin_the_answer_prefix_that_later_texts_and_words_reuse(tiny_docs):
    """The bare chat model probes an answer prefix; on bare words it would probe another one."""
    docs = tiny_docs[:12]
    backend = InBedderBackend(ASPECT, adapter="none", max_new_tokens=2, cache=False)
    first = backend.embed_documents(docs)
    model = backend.inbedder
    assert model.answer_prefix == "auto"
    assert backend.answer_prefix_ == model.resolve_answer_prefix(docs, ASPECT) != ""  # "The reviewer is mentioning …"
    np.testing.assert_allclose(first, model.encode(docs, ASPECT), atol=1e-6)
    pinned = model.with_answer_prefix(backend.answer_prefix_)
    words = ["cold", "waiter", "pricey"]
    assert model.resolve_answer_prefix(words, ASPECT) != backend.answer_prefix_
    np.testing.assert_allclose(backend.embed_words(words), pinned.encode(words, ASPECT), atol=1e-6)
    new = ["The soup was cold.", "We waited an hour."]
    np.testing.assert_allclose(backend.embed(new), pinned.encode(new, ASPECT), atol=1e-6)


def test_a_pickled_topic_model_rebuilds_the_backend_and_transforms_alike(tiny_models, tiny_docs, tmp_path):
    backend = InBedderBackend(ASPECT, model=tiny_models["llama"], batch_size=8, **TINY)
    model = topic_model(backend)
    topics, _ = model.fit_transform(tiny_docs)
    assert pickle.loads(pickle.dumps(backend)).embedding_model is None  # settings travel, weights do not
    model.save(tmp_path / "topics.pickle", serialization="pickle")
    loaded = BERTopic.load(str(tmp_path / "topics.pickle"))
    reborn = loaded.embedding_model
    assert isinstance(reborn, InBedderBackend) and reborn.embedding_model is None
    assert reborn.answer_prefix_ == backend.answer_prefix_ and reborn.instruction == ASPECT
    np.testing.assert_array_equal(loaded.transform(tiny_docs)[0], model.transform(tiny_docs)[0])
    np.testing.assert_allclose(reborn.embed(tiny_docs), backend.embed(tiny_docs), atol=1e-6)

"""The real embedded models on the shipped reviews: the product's promise, offline.

One corpus, two questions: clustering under the aspect question must follow the aspect labels
more than clustering under the sentiment question does, and the other way round.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from inbedder import InBedder, InstructionClusterer
from inbedder.cli.demo import DEMO_QUESTIONS, v_measure_table
from inbedder.evaluation import evaluate_multilabel, evaluate_triplets, load_awareness
from inbedder.evaluation.subjects import MethodSubject

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shared_cache(embedded_cache_dir):
    """The session's cache of the embedded model, laid out like the user's, so the demo command reuses it."""
    return embedded_cache_dir / "embeddings.sqlite"


@pytest.fixture(scope="module")
def default_model(shared_cache):
    return InBedder(cache=shared_cache)


def test_the_default_clusters_follow_the_question(default_model):
    table = v_measure_table(default_model, default_model.method, show_progress_bar=False, verbose=False)
    assert table["aspect"]["aspect"] > table["sentiment"]["aspect"], table
    assert table["sentiment"]["sentiment"] > table["aspect"]["sentiment"], table
    # issue #4's bar for the shipped adapter (measured 0.872 / 0.655)
    assert table["aspect"]["aspect"] >= 0.8 and table["sentiment"]["sentiment"] >= 0.5, table


def test_the_shipped_adapter_keeps_its_measured_quality_on_the_shipped_sets(default_model):
    """Issue #11: the figures for the default in docs/fine-tuning.md (IntEmo HM 73.3, clustering HM 77.0 at seed 0
    with the clusterer's standardising; 73.5 without), as floors.

    The issue's targets (85 / 80) are not reached yet; these floors catch an adapter, template or
    pooling change that loses what the shipped one measures.
    """
    shipped = load_awareness("shipped", tasks=("triplets", "clustering"))
    subject = MethodSubject(default_model, "1st-gen")
    triplets = evaluate_triplets(subject, shipped.triplets)
    clustering = evaluate_multilabel(subject, shipped.clustering)
    assert triplets["harmonic_mean"] >= 0.72 and triplets["intent"] >= 0.85, triplets
    assert clustering["harmonic_mean"] >= 0.76 and clustering["aspect"] >= 0.85, clustering


def test_the_default_is_the_embedded_model_with_the_shipped_adapter(default_model):
    from inbedder.models.loading import shipped_adapter_dir

    assert default_model.loaded.adapter == str(shipped_adapter_dir())
    assert default_model.template == "inbedder" and default_model.max_new_tokens == 3
    bare = InBedder(adapter="none", cache=False)
    assert bare.loaded.adapter is None and bare.template == "chat-brief"


def test_the_same_seed_gives_the_same_clusters_and_keywords(default_model):
    from inbedder.data import path
    import pandas as pd

    texts = pd.read_csv(path("reviews.csv"))["review"].tolist()[:64]
    question, _ = DEMO_QUESTIONS["aspect"]
    runs = [InstructionClusterer(default_model, question, n_clusters=4, show_progress_bar=False).fit(texts) for _ in range(2)]
    np.testing.assert_array_equal(runs[0].labels_, runs[1].labels_)
    info = runs[0].cluster_info()
    assert info["size"].sum() == 64
    assert all(len(answer) > 0 for answer in runs[0].answers_)
    assert any(len(words) > 0 for words in info["keywords"])


def test_the_embedded_model_loads_from_the_converted_copy_fast(converted_model_dir):
    import time

    from inbedder.models.loading import load_generator

    started = time.time()
    loaded = load_generator(device="cpu")
    assert time.time() - started < 15
    assert loaded.family == "causal" and loaded.model.config.model_type == "llama"


def test_re_enc_and_prompt_use_the_embedded_sentence_encoder(default_model):
    texts = ["The steak was perfect.", "Our server forgot the drinks."]
    for method in ("re-enc", "prompt"):
        vectors = default_model.encode(texts, "What is the review about?", method=method)
        assert vectors.shape == (2, 384)


def test_demo_command_prints_both_tables(shared_cache, monkeypatch):
    monkeypatch.setenv("INBEDDER_CACHE", str(shared_cache.parent))
    result = subprocess.run(
        [sys.executable, "-m", "inbedder.cli", "demo", "--quiet"], capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr
    assert "aspect question" in result.stdout and "sentiment question" in result.stdout
    assert "V-measure" in result.stdout

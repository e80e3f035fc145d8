"""The shipped default model on the shipped sets: the product's promise, offline once fetched.

One corpus, two questions: clustering under the aspect question must follow the aspect labels
more than clustering under the sentiment question does, and the other way round. The default
(qwen2.5-coder-1.5b with its adapter, issue #27) runs here as a user runs it: no model named,
``--dtype auto`` (bf16 on a CPU that has it); the rest of the suite pins smollm2-135m and fp32.
"""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from inbedder import InBedder, InstructionClusterer
from inbedder.cli.demo import DEMO_QUESTIONS
from inbedder.evaluation import evaluate_multilabel, evaluate_triplets, load_awareness
from inbedder.evaluation.datasets import limit_awareness
from inbedder.evaluation.subjects import MethodSubject

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shared_cache(embedded_cache_dir):
    """The session's cache of the embedded model, laid out like the user's, so the demo command reuses it."""
    return embedded_cache_dir / "embeddings.sqlite"


@pytest.fixture(scope="module")
def as_a_user(shared_cache, default_model_dir):
    """The environment of a user's shell: no model or number format pinned, the cache holding the default."""
    link = shared_cache.parent / "models" / default_model_dir.name
    if not link.exists():
        link.symlink_to(default_model_dir)
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("INBEDDER_MODEL")
        patch.delenv("INBEDDER_DTYPE")
        patch.setenv("INBEDDER_CACHE", str(shared_cache.parent))
        yield patch


@pytest.fixture(scope="module")
def default_model(as_a_user, shared_cache):
    return InBedder(cache=shared_cache)


@pytest.fixture(autouse=True)
def _the_users_cache(as_a_user, shared_cache, monkeypatch):
    monkeypatch.setenv("INBEDDER_CACHE", str(shared_cache.parent))  # over the suite's private cache of each test


def test_the_demo_of_the_default_clusters_by_each_question(shared_cache):
    """The two commands' promise with the shipped default: run as a user runs it (a subprocess, no model
    named, --dtype auto), its embeddings left in the module's cache for the tests below."""
    result = subprocess.run([sys.executable, "-m", "inbedder.cli", "demo", "--quiet"], capture_output=True, text=True,
                            timeout=1800)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("model: qwen2.5-coder-1.5b with its adapter"), result.stdout[:200]
    table = {row[0]: (float(row[1]), float(row[2])) for row in re.findall(
        r"^\s+(aspect|sentiment) question\s+([\d.]+)\s+([\d.]+)$", result.stdout, re.MULTILINE)}
    assert table["aspect"][0] > table["sentiment"][0] and table["sentiment"][1] > table["aspect"][1], table
    # measured for the 1.5B with its adapter (docs/models.md): bf16 and fp32 both 0.931 / 0.766;
    # smollm2-135m reaches 0.889 / 0.715
    assert table["aspect"][0] >= 0.90 and table["sentiment"][1] >= 0.72, table


def test_the_default_keeps_its_measured_quality_on_the_shipped_sets(default_model):
    """Issue #27: the default's figures as floors, above what smollm2-135m reaches (IntEmo HM 0.733, clustering
    HM 0.770): a change of adapter, template or pooling that loses what the shipped default measures fails here.
    The clustering set is a seeded 128 of the 256 reviews (the suite's time); measured in bf16 /
    fp32: IntEmo HM 0.856 / 0.856 (intent 0.838), clustering HM 0.871 / 0.882 (aspect 0.950 / 0.975)."""
    shipped = load_awareness("shipped", tasks=("triplets", "clustering"))
    shipped.clustering = limit_awareness(shipped, 128).clustering
    subject = MethodSubject(default_model, "1st-gen")
    triplets = evaluate_triplets(subject, shipped.triplets)
    clustering = evaluate_multilabel(subject, shipped.clustering)
    assert triplets["harmonic_mean"] >= 0.82 and triplets["intent"] >= 0.80, triplets
    assert clustering["harmonic_mean"] >= 0.83 and clustering["aspect"] >= 0.90, clustering


def test_the_default_is_the_chosen_catalogue_model_with_its_adapter(default_model):
    from inbedder.data import path as data_path
    from inbedder.models.catalogue import DEFAULT_MODEL, find

    assert DEFAULT_MODEL == "qwen2.5-coder-1.5b" and default_model.loaded.name == DEFAULT_MODEL
    assert default_model.loaded.adapter == str(data_path(find(DEFAULT_MODEL).adapter))
    assert default_model.template == "inbedder" and default_model.max_new_tokens == 3
    bare = InBedder(adapter="none", cache=False)
    assert bare.loaded.name == DEFAULT_MODEL and bare.loaded.adapter is None and bare.template == "chat-brief"


def test_inbedder_model_names_another_default_for_this_machine(as_a_user):
    from inbedder.models.loading import shipped_adapter_dir

    as_a_user.setenv("INBEDDER_MODEL", "SmolLM2-135M")
    try:
        fast = InBedder(cache=False)
        assert fast.loaded.adapter == str(shipped_adapter_dir()) and fast.loaded.model.config.model_type == "llama"
    finally:
        as_a_user.delenv("INBEDDER_MODEL")


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


def test_the_models_load_from_their_converted_copies_fast(converted_model_dir, default_model_dir):
    import time

    from inbedder.models.loading import load_generator

    for model, architecture in (("smollm2-135m", "llama"), (None, "qwen2")):
        started = time.time()
        loaded = load_generator(model, device="cpu")
        assert time.time() - started < 30, model
        assert loaded.family == "causal" and loaded.model.config.model_type == architecture


def test_re_enc_and_prompt_use_the_embedded_sentence_encoder(default_model):
    texts = ["The steak was perfect.", "Our server forgot the drinks."]
    for method in ("re-enc", "prompt"):
        vectors = default_model.encode(texts, "What is the review about?", method=method)
        assert vectors.shape == (2, 384)

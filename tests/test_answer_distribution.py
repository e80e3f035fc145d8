"""Issue #11's answer-distribution lever (inbedder.evaluation.answer_distribution) on a tiny llama."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inbedder import InBedder
from inbedder.errors import InBedderError
from inbedder.evaluation.answer_distribution import AnswerDistribution, likeliest_tokens

TEXTS = ["the soup was cold", "great prices today", "rude staff at the desk", "parking was easy", "lovely dessert"]
QUESTION = "What is the review about?"


@pytest.fixture()
def llama(tiny_models):
    return InBedder(tiny_models["llama"], template="inbedder", cache=False, device="cpu", answer_prefix="")


def test_the_log_probabilities_are_the_models_own_next_token_prediction(llama):
    """The state the engine returns for 1st-gen, through the head, is what the whole model predicts
    after each prompt: fails if the cached state were normalised or taken from another position."""
    subject = AnswerDistribution(llama, tokens=8)
    states = llama.encode(TEXTS, QUESTION, method="1st-gen", normalize_embeddings=False)
    mine = subject.answer_log_probs(states)
    for row, text in zip(mine, TEXTS):
        ids = torch.tensor([llama.prompts.ids(QUESTION, text)])
        with torch.no_grad():
            expected = torch.log_softmax(llama.loaded.model(input_ids=ids).logits[0, -1].float(), -1).numpy()
        np.testing.assert_allclose(row, expected, atol=2e-4)


def test_rows_join_the_standardised_state_and_the_centred_answer_part_at_the_weight(llama):
    subject = AnswerDistribution(llama, tokens=6, state_weight=0.3)
    rows = subject.embed(TEXTS, [QUESTION])[QUESTION]
    states = llama.encode(TEXTS, QUESTION, method="1st-gen", normalize_embeddings=False)
    hidden = states.shape[1]
    assert rows.shape == (len(TEXTS), hidden + 6)
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(rows[:, :hidden], axis=1) ** 2, 0.3, atol=1e-9)
    # the answer part: the log-probabilities of the 6 tokens likeliest over this corpus, centred
    log_probs = subject.answer_log_probs(states).astype(np.float64)
    vocabulary = likeliest_tokens(log_probs, 6)
    mean_probability = np.exp(log_probs).mean(0)
    assert set(vocabulary) == set(np.argsort(-mean_probability)[:6])
    answer = log_probs[:, vocabulary] / np.linalg.norm(log_probs[:, vocabulary], axis=1, keepdims=True)
    answer = answer - answer.mean(0)
    answer /= np.linalg.norm(answer, axis=1, keepdims=True)
    np.testing.assert_allclose(rows[:, hidden:], np.sqrt(0.7) * answer, atol=1e-6)


def test_the_lever_refuses_what_has_no_head_input_in_one_line(llama, tiny_models):
    with pytest.raises(InBedderError, match="tokens must be at least 2"):
        AnswerDistribution(llama, tokens=1)
    with pytest.raises(InBedderError, match="state_weight must be between 0 and 1"):
        AnswerDistribution(llama, state_weight=1.5)
    inner = InBedder(tiny_models["llama"], template="inbedder", cache=False, device="cpu", layer=1)
    with pytest.raises(InBedderError, match="last layer"):
        AnswerDistribution(inner)
    masked = InBedder(tiny_models["roberta"], cache=False, device="cpu")
    with pytest.raises(InBedderError, match="causal LM"):
        AnswerDistribution(masked)

"""Issue #11's answer space (inbedder.clustering.answer_space) and its evaluation subject, on a tiny llama."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from inbedder import InBedder
from inbedder.clustering.answer_space import answer_log_probs, likeliest_tokens
from inbedder.errors import InBedderError
from inbedder.evaluation.answer_distribution import AnswerDistribution
from inbedder.vectors import CorpusFrame, unit_rows

TEXTS = ["the soup was cold", "great prices today", "rude staff at the desk", "parking was easy", "lovely dessert"]
QUESTION = "What is the review about?"


@pytest.fixture()
def llama(tiny_models):
    return InBedder(tiny_models["llama"], template="inbedder", cache=False, device="cpu", answer_prefix="")


def _head(model):
    return model.loaded.model.get_output_embeddings()


def test_the_log_probabilities_are_the_models_own_next_token_prediction(llama):
    """The state the engine returns for 1st-gen, through the head, is what the whole model predicts
    after each prompt: fails if the cached state were normalised or taken from another position."""
    states = llama.encode(TEXTS, QUESTION, method="1st-gen", normalize_embeddings=False)
    mine = answer_log_probs(states, _head(llama))
    for row, text in zip(mine, TEXTS):
        ids = torch.tensor([llama.prompts.ids(QUESTION, text)])
        with torch.no_grad():
            expected = torch.log_softmax(llama.loaded.model(input_ids=ids).logits[0, -1].float(), -1).numpy()
        np.testing.assert_allclose(row, expected, atol=2e-4)


def test_rows_join_the_standardised_state_and_the_centred_answer_part_at_the_weight(llama):
    rows = AnswerDistribution(llama, tokens=6, state_weight=0.3).embed(TEXTS, [QUESTION])[QUESTION]
    states = llama.encode(TEXTS, QUESTION, method="1st-gen", normalize_embeddings=False)
    hidden = states.shape[1]
    assert rows.shape == (len(TEXTS), hidden + 6)
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-9)
    # the answer part: the log-probabilities of the 6 tokens likeliest over this corpus
    log_probs = answer_log_probs(states, _head(llama)).astype(np.float64)
    vocabulary = likeliest_tokens(states, _head(llama), 6)
    assert set(vocabulary) == set(np.argsort(-np.exp(log_probs).mean(0))[:6])
    state = CorpusFrame.fit(states, center=True, standardize=True)[0]
    answer = unit_rows(log_probs[:, vocabulary])
    answer = unit_rows(answer - answer.mean(0))
    joined = np.hstack([np.sqrt(0.3) * state, np.sqrt(0.7) * answer])
    np.testing.assert_allclose(rows, unit_rows(joined - joined.mean(0)), atol=1e-5)


def test_the_head_runs_a_few_rows_at_a_time_with_the_same_result(llama, monkeypatch):
    """A large corpus never holds its rows × vocabulary matrix: passes of 2 rows give the same space."""
    from inbedder.clustering import answer_space

    states = llama.encode(TEXTS, QUESTION, method="1st-gen", normalize_embeddings=False)
    whole_rows, whole = answer_space.AnswerFrame.fit(states, _head(llama), tokens=6, weight=0.3)
    monkeypatch.setattr(answer_space, "ROWS_PER_PASS", 2)
    rows, frame = answer_space.AnswerFrame.fit(states, _head(llama), tokens=6, weight=0.3)
    np.testing.assert_array_equal(frame.tokens, whole.tokens)
    np.testing.assert_allclose(rows, whole_rows, atol=1e-4)  # float32 matmuls differ by ~2e-5 with the batch's shape
    assert answer_log_probs(states, _head(llama), frame.tokens).shape == (len(TEXTS), 6)


def test_the_lever_refuses_what_has_no_head_input_in_one_line(llama, tiny_models):
    with pytest.raises(InBedderError, match="answer_space must be a whole number of at least 2"):
        AnswerDistribution(llama, tokens=1)
    with pytest.raises(InBedderError, match="state_weight must be between 0 and 1"):
        AnswerDistribution(llama, state_weight=1.5)
    inner = InBedder(tiny_models["llama"], template="inbedder", cache=False, device="cpu", layer=1)
    with pytest.raises(InBedderError, match="last layer"):
        AnswerDistribution(inner)
    masked = InBedder(tiny_models["roberta"], cache=False, device="cpu")
    with pytest.raises(InBedderError, match="causal LM"):
        AnswerDistribution(masked)


# ---------------------------------------------------------------------- the clusterer's answer space
MORE = TEXTS + ["cold fries again", "cheap lunch menu", "the waiter ignored us", "no place to park", "stale bread"]


def test_the_clusterer_fits_the_answer_space_predicts_in_it_and_saves_it(llama, tmp_path):
    from inbedder import InstructionClusterer

    clusterer = InstructionClusterer(llama, QUESTION, n_clusters=3, answer_space=6, state_weight=0.3).fit(MORE)
    states = llama.encode(MORE, QUESTION, method="1st-gen", normalize_embeddings=False)
    expected = AnswerDistribution(llama, tokens=6, state_weight=0.3).rows(states)
    np.testing.assert_allclose(clusterer.embeddings_, expected, atol=1e-9)  # the evaluation's rows are the clusterer's
    frame = clusterer.answer_frame_
    assert len(frame.tokens) == 6 and clusterer.mean_ is frame.mean and clusterer.scale_ is frame.scale
    np.testing.assert_array_equal(clusterer.predict(MORE), clusterer.labels_)
    # a new text alone is placed by the fit's tokens and means, not by a vocabulary of its own
    np.testing.assert_allclose(frame.apply(states[:1]), clusterer.embeddings_[:1], atol=1e-9)
    folder = clusterer.save(tmp_path / "answers")
    assert json.loads((folder / "clustering.json").read_text())["format_version"] == 3
    loaded = InstructionClusterer.load(folder, model=llama)
    np.testing.assert_array_equal(loaded.answer_frame_.tokens, frame.tokens)
    np.testing.assert_array_equal(loaded.predict(MORE), clusterer.labels_)
    with pytest.raises(InBedderError, match="raw 1st-gen states, not unit rows"):  # would silently misplace them
        loaded.predict(MORE, embeddings=unit_rows(states))


def test_inbedder_assign_sorts_new_texts_into_the_answer_space_clusters(llama, tiny_models, tmp_path):
    """``assign`` embeds the new texts itself: it must hand predict the raw states (a run with unit
    rows would fail here with the refusal above)."""
    import pandas as pd

    from inbedder import InstructionClusterer
    from inbedder.cli.main import main

    clusterer = InstructionClusterer(llama, QUESTION, n_clusters=3, answer_space=6).fit(MORE)
    folder = clusterer.save(tmp_path / "space")
    source = tmp_path / "new.txt"
    source.write_text("\n".join(MORE[:4]) + "\n")
    assert main(["assign", str(source), "--clustering", str(folder), "--output", str(tmp_path / "o.csv"),
                 "--quiet", "--no-cache"]) == 0
    assert pd.read_csv(tmp_path / "o.csv")["cluster"].tolist() == clusterer.labels_[:4].tolist()


def test_without_answer_space_the_clusterer_is_unchanged(llama):
    from inbedder import InstructionClusterer

    plain = InstructionClusterer(llama, QUESTION, n_clusters=3).fit(MORE)
    assert plain.answer_frame_ is None and plain.embeddings_.shape[1] == llama.loaded.model.config.hidden_size


def test_a_saved_answer_space_without_its_tensors_is_refused_as_damaged(llama, tmp_path):
    from safetensors.numpy import load_file, save_file

    from inbedder import InstructionClusterer

    folder = InstructionClusterer(llama, QUESTION, n_clusters=2, answer_space=4).fit(MORE).save(tmp_path / "c")
    tensors = load_file(str(folder / "centroids.safetensors"))
    del tensors["joined_mean"]
    save_file(tensors, str(folder / "centroids.safetensors"))
    with pytest.raises(InBedderError, match="damaged.*joined_mean"):
        InstructionClusterer.load(folder, model=llama)


def test_the_answer_space_refuses_methods_without_a_head_input_before_embedding(llama, tiny_models):
    from inbedder import InstructionClusterer

    with pytest.raises(InBedderError, match="1st-gen at the last layer"):
        InstructionClusterer(llama, QUESTION, method="avg-gen", answer_space=5).fit(MORE)
    with pytest.raises(InBedderError, match="answer_space must be a whole number of at least 2"):
        InstructionClusterer(llama, QUESTION, answer_space=1).fit(MORE)
    with pytest.raises(InBedderError, match="pass a model"):
        InstructionClusterer(None, QUESTION, answer_space=5).fit(MORE, embeddings=np.eye(len(MORE)))


@pytest.mark.parametrize("extra, message", [
    (["--answer-space", "1"], "--answer-space 1 is out of range"),
    (["--answer-space", "5", "--state-weight", "2"], "--state-weight 2.0 is out of range"),
    (["--answer-space", "5", "--method", "avg-gen"], "1st-gen at the last layer"),
])
def test_the_cli_refuses_a_bad_answer_space_in_one_line(tiny_models, tmp_path, capsys, extra, message):
    from inbedder.cli.main import main

    source = tmp_path / "r.txt"
    source.write_text("\n".join(MORE) + "\n")
    code = main(["cluster", str(source), "--instruction", QUESTION, "--k", "2", "--output", str(tmp_path / "o.csv"),
                 "--model", tiny_models["llama"], "--template", "inbedder", "--quiet", *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.csv").exists()


def test_the_cli_clusters_in_the_answer_space_and_records_it(tiny_models, tmp_path):
    import json

    from inbedder import InstructionClusterer
    from inbedder.cli.main import main

    source = tmp_path / "r.txt"
    source.write_text("\n".join(MORE) + "\n")
    output = tmp_path / "o.csv"
    assert main(["cluster", str(source), "--instruction", QUESTION, "--k", "2", "--output", str(output),
                 "--answer-space", "5", "--save-clustering", str(tmp_path / "c"),
                 "--model", tiny_models["llama"], "--template", "inbedder", "--quiet"]) == 0
    run = json.loads(output.with_name("o.csv.run.json").read_text())
    assert run["answer_space"] == 5 and run["state_weight"] == 0.2
    assert len(InstructionClusterer.load(tmp_path / "c").answer_frame_.tokens) == 5

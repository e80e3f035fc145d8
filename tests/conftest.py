"""Shared fixtures: tiny random models (built from configs here) and the real embedded models."""

from __future__ import annotations

import os

import pytest
import torch
from transformers import (
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    OPTConfig,
    OPTForCausalLM,
    RobertaConfig,
    RobertaForMaskedLM,
    T5Config,
    T5ForConditionalGeneration,
)

from inbedder.models.loading import embedded_generator_dir, sentence_encoder_path

# The figures and fp32 references the tests assert hold on every machine: "auto" means fp32 here,
# also in the CLI's subprocesses. The bf16 tests ask for bf16 by name (and skip without native bf16).
os.environ["INBEDDER_DTYPE"] = "fp32"
# The default model (qwen2.5-coder-1.5b, fetched on first use) is tested by tests/models/test_embedded.py
# and the default's own checks; every other test of "the model when none is named" uses the installed
# smollm2-135m, which needs no download and runs 4-10x faster.
os.environ["INBEDDER_MODEL"] = "smollm2-135m"


@pytest.fixture(scope="session")
def converted_model_dir():
    """The embedded generator, converted once into the user's cache, as in real runs."""
    return embedded_generator_dir()


@pytest.fixture(scope="session")
def default_model_dir():
    """The shipped default model, fetched (1.1 GB, once per machine) and converted into the user's cache,
    as `make demo` does; tests link it into their own caches."""
    from inbedder.models.catalogue import DEFAULT_MODEL, ensure_model, find

    return ensure_model(find(DEFAULT_MODEL), show_progress_bar=False)


@pytest.fixture(scope="session")
def embedded_cache_dir(tmp_path_factory, converted_model_dir):
    """One embedding cache for every test of the real embedded model, laid out like the user's
    (``INBEDDER_CACHE``), so the shipped reviews are embedded once per session."""
    folder = tmp_path_factory.mktemp("embedded")
    (folder / "models").mkdir()
    (folder / "models" / converted_model_dir.name).symlink_to(converted_model_dir)
    return folder


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch, converted_model_dir):
    """Each test gets its own embedding cache; the converted model is shared, not redone."""
    private = tmp_path / "cache"
    (private / "models").mkdir(parents=True)
    (private / "models" / converted_model_dir.name).symlink_to(converted_model_dir)
    monkeypatch.setenv("INBEDDER_CACHE", str(private))


def _save(model, tokenizer, folder):
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory, converted_model_dir):
    """Directories of tiny random llama, opt, roberta and t5 models with real tokenizers."""
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("tiny")
    chat_tok = AutoTokenizer.from_pretrained(converted_model_dir)
    vocab = len(chat_tok)
    pad = chat_tok.pad_token_id
    llama = LlamaForCausalLM(LlamaConfig(
        vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=512, pad_token_id=pad, eos_token_id=chat_tok.eos_token_id,
    ))
    opt = OPTForCausalLM(OPTConfig(
        vocab_size=vocab, hidden_size=32, ffn_dim=64, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=512, word_embed_proj_dim=32, pad_token_id=pad, eos_token_id=chat_tok.eos_token_id,
    ))
    bert_tok = AutoTokenizer.from_pretrained(sentence_encoder_path())
    roberta = RobertaForMaskedLM(RobertaConfig(
        vocab_size=len(bert_tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=600, pad_token_id=bert_tok.pad_token_id, type_vocab_size=1,
    ))
    t5 = T5ForConditionalGeneration(T5Config(
        vocab_size=vocab, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
        pad_token_id=pad, eos_token_id=chat_tok.eos_token_id, decoder_start_token_id=pad,
    ))
    return {
        "llama": _save(llama, chat_tok, root / "llama"),
        "opt": _save(opt, chat_tok, root / "opt"),
        "roberta": _save(roberta, bert_tok, root / "roberta"),
        "t5": _save(t5, chat_tok, root / "t5"),
    }

"""mT5, UMT5, mBART, Pegasus and Marian (T5-like and BART-like rows), checked against transformers on meta.

Each shipped config (sources in src/paramcount/sources/hf/configs/SOURCES.seq2seq.md) is compared for the class
it names, parameters and buffers, and its total is pinned; one config per type for every other class.
Hypothesis perturbs tiny configs per type (sizes, layer counts, tied or untied embeddings, Marian's own
decoder vocabulary, labels) and compares a class drawn from the type's classes.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_encoders import labels

from hf_oracle import assert_same_model, other_classes, shipped
from paramcount.sources.hf import build_config_tree
from paramcount.sources.hf._registry import spec_for
from paramcount.tree import parameter_count

SHIPPED = {
    "google--mt5-small.json": 172_119_424,
    "google--umt5-small.json": 175_333_376,
    "facebook--mbart-large-50.json": 610_879_488,
    "google--pegasus-xsum.json": 569_748_480,
    "Helsinki-NLP--opus-mt-en-de.json": 74_410_496,
}
"""Each config and its total as transformers 5.24 builds it (checked in the test); SOURCES.seq2seq.md relates
each to the size its publisher states."""


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_config_matches_transformers(name: str) -> None:
    config = shipped(name)
    tree = build_config_tree(config)
    assert_same_model(config, tree.kind)
    assert parameter_count(tree) == SHIPPED[name]


@pytest.mark.parametrize(("name", "architecture"), other_classes(tuple(SHIPPED)))
def test_other_classes_match_transformers(name: str, architecture: str) -> None:
    assert_same_model(shipped(name), architecture)


def test_frozen_sinusoidal_positions_are_not_trainable() -> None:
    # Pegasus and Marian keep their sinusoidal tables as parameters with requires_grad=False: 2 × 512 × 1024.
    tree = build_config_tree(shipped("google--pegasus-xsum.json"))
    assert parameter_count(tree) - parameter_count(tree, trainable=True) == 2 * 512 * 1024


# --- random configs --------------------------------------------------------------------------------------------


@st.composite
def t5_configs(draw: st.DrawFn) -> dict[str, Any]:
    heads = draw(st.integers(1, 3))
    config = {
        "model_type": draw(st.sampled_from(["mt5", "umt5"])),
        "d_model": draw(st.integers(1, 8)),
        "d_kv": draw(st.integers(1, 3)),
        "d_ff": draw(st.integers(1, 8)),
        "num_heads": heads,
        "num_layers": draw(st.integers(0, 3)),
        "vocab_size": draw(st.integers(1, 12)),
        "relative_attention_num_buckets": draw(st.integers(1, 8)),
        "feed_forward_proj": draw(st.sampled_from(["relu", "gated-gelu", "gelu"])),
        "tie_word_embeddings": draw(st.booleans()),
        **labels(draw),
    }
    if draw(st.booleans()):
        config["num_decoder_layers"] = draw(st.integers(0, 3))
    return config


@st.composite
def bart_like_configs(draw: st.DrawFn) -> dict[str, Any]:
    heads = draw(st.integers(1, 3))
    vocab = draw(st.integers(2, 12))
    config = {
        "model_type": draw(st.sampled_from(["mbart", "pegasus", "marian"])),
        "d_model": heads * draw(st.integers(1, 3)),
        "encoder_attention_heads": heads,
        "decoder_attention_heads": heads,
        "encoder_ffn_dim": draw(st.integers(1, 8)),
        "decoder_ffn_dim": draw(st.integers(1, 8)),
        "encoder_layers": draw(st.integers(0, 2)),
        "decoder_layers": draw(st.integers(0, 2)),
        "vocab_size": vocab,
        "max_position_embeddings": draw(st.integers(1, 8)),
        "tie_word_embeddings": draw(st.booleans()),
        **labels(draw),
    }
    if config["model_type"] == "marian":
        decoder_vocab = draw(st.integers(2, 12))
        config["decoder_vocab_size"] = decoder_vocab
        config["share_encoder_decoder_embeddings"] = draw(st.booleans())
        config["pad_token_id"] = config["decoder_start_token_id"] = draw(st.integers(0, min(vocab, decoder_vocab) - 1))
    else:
        config["pad_token_id"] = draw(st.integers(0, vocab - 1))
    return config


FAMILIES = {"t5-like": t5_configs(), "bart-like": bart_like_configs()}


@pytest.mark.parametrize("family", FAMILIES)
@settings(max_examples=20)
@given(data=st.data())
def test_random_config_matches_transformers(family: str, data: st.DataObject) -> None:
    config = data.draw(FAMILIES[family], label="config")
    architecture = data.draw(st.sampled_from(spec_for(config["model_type"]).architectures), label="architecture")
    assert_same_model(config, architecture)

"""Encoders (bert, roberta, distilbert) from config.json, checked against transformers on the meta device.

Shipped configs (listed with their sources in src/paramcount/sources/hf/configs/SOURCES.gpt.md) are compared
for their default class and, one config per family, for every other class, parameters *and* buffers.
Hypothesis perturbs small configs per family; bad input pins the exact messages and key paths, and where
transformers refuses the same config, that it does.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hf_oracle import (
    assert_matches_transformers,
    assert_same_model,
    counted_class,
    other_classes,
    shipped,
    transformers_model,
)
from paramcount.errors import ConfigError
from paramcount.sources.hf import build_config_tree
from paramcount.sources.hf._registry import spec_for
from paramcount.tree import iter_params, parameter_count

SHIPPED = (
    "google-bert--bert-base-uncased.json",
    "bert-base-uncased.json",
    "google-bert--bert-large-uncased.json",
    "FacebookAI--roberta-base.json",
    "distilbert--distilbert-base-uncased.json",
)

ONE_PER_TYPE = (
    "google-bert--bert-base-uncased.json",
    "FacebookAI--roberta-base.json",
    "distilbert--distilbert-base-uncased.json",
)


# --- shipped configs -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_config_matches_transformers(name: str) -> None:
    config = shipped(name)
    assert_same_model(config, counted_class(config))


@pytest.mark.parametrize(
    ("name", "architecture"),
    other_classes(ONE_PER_TYPE),
)
def test_other_classes_match_transformers(name: str, architecture: str) -> None:
    assert_same_model(shipped(name), architecture)


def test_hub_ids_without_organisation_are_the_same_files() -> None:
    assert shipped("bert-base-uncased.json") == shipped("google-bert--bert-base-uncased.json")


def test_bert_base_matches_closed_form() -> None:
    # BERT-base (Devlin et al., 2019: "110M"), derived: embeddings (30522 + 512 + 2)·768 + LayerNorm 2·768;
    # 12 layers of (Q, K, V, attention output 4·(768·768 + 768) + 2 LayerNorms 4·768 + 768·3072 + 3072
    # + 3072·768 + 768); pooler 768·768 + 768.
    layer = 4 * (768 * 768 + 768) + 4 * 768 + 2 * 768 * 3072 + 3072 + 768
    expected = (30522 + 512 + 2) * 768 + 2 * 768 + 12 * layer + 768 * 768 + 768
    assert expected == 109_482_240
    assert parameter_count(build_config_tree(shipped("bert-base-uncased.json"), architecture="BertModel")) == expected


def test_masked_lm_head_ties_weight_and_bias() -> None:
    tree = build_config_tree(shipped("bert-base-uncased.json"))
    ties = {path: param.tied_to for path, param in iter_params(tree, include_tied=True) if param.tied_to}
    assert ties == {
        "cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
        "cls.predictions.decoder.bias": "cls.predictions.bias",
    }


def test_roberta_position_table_is_the_published_size() -> None:
    # 514 = 512 positions + padding_idx 1 + 1: RoBERTa numbers positions from pad_token_id + 1, and the published
    # max_position_embeddings already holds that offset, so it is used as given.
    shapes = {
        name: param.sizes for name, param in iter_params(build_config_tree(shipped("FacebookAI--roberta-base.json")))
    }
    assert shapes["roberta.embeddings.position_embeddings.weight"] == (514, 768)


def test_identical_layers_are_one_repeated_child() -> None:
    tree = build_config_tree(shipped("google-bert--bert-large-uncased.json"))
    encoder = next(
        child for child in next(c for c in tree.children if c.name == "bert").children if child.name == "encoder"
    )
    (layers,) = encoder.children
    assert [(layer.name, layer.kind, layer.repeat) for layer in layers.children] == [("0", "BertLayer", 24)]


def test_sinusoidal_positions_keep_the_trainable_table() -> None:
    # transformers 5 fills the table with sinusoids at initialisation; it remains an nn.Embedding parameter.
    config = shipped("distilbert--distilbert-base-uncased.json")
    assert_matches_transformers({**config, "sinusoidal_pos_embds": True}, "DistilBertForMaskedLM")
    assert parameter_count(build_config_tree({**config, "sinusoidal_pos_embds": True})) == parameter_count(
        build_config_tree(config)
    )


# --- random configs --------------------------------------------------------------------------------------------


def labels(draw: st.DrawFn) -> dict[str, Any]:
    """The classification heads' width: ``num_labels``, ``id2label``, both (``num_labels`` wins) or 2."""
    choice = draw(st.sampled_from(["default", "num_labels", "id2label", "both"]))
    count, other = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    mapping = {str(index): f"label {index}" for index in range(other)}
    options: dict[str, dict[str, Any]] = {
        "default": {},
        "num_labels": {"num_labels": count},
        "id2label": {"id2label": mapping},
        "both": {"num_labels": count, "id2label": mapping},
    }
    return options[choice]


@st.composite
def bert_configs(draw: st.DrawFn) -> dict[str, Any]:
    """BERT or RoBERTa; a padding id inside both the vocabulary and (RoBERTa) the position table."""
    heads = draw(st.integers(1, 3))
    vocab, positions = draw(st.integers(2, 30)), draw(st.integers(2, 12))
    is_decoder = draw(st.booleans())
    return {
        "model_type": draw(st.sampled_from(["bert", "roberta"])),
        "hidden_size": heads * draw(st.integers(1, 4)),
        "num_attention_heads": heads,
        "num_hidden_layers": draw(st.integers(0, 2)),
        "intermediate_size": draw(st.integers(1, 20)),
        "vocab_size": vocab,
        "max_position_embeddings": positions,
        "type_vocab_size": draw(st.integers(1, 3)),
        "pad_token_id": draw(st.integers(0, min(vocab, positions) - 1)),
        "is_decoder": is_decoder,
        "add_cross_attention": is_decoder and draw(st.booleans()),
        "tie_word_embeddings": draw(st.booleans()),
        **labels(draw),
    }


@st.composite
def distilbert_configs(draw: st.DrawFn) -> dict[str, Any]:
    heads = draw(st.integers(1, 3))
    vocab = draw(st.integers(1, 30))
    width = heads * draw(st.integers(1, 4))
    return {
        "model_type": "distilbert",
        draw(st.sampled_from(["dim", "hidden_size"])): width,
        draw(st.sampled_from(["n_heads", "num_attention_heads"])): heads,
        draw(st.sampled_from(["n_layers", "num_hidden_layers"])): draw(st.integers(0, 2)),
        "hidden_dim": draw(st.integers(1, 20)),
        "vocab_size": vocab,
        "max_position_embeddings": draw(st.integers(1, 12)),
        "pad_token_id": draw(st.integers(0, vocab - 1)),
        "sinusoidal_pos_embds": draw(st.booleans()),
        "tie_word_embeddings": draw(st.booleans()),
        **labels(draw),
    }


def transformers_labels(config: dict[str, Any]) -> int:
    if "num_labels" in config:
        return int(config["num_labels"])
    return len(config["id2label"]) if "id2label" in config else 2


FAMILIES = {"bert-roberta": bert_configs(), "distilbert": distilbert_configs()}


@pytest.mark.parametrize("family", FAMILIES)
@settings(max_examples=25)
@given(data=st.data())
def test_random_config_matches_transformers(family: str, data: st.DataObject) -> None:
    config = data.draw(FAMILIES[family], label="config")
    choices = spec_for(config["model_type"]).architectures
    if transformers_labels(config) != 2:
        # transformers refuses DistilBertForQuestionAnswering without exactly two labels (checked below).
        choices = tuple(name for name in choices if name != "DistilBertForQuestionAnswering")
    assert_same_model(config, data.draw(st.sampled_from(choices), label="architecture"))


# --- bad input -------------------------------------------------------------------------------------------------

BERT = {
    "model_type": "bert",
    "hidden_size": 8,
    "num_attention_heads": 2,
    "num_hidden_layers": 1,
    "intermediate_size": 16,
    "max_position_embeddings": 4,
    "vocab_size": 10,
}
DISTILBERT = {
    "model_type": "distilbert",
    "dim": 8,
    "n_heads": 2,
    "n_layers": 1,
    "hidden_dim": 16,
    "max_position_embeddings": 4,
    "vocab_size": 10,
}


@pytest.mark.parametrize(
    ("config", "message", "key_path"),
    [
        (
            {**BERT, "intermediate_size": None},
            "config.json: key 'intermediate_size' is missing (needed for model_type 'bert')",
            "intermediate_size",
        ),
        ({**DISTILBERT, "dim": None}, "config.json: key 'dim' is missing (needed for model_type 'distilbert')", "dim"),
        ({**BERT, "hidden_size": "768"}, "config.json: 'hidden_size' must be an integer, got '768'", "hidden_size"),
        ({**BERT, "vocab_size": False}, "config.json: 'vocab_size' must be an integer, got False", "vocab_size"),
        (
            {**BERT, "max_position_embeddings": -512},
            "config.json: 'max_position_embeddings' must be a positive integer, got -512",
            "max_position_embeddings",
        ),
        (
            {**BERT, "type_vocab_size": 0},
            "config.json: 'type_vocab_size' must be a positive integer, got 0",
            "type_vocab_size",
        ),
        ({**BERT, "is_decoder": 1}, "config.json: 'is_decoder' must be true or false, got 1", "is_decoder"),
        ({**BERT, "pad_token_id": "0"}, "config.json: 'pad_token_id' must be an integer, got '0'", "pad_token_id"),
        (
            {**DISTILBERT, "n_layers": 200_000},
            "config.json: 'n_layers' is 200,000; the limit is 100,000",
            "n_layers",
        ),
    ],
)
def test_bad_config_names_the_key(config: dict[str, Any], message: str, key_path: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        build_config_tree(config)
    assert str(caught.value) == message
    assert caught.value.key_path == key_path


@pytest.mark.parametrize(
    ("config", "architecture", "message", "key_path", "their_error"),
    [
        (
            {**BERT, "num_attention_heads": 3},
            "BertModel",
            "config.json: 'hidden_size' (8) must be divisible by 'num_attention_heads' (3)",
            "num_attention_heads",
            ValueError,
        ),
        (
            {**BERT, "model_type": "roberta", "max_position_embeddings": 4, "pad_token_id": 5},
            "RobertaModel",
            "config.json: 'pad_token_id' must index the max_position_embeddings rows (-4 to 3), got 5",
            "pad_token_id",
            AssertionError,
        ),
        (
            {**BERT, "add_cross_attention": True},
            "BertModel",
            "config.json: 'add_cross_attention' needs 'is_decoder': true (transformers refuses cross-attention in an "
            "encoder)",
            "add_cross_attention",
            ValueError,
        ),
        (
            {**DISTILBERT, "num_labels": 3},
            "DistilBertForQuestionAnswering",
            "config.json: 'num_labels' must be 2 for DistilBertForQuestionAnswering, got 3",
            "num_labels",
            ValueError,
        ),
    ],
)
def test_config_transformers_refuses_is_refused(
    config: dict[str, Any], architecture: str, message: str, key_path: str, their_error: type[Exception]
) -> None:
    with pytest.raises(their_error):
        transformers_model(config, architecture)
    with pytest.raises(ConfigError) as caught:
        build_config_tree(config, architecture=architecture)
    assert (str(caught.value), caught.value.key_path) == (message, key_path)

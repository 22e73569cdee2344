"""Encoders beyond BERT (XLM-RoBERTa, ELECTRA, ALBERT, DeBERTa-v2, ModernBERT, MPNet), checked against transformers
on the meta device.

Each shipped config (sources in src/paramcount/sources/hf/configs/SOURCES.encoders.md) is compared for the
class it names, parameters and buffers, and its total is pinned; one config per family is compared for every
other class. Hypothesis perturbs tiny configs per family (sizes, tied or untied heads, labels, the family's own
switches) and compares a class drawn from the family's classes.
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
from paramcount.tree import iter_params, parameter_count

SHIPPED = {
    "FacebookAI--xlm-roberta-base.json": 278_295_186,
    "google--electra-base-discriminator.json": 109_483_009,
    "albert--albert-base-v2.json": 11_221_680,
    "microsoft--deberta-v3-base.json": 183_831_552,
    "answerdotai--ModernBERT-base.json": 149_655_232,
    "sentence-transformers--all-mpnet-base-v2.json": 109_518_527,
}
"""Each config and its total as transformers 5.24 builds it (checked in the test), which agrees with the size
its publisher states (SOURCES.encoders.md)."""


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_config_matches_transformers(name: str) -> None:
    config = shipped(name)
    tree = build_config_tree(config)
    assert_same_model(config, tree.kind)
    assert parameter_count(tree) == SHIPPED[name]


@pytest.mark.parametrize(("name", "architecture"), other_classes(tuple(SHIPPED)))
def test_other_classes_match_transformers(name: str, architecture: str) -> None:
    assert_same_model(shipped(name), architecture)


def test_xlm_roberta_head_owns_the_tied_word_embedding() -> None:
    # XLMRobertaForMaskedLM registers lm_head before roberta, so named_parameters() lists the shared tensor as
    # lm_head.decoder.weight (and num_parameters(exclude_embeddings=True) keeps it: it is not an Embedding's).
    tree = build_config_tree(shipped("FacebookAI--xlm-roberta-base.json"))
    from paramcount.tree import iter_params

    ties = {path: param.tied_to for path, param in iter_params(tree, include_tied=True) if param.tied_to}
    assert ties == {
        "lm_head.decoder.bias": "lm_head.bias",
        "roberta.embeddings.word_embeddings.weight": "lm_head.decoder.weight",
    }


def test_albert_layers_are_shared() -> None:
    # num_hidden_layers steps reuse num_hidden_groups × inner_group_num layers: 12 or 48 steps count the same.
    config = shipped("albert--albert-base-v2.json")
    assert (
        parameter_count(build_config_tree({**config, "num_hidden_layers": 48}))
        == SHIPPED["albert--albert-base-v2.json"]
    )


def test_deberta_v3_relative_embeddings_are_twice_the_buckets() -> None:
    # DeBERTa-v3-base: position_buckets 256 → rel_embeddings (512, 768), one table for all 12 layers, then its
    # LayerNorm (norm_rel_ebd "layer_norm"); share_att_key: no pos_key_proj / pos_query_proj in any layer.
    tree = build_config_tree(shipped("microsoft--deberta-v3-base.json"))
    shapes = dict((path, param.sizes) for path, param in iter_params(tree))
    assert shapes["encoder.rel_embeddings.weight"] == (2 * 256, 768)
    assert shapes["encoder.LayerNorm.weight"] == (768,)
    assert not any("pos_" in path for path in shapes)


def test_modernbert_first_layer_has_no_attention_norm() -> None:
    # ModernBertEncoderLayer(layer_idx=0) sets attn_norm = nn.Identity(): 21 of the 22 layers hold one.
    tree = build_config_tree(shipped("answerdotai--ModernBERT-base.json"))
    norms = [path for path, _ in iter_params(tree) if path.endswith("attn_norm.weight")]
    assert len(norms) == 21
    assert "model.layers.0.attn_norm.weight" not in norms


# --- random configs --------------------------------------------------------------------------------------------


def sizes(draw: st.DrawFn) -> dict[str, Any]:
    heads = draw(st.integers(1, 3))
    vocab, positions = draw(st.integers(2, 20)), draw(st.integers(2, 10))
    return {
        "hidden_size": heads * draw(st.integers(1, 3)),
        "num_attention_heads": heads,
        "num_hidden_layers": draw(st.integers(0, 2)),
        "intermediate_size": draw(st.integers(1, 12)),
        "vocab_size": vocab,
        "max_position_embeddings": positions,
        "type_vocab_size": draw(st.integers(1, 3)),
        "pad_token_id": draw(st.integers(0, min(vocab, positions) - 1)),
        "tie_word_embeddings": draw(st.booleans()),
        **labels(draw),
    }


@st.composite
def xlm_roberta_configs(draw: st.DrawFn) -> dict[str, Any]:
    is_decoder = draw(st.booleans())
    cross = is_decoder and draw(st.booleans())
    return {"model_type": "xlm-roberta", **sizes(draw), "is_decoder": is_decoder, "add_cross_attention": cross}


@st.composite
def electra_configs(draw: st.DrawFn) -> dict[str, Any]:
    config = {"model_type": "electra", **sizes(draw), "embedding_size": draw(st.integers(1, 6))}
    config["summary_use_proj"] = draw(st.booleans())
    config["summary_proj_to_labels"] = draw(st.booleans())
    return config


@st.composite
def albert_configs(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "model_type": "albert",
        **sizes(draw),
        "embedding_size": draw(st.integers(1, 6)),
        "num_hidden_groups": draw(st.integers(1, 2)),
        "inner_group_num": draw(st.integers(0, 2)),
    }


@st.composite
def deberta_v2_configs(draw: st.DrawFn) -> dict[str, Any]:
    """DeBERTa's switches: relative attention with buckets or a span, shared or separate position projections,
    ``pos_att_type`` as a string or a list, a LayerNorm on the relative embeddings, a convolution layer, factorised
    embeddings, a head size of its own, the legacy or the new masked-LM head, the pooler's width."""
    config = {"model_type": "deberta-v2", **sizes(draw), "type_vocab_size": draw(st.integers(0, 2))}
    kinds = draw(st.lists(st.sampled_from(["c2p", "p2c"]), unique=True))
    config["pos_att_type"] = draw(st.sampled_from(["|".join(kinds).upper(), kinds]))
    config["relative_attention"] = draw(st.booleans())
    config["share_att_key"] = draw(st.booleans())
    config["position_biased_input"] = draw(st.booleans())
    config["position_buckets"] = draw(st.integers(-1, 4))
    config["max_relative_positions"] = draw(st.integers(-1, 6))
    config["norm_rel_ebd"] = draw(st.sampled_from(["none", "layer_norm", "Layer_Norm|none"]))
    config["legacy"] = draw(st.booleans())
    if draw(st.booleans()):
        config["embedding_size"] = draw(st.integers(1, 6))
    if draw(st.booleans()):
        config["attention_head_size"] = draw(st.integers(1, 3))
    if draw(st.booleans()):
        config["pooler_hidden_size"] = draw(st.integers(1, 6))
    if draw(st.booleans()):
        config["conv_kernel_size"] = draw(st.integers(1, 3))
        config["conv_groups"] = draw(st.sampled_from([1, config["num_attention_heads"]]))
    return config


@st.composite
def modernbert_configs(draw: st.DrawFn) -> dict[str, Any]:
    """ModernBERT: biases of norms, attention, MLP, head and decoder; the global-attention period or an explicit
    ``layer_types``; tied or untied decoder."""
    config = {"model_type": "modernbert", **sizes(draw)}
    # Without layers transformers 5.24 fails to build the config: no layer type is left for its RoPE parameters.
    config["num_hidden_layers"] = max(config["num_hidden_layers"], 1)
    config["pad_token_id"] = draw(st.integers(0, config["vocab_size"] - 1))
    del config["max_position_embeddings"], config["type_vocab_size"]
    for key in ("norm_bias", "attention_bias", "mlp_bias", "classifier_bias", "decoder_bias"):
        config[key] = draw(st.booleans())
    if draw(st.booleans()):
        config["global_attn_every_n_layers"] = draw(st.integers(1, 3))
    else:
        kinds = st.sampled_from(["full_attention", "sliding_attention"])
        config["layer_types"] = draw(
            st.lists(kinds, min_size=config["num_hidden_layers"], max_size=config["num_hidden_layers"])
        )
    return config


@st.composite
def mpnet_configs(draw: st.DrawFn) -> dict[str, Any]:
    config = {"model_type": "mpnet", **sizes(draw), "relative_attention_num_buckets": draw(st.integers(1, 40))}
    config["vocab_size"] = max(config["vocab_size"], 2)
    config["max_position_embeddings"] = max(config["max_position_embeddings"], 2)
    del config["type_vocab_size"]
    return config


FAMILIES = {
    "xlm-roberta": xlm_roberta_configs(),
    "electra": electra_configs(),
    "albert": albert_configs(),
    "deberta-v2": deberta_v2_configs(),
    "modernbert": modernbert_configs(),
    "mpnet": mpnet_configs(),
}


@pytest.mark.parametrize("family", FAMILIES)
@settings(max_examples=15)
@given(data=st.data())
def test_random_config_matches_transformers(family: str, data: st.DataObject) -> None:
    config = data.draw(FAMILIES[family], label="config")
    architecture = data.draw(st.sampled_from(spec_for(config["model_type"]).architectures), label="architecture")
    assert_same_model(config, architecture)

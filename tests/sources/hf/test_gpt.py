"""GPT-style decoders (gpt2, openai-gpt, gpt_neox, gptj, falcon, opt, bloom) checked against transformers.

Shipped configs (listed with their sources in src/paramcount/sources/hf/configs/SOURCES.gpt.md) are compared
for their default class and, one config per family, for every other class, parameters *and* buffers, on the
meta device. Published totals are asserted where the publisher states one. Hypothesis perturbs small configs
per family; bad input pins the exact messages and key paths, and where transformers refuses the same config,
that it does.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hf_oracle import (
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
    "openai-community--gpt2.json",
    "gpt2.json",
    "openai-community--gpt2-medium.json",
    "openai-community--gpt2-large.json",
    "openai-community--gpt2-xl.json",
    "openai-community--openai-gpt.json",
    "EleutherAI--pythia-160m.json",
    "EleutherAI--gpt-neox-20b.json",
    "EleutherAI--gpt-j-6b.json",
    "tiiuae--falcon-7b.json",
    "tiiuae--falcon-40b.json",
    "facebook--opt-125m.json",
    "facebook--opt-350m.json",
    "facebook--opt-1.3b.json",
    "bigscience--bloom-560m.json",
    "bigscience--bloom.json",
)

ONE_PER_TYPE = (
    "openai-community--gpt2.json",
    "openai-community--openai-gpt.json",
    "EleutherAI--pythia-160m.json",
    "EleutherAI--gpt-j-6b.json",
    "tiiuae--falcon-7b.json",
    "facebook--opt-350m.json",
    "bigscience--bloom-560m.json",
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
    assert shipped("gpt2.json") == shipped("openai-community--gpt2.json")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # GPT-2 small, derived: wte 50257·768 + wpe 1024·768 + 12 blocks of (2 LayerNorms 4·768, c_attn 768·2304
        # + 2304, c_proj 768·768 + 768, c_fc 768·3072 + 3072, c_proj 3072·768 + 768) + ln_f 2·768; lm_head tied.
        ("openai-community--gpt2.json", 50257 * 768 + 1024 * 768 + 12 * (12 * 768 * 768 + 13 * 768) + 2 * 768),
        # Pythia model card (https://huggingface.co/EleutherAI/pythia-160m): 85,056,000 non-embedding parameters,
        # plus embed_in and the untied lm_head, 50304·768 each: 162,322,944.
        ("EleutherAI--pythia-160m.json", 85_056_000 + 2 * 50304 * 768),
        # GPT-NeoX-20B paper (Black et al., 2022, arXiv:2204.06745), Table 1: 20,554,567,680 parameters.
        ("EleutherAI--gpt-neox-20b.json", 20_554_567_680),
        # BLOOM model card (https://huggingface.co/bigscience/bloom): "176,247,271,424 parameters".
        ("bigscience--bloom.json", 176_247_271_424),
    ],
)
def test_published_totals(name: str, expected: int) -> None:
    assert parameter_count(build_config_tree(shipped(name))) == expected


def test_gpt2_small_is_124_439_808() -> None:
    # The count transformers gives GPT2LMHeadModel for openai-community/gpt2 (its model page says "124M").
    assert parameter_count(build_config_tree(shipped("gpt2.json"))) == 124_439_808


def test_identical_blocks_are_one_repeated_child() -> None:
    tree = build_config_tree(shipped("openai-community--gpt2-xl.json"))
    transformer = next(child for child in tree.children if child.name == "transformer")
    blocks = next(child for child in transformer.children if child.name == "h")
    assert [(block.name, block.kind, block.repeat) for block in blocks.children] == [("0", "GPT2Block", 48)]


def test_conv1d_weights_are_input_by_output() -> None:
    shapes = dict((name, param.sizes) for name, param in iter_params(build_config_tree(shipped("gpt2.json"))))
    assert shapes["transformer.h.0.attn.c_attn.weight"] == (768, 2304)
    assert shapes["transformer.h.11.mlp.c_proj.weight"] == (3072, 768)


@pytest.mark.parametrize(
    ("name", "head", "owner"),
    [
        ("gpt2.json", "lm_head.weight", "transformer.wte.weight"),
        ("facebook--opt-350m.json", "lm_head.weight", "model.decoder.embed_tokens.weight"),
        ("bigscience--bloom-560m.json", "lm_head.weight", "transformer.word_embeddings.weight"),
        ("tiiuae--falcon-7b.json", "lm_head.weight", "transformer.word_embeddings.weight"),
    ],
)
def test_tied_head_is_listed_once_with_its_owner(name: str, head: str, owner: str) -> None:
    tree = build_config_tree(shipped(name))
    ties = {path: param.tied_to for path, param in iter_params(tree, include_tied=True)}
    assert ties[head] == owner
    assert head not in dict(iter_params(tree))


def test_untied_heads_count_their_own_weight() -> None:
    config = shipped("EleutherAI--pythia-160m.json")
    assert {param.tied_to for _, param in iter_params(build_config_tree(config), include_tied=True)} == {None}
    tied = parameter_count(build_config_tree({**config, "tie_word_embeddings": True}))
    assert parameter_count(build_config_tree(config)) - tied == 50304 * 768


# --- random configs --------------------------------------------------------------------------------------------


def labels(draw: st.DrawFn) -> dict[str, Any]:
    """The classification heads' width: ``num_labels``, ``id2label``, both (``num_labels`` wins) or the
    default of 2."""
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


def spelled(draw: st.DrawFn, value: int, *keys: str) -> dict[str, int]:
    """One of the spellings transformers accepts for a size."""
    return {draw(st.sampled_from(keys)): value}


@st.composite
def gpt2_configs(draw: st.DrawFn) -> dict[str, Any]:
    heads = draw(st.integers(1, 3))
    config: dict[str, Any] = {
        "model_type": draw(st.sampled_from(["gpt2", "openai-gpt"])),
        **spelled(draw, heads * draw(st.integers(1, 4)), "n_embd", "hidden_size"),
        **spelled(draw, heads, "n_head", "num_attention_heads"),
        **spelled(draw, draw(st.integers(0, 2)), "n_layer", "num_hidden_layers"),
        **spelled(draw, draw(st.integers(1, 9)), "n_positions", "max_position_embeddings"),
        "vocab_size": draw(st.integers(1, 30)),
        "tie_word_embeddings": draw(st.booleans()),
        "summary_use_proj": draw(st.booleans()),
        "summary_proj_to_labels": draw(st.booleans()),
        **labels(draw),
    }
    if config["model_type"] == "gpt2":
        config["add_cross_attention"] = draw(st.booleans())
        config["n_inner"] = draw(st.none() | st.integers(1, 20))
    return config


@st.composite
def neox_configs(draw: st.DrawFn) -> dict[str, Any]:
    heads = draw(st.integers(1, 3))
    return {
        "model_type": "gpt_neox",
        "hidden_size": heads * draw(st.integers(1, 8)),
        "num_attention_heads": heads,
        "num_hidden_layers": draw(st.integers(0, 2)),
        "intermediate_size": draw(st.integers(1, 20)),
        "vocab_size": draw(st.integers(1, 30)),
        "rotary_pct": draw(st.sampled_from([0.0, 0.25, 0.3, 0.5, 1.0])),
        "attention_bias": draw(st.booleans()),
        "tie_word_embeddings": draw(st.booleans()),
        **labels(draw),
    }


@st.composite
def gptj_configs(draw: st.DrawFn) -> dict[str, Any]:
    heads = draw(st.integers(1, 3))
    config: dict[str, Any] = {
        "model_type": "gptj",
        **spelled(draw, heads * draw(st.integers(1, 4)), "n_embd", "hidden_size"),
        "n_head": heads,
        "n_layer": draw(st.integers(0, 2)),
        "n_positions": draw(st.integers(1, 9)),
        "vocab_size": draw(st.integers(1, 30)),
        "rotary_dim": draw(st.integers(1, 9)),
        "n_inner": draw(st.none() | st.integers(1, 20)),
        "tie_word_embeddings": draw(st.booleans()),
        **labels(draw),
    }
    return config


@st.composite
def falcon_configs(draw: st.DrawFn) -> dict[str, Any]:
    heads = draw(st.integers(1, 4))
    return {
        "model_type": "falcon",
        **spelled(draw, heads * draw(st.integers(1, 4)), "hidden_size", "n_embed"),
        "num_attention_heads": heads,
        "num_hidden_layers": draw(st.integers(0, 2)),
        "vocab_size": draw(st.integers(1, 30)),
        "new_decoder_architecture": draw(st.booleans()),
        "multi_query": draw(st.booleans()),
        "parallel_attn": draw(st.booleans()),
        "num_kv_heads": draw(st.none() | st.integers(1, heads)),
        "num_ln_in_parallel_attn": draw(st.sampled_from([None, 1, 2])),
        "ffn_hidden_size": draw(st.none() | st.integers(1, 20)),
        "bias": draw(st.booleans()),
        "alibi": draw(st.booleans()),
        "tie_word_embeddings": draw(st.booleans()),
        **labels(draw),
    }


@st.composite
def opt_configs(draw: st.DrawFn) -> dict[str, Any]:
    heads = draw(st.integers(1, 3))
    vocab = draw(st.integers(2, 30))
    return {
        "model_type": "opt",
        "hidden_size": heads * draw(st.integers(1, 4)),
        "num_attention_heads": heads,
        "num_hidden_layers": draw(st.integers(0, 2)),
        "ffn_dim": draw(st.integers(1, 20)),
        "max_position_embeddings": draw(st.integers(1, 9)),
        "vocab_size": vocab,
        "pad_token_id": draw(st.integers(0, vocab - 1)),
        "word_embed_proj_dim": draw(st.none() | st.integers(1, 12)),
        "do_layer_norm_before": draw(st.booleans()),
        "_remove_final_layer_norm": draw(st.booleans()),
        "enable_bias": draw(st.booleans()),
        "layer_norm_elementwise_affine": draw(st.booleans()),
        "tie_word_embeddings": draw(st.booleans()),
        **labels(draw),
    }


@st.composite
def bloom_configs(draw: st.DrawFn) -> dict[str, Any]:
    heads = draw(st.integers(1, 3))
    return {
        "model_type": "bloom",
        **spelled(draw, heads * draw(st.integers(1, 4)), "hidden_size", "n_embed"),
        **spelled(draw, heads, "n_head", "num_attention_heads"),
        **spelled(draw, draw(st.integers(0, 2)), "n_layer", "num_hidden_layers"),
        "vocab_size": draw(st.integers(1, 30)),
        "tie_word_embeddings": draw(st.booleans()),
        **labels(draw),
    }


FAMILIES = {
    "gpt2-openai": gpt2_configs(),
    "gpt_neox": neox_configs(),
    "gptj": gptj_configs(),
    "falcon": falcon_configs(),
    "opt": opt_configs(),
    "bloom": bloom_configs(),
}


@pytest.mark.parametrize("family", FAMILIES)
@settings(max_examples=20)
@given(data=st.data())
def test_random_config_matches_transformers(family: str, data: st.DataObject) -> None:
    config = data.draw(FAMILIES[family], label="config")
    architecture = data.draw(st.sampled_from(spec_for(config["model_type"]).architectures), label="architecture")
    assert_same_model(config, architecture)


# --- bad input -------------------------------------------------------------------------------------------------

GPT2 = {"model_type": "gpt2", "n_embd": 8, "n_head": 2, "n_layer": 1, "n_positions": 4, "vocab_size": 10}
OPT = {
    "model_type": "opt",
    "hidden_size": 8,
    "num_attention_heads": 2,
    "num_hidden_layers": 1,
    "ffn_dim": 16,
    "max_position_embeddings": 4,
    "vocab_size": 10,
}


LM, CLASSIFIER, DOUBLE = "GPT2LMHeadModel", "GPT2ForSequenceClassification", "GPT2DoubleHeadsModel"


@pytest.mark.parametrize(
    ("config", "architecture", "message", "key_path"),
    [
        ({**GPT2, "n_embd": None}, LM, "config.json: key 'n_embd' is missing (needed for model_type 'gpt2')", "n_embd"),
        (
            {**OPT, "ffn_dim": None},
            None,
            "config.json: key 'ffn_dim' is missing (needed for model_type 'opt')",
            "ffn_dim",
        ),
        ({**GPT2, "n_head": "2"}, LM, "config.json: 'n_head' must be an integer, got '2'", "n_head"),
        ({**GPT2, "n_layer": True}, LM, "config.json: 'n_layer' must be an integer, got True", "n_layer"),
        ({**GPT2, "vocab_size": 10.5}, LM, "config.json: 'vocab_size' must be an integer, got 10.5", "vocab_size"),
        (
            {**OPT, "hidden_size": -8},
            None,
            "config.json: 'hidden_size' must be a positive integer, got -8",
            "hidden_size",
        ),
        ({**GPT2, "n_layer": -1}, LM, "config.json: 'n_layer' must be an integer >= 0, got -1", "n_layer"),
        ({**GPT2, "n_layer": 10**6}, LM, "config.json: 'n_layer' is 1,000,000; the limit is 100,000", "n_layer"),
        (
            {**GPT2, "hidden_size": 2**60},
            LM,
            "config.json: 'hidden_size' is 1,152,921,504,606,846,976; the limit is 281,474,976,710,655",
            "hidden_size",
        ),
        (
            {**GPT2, "tie_word_embeddings": "yes"},
            LM,
            "config.json: 'tie_word_embeddings' must be true or false, got 'yes'",
            "tie_word_embeddings",
        ),
        (
            {**GPT2, "num_labels": 0},
            CLASSIFIER,
            "config.json: 'num_labels' must be a positive integer, got 0",
            "num_labels",
        ),
        (
            {**GPT2, "id2label": []},
            CLASSIFIER,
            "config.json: 'id2label' must be a non-empty object, got []",
            "id2label",
        ),
        (
            {**GPT2, "summary_type": "attn"},
            DOUBLE,
            "config.json: 'summary_type' 'attn' is not implemented by transformers",
            "summary_type",
        ),
    ],
)
def test_bad_config_names_the_key(
    config: dict[str, Any], architecture: str | None, message: str, key_path: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        build_config_tree(config, architecture=architecture)
    assert str(caught.value) == message
    assert caught.value.key_path == key_path


@pytest.mark.parametrize(
    ("config", "architecture", "message", "key_path", "their_error"),
    [
        (
            {**GPT2, "n_embd": 9},
            "GPT2LMHeadModel",
            "config.json: 'n_embd' (9) must be divisible by 'n_head' (2)",
            "n_head",
            ValueError,
        ),
        (
            {**OPT, "pad_token_id": 10},
            "OPTForCausalLM",
            "config.json: 'pad_token_id' must index the vocab_size rows (-10 to 9), got 10",
            "pad_token_id",
            AssertionError,
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


def test_unsupported_head_lists_the_supported_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        build_config_tree(GPT2, architecture="GPT2ForCausalLM")
    assert str(caught.value) == (
        "config.json: architecture 'GPT2ForCausalLM' is not supported for model_type 'gpt2'; supported: GPT2Model, "
        "GPT2LMHeadModel, GPT2DoubleHeadsModel, GPT2ForSequenceClassification, GPT2ForTokenClassification, "
        "GPT2ForQuestionAnswering"
    )
    assert caught.value.key_path == "architectures"

"""Hybrid attention + state-space decoders (Jamba, Falcon-H1), checked against transformers on the meta device.

Each shipped config (SOURCES.state_space.md) is compared for every class of its family, its total pinned;
hypothesis perturbs tiny configs: layer periods and offsets, expert counts, Mamba sizes and biases, grouped heads,
head sizes, tied or untied heads.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_encoders import labels

from hf_oracle import assert_same_model, shipped
from paramcount.errors import ConfigError
from paramcount.sources.hf import build_config_tree
from paramcount.sources.hf._registry import spec_for
from paramcount.tree import iter_buffers, iter_params, parameter_count

SHIPPED = {
    "ai21labs--AI21-Jamba-1.5-Mini.json": 51_570_323_328,
    "tiiuae--Falcon-H1-0.5B-Base.json": 521_411_104,
}
"""Each config and its total as transformers 5.24 builds it (checked below); AI21 states 52B total parameters for
Jamba 1.5 Mini, TII 0.5B for Falcon-H1-0.5B."""

CLASSES = [
    (name, architecture) for name in SHIPPED for architecture in spec_for(shipped(name)["model_type"]).architectures
]


@pytest.mark.parametrize(("name", "architecture"), CLASSES)
def test_shipped_config_matches_transformers(name: str, architecture: str) -> None:
    assert_same_model(shipped(name), architecture)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_total(name: str) -> None:
    assert parameter_count(build_config_tree(shipped(name))) == SHIPPED[name]


def test_jamba_layer_pattern() -> None:
    # attn_layer_period 8, offset 4: layers 4, 12, 20, 28 attend; expert period 2, offset 1: odd layers are MoE.
    tree = build_config_tree(shipped("ai21labs--AI21-Jamba-1.5-Mini.json"))
    paths = [path for path, _ in iter_params(tree)]
    attending = sorted({int(path.split(".")[2]) for path in paths if ".self_attn." in path})
    sparse = sorted({int(path.split(".")[2]) for path in paths if ".feed_forward.router." in path})
    assert attending == [4, 12, 20, 28]
    assert sparse == list(range(1, 32, 2))


def test_falcon_h1_mixer_holds_the_mup_vector() -> None:
    # One non-persistent (1, 1, 2·1536 + 2·1·128 + 24) buffer per layer: the width of in_proj.
    tree = build_config_tree(shipped("tiiuae--Falcon-H1-0.5B-Base.json"))
    buffers = {path: buffer for path, buffer in iter_buffers(tree) if path.endswith("mup_vector")}
    assert len(buffers) == 36
    assert {buffer.sizes for buffer in buffers.values()} == {(1, 1, 2 * 1536 + 2 * 128 + 24)}


def test_jamba_offset_beyond_period_is_refused() -> None:
    with pytest.raises(ConfigError, match="must be smaller than") as caught:
        build_config_tree({"model_type": "jamba", "attn_layer_period": 2, "attn_layer_offset": 2})
    assert caught.value.key_path == "attn_layer_offset"


# --- random configs --------------------------------------------------------------------------------------------


def _decoder(draw: st.DrawFn, model_type: str) -> dict[str, Any]:
    kv_heads = draw(st.integers(1, 2))
    heads = kv_heads * draw(st.integers(1, 2))
    config = {
        "model_type": model_type,
        "hidden_size": heads * 2 * draw(st.integers(1, 2)),
        "num_attention_heads": heads,
        # FalconH1Config takes null (one key/value head per query head); JambaConfig's strict typing refuses it.
        "num_key_value_heads": draw(st.sampled_from([kv_heads, None] if model_type == "falcon_h1" else [kv_heads])),
        "num_hidden_layers": draw(st.integers(1, 4)),
        "intermediate_size": draw(st.integers(1, 6)),
        "vocab_size": draw(st.integers(1, 12)),
        "pad_token_id": 0,
        "tie_word_embeddings": draw(st.booleans()),
        "mamba_d_state": draw(st.integers(1, 3)),
        "mamba_d_conv": draw(st.integers(1, 3)),
        "mamba_conv_bias": draw(st.booleans()),
        "mamba_proj_bias": draw(st.booleans()),
        **labels(draw),
    }
    if draw(st.booleans()):
        config["head_dim"] = 2 * draw(st.integers(1, 2))  # transformers' RoPE refuses odd head sizes
    return config


@st.composite
def jamba_configs(draw: st.DrawFn) -> dict[str, Any]:
    config = _decoder(draw, "jamba")
    attention_period, expert_period = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    experts = draw(st.integers(1, 3))
    return config | {
        "attn_layer_period": attention_period,
        "attn_layer_offset": draw(st.integers(0, attention_period - 1)),
        "expert_layer_period": expert_period,
        "expert_layer_offset": draw(st.integers(0, expert_period - 1)),
        "num_experts": experts,
        "num_experts_per_tok": draw(st.integers(1, experts)),
        "mamba_expand": draw(st.integers(1, 2)),
        "mamba_dt_rank": draw(st.sampled_from(["auto", 1, 3])),
    }


@st.composite
def falcon_h1_configs(draw: st.DrawFn) -> dict[str, Any]:
    config = _decoder(draw, "falcon_h1")
    heads, head_dim = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    width: dict[str, Any] = {"mamba_d_ssm": heads * head_dim}
    if draw(st.booleans()):  # the width from mamba_expand instead
        width = {"mamba_d_ssm": None, "mamba_expand": 1}
        heads = draw(st.sampled_from([n for n in range(1, 5) if config["hidden_size"] % n == 0]))
    return (
        config
        | width
        | {
            "mamba_n_heads": heads,
            "mamba_d_head": "auto",
            "mamba_n_groups": draw(st.integers(1, 2)),
            "mamba_rms_norm": draw(st.booleans()),
            "projectors_bias": draw(st.booleans()),
            "attention_bias": draw(st.booleans()),
            "mlp_bias": draw(st.booleans()),
        }
    )


FAMILIES = {"jamba": jamba_configs(), "falcon_h1": falcon_h1_configs()}


@pytest.mark.parametrize("family", FAMILIES)
@settings(max_examples=15)
@given(data=st.data())
def test_random_config_matches_transformers(family: str, data: st.DataObject) -> None:
    config = data.draw(FAMILIES[family], label="config")
    architecture = data.draw(st.sampled_from(spec_for(family).architectures), label="architecture")
    assert_same_model(config, architecture)

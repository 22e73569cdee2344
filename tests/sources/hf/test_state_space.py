"""Mamba and Mamba-2, checked against transformers on the meta device.

Each shipped config (sources in src/paramcount/sources/hf/configs/SOURCES.state_space.md) is compared for every
class, parameters and buffers, and its total is pinned against the size the publisher states; hypothesis
perturbs tiny configs (sizes, expand, state and heads, time-step rank, biases, tied or untied head).
"""

from __future__ import annotations

from typing import Any

import pytest
from huggingface_hub.errors import StrictDataclassClassValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from hf_oracle import assert_same_model, shipped, transformers_model
from paramcount.errors import ConfigError
from paramcount.sources.hf import build_config_tree
from paramcount.sources.hf._registry import spec_for
from paramcount.tree import iter_params, parameter_count

SHIPPED = {
    "state-spaces--mamba-130m-hf.json": 129_135_360,
    "mistralai--Mamba-Codestral-7B-v0.1.json": 7_285_403_648,
}


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_config_matches_transformers(name: str) -> None:
    config = shipped(name)
    for architecture in spec_for(config["model_type"]).architectures:
        assert_same_model(config, architecture)
    assert parameter_count(build_config_tree(config)) == SHIPPED[name]


def test_mamba_130m_matches_closed_form() -> None:
    # Derived: d = 768, inner = 2d = 1536, state 16, rank 48, kernel 4; per layer RMSNorm d + A_log inner·16
    # + D inner + conv1d inner·4 + inner + in_proj d·2·inner + x_proj inner·(48 + 32) + dt_proj 48·inner + inner
    # + out_proj inner·d; embeddings 50280·d (lm_head tied) and norm_f d.
    d, inner = 768, 1536
    layer = d + inner * 16 + inner + inner * 4 + inner + d * 2 * inner + inner * 80 + 48 * inner + inner + inner * d
    assert 50280 * d + 24 * layer + d == SHIPPED["state-spaces--mamba-130m-hf.json"]


# --- random configs --------------------------------------------------------------------------------------------


@st.composite
def state_space_configs(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["mamba", "mamba2"]))
    config: dict[str, Any] = {
        "model_type": kind,
        "hidden_size": draw(st.integers(1, 20)),
        "num_hidden_layers": draw(st.integers(0, 2)),
        "vocab_size": draw(st.integers(1, 12)),
        "state_size": draw(st.integers(1, 4)),
        "expand": draw(st.integers(1, 3)),
        "conv_kernel": draw(st.integers(1, 4)),
        "use_bias": draw(st.booleans()),
        "use_conv_bias": draw(st.booleans()),
        "tie_word_embeddings": draw(st.booleans()),
    }
    if kind == "mamba":
        if draw(st.booleans()):
            config["time_step_rank"] = draw(st.integers(1, 5))
    else:
        # Mamba2Config requires num_heads · head_dim = expand · hidden_size.
        inner = config["hidden_size"] * config["expand"]
        config["num_heads"] = heads = draw(st.sampled_from([n for n in range(1, 5) if inner % n == 0]))
        config["head_dim"] = inner // heads
        config["n_groups"] = draw(st.integers(1, 3))
    return config


@settings(max_examples=25)
@given(data=st.data())
def test_random_config_matches_transformers(data: st.DataObject) -> None:
    config = data.draw(state_space_configs(), label="config")
    architecture = data.draw(st.sampled_from(spec_for(config["model_type"]).architectures), label="architecture")
    assert_same_model(config, architecture)


def test_auto_time_step_rank_is_a_sixteenth_of_the_width_rounded_up() -> None:
    # hidden_size 33: rank ceil(33/16) = 3, so x_proj maps inner 66 to 3 + 2·state (2) = 7 and dt_proj 3 to 66.
    config = {"model_type": "mamba", "hidden_size": 33, "num_hidden_layers": 1, "vocab_size": 4, "state_size": 2}
    shapes = dict(
        (name, param.sizes) for name, param in iter_params(build_config_tree(config, architecture="MambaModel"))
    )
    assert shapes["layers.0.mixer.x_proj.weight"] == (7, 66)
    assert shapes["layers.0.mixer.dt_proj.weight"] == (66, 3)
    assert_same_model(config, "MambaModel")


MAMBA2 = {"model_type": "mamba2", "hidden_size": 4, "num_hidden_layers": 1, "vocab_size": 4, "expand": 2}


def test_mamba2_heads_must_cover_the_inner_width() -> None:
    config = {**MAMBA2, "num_heads": 3, "head_dim": 2}
    with pytest.raises(StrictDataclassClassValidationError):
        transformers_model(config, "Mamba2Model")
    with pytest.raises(ConfigError) as caught:
        build_config_tree(config)
    assert (str(caught.value), caught.value.key_path) == (
        "config.json: 'hidden_size' × 'expand' (8) must equal 'num_heads' × 'head_dim' (6), as Mamba2Config requires",
        "num_heads",
    )

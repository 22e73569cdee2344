"""SigLIP (and its standalone towers) and DINOv2, checked against transformers on the meta device.

Each shipped config (sources in src/paramcount/sources/hf/configs/SOURCES.vision.md) is compared for the class
it names, parameters and buffers, and its total is pinned; one config per type for every other class.
Hypothesis perturbs tiny configs per type (sizes, image and patch sizes, heads on or off, labels, DINOv2's
SwiGLU FFN and mask token) and compares a class drawn from the type's classes.
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
    "google--siglip-base-patch16-224.json": 203_155_970,
    "facebook--dinov2-base.json": 86_580_480,
}
"""Each config and its total as transformers 5.24 builds it (checked in the test), which agrees with the size
its publisher states (SOURCES.vision.md)."""


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_config_matches_transformers(name: str) -> None:
    config = shipped(name)
    tree = build_config_tree(config)
    assert_same_model(config, tree.kind)
    assert parameter_count(tree) == SHIPPED[name]


@pytest.mark.parametrize(("name", "architecture"), other_classes(tuple(SHIPPED)))
def test_other_classes_match_transformers(name: str, architecture: str) -> None:
    assert_same_model(shipped(name), architecture)


@pytest.mark.parametrize("tower", ["text_config", "vision_config"])
def test_a_siglip_tower_config_counts_its_tower(tower: str) -> None:
    # A standalone tower config (siglip_text_model / siglip_vision_model) takes the same defaults as the tower
    # inside SiglipModel.
    sub = shipped("google--siglip-base-patch16-224.json")[tower]
    assert_same_model(sub, spec_for(sub["model_type"]).default)


# --- random configs --------------------------------------------------------------------------------------------


def tower(draw: st.DrawFn) -> dict[str, Any]:
    heads = draw(st.integers(1, 3))
    return {
        "hidden_size": heads * draw(st.integers(1, 3)),
        "num_attention_heads": heads,
        "num_hidden_layers": draw(st.integers(0, 2)),
        "intermediate_size": draw(st.integers(1, 8)),
    }


@st.composite
def siglip_configs(draw: st.DrawFn) -> dict[str, Any]:
    text = {**tower(draw), "vocab_size": draw(st.integers(1, 10)), "max_position_embeddings": draw(st.integers(1, 6))}
    if draw(st.booleans()):
        text["projection_size"] = draw(st.integers(1, 5))
    patch = draw(st.integers(1, 3))
    vision = {
        **tower(draw),
        "patch_size": patch,
        "image_size": patch * draw(st.integers(1, 3)),
        "num_channels": draw(st.integers(1, 3)),
        "vision_use_head": draw(st.booleans()),
    }
    return {"model_type": "siglip", "text_config": text, "vision_config": vision, **labels(draw)}


@st.composite
def dinov2_configs(draw: st.DrawFn) -> dict[str, Any]:
    config = {
        "model_type": "dinov2",
        **{key: value for key, value in tower(draw).items() if key != "intermediate_size"},
        "mlp_ratio": draw(st.integers(1, 4)),
        "use_swiglu_ffn": draw(st.booleans()),
        "use_mask_token": draw(st.booleans()),
        "qkv_bias": draw(st.booleans()),
        "num_channels": draw(st.integers(1, 3)),
        **labels(draw),
    }
    if draw(st.booleans()):
        config["patch_size"], config["image_size"] = [2, 3], [4, 9]
    else:
        config["patch_size"] = patch = draw(st.integers(1, 3))
        config["image_size"] = patch * draw(st.integers(1, 3))
    return config


FAMILIES = {"siglip": siglip_configs(), "dinov2": dinov2_configs()}


@pytest.mark.parametrize("family", FAMILIES)
@settings(max_examples=15)
@given(data=st.data())
def test_random_config_matches_transformers(family: str, data: st.DataObject) -> None:
    config = data.draw(FAMILIES[family], label="config")
    architecture = data.draw(st.sampled_from(spec_for(config["model_type"]).architectures), label="architecture")
    assert_same_model(config, architecture)

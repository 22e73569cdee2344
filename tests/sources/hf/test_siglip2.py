"""SigLIP 2 and its towers, checked against transformers on the meta device.

The shipped config (SOURCES.vision.md) is compared for every class, its total pinned; hypothesis perturbs tiny
sub-configs (sizes, patch size, ``num_patches``, the attention-pooling head, the text projection, labels).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hf_oracle import assert_same_model, shipped
from paramcount.sources.hf import build_config_tree
from paramcount.sources.hf._registry import spec_for
from paramcount.tree import iter_params, parameter_count

NAME = "google--siglip2-base-patch16-224.json"
TOTAL = 375_187_970
"""Siglip2Model as transformers 5.24 builds it (checked below); the publisher states 375M."""


@pytest.mark.parametrize("architecture", spec_for("siglip2").architectures)
def test_shipped_config_matches_transformers(architecture: str) -> None:
    assert_same_model(shipped(NAME), architecture)


def test_shipped_total() -> None:
    assert parameter_count(build_config_tree(shipped(NAME))) == TOTAL


def test_patches_are_a_linear_over_flattened_pixels() -> None:
    # Siglip2VisionEmbeddings: nn.Linear(num_channels·16·16 = 768 → 768) and num_patches (196) position rows.
    shapes = {path: param.sizes for path, param in iter_params(build_config_tree(shipped(NAME)))}
    assert shapes["vision_model.embeddings.patch_embedding.weight"] == (768, 3 * 16 * 16)
    assert shapes["vision_model.embeddings.position_embedding.weight"] == (196, 768)


def _tower(draw: st.DrawFn) -> dict[str, Any]:
    heads = draw(st.integers(1, 3))
    return {
        "hidden_size": heads * draw(st.integers(1, 3)),
        "num_attention_heads": heads,
        "num_hidden_layers": draw(st.integers(0, 2)),
        "intermediate_size": draw(st.integers(1, 6)),
    }


@st.composite
def siglip2_configs(draw: st.DrawFn) -> dict[str, Any]:
    vision = _tower(draw) | {
        "patch_size": draw(st.integers(1, 3)),
        "num_channels": draw(st.integers(1, 3)),
        "num_patches": draw(st.integers(1, 9)),
        "vision_use_head": draw(st.booleans()),
    }
    text = _tower(draw) | {"vocab_size": draw(st.integers(1, 12)), "max_position_embeddings": draw(st.integers(1, 6))}
    if draw(st.booleans()):
        text["projection_size"] = draw(st.integers(1, 5))
    return {
        "model_type": "siglip2",
        "vision_config": vision,
        "text_config": text,
        "num_labels": draw(st.integers(0, 3)),
    }


@settings(max_examples=15)
@given(config=siglip2_configs(), architecture=st.sampled_from(spec_for("siglip2").architectures))
def test_random_config_matches_transformers(config: dict[str, Any], architecture: str) -> None:
    assert_same_model(config, architecture)


@settings(max_examples=10)
@given(config=siglip2_configs())
def test_random_towers_match_transformers(config: dict[str, Any]) -> None:
    assert_same_model({"model_type": "siglip2_vision_model", **config["vision_config"]}, "Siglip2VisionModel")
    assert_same_model({"model_type": "siglip2_text_model", **config["text_config"]}, "Siglip2TextModel")

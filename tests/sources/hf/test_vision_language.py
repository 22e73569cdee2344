"""Qwen2-VL, Qwen2.5-VL, Qwen3-VL, LLaVA-NeXT, LLaVA-OneVision, PaliGemma, Idefics3, SmolVLM, Mistral 3 (with its
Pixtral tower) and LLaVA with a SigLIP tower, checked against transformers 5.24 on the meta device: the shipped
configs' other class, hypothesis variants of small configs (sizes, ties, feature layers, flat and nested Qwen VL
configs) and the sliding-window layers of their text models. The shipped configs' default classes and bad input
are checked by test_multimodal.py (SOURCES.multimodal.md); each type alone by test_defaults.py."""

from __future__ import annotations

from typing import Any

import pytest
import transformers
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers.cache_utils import get_layer_types_and_kwargs

from hf_oracle import assert_matches_transformers, assert_same_model, shipped
from paramcount.sources.hf import build_config_tree
from paramcount.tree import parameter_count

BASE_CLASSES = [
    ("Qwen--Qwen2-VL-7B-Instruct.json", "Qwen2VLModel"),
    ("Qwen--Qwen2.5-VL-7B-Instruct.json", "Qwen2_5_VLModel"),
    ("Qwen--Qwen3-VL-4B-Instruct.json", "Qwen3VLModel"),
    ("llava-hf--llava-v1.6-mistral-7b-hf.json", "LlavaNextModel"),
    ("llava-hf--llava-onevision-qwen2-0.5b-ov-hf.json", "LlavaOnevisionModel"),
    ("google--paligemma-3b-pt-224.json", "PaliGemmaModel"),
    ("HuggingFaceM4--Idefics3-8B-Llama3.json", "Idefics3Model"),
    ("HuggingFaceTB--SmolVLM2-2.2B-Instruct.json", "SmolVLMModel"),
    ("mistralai--Mistral-Small-3.1-24B-Instruct-2503.json", "Mistral3Model"),
]


@pytest.mark.parametrize(("name", "architecture"), BASE_CLASSES, ids=[name for name, _ in BASE_CLASSES])
def test_base_model_of_shipped_config_matches_transformers(name: str, architecture: str) -> None:
    assert_same_model(shipped(name), architecture)


def test_flat_qwen2_vl_config_takes_its_text_sizes_from_the_top_level() -> None:
    # Qwen2VLConfig builds a missing text_config from the top-level keys: the 7B's 28 layers of 3584, not the
    # Qwen2VLTextConfig defaults (80 layers of 8192, a 72B text model).
    config = shipped("Qwen--Qwen2-VL-7B-Instruct.json")
    assert "text_config" not in config
    ours = build_config_tree(config)
    language = ours.children[0].children[1]
    assert language.name == "language_model"
    assert language.children[1].children[0].repeat == 28
    assert parameter_count(ours) == 8_291_375_616


def test_mistral_small_head_is_tied_by_the_config_class_default() -> None:
    # Mistral3Config.tie_word_embeddings defaults to True and the hub file leaves it out, so transformers 5.24
    # ties lm_head to the 131072 × 5120 embedding; untying adds exactly that table.
    config = shipped("mistralai--Mistral-Small-3.1-24B-Instruct-2503.json")
    untied = parameter_count(build_config_tree({**config, "tie_word_embeddings": False}))
    assert untied - parameter_count(build_config_tree(config)) == 131072 * 5120


# --- hypothesis: small configs ----------------------------------------------------------------------------------


def _llama_text(draw: st.DrawFn, kind: str = "llama") -> dict[str, Any]:
    heads = draw(st.integers(1, 4))
    return {
        "model_type": kind,
        "hidden_size": heads * 2 * draw(st.integers(1, 3)),  # head_dim even: the text classes validate RoPE
        "num_attention_heads": heads,
        "num_key_value_heads": draw(st.sampled_from([n for n in range(1, heads + 1) if heads % n == 0])),
        "intermediate_size": draw(st.integers(1, 24)),
        "num_hidden_layers": draw(st.integers(0, 2)),
        "vocab_size": draw(st.integers(4, 40)),
        "tie_word_embeddings": draw(st.booleans()),
    }


def _encoder_vision(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    """A CLIP / SigLIP / Idefics3-style vision config."""
    heads = draw(st.integers(1, 4))
    patch = draw(st.integers(1, 6))
    config = {
        "model_type": kind,
        "hidden_size": heads * draw(st.integers(1, 6)),
        "num_attention_heads": heads,
        "intermediate_size": draw(st.integers(1, 24)),
        "num_hidden_layers": draw(st.integers(0, 2)),
        "image_size": patch * draw(st.integers(1, 4)),
        "patch_size": patch,
        "num_channels": draw(st.integers(1, 4)),
    }
    if kind == "siglip_vision_model":
        config["vision_use_head"] = draw(st.booleans())
    return config


def _maybe(draw: st.DrawFn, config: dict[str, Any], key: str, values: st.SearchStrategy[Any]) -> None:
    if draw(st.booleans()):
        config[key] = draw(values)


@st.composite
def llava_family_configs(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """LLaVA with a SigLIP tower, LLaVA-NeXT and LLaVA-OneVision, each with a CLIP or SigLIP tower."""
    kind, prefix = draw(
        st.sampled_from([("llava", "Llava"), ("llava_next", "LlavaNext"), ("llava_onevision", "LlavaOnevision")])
    )
    vision = _encoder_vision(draw, draw(st.sampled_from(["siglip_vision_model", "clip_vision_model"])))
    config: dict[str, Any] = {
        "model_type": kind,
        "vision_config": vision,
        "text_config": _llama_text(draw, draw(st.sampled_from(["llama", "qwen2", "mistral"]))),
    }
    _maybe(draw, config, "vision_feature_layer", st.one_of(st.just(-1), st.lists(st.integers(-2, -1), min_size=1)))
    _maybe(draw, config, "multimodal_projector_bias", st.booleans())
    _maybe(draw, config, "tie_word_embeddings", st.booleans())
    return config, draw(st.sampled_from([f"{prefix}Model", f"{prefix}ForConditionalGeneration"]))


@st.composite
def paligemma_configs(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    text = _llama_text(draw, draw(st.sampled_from(["gemma", "gemma2"])))
    text["head_dim"] = 2 * draw(st.integers(1, 4))
    config: dict[str, Any] = {
        "model_type": "paligemma",
        "vision_config": _encoder_vision(draw, "siglip_vision_model"),
        "text_config": text,
        "projection_dim": draw(st.integers(1, 12)),
    }
    _maybe(draw, config, "tie_word_embeddings", st.booleans())
    return config, draw(st.sampled_from(["PaliGemmaModel", "PaliGemmaForConditionalGeneration"]))


@st.composite
def idefics3_configs(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    kind, prefix = draw(st.sampled_from([("idefics3", "Idefics3"), ("smolvlm", "SmolVLM")]))
    vision = _encoder_vision(draw, f"{kind}_vision")
    del vision["model_type"]  # a fixed class: whatever the file names, Idefics3VisionConfig reads it
    config: dict[str, Any] = {"model_type": kind, "vision_config": vision, "text_config": _llama_text(draw)}
    _maybe(draw, config, "scale_factor", st.integers(1, 3))
    _maybe(draw, config, "tie_word_embeddings", st.booleans())
    return config, draw(st.sampled_from([f"{prefix}Model", f"{prefix}ForConditionalGeneration"]))


@st.composite
def mistral3_configs(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    heads = draw(st.integers(1, 4))
    vision = {
        "model_type": "pixtral",
        "hidden_size": heads * 2 * draw(st.integers(1, 4)),
        "num_attention_heads": heads,
        "intermediate_size": draw(st.integers(1, 24)),
        "num_hidden_layers": draw(st.integers(0, 2)),
        "patch_size": draw(st.integers(1, 8)),
        "num_channels": draw(st.integers(1, 4)),
    }
    config: dict[str, Any] = {
        "model_type": "mistral3",
        "vision_config": vision,
        "text_config": _llama_text(draw, "mistral"),
    }
    _maybe(draw, config, "spatial_merge_size", st.integers(1, 3))
    _maybe(draw, config, "vision_feature_layer", st.one_of(st.just(-1), st.lists(st.integers(-2, -1), min_size=1)))
    _maybe(draw, config, "multimodal_projector_bias", st.booleans())
    _maybe(draw, config, "tie_word_embeddings", st.booleans())
    return config, draw(st.sampled_from(["Mistral3Model", "Mistral3ForConditionalGeneration"]))


def _qwen_text(draw: st.DrawFn) -> dict[str, Any]:
    text = _llama_text(draw)
    del text["model_type"]
    if not draw(st.booleans()):
        del text["tie_word_embeddings"]
    return text


@st.composite
def qwen_vl_configs(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """Qwen2-VL and Qwen2.5-VL with the text sizes nested or flat (at the top level, as their hub files have them),
    Qwen3-VL nested (its config class reads no top-level text keys)."""
    kind, prefix = draw(
        st.sampled_from([("qwen2_vl", "Qwen2VL"), ("qwen2_5_vl", "Qwen2_5_VL"), ("qwen3_vl", "Qwen3VL")])
    )
    heads = draw(st.integers(1, 4))
    width = heads * 4 * draw(st.integers(1, 3))
    vision: dict[str, Any] = {
        "depth": draw(st.integers(0, 2)),
        "num_heads": heads,
        "patch_size": draw(st.integers(1, 4)),
        "temporal_patch_size": draw(st.integers(1, 3)),
        "spatial_merge_size": draw(st.integers(1, 3)),
        "in_channels": draw(st.integers(1, 4)),
    }
    if kind == "qwen2_vl":
        vision |= {"embed_dim": width, "mlp_ratio": draw(st.integers(1, 4)), "hidden_size": draw(st.integers(1, 12))}
    else:
        vision |= {
            "hidden_size": width,
            "intermediate_size": draw(st.integers(1, 24)),
            "out_hidden_size": draw(st.integers(1, 12)),
        }
    if kind == "qwen3_vl":
        vision |= {
            "num_position_embeddings": draw(st.integers(1, 16)),
            "deepstack_visual_indexes": draw(st.lists(st.integers(0, 3), max_size=3)),
        }
    text = _qwen_text(draw)
    config: dict[str, Any] = {"model_type": kind, "vision_config": vision}
    if kind == "qwen3_vl":
        text["head_dim"] = 2 * draw(st.integers(1, 4))
        config["text_config"] = text
    elif draw(st.booleans()):
        config |= text  # flat, as the published Qwen2-VL and Qwen2.5-VL configs
    else:
        config["text_config"] = text
    _maybe(draw, config, "tie_word_embeddings", st.booleans())
    return config, draw(st.sampled_from([f"{prefix}Model", f"{prefix}ForConditionalGeneration"]))


STRATEGIES = {
    "llava-family": llava_family_configs(),
    "paligemma": paligemma_configs(),
    "idefics3-smolvlm": idefics3_configs(),
    "mistral3": mistral3_configs(),
    "qwen-vl": qwen_vl_configs(),
}


@pytest.mark.parametrize("strategy", list(STRATEGIES.values()), ids=list(STRATEGIES))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_perturbed_configs_match_transformers(
    strategy: st.SearchStrategy[tuple[dict[str, Any], str]], data: Any
) -> None:
    config, architecture = data.draw(strategy)
    assert_matches_transformers(config, architecture)


# --- the text model's sliding-window layers ---------------------------------------------------------------------


@st.composite
def window_configs(draw: st.DrawFn) -> dict[str, Any]:
    """A flat or nested Qwen2-VL / Qwen2.5-VL text model, or a LLaVA-family text tower, with window keys."""
    layers = draw(st.integers(1, 6))
    text: dict[str, Any] = {
        "num_hidden_layers": layers,
        "use_sliding_window": draw(st.booleans()),
        "sliding_window": draw(st.one_of(st.none(), st.integers(1, 64))),
        "max_window_layers": draw(st.integers(0, 6)),
    }
    kind = draw(st.sampled_from(["qwen2_vl", "qwen2_5_vl", "llava_onevision", "mistral3", "paligemma"]))
    if kind in ("qwen2_vl", "qwen2_5_vl"):
        return {"model_type": kind, **text} if draw(st.booleans()) else {"model_type": kind, "text_config": text}
    towers = ["gemma", "gemma2"] if kind == "paligemma" else ["qwen2", "mistral"]  # PaliGemma needs a Gemma
    text["model_type"] = draw(st.sampled_from(towers))
    return {"model_type": kind, "text_config": text}


@settings(max_examples=60, deadline=None)
@given(config=window_configs())
def test_sliding_window_layers_are_the_text_models(config: dict[str, Any]) -> None:
    # The flat Qwen2-VL configs publish "sliding_window": 32768 with "use_sliding_window": false: no layer slides.
    text = transformers.AutoConfig.for_model(**config).get_text_config(decoder=True)
    types, kwargs = get_layer_types_and_kwargs(text)
    windows = {entry.get("sliding_window") for entry in kwargs} - {None}
    attributes = build_config_tree(config).attributes
    found = {key: value for key, value in attributes if key in ("layer_types", "sliding_window")}
    if "sliding_attention" not in types or not windows:  # a sliding type without a window slides nowhere
        assert found == {}
    else:
        assert found == {"layer_types": tuple(types), "sliding_window": windows.pop()}

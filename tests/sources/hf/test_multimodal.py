"""T5, BART, Whisper, ViT, CLIP and LLaVA from config.json, checked against transformers on the meta device.

Shipped configs (listed with their sources in src/paramcount/sources/hf/configs/SOURCES.multimodal.md) are
compared for their default class and, one config per type, for the other classes; hypothesis perturbs small
configs per type; bad input pins the exact messages and key paths.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import torch
import transformers
from huggingface_hub.errors import StrictDataclassClassValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from hf_oracle import (
    CONFIGS,
    assert_matches_transformers,
    counted_class,
    shipped,
    transformers_model,
)
from paramcount.errors import ConfigError
from paramcount.sources.hf import build_config_tree
from paramcount.tree import Module, iter_buffers, iter_params, parameter_count


def sources() -> list[tuple[str, str, str]]:
    """``(file, hub id, source)`` rows of SOURCES.multimodal.md: the shipped configs and where each came from."""
    rows = []
    for line in (CONFIGS / "SOURCES.multimodal.md").read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"\| `([^`]+\.json)` \| `([^`]+)` \| (.+) \|", line)
        if match:
            rows.append((match[1], match[2], match[3]))
    return rows


SHIPPED = sources()


def test_every_listed_config_is_shipped() -> None:
    assert len(SHIPPED) == 20
    assert all((CONFIGS / name).is_file() for name, _, _ in SHIPPED)


@pytest.mark.parametrize(("name", "hub_id", "source"), SHIPPED, ids=[name for name, _, _ in SHIPPED])
def test_shipped_config_matches_transformers(name: str, hub_id: str, source: str) -> None:
    config = shipped(name)
    architecture = counted_class(config)
    try:
        assert_matches_transformers(config, architecture)
    except AssertionError as error:
        raise AssertionError(f"{hub_id} ({name}; source: {source[:200]}): {error}") from error


@pytest.mark.parametrize(
    ("name", "architecture"),
    [
        ("google-t5--t5-small.json", "T5Model"),
        ("google-t5--t5-small.json", "T5EncoderModel"),
        ("facebook--bart-base.json", "BartForConditionalGeneration"),
        ("facebook--bart-base.json", "BartForSequenceClassification"),
        ("openai--whisper-tiny.json", "WhisperModel"),
        ("google--vit-base-patch16-224-in21k.json", "ViTForImageClassification"),
        ("llava-hf--llava-1.5-7b-hf.json", "LlavaModel"),
    ],
)
def test_other_classes_match_transformers(name: str, architecture: str) -> None:
    assert_matches_transformers(shipped(name), architecture)


@pytest.mark.parametrize(
    ("config", "architecture"),
    [({"model_type": "clip"}, "CLIPModel"), ({"model_type": "llava"}, "LlavaForConditionalGeneration")],
)
def test_absent_sub_configs_take_transformers_defaults(config: dict[str, Any], architecture: str) -> None:
    # CLIPTextConfig/CLIPVisionConfig defaults; LlavaConfig's default vision tower (CLIP ViT-L/14-336) and LlamaConfig.
    assert_matches_transformers(config, architecture)


@pytest.mark.parametrize(
    ("config", "architecture"),
    [
        ({"model_type": "clip_text_model", "hidden_size": 64, "num_attention_heads": 4}, "CLIPTextModel"),
        ({"model_type": "clip_text_model", "num_hidden_layers": 2}, "CLIPTextModelWithProjection"),
        ({"model_type": "clip_vision_model", "patch_size": 16, "num_hidden_layers": 2}, "CLIPVisionModel"),
        ({"model_type": "clip_vision_model", "image_size": 64}, "CLIPVisionModelWithProjection"),
    ],
)
def test_standalone_clip_towers_match_transformers(config: dict[str, Any], architecture: str) -> None:
    assert_matches_transformers(config, architecture)


def test_hub_id_without_org_is_the_same_file() -> None:
    assert shipped("t5-small.json") == shipped("google-t5--t5-small.json")


def clip_tower(config: dict[str, Any], architecture: str) -> torch.nn.Module:
    """What ``CLIPTextModel.from_pretrained`` builds from a CLIPModel config: the tower on its sub-config."""
    settings_ = {key: value for key, value in config.items() if key not in ("architectures", "transformers_version")}
    hf_config = transformers.AutoConfig.for_model(**settings_)
    sub = hf_config.text_config if architecture.startswith("CLIPText") else hf_config.vision_config
    with torch.device("meta"):
        model: torch.nn.Module = getattr(transformers, architecture)(sub)
    return model


def assert_same_parameters(theirs: torch.nn.Module, ours: Module) -> None:
    assert parameter_count(ours) == sum(p.numel() for p in theirs.parameters())
    assert [(name, param.sizes) for name, param in iter_params(ours)] == [
        (name, tuple(p.shape)) for name, p in theirs.named_parameters()
    ]


@pytest.mark.parametrize(
    "architecture",
    ["CLIPTextModel", "CLIPVisionModel", "CLIPTextModelWithProjection", "CLIPVisionModelWithProjection"],
)
def test_clip_towers_match_transformers(architecture: str) -> None:
    config = shipped("openai--clip-vit-base-patch32.json")
    assert_same_parameters(clip_tower(config, architecture), build_config_tree(config, architecture=architecture))


def test_t5_small_closed_form() -> None:
    # d = d_model = 512, f = d_ff = 2048, i = num_heads·d_kv = 512, V = 32128, b·h = 32·8 buckets×heads, L = 6.
    # shared: V·d. Encoder block: q,k,v,o (4·d·i) + 2 T5LayerNorms (2·d) + wi, wo (2·d·f); decoder block adds
    # EncDecAttention (4·d·i) and a norm (d). Block 0 of each stack adds relative_attention_bias (b·h); each stack
    # ends with final_layer_norm (d). embed_tokens and lm_head are the shared embedding (counted once).
    d, f, i, vocab, bh, layers = 512, 2048, 512, 32128, 32 * 8, 6
    encoder = layers * (4 * d * i + 2 * d + 2 * d * f) + bh + d
    decoder = layers * (8 * d * i + 3 * d + 2 * d * f) + bh + d
    assert parameter_count(build_config_tree(shipped("t5-small.json"))) == vocab * d + encoder + decoder == 60_506_624


def test_vit_b16_imagenet_classifier_published_count() -> None:
    # google/vit-base-patch16-224 is the in21k backbone with a 1,000-class head and no pooler: 86,567,656
    # parameters, the count published for ViT-B/16 at 224 (timm's vit_base_patch16_224 has the same layout).
    config = {**shipped("google--vit-base-patch16-224-in21k.json"), "num_labels": 1000}
    assert_matches_transformers(config, "ViTForImageClassification")
    assert parameter_count(build_config_tree(config, architecture="ViTForImageClassification")) == 86_567_656


def test_t5_first_block_alone_then_one_repeated_block() -> None:
    tree = build_config_tree(shipped("google--flan-t5-base.json"))
    for stack_name in ("encoder", "decoder"):
        stack = next(child for child in tree.children if child.name == stack_name)
        blocks = next(child for child in stack.children if child.name == "block")
        assert [(block.name, block.repeat) for block in blocks.children] == [("0", 1), ("1", 11)]


def test_flan_t5_lm_head_is_tied_in_transformers_5() -> None:
    # T5Config forces tie_word_embeddings=True (transformers 5), whatever flan-t5's config.json says.
    tree = build_config_tree(shipped("google--flan-t5-base.json"))
    lm_head = next(child for child in tree.children if child.name == "lm_head")
    assert lm_head.params[0].tied_to == "shared.weight"


def test_whisper_frozen_positions_match_requires_grad() -> None:
    config = shipped("openai--whisper-tiny.json")
    theirs = transformers_model(config, "WhisperForConditionalGeneration")
    ours = build_config_tree(config)
    assert [(name, param.trainable) for name, param in iter_params(ours)] == [
        (name, p.requires_grad) for name, p in theirs.named_parameters()
    ]


@pytest.mark.parametrize(
    ("name", "architecture"),
    [("facebook--bart-base.json", "BartForConditionalGeneration"), ("openai--clip-vit-base-patch32.json", "CLIPModel")],
)
def test_buffers_match_transformers(name: str, architecture: str) -> None:
    # BART's final_logits_bias and CLIP's position_ids; the only buffers these classes register.
    config = shipped(name)
    theirs = transformers_model(config, architecture)
    ours = build_config_tree(config, architecture=architecture)
    assert [(n, b.sizes) for n, b in iter_buffers(ours)] == [(n, tuple(b.shape)) for n, b in theirs.named_buffers()]


# --- hypothesis: small perturbed configs ---------------------------------------------------------------------


@st.composite
def t5_configs(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    config: dict[str, Any] = {
        "model_type": "t5",
        "vocab_size": draw(st.integers(2, 40)),
        "d_model": draw(st.integers(1, 24)),
        "d_kv": draw(st.integers(1, 8)),
        "d_ff": draw(st.integers(1, 32)),
        "num_heads": draw(st.integers(1, 4)),
        "num_layers": draw(st.integers(0, 3)),
        "relative_attention_num_buckets": draw(st.integers(1, 40)),
        "feed_forward_proj": draw(st.sampled_from(["relu", "gated-gelu", "gated-silu"])),
        "tie_word_embeddings": draw(st.booleans()),
    }
    if draw(st.booleans()):
        config["num_decoder_layers"] = draw(st.integers(0, 3))
    return config, draw(st.sampled_from(["T5ForConditionalGeneration", "T5Model", "T5EncoderModel"]))


def labels(draw: st.DrawFn, config: dict[str, Any], fewest: int) -> None:
    """Sometimes ``num_labels``, sometimes ``id2label``, sometimes both (``num_labels`` wins), sometimes neither."""
    if draw(st.booleans()):
        config["num_labels"] = draw(st.integers(fewest, 5))
    if draw(st.booleans()):
        config["id2label"] = {str(index): f"L{index}" for index in range(draw(st.integers(1, 5)))}


@st.composite
def bart_configs(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    width = draw(st.integers(1, 6))
    encoder_heads, decoder_heads = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    config: dict[str, Any] = {
        "model_type": "bart",
        "vocab_size": draw(st.integers(3, 40)),
        "d_model": width * encoder_heads * decoder_heads,
        "encoder_attention_heads": encoder_heads,
        "decoder_attention_heads": decoder_heads,
        "encoder_layers": draw(st.integers(0, 2)),
        "decoder_layers": draw(st.integers(0, 2)),
        "encoder_ffn_dim": draw(st.integers(1, 24)),
        "decoder_ffn_dim": draw(st.integers(1, 24)),
        "max_position_embeddings": draw(st.integers(1, 30)),
        "tie_word_embeddings": draw(st.booleans()),
    }
    labels(draw, config, 1)
    architecture = draw(st.sampled_from(["BartForConditionalGeneration", "BartModel", "BartForSequenceClassification"]))
    return config, architecture


@st.composite
def whisper_configs(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    width = draw(st.integers(1, 6))
    encoder_heads, decoder_heads = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    config: dict[str, Any] = {
        "model_type": "whisper",
        "vocab_size": draw(st.integers(4, 40)),
        "num_mel_bins": draw(st.integers(1, 12)),
        "d_model": width * encoder_heads * decoder_heads,
        "encoder_attention_heads": encoder_heads,
        "decoder_attention_heads": decoder_heads,
        "encoder_layers": draw(st.integers(0, 2)),
        "decoder_layers": draw(st.integers(0, 2)),
        "encoder_ffn_dim": draw(st.integers(1, 24)),
        "decoder_ffn_dim": draw(st.integers(1, 24)),
        "max_source_positions": draw(st.integers(1, 30)),
        "max_target_positions": draw(st.integers(1, 30)),
        "tie_word_embeddings": draw(st.booleans()),
        # Token ids inside the small vocabulary (transformers asserts padding_idx < num_embeddings).
        "pad_token_id": 1,
        "bos_token_id": 2,
        "eos_token_id": 2,
        "decoder_start_token_id": 3,
    }
    return config, draw(st.sampled_from(["WhisperForConditionalGeneration", "WhisperModel"]))


def sizes(draw: st.DrawFn, high: int) -> int | list[int]:
    return draw(st.one_of(st.integers(1, high), st.lists(st.integers(1, high), min_size=2, max_size=2)))


@st.composite
def vit_configs(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    heads = draw(st.integers(1, 4))
    config: dict[str, Any] = {
        "model_type": "vit",
        "hidden_size": heads * draw(st.integers(1, 6)),
        "num_attention_heads": heads,
        "num_hidden_layers": draw(st.integers(0, 2)),
        "intermediate_size": draw(st.integers(1, 24)),
        "image_size": sizes(draw, 24),
        "patch_size": sizes(draw, 12),
        "num_channels": draw(st.integers(1, 4)),
        "qkv_bias": draw(st.booleans()),
    }
    labels(draw, config, 0)
    if draw(st.booleans()):
        config["head_dim"] = draw(st.integers(1, 6))
    if draw(st.booleans()):
        config["pooler_output_size"] = draw(st.integers(1, 12))
    return config, draw(st.sampled_from(["ViTModel", "ViTForImageClassification"]))


def clip_text(draw: st.DrawFn) -> dict[str, Any]:
    heads = draw(st.integers(1, 4))
    return {
        "hidden_size": heads * draw(st.integers(1, 6)),
        "num_attention_heads": heads,
        "intermediate_size": draw(st.integers(1, 24)),
        "num_hidden_layers": draw(st.integers(0, 2)),
        "vocab_size": draw(st.integers(1, 40)),
        "max_position_embeddings": draw(st.integers(1, 20)),
        "projection_dim": draw(st.integers(1, 12)),
    }


def clip_vision(draw: st.DrawFn) -> dict[str, Any]:
    heads = draw(st.integers(1, 4))
    return {
        "hidden_size": heads * draw(st.integers(1, 6)),
        "num_attention_heads": heads,
        "intermediate_size": draw(st.integers(1, 24)),
        "num_hidden_layers": draw(st.integers(0, 2)),
        "image_size": draw(st.integers(1, 24)),
        "patch_size": draw(st.integers(1, 12)),
        "num_channels": draw(st.integers(1, 4)),
        "projection_dim": draw(st.integers(1, 12)),
    }


@st.composite
def clip_configs(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    config: dict[str, Any] = {"model_type": "clip", "projection_dim": draw(st.integers(1, 12))}
    for key, sub in (("text_config", clip_text(draw)), ("vision_config", clip_vision(draw))):
        # Drop some keys: CLIPTextConfig/CLIPVisionConfig defaults fill them in (the width and the head count
        # together, so the defaults stay divisible).
        if draw(st.integers(0, 4)) == 0:
            del sub["hidden_size"], sub["num_attention_heads"]
        config[key] = {
            name: value
            for name, value in sub.items()
            if name in ("hidden_size", "num_attention_heads") or draw(st.integers(0, 9)) > 0
        }
    return config, "CLIPModel"


@st.composite
def llava_configs(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    heads = draw(st.integers(1, 4))
    kv_heads = draw(st.sampled_from([n for n in range(1, heads + 1) if heads % n == 0]))
    vision = {"model_type": "clip_vision_model", **clip_vision(draw)}
    text = {
        "model_type": "llama",
        # LlamaConfig validates RoPE: head_dim = hidden_size / num_attention_heads must be even.
        "hidden_size": heads * 2 * draw(st.integers(1, 3)),
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "intermediate_size": draw(st.integers(1, 24)),
        "num_hidden_layers": draw(st.integers(0, 2)),
        "vocab_size": draw(st.integers(1, 40)),
        "tie_word_embeddings": draw(st.booleans()),
    }
    feature_layer = draw(st.one_of(st.just(-2), st.lists(st.integers(-3, -1), min_size=1, max_size=3)))
    config: dict[str, Any] = {
        "model_type": "llava",
        "vision_config": vision,
        "text_config": text,
        "vision_feature_layer": feature_layer,
        "multimodal_projector_bias": draw(st.booleans()),
        "tie_word_embeddings": draw(st.booleans()),
    }
    return config, draw(st.sampled_from(["LlavaForConditionalGeneration", "LlavaModel"]))


@pytest.mark.parametrize(
    "strategy",
    [t5_configs(), bart_configs(), whisper_configs(), vit_configs(), clip_configs(), llava_configs()],
    ids=["t5", "bart", "whisper", "vit", "clip", "llava"],
)
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_perturbed_configs_match_transformers(
    strategy: st.SearchStrategy[tuple[dict[str, Any], str]], data: Any
) -> None:
    config, architecture = data.draw(strategy)
    assert_matches_transformers(config, architecture)


# --- bad input -------------------------------------------------------------------------------------------------

T5 = {"model_type": "t5", "vocab_size": 10, "d_model": 8, "d_kv": 2, "d_ff": 16, "num_heads": 4, "num_layers": 2}
CLIP_TEXT = {"hidden_size": 8, "num_attention_heads": 2}


BAD = [
    (
        {**T5, "d_model": None},
        "config.json: key 'd_model' is missing (needed for model_type 't5')",
        "d_model",
    ),
    (
        {"model_type": "llava", "vision_config": {"model_type": "vit", "num_attention_heads": 2, "hidden_size": None}},
        "config.json: key 'vision_config.hidden_size' is missing (needed for model_type 'vit')",
        "vision_config.hidden_size",
    ),
    (
        {"model_type": "clip", "text_config": {**CLIP_TEXT, "hidden_size": "512"}},
        "config.json: 'text_config.hidden_size' must be an integer, got '512'",
        "text_config.hidden_size",
    ),
    (
        {"model_type": "clip", "text_config_dict": {"hidden_size": -4}},
        "config.json: 'text_config_dict.hidden_size' must be a positive integer, got -4",
        "text_config_dict.hidden_size",
    ),
    (
        {"model_type": "llava", "vision_config": {"num_hidden_layers": True}},
        "config.json: 'vision_config.num_hidden_layers' must be an integer, got True",
        "vision_config.num_hidden_layers",
    ),
    (
        {**T5, "d_ff": True},
        "config.json: 'd_ff' must be an integer, got True",
        "d_ff",
    ),
    (
        {"model_type": "clip", "vision_config": [1, 2]},
        "config.json: 'vision_config' must be an object, got [1, 2]",
        "vision_config",
    ),
    (
        {**T5, "feed_forward_proj": "gated-gelu-new"},
        "config.json: 'feed_forward_proj' must be 'gated-<activation>' or '<activation>', got 'gated-gelu-new'",
        "feed_forward_proj",
    ),
    (
        {
            "model_type": "bart",
            "vocab_size": 10,
            "d_model": 10,
            "encoder_attention_heads": 3,
            "decoder_attention_heads": 2,
        },
        "config.json: 'd_model' (10) must be divisible by 'encoder_attention_heads' (3)",
        "encoder_attention_heads",
    ),
    (
        {"model_type": "llava", "text_config": {"model_type": "no_such_model"}},
        "config.json: 'text_config.model_type' is 'no_such_model', which is not supported",
        "text_config.model_type",
    ),
    (
        {"model_type": "llava", "vision_feature_layer": "last"},
        "config.json: 'vision_feature_layer' must be an integer or a list of integers, got 'last'",
        "vision_feature_layer",
    ),
    (
        {"model_type": "vit", "hidden_size": 8, "num_attention_heads": 2, "patch_size": [16]},
        "config.json: 'patch_size' must be a positive integer or two, got [16]",
        "patch_size",
    ),
    (
        {"model_type": "qwen3_vl", "vision_config": {"deepstack_visual_indexes": 8}},
        "config.json: 'vision_config.deepstack_visual_indexes' must be a list of layer indexes, got 8",
        "vision_config.deepstack_visual_indexes",
    ),
    (
        {"model_type": "qwen2_vl", "hidden_size": "3584"},
        "config.json: 'text_config.hidden_size' must be an integer, got '3584'",
        "text_config.hidden_size",
    ),
    (
        {"model_type": "mistral3", "vision_config": {"model_type": "no_such_tower"}},
        "config.json: 'vision_config.model_type' is 'no_such_tower', which is not supported",
        "vision_config.model_type",
    ),
    (
        {"model_type": "idefics3", "text_config": {"model_type": "gpt2"}, "tie_word_embeddings": True},
        "config.json: transformers cannot tie Idefics3's lm_head to a 'gpt2' text model (its embedding is not "
        "'embed_tokens'); set 'text_config.tie_word_embeddings' to false",
        "text_config.tie_word_embeddings",
    ),
]


@pytest.mark.parametrize(("config", "message", "key_path"), BAD)
def test_bad_input_names_the_key(config: dict[str, Any], message: str, key_path: str) -> None:
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$") as caught:
        build_config_tree(config)
    assert caught.value.key_path == key_path


@pytest.mark.parametrize(
    ("config", "architecture"),
    [
        ({**T5, "feed_forward_proj": "gated-gelu-new"}, "T5Model"),
        (
            {
                "model_type": "bart",
                "vocab_size": 10,
                "d_model": 10,
                "encoder_attention_heads": 3,
                "decoder_attention_heads": 2,
                "encoder_layers": 1,
                "decoder_layers": 1,
                "encoder_ffn_dim": 4,
                "decoder_ffn_dim": 4,
                "max_position_embeddings": 4,
            },
            "BartModel",
        ),
    ],
)
def test_transformers_refuses_what_we_refuse(config: dict[str, Any], architecture: str) -> None:
    # transformers 5 raises ValueError, or huggingface_hub's StrictDataclassClassValidationError from @strict.
    with pytest.raises((ValueError, StrictDataclassClassValidationError), match=r"feed_forward_proj|divisible"):
        transformers_model(config, architecture)
    with pytest.raises(ConfigError):
        build_config_tree(config, architecture=architecture)

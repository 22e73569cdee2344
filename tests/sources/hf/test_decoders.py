"""Decoder-only families (llama … deepseek_v3) from config.json, checked against transformers on the meta device.

Shipped configs (listed with their sources in src/paramcount/sources/hf/configs/SOURCES.decoders.md) are
compared for their default class and, one config per family, for the base model and the other heads, with
parameters *and* buffers; the two largest also against a closed-form count derived here. Hypothesis perturbs
small configs per family; bad input pins the exact messages and key paths, and where transformers refuses the
same config, that it does.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from huggingface_hub.errors import StrictDataclassError
from hypothesis import given, settings
from hypothesis import strategies as st

from hf_oracle import (
    assert_matches_transformers,
    assert_same_model,
    counted_class,
    default_architecture,
    shipped,
    transformers_model,
)
from paramcount.errors import ConfigError
from paramcount.sources.hf import build_config_tree
from paramcount.sources.hf._registry import spec_for
from paramcount.tree import iter_params, parameter_count

SHIPPED = (
    "meta-llama--Llama-3.1-8B.json",
    "meta-llama--Llama-3.1-405B.json",
    "meta-llama--Llama-3.2-1B.json",
    "mistralai--Mistral-7B-v0.1.json",
    "mistralai--Mixtral-8x7B-v0.1.json",
    "Qwen--Qwen2.5-7B.json",
    "Qwen--Qwen1.5-MoE-A2.7B.json",
    "Qwen--Qwen3-8B.json",
    "Qwen--Qwen3-30B-A3B.json",
    "google--gemma-7b.json",
    "google--gemma-2-9b.json",
    "google--gemma-3-1b-it.json",
    "google--gemma-3-4b-it.json",
    "microsoft--phi-2.json",
    "microsoft--Phi-3-mini-4k-instruct.json",
    "deepseek-ai--DeepSeek-V3.json",
)


# --- shipped configs -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_config_matches_transformers(name: str) -> None:
    config = shipped(name)
    architecture = counted_class(config)
    assert_same_model(config, architecture)


@pytest.mark.parametrize(
    ("name", "architecture"),
    [
        ("meta-llama--Llama-3.2-1B.json", "LlamaModel"),
        ("meta-llama--Llama-3.2-1B.json", "LlamaForSequenceClassification"),
        ("meta-llama--Llama-3.2-1B.json", "LlamaForTokenClassification"),
        ("meta-llama--Llama-3.2-1B.json", "LlamaForQuestionAnswering"),
        ("mistralai--Mistral-7B-v0.1.json", "MistralModel"),
        ("mistralai--Mistral-7B-v0.1.json", "MistralForQuestionAnswering"),
        ("mistralai--Mixtral-8x7B-v0.1.json", "MixtralModel"),
        ("mistralai--Mixtral-8x7B-v0.1.json", "MixtralForSequenceClassification"),
        ("Qwen--Qwen2.5-7B.json", "Qwen2Model"),
        ("Qwen--Qwen2.5-7B.json", "Qwen2ForQuestionAnswering"),
        ("Qwen--Qwen1.5-MoE-A2.7B.json", "Qwen2MoeModel"),
        ("Qwen--Qwen1.5-MoE-A2.7B.json", "Qwen2MoeForTokenClassification"),
        ("Qwen--Qwen3-8B.json", "Qwen3Model"),
        ("Qwen--Qwen3-8B.json", "Qwen3ForSequenceClassification"),
        ("Qwen--Qwen3-30B-A3B.json", "Qwen3MoeModel"),
        ("Qwen--Qwen3-30B-A3B.json", "Qwen3MoeForQuestionAnswering"),
        ("google--gemma-7b.json", "GemmaModel"),
        ("google--gemma-7b.json", "GemmaForSequenceClassification"),
        ("google--gemma-2-9b.json", "Gemma2Model"),
        ("google--gemma-2-9b.json", "Gemma2ForTokenClassification"),
        ("google--gemma-3-1b-it.json", "Gemma3TextModel"),
        ("google--gemma-3-1b-it.json", "Gemma3TextForSequenceClassification"),
        ("google--gemma-3-4b-it.json", "Gemma3Model"),
        ("google--gemma-3-4b-it.json", "Gemma3ForSequenceClassification"),
        ("microsoft--phi-2.json", "PhiModel"),
        ("microsoft--phi-2.json", "PhiForTokenClassification"),
        ("microsoft--Phi-3-mini-4k-instruct.json", "Phi3Model"),
        ("microsoft--Phi-3-mini-4k-instruct.json", "Phi3ForSequenceClassification"),
        ("deepseek-ai--DeepSeek-V3.json", "DeepseekV3Model"),
        ("deepseek-ai--DeepSeek-V3.json", "DeepseekV3ForTokenClassification"),
    ],
)
def test_other_classes_match_transformers(name: str, architecture: str) -> None:
    assert_matches_transformers(shipped(name), architecture)


def test_llama_405b_matches_closed_form() -> None:
    """Llama 3.1 405B, derived from its config (h=16384, L=126, heads=128, kv=8, head_dim=h/heads=128,
    intermediate=53248, vocab=128256, untied head):

    per layer: q_proj and o_proj h·h each, k_proj and v_proj h·(kv·head_dim) each, gate/up/down 3·h·intermediate,
    two RMSNorm weights 2·h; plus the embedding and lm_head vocab·h each and the final norm h."""
    h, layers, kv_width, intermediate, vocab = 16384, 126, 8 * 128, 53248, 128256
    per_layer = 2 * h * h + 2 * h * kv_width + 3 * h * intermediate + 2 * h
    expected = layers * per_layer + 2 * vocab * h + h
    assert expected == 405_853_388_800
    assert parameter_count(build_config_tree(shipped("meta-llama--Llama-3.1-405B.json"))) == expected


def test_deepseek_v3_matches_closed_form() -> None:
    """DeepSeek-V3 (h=7168, L=61, 128 heads, q_lora_rank=1536, kv_lora_rank=512, qk_nope=128, qk_rope=64,
    v_head_dim=128; 3 dense layers with intermediate 18432, then 58 MoE layers with 256 routed experts of width
    2048 plus 1 shared expert of width 2048; vocab 129280, untied; transformers builds no MTP layer).

    attention: q_a h·1536, q_a_layernorm 1536, q_b 1536·128·(128+64), kv_a h·(512+64), kv_a_layernorm 512,
    kv_b 512·128·(128+128), o 128·128·h; an MLP of width w is 3·h·w; the router is 256·h; two norms 2·h."""
    h, heads, vocab = 7168, 128, 129280
    attention = (
        h * 1536 + 1536 + 1536 * heads * (128 + 64) + h * (512 + 64) + 512 + 512 * heads * (128 + 128) + heads * 128 * h
    )
    dense_layer = attention + 3 * h * 18432 + 2 * h
    moe_layer = attention + 256 * 3 * h * 2048 + 256 * h + 3 * h * 2048 + 2 * h
    expected = 3 * dense_layer + 58 * moe_layer + 2 * vocab * h + h
    assert expected == 671_026_404_352
    assert parameter_count(build_config_tree(shipped("deepseek-ai--DeepSeek-V3.json"))) == expected


def test_identical_layers_are_one_repeated_child() -> None:
    layers = build_config_tree(shipped("meta-llama--Llama-3.1-405B.json")).children[0].children[1]
    assert [(child.name, child.repeat) for child in layers.children] == [("0", 126)]


def test_dense_and_moe_layers_are_separate_runs() -> None:
    tree = build_config_tree(shipped("deepseek-ai--DeepSeek-V3.json"))
    layers = tree.children[0].children[1]
    assert [(child.name, child.repeat) for child in layers.children] == [("0", 3), ("3", 58)]
    experts = layers.children[1].children[1].children[0]
    assert experts.name == "experts"
    assert dict(experts.attributes) == {"num_experts": 256, "experts_per_token": 8}


def test_mlp_only_layers_split_the_runs() -> None:
    config = shipped("Qwen--Qwen1.5-MoE-A2.7B.json") | {"mlp_only_layers": [2, 3], "decoder_sparse_step": 1}
    layers = build_config_tree(config).children[0].children[1]
    assert [(child.name, child.repeat, child.children[1].kind) for child in layers.children] == [
        ("0", 2, "Qwen2MoeSparseMoeBlock"),
        ("2", 2, "Qwen2MoeMLP"),
        ("4", 20, "Qwen2MoeSparseMoeBlock"),
    ]
    assert_matches_transformers(config | {"num_hidden_layers": 6}, "Qwen2MoeForCausalLM")


def test_tied_head_is_listed_once_with_its_owner() -> None:
    tree = build_config_tree(shipped("google--gemma-3-1b-it.json"))
    tied = [(name, param.tied_to) for name, param in iter_params(tree, include_tied=True) if param.tied_to]
    assert tied == [("lm_head.weight", "model.embed_tokens.weight")]
    assert "lm_head.weight" not in dict(iter_params(tree))


def test_multimodal_gemma3_ties_the_head_to_the_language_model() -> None:
    tree = build_config_tree(shipped("google--gemma-3-4b-it.json"))
    tied = [(name, param.tied_to) for name, param in iter_params(tree, include_tied=True) if param.tied_to]
    assert tied == [("lm_head.weight", "model.language_model.embed_tokens.weight")]


# --- random small configs --------------------------------------------------------------------------------------


@st.composite
def attention_sizes(draw: st.DrawFn, *, divisible: bool = False, head_dim_key: bool = True) -> dict[str, Any]:
    """Small attention sizes: kv heads dividing heads; head_dim given or left to hidden_size/num_attention_heads
    (floored where the family allows a remainder). Rotary dims stay even or <= 4, as transformers' RoPE
    validation requires (a rule about RoPE, not parameters, which the builders do not repeat)."""
    heads = draw(st.sampled_from([1, 2, 4]))
    kv_heads = draw(st.sampled_from([k for k in (1, 2, 4) if heads % k == 0]))
    width = draw(st.integers(1, 4)) * 2
    remainder = 0 if divisible else draw(st.integers(0, heads - 1))
    hidden = heads * draw(st.sampled_from([1, 2, 3, 4, 6, 8])) + remainder
    sizes: dict[str, Any] = {
        "hidden_size": hidden,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "intermediate_size": draw(st.integers(1, 24)),
        "num_hidden_layers": draw(st.integers(0, 3)),
        "vocab_size": draw(st.integers(8, 40)),
        "tie_word_embeddings": draw(st.booleans()),
    }
    if head_dim_key and draw(st.booleans()):
        sizes["head_dim"] = width
    return sizes


def rope(draw: st.DrawFn, *, scaled: bool = True) -> dict[str, Any]:
    """Sometimes a scaled RoPE or a partial rotary factor: they change only the rotary buffers' length
    (``scaled=False`` for Phi-3, whose config accepts no rope type but longrope)."""
    choice = draw(st.sampled_from(["none", "linear", "partial"] if scaled else ["none", "partial"]))
    if choice == "linear":
        return {"rope_scaling": {"rope_type": "linear", "factor": 2.0}}
    if choice == "partial":
        return {"partial_rotary_factor": draw(st.sampled_from([0.25, 0.5, 0.75]))}
    return {}


def sparse_layout(draw: st.DrawFn, layers: int) -> dict[str, Any]:
    return {
        "decoder_sparse_step": draw(st.integers(1, 3)),
        "mlp_only_layers": draw(st.lists(st.integers(0, max(layers - 1, 0)), max_size=2, unique=True)),
        "num_experts_per_tok": draw(st.integers(1, 2)),
        "moe_intermediate_size": draw(st.integers(1, 12)),
    }


@st.composite
def llama_configs(draw: st.DrawFn) -> dict[str, Any]:
    biases = {"attention_bias": draw(st.booleans()), "mlp_bias": draw(st.booleans())}
    return {"model_type": "llama", **draw(attention_sizes(divisible=True)), **biases, **rope(draw)}


@st.composite
def mistral_configs(draw: st.DrawFn) -> dict[str, Any]:
    window = {"sliding_window": draw(st.sampled_from([None, 4, 4096]))}
    return {"model_type": draw(st.sampled_from(["mistral", "qwen2"])), **draw(attention_sizes()), **window}


@st.composite
def mixtral_configs(draw: st.DrawFn) -> dict[str, Any]:
    experts = draw(st.integers(1, 4))
    routing = {"num_local_experts": experts, "num_experts_per_tok": draw(st.integers(1, experts))}
    return {"model_type": "mixtral", **draw(attention_sizes()), **routing}


@st.composite
def qwen_moe_configs(draw: st.DrawFn) -> dict[str, Any]:
    sizes = draw(attention_sizes())
    config = {"model_type": draw(st.sampled_from(["qwen2_moe", "qwen3_moe"])), **sizes}
    config |= sparse_layout(draw, sizes["num_hidden_layers"]) | {"num_experts": draw(st.integers(0, 4))}
    if config["model_type"] == "qwen2_moe":
        config |= {"qkv_bias": draw(st.booleans()), "shared_expert_intermediate_size": draw(st.integers(1, 12))}
    else:
        config |= {"attention_bias": draw(st.booleans())}
    return config


@st.composite
def qwen3_configs(draw: st.DrawFn) -> dict[str, Any]:
    return {"model_type": "qwen3", **draw(attention_sizes()), "attention_bias": draw(st.booleans())}


@st.composite
def gemma_configs(draw: st.DrawFn) -> dict[str, Any]:
    model = draw(st.sampled_from(["gemma", "gemma2", "gemma3_text"]))
    config = {"model_type": model, **draw(attention_sizes(divisible=model != "gemma")), **rope(draw)}
    config["attention_bias"] = draw(st.booleans())
    if model == "gemma3_text":
        config["sliding_window_pattern"] = draw(st.integers(1, 3))
    return config


@st.composite
def phi_configs(draw: st.DrawFn) -> dict[str, Any]:
    config = {"model_type": draw(st.sampled_from(["phi", "phi3"])), **draw(attention_sizes(divisible=True))}
    config |= rope(draw, scaled=config["model_type"] == "phi") | {"pad_token_id": draw(st.sampled_from([None, 0]))}
    if config["model_type"] == "phi":
        config["qk_layernorm"] = draw(st.booleans())
    return config


@st.composite
def deepseek_configs(draw: st.DrawFn) -> dict[str, Any]:
    sizes = draw(attention_sizes(head_dim_key=False))
    experts = draw(st.integers(1, 4))
    return {
        "model_type": "deepseek_v3",
        **sizes,
        "n_routed_experts": experts,
        "num_experts_per_tok": draw(st.integers(1, experts)),
        "n_group": 1,
        "topk_group": 1,
        "n_shared_experts": draw(st.integers(0, 2)),
        "moe_intermediate_size": draw(st.integers(1, 12)),
        "first_k_dense_replace": draw(st.integers(0, 3)),
        "moe_layer_freq": draw(st.integers(1, 2)),  # not read by transformers 5.24: must change nothing
        "q_lora_rank": draw(st.sampled_from([None, 4, 12])),
        "kv_lora_rank": draw(st.integers(1, 12)),
        "qk_rope_head_dim": draw(st.sampled_from([2, 4])),
        "qk_nope_head_dim": draw(st.integers(1, 6)),
        "v_head_dim": draw(st.integers(1, 6)),
        "attention_bias": draw(st.booleans()),
    }


@st.composite
def gemma3_multimodal_configs(draw: st.DrawFn) -> dict[str, Any]:
    text = draw(attention_sizes(divisible=True)) | {"vocab_size": 300}  # above the image/boi/eoi token ids
    vision_heads = draw(st.sampled_from([1, 2]))
    patch = draw(st.sampled_from([2, 4]))
    vision = {
        "hidden_size": vision_heads * draw(st.integers(1, 8)),
        "num_attention_heads": vision_heads,
        "intermediate_size": draw(st.integers(1, 16)),
        "num_hidden_layers": draw(st.integers(0, 2)),
        "image_size": patch * 4,
        "patch_size": patch,
        "vision_use_head": draw(st.booleans()),
    }
    return {
        "model_type": "gemma3",
        "text_config": text,
        "vision_config": vision,
        "mm_tokens_per_image": 4,
        "tie_word_embeddings": text.pop("tie_word_embeddings"),
    }


CAUSAL_LM = {
    "llama": "LlamaForCausalLM",
    "mistral": "MistralForCausalLM",
    "mixtral": "MixtralForCausalLM",
    "qwen2": "Qwen2ForCausalLM",
    "qwen2_moe": "Qwen2MoeForCausalLM",
    "qwen3": "Qwen3ForCausalLM",
    "qwen3_moe": "Qwen3MoeForCausalLM",
    "gemma": "GemmaForCausalLM",
    "gemma2": "Gemma2ForCausalLM",
    "gemma3_text": "Gemma3ForCausalLM",
    "phi": "PhiForCausalLM",
    "phi3": "Phi3ForCausalLM",
    "deepseek_v3": "DeepseekV3ForCausalLM",
    "gemma3": "Gemma3ForConditionalGeneration",
}

FAMILY_CONFIGS = {
    "llama": llama_configs(),
    "mistral-qwen2": mistral_configs(),
    "mixtral": mixtral_configs(),
    "qwen-moe": qwen_moe_configs(),
    "qwen3": qwen3_configs(),
    "gemma": gemma_configs(),
    "phi": phi_configs(),
    "deepseek_v3": deepseek_configs(),
    "gemma3-multimodal": gemma3_multimodal_configs(),
}


@st.composite
def labels(draw: st.DrawFn) -> dict[str, Any]:
    """The classification heads' width: ``id2label``, ``num_labels`` or transformers' default of 2."""
    choice = draw(st.sampled_from(["default", "num_labels", "id2label", "both"]))
    count, other = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    id2label = {str(index): f"label {index}" for index in range(other)}
    if choice == "num_labels":
        return {"num_labels": count}
    if choice == "id2label":
        return {"id2label": id2label}
    if choice == "both":  # num_labels wins (transformers sets it after id2label)
        return {"num_labels": count, "id2label": id2label}
    return {}


@pytest.mark.parametrize("family", FAMILY_CONFIGS)
@settings(max_examples=15)
@given(data=st.data())
def test_random_config_matches_transformers(family: str, data: st.DataObject) -> None:
    """The causal LM (or Gemma 3's image-text model) every time; every few examples another class as well."""
    config = data.draw(FAMILY_CONFIGS[family])
    assert_same_model(config, CAUSAL_LM[config["model_type"]])
    architecture = data.draw(st.sampled_from(spec_for(config["model_type"]).architectures))
    if architecture != CAUSAL_LM[config["model_type"]]:
        config |= data.draw(labels()) | {"token_classification_bias": data.draw(st.booleans())}
        assert_matches_transformers(config, architecture)


# --- bad input -------------------------------------------------------------------------------------------------

LLAMA = shipped("meta-llama--Llama-3.2-1B.json")
GEMMA3 = shipped("google--gemma-3-4b-it.json")


def without(config: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: value for name, value in config.items() if name != key}


@pytest.mark.parametrize(
    ("config", "message", "key_path"),
    [
        (
            LLAMA | {"hidden_size": None},
            "config.json: key 'hidden_size' is missing (needed for model_type 'llama')",
            "hidden_size",
        ),
        (LLAMA | {"hidden_size": "4096"}, "config.json: 'hidden_size' must be an integer, got '4096'", "hidden_size"),
        (
            LLAMA | {"num_hidden_layers": True},
            "config.json: 'num_hidden_layers' must be an integer, got True",
            "num_hidden_layers",
        ),
        (
            LLAMA | {"vocab_size": -128256},
            "config.json: 'vocab_size' must be a positive integer, got -128256",
            "vocab_size",
        ),
        (
            LLAMA | {"intermediate_size": -1},
            "config.json: 'intermediate_size' must be an integer >= 0, got -1",
            "intermediate_size",
        ),
        (
            LLAMA | {"num_key_value_heads": 2.5},
            "config.json: 'num_key_value_heads' must be an integer, got 2.5",
            "num_key_value_heads",
        ),
        (
            LLAMA | {"tie_word_embeddings": "yes"},
            "config.json: 'tie_word_embeddings' must be true or false, got 'yes'",
            "tie_word_embeddings",
        ),
        (
            shipped("Qwen--Qwen3-30B-A3B.json") | {"mlp_only_layers": "all"},
            "config.json: 'mlp_only_layers' must be a list of integers, got 'all'",
            "mlp_only_layers",
        ),
        (
            shipped("deepseek-ai--DeepSeek-V3.json") | {"n_routed_experts": 10**6},
            "config.json: 'n_routed_experts' is 1,000,000; the limit is 100,000",
            "n_routed_experts",
        ),
        (
            GEMMA3 | {"text_config": GEMMA3["text_config"] | {"hidden_size": "big"}},
            "config.json: 'text_config.hidden_size' must be an integer, got 'big'",
            "text_config.hidden_size",
        ),
        (
            GEMMA3 | {"vision_config": GEMMA3["vision_config"] | {"model_type": "clip_vision_model"}},
            "config.json: 'vision_config.model_type' must be 'siglip_vision_model' for gemma3",
            "vision_config.model_type",
        ),
        (
            LLAMA | {"per_layer_config": {"0": {"intermediate_size": 64}}},
            "config.json: 'per_layer_config' (per-layer overrides) is not supported",
            "per_layer_config",
        ),
        (
            GEMMA3 | {"text_config": []},
            "config.json: 'text_config' must be an object, got []",
            "text_config",
        ),
    ],
)
def test_bad_config_names_the_key(config: dict[str, Any], message: str, key_path: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        build_config_tree(config)
    assert str(caught.value) == message
    assert caught.value.key_path == key_path


@pytest.mark.parametrize(
    ("config", "message", "key_path"),
    [
        (
            LLAMA | {"num_attention_heads": 30},
            "config.json: 'hidden_size' (2,048) must be divisible by 'num_attention_heads' (30)",
            "num_attention_heads",
        ),
        (
            LLAMA | {"pad_token_id": 128256},
            "config.json: 'pad_token_id' must index the vocab_size rows (-128,256 to 128,255), got 128,256",
            "pad_token_id",
        ),
        (
            without(shipped("microsoft--Phi-3-mini-4k-instruct.json"), "pad_token_id") | {"vocab_size": 32000},
            # absent: Phi3Config's default of 32000 applies
            "config.json: 'pad_token_id' must index the vocab_size rows (-32,000 to 31,999), got 32,000",
            "pad_token_id",
        ),
        (
            shipped("Qwen--Qwen1.5-MoE-A2.7B.json") | {"qkv_bias": None},
            "config.json: 'qkv_bias' must be true or false, got None",
            "qkv_bias",
        ),
        (
            shipped("google--gemma-3-1b-it.json") | {"tie_word_embeddings": None},
            "config.json: 'tie_word_embeddings' must be true or false, got None",
            "tie_word_embeddings",
        ),
        (
            shipped("google--gemma-2-9b.json") | {"layer_types": ["full_attention"] * 3},
            "config.json: 'layer_types' lists 3 layers but 'num_hidden_layers' is 42",
            "layer_types",
        ),
        (
            GEMMA3 | {"vision_config": GEMMA3["vision_config"] | {"num_attention_heads": 5}},
            "config.json: 'vision_config.hidden_size' (1,152) must be divisible by "
            "'vision_config.num_attention_heads' (5)",
            "vision_config.num_attention_heads",
        ),
    ],
)
def test_config_transformers_refuses_is_refused(config: dict[str, Any], message: str, key_path: str) -> None:
    """Rejection parity: these configs fail in transformers too (its strict config validation, or the assertions
    of torch's Embedding and of SigLIP's attention)."""
    with pytest.raises(ConfigError) as caught:
        build_config_tree(config)
    assert (str(caught.value), caught.value.key_path) == (message, key_path)
    with pytest.raises((StrictDataclassError, ValueError, AssertionError)):
        transformers_model(config, default_architecture(config, ""))


@pytest.mark.parametrize(
    ("config", "architecture"),
    [
        (GEMMA3 | {"tie_word_embeddings": None}, "Gemma3ForConditionalGeneration"),
        (LLAMA | {"token_classification_bias": None}, "LlamaForTokenClassification"),
    ],
)
def test_null_switch_is_off_as_in_transformers(config: dict[str, Any], architecture: str) -> None:
    """Switches the config class does not declare as strict ``bool`` are tested for truth: null turns them off."""
    assert_matches_transformers(config, architecture)


def test_unsupported_head_lists_the_supported_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        build_config_tree(shipped("google--gemma-7b.json") | {"architectures": ["GemmaForQuestionAnswering"]})
    assert str(caught.value) == (
        "config.json: architecture 'GemmaForQuestionAnswering' is not supported for model_type 'gemma'; "
        "supported: GemmaModel, GemmaForCausalLM, GemmaForSequenceClassification, GemmaForTokenClassification"
    )

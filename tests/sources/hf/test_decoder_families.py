"""The decoder families added after llama's first circle (OLMo … GLM-4.5), checked against transformers on meta.

Each shipped config (sources in src/paramcount/sources/hf/configs/SOURCES.decoders.md) is compared for the class
it names, parameters and buffers; hypothesis perturbs small configs per family (sizes, tied or untied head,
biases, MoE counts and layouts, q/k norms) and compares the causal LM and, each time, one more class drawn from
the family's classes. The strategies for sizes, RoPE and labels are test_decoders.py's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from huggingface_hub.errors import StrictDataclassError
from hypothesis import given, settings
from hypothesis import strategies as st
from test_decoders import attention_sizes, labels, rope, sparse_layout

from hf_oracle import assert_matches_transformers, assert_same_model, counted_class, shipped, transformers_model
from paramcount.errors import ConfigError
from paramcount.sources.hf import build_config_tree, supported_model_types
from paramcount.sources.hf._registry import spec_for
from paramcount.tree import parameter_count

SHIPPED = {
    "allenai--OLMo-7B-hf.json": 6_888_095_744,
    "allenai--OLMo-2-1124-7B.json": 7_298_617_344,
    "allenai--OLMoE-1B-7B-0924.json": 6_919_161_856,
    "ibm-granite--granite-3.1-8b-instruct.json": 8_170_848_256,
    "ibm-granite--granite-3.1-3b-a800m-instruct.json": 3_298_793_472,
    "bigcode--starcoder2-15b.json": 15_957_889_024,
    "stabilityai--stablelm-2-1_6b.json": 1_644_515_328,
    "CohereForAI--c4ai-command-r-v01.json": 34_980_831_232,
    "CohereForAI--c4ai-command-r7b-12-2024.json": 8_028_033_024,
    "deepseek-ai--DeepSeek-V2-Lite.json": 15_706_484_224,
    "HuggingFaceTB--SmolLM3-3B.json": 3_075_098_624,
    "THUDM--GLM-4-9B-0414.json": 9_400_279_040,
    "zai-org--GLM-4.5-Air.json": 106_852_245_504,
    "bigcode--starcoder.json": 15_517_456_384,
    "EleutherAI--gpt-neo-1.3B.json": 1_315_575_808,
    "Salesforce--codegen-350M-mono.json": 356_712_448,
    "mosaicml--mpt-7b.json": 6_649_286_656,
    "openai--gpt-oss-20b.json": 20_914_757_184,
    "Qwen--Qwen3-Next-80B-A3B-Instruct.json": 79_674_391_296,
    "microsoft--Phi-3.5-MoE-instruct.json": 41_873_153_344,
}
"""Each config and its total as transformers 5.24 builds it (checked in the test), which agrees with the size
its publisher states (SOURCES.decoders.md, SOURCES.gpt.md). Llama 4 Scout, an image-text model, is listed in
SOURCES.multimodal.md and compared by test_multimodal.py."""


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_config_matches_transformers(name: str) -> None:
    config = shipped(name)
    tree = build_config_tree(config)
    assert_same_model(config, tree.kind)
    assert parameter_count(tree) == SHIPPED[name]


def test_a_remote_code_class_name_counts_the_transformers_class() -> None:
    """MPT's hub config names its remote-code class ``MPTForCausalLM``; transformers builds ``MptForCausalLM`` from
    the model_type, and so does paramcount (it refused the config before)."""
    config = shipped("mosaicml--mpt-7b.json")
    assert config["architectures"] == ["MPTForCausalLM"]
    assert build_config_tree(config).kind == "MptForCausalLM"


# --- random small configs --------------------------------------------------------------------------------------


def experts(draw: st.DrawFn, key: str) -> dict[str, Any]:
    count = draw(st.integers(1, 4))
    return {key: count, "num_experts_per_tok": draw(st.integers(1, count))}


@st.composite
def olmo_configs(draw: st.DrawFn) -> dict[str, Any]:
    model = draw(st.sampled_from(["olmo", "olmo2", "olmoe"]))
    config = {"model_type": model, **draw(attention_sizes()), "attention_bias": draw(st.booleans())}
    if model == "olmoe":  # num_local_experts is an alias of num_experts
        config |= experts(draw, draw(st.sampled_from(["num_experts", "num_local_experts"])))
    return config


@st.composite
def granite_configs(draw: st.DrawFn) -> dict[str, Any]:
    model = draw(st.sampled_from(["granite", "granitemoe"]))
    config = {"model_type": model, **draw(attention_sizes()), "attention_bias": draw(st.booleans())}
    if model == "granite":
        return config | {"mlp_bias": draw(st.booleans())}
    return config | experts(draw, "num_local_experts")


@st.composite
def starcoder2_configs(draw: st.DrawFn) -> dict[str, Any]:
    window = {"sliding_window": draw(st.sampled_from([None, 4]))}
    return {"model_type": "starcoder2", **draw(attention_sizes()), "use_bias": draw(st.booleans()), **window}


@st.composite
def stablelm_configs(draw: st.DrawFn) -> dict[str, Any]:
    switches = {key: draw(st.booleans()) for key in ("use_qkv_bias", "qk_layernorm", "use_parallel_residual")}
    return {"model_type": "stablelm", **draw(attention_sizes(divisible=True)), **switches, **rope(draw)}


@st.composite
def cohere_configs(draw: st.DrawFn) -> dict[str, Any]:
    model = draw(st.sampled_from(["cohere", "cohere2"]))
    config = {"model_type": model, **draw(attention_sizes()), "attention_bias": draw(st.booleans())}
    if model == "cohere":
        config["use_qk_norm"] = draw(st.booleans())
    return config


@st.composite
def phimoe_configs(draw: st.DrawFn) -> dict[str, Any]:
    biases = {"attention_bias": draw(st.booleans()), "lm_head_bias": draw(st.booleans())}
    return {"model_type": "phimoe", **draw(attention_sizes()), **biases, **experts(draw, "num_local_experts")}


@st.composite
def smollm3_glm4_configs(draw: st.DrawFn) -> dict[str, Any]:
    """SmolLM3 and GLM-4 default ``pad_token_id`` beyond a small vocabulary: it is given."""
    model = draw(st.sampled_from(["smollm3", "glm4"]))
    config = {"model_type": model, **draw(attention_sizes()), "attention_bias": draw(st.booleans())}
    config |= {"pad_token_id": draw(st.sampled_from([None, 0])), **rope(draw)}
    if model == "smollm3":
        config["mlp_bias"] = draw(st.booleans())
    return config


@st.composite
def deepseek_v2_configs(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 4))
    return {
        "model_type": "deepseek_v2",
        **draw(attention_sizes(divisible=True, head_dim_key=False)),
        "n_routed_experts": count,
        "num_experts_per_tok": draw(st.integers(1, count)),
        "n_shared_experts": draw(st.integers(0, 2)),
        "moe_intermediate_size": draw(st.integers(1, 12)),
        "first_k_dense_replace": draw(st.integers(0, 3)),
        "q_lora_rank": draw(st.sampled_from([None, 4, 12])),
        "kv_lora_rank": draw(st.integers(1, 12)),
        "qk_rope_head_dim": draw(st.sampled_from([2, 4])),
        "qk_nope_head_dim": draw(st.integers(1, 6)),
        "v_head_dim": draw(st.integers(1, 6)),
        "attention_bias": draw(st.booleans()),
        "mlp_bias": draw(st.booleans()),
    }


@st.composite
def glm4_moe_configs(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "model_type": "glm4_moe",
        **draw(attention_sizes()),
        **experts(draw, "n_routed_experts"),
        "n_shared_experts": draw(st.integers(0, 2)),
        "moe_intermediate_size": draw(st.integers(1, 12)),
        "first_k_dense_replace": draw(st.integers(0, 3)),
        "use_qk_norm": draw(st.booleans()),
        "attention_bias": draw(st.booleans()),
        **rope(draw),
    }


@st.composite
def gpt_bigcode_configs(draw: st.DrawFn) -> dict[str, Any]:
    heads = draw(st.sampled_from([1, 2, 4]))
    multi_query = draw(st.booleans())
    return {
        "model_type": "gpt_bigcode",
        "n_embd": heads * draw(st.integers(1, 6)),
        "n_head": heads,
        "n_layer": draw(st.integers(0, 3)),
        "n_positions": draw(st.integers(1, 16)),
        "n_inner": draw(st.sampled_from([None, 5])),
        "vocab_size": draw(st.integers(8, 40)),
        "multi_query": multi_query,
        "add_cross_attention": not multi_query and draw(st.booleans()),
        "tie_word_embeddings": draw(st.booleans()),
    }


@st.composite
def gpt_neo_configs(draw: st.DrawFn) -> dict[str, Any]:
    heads = draw(st.sampled_from([1, 2, 4]))
    kinds = st.lists(st.sampled_from(["global", "local"]), min_size=1, max_size=2)
    layout = draw(st.lists(st.tuples(kinds, st.integers(0, 2)), max_size=2))
    return {
        "model_type": "gpt_neo",
        "hidden_size": heads * draw(st.integers(1, 6)),
        "num_heads": heads,
        "attention_types": [[names, count] for names, count in layout],
        "num_layers": sum(len(names) * count for names, count in layout),
        "max_position_embeddings": draw(st.integers(1, 16)),
        "intermediate_size": draw(st.sampled_from([None, 5])),
        "vocab_size": draw(st.integers(8, 40)),
        "tie_word_embeddings": draw(st.booleans()),
    }


@st.composite
def codegen_mpt_configs(draw: st.DrawFn) -> dict[str, Any]:
    heads = draw(st.sampled_from([1, 2, 4]))
    width, layers, vocab = heads * draw(st.integers(1, 6)), draw(st.integers(0, 3)), draw(st.integers(8, 40))
    tied = {"tie_word_embeddings": draw(st.booleans())}
    if draw(st.booleans()):
        sizes = {"n_embd": width, "n_head": heads, "n_layer": layers, "n_positions": draw(st.integers(1, 16))}
        return {"model_type": "codegen", **sizes, "rotary_dim": draw(st.integers(1, 4)), "vocab_size": vocab, **tied}
    ignored = {"no_bias": draw(st.booleans()), "expansion_ratio": draw(st.integers(1, 3))}  # transformers reads neither
    sizes = {"d_model": width, "n_heads": heads, "n_layers": layers, "max_seq_len": draw(st.integers(1, 16))}
    return {"model_type": "mpt", **sizes, "vocab_size": vocab, **tied, **ignored}


@st.composite
def gpt_oss_configs(draw: st.DrawFn) -> dict[str, Any]:
    """gpt-oss's default RoPE is yarn, whose buffers transformers sizes inconsistently for an odd rotary dim (1 → 0
    frequencies, 5 → an error): heads stay even and no partial rotary factor is drawn."""
    return {
        "model_type": "gpt_oss",
        **draw(attention_sizes()),
        "head_dim": draw(st.sampled_from([2, 4, 6, 8])),
        **experts(draw, "num_local_experts"),
        "attention_bias": draw(st.booleans()),
        **draw(st.sampled_from([{}, {"rope_scaling": {"rope_type": "linear", "factor": 2.0}}])),
    }


@st.composite
def qwen3_next_configs(draw: st.DrawFn) -> dict[str, Any]:
    """Linear (gated delta net) and full attention layers, given or by ``full_attention_interval``; sparse and
    dense feed-forward as Qwen2-MoE lays them out."""
    sizes = draw(attention_sizes())
    layers = sizes["num_hidden_layers"]
    config = {"model_type": "qwen3_next", **sizes, **sparse_layout(draw, layers), **rope(draw)}
    if draw(st.booleans()):
        config["layer_types"] = draw(
            st.lists(st.sampled_from(["linear_attention", "full_attention"]), min_size=layers, max_size=layers)
        )
    else:
        config["full_attention_interval"] = draw(st.integers(1, 3))
    linear = {
        "linear_num_key_heads": draw(st.integers(1, 3)),
        "linear_num_value_heads": draw(st.integers(1, 3)),
        "linear_key_head_dim": draw(st.integers(1, 4)),
        "linear_value_head_dim": draw(st.integers(1, 4)),
        "linear_conv_kernel_dim": draw(st.integers(1, 4)),
    }
    sparse = {"num_experts": draw(st.integers(0, 4)), "shared_expert_intermediate_size": draw(st.integers(1, 12))}
    return config | linear | sparse | {"attention_bias": draw(st.booleans())}


@st.composite
def llama4_text_configs(draw: st.DrawFn) -> dict[str, Any]:
    """MoE layers by ``moe_layers`` or ``interleave_moe_layer_step``; RoPE-less layers (no q/k norm) by
    ``no_rope_layers`` or ``no_rope_layer_interval``."""
    sizes = draw(attention_sizes())
    layers = sizes["num_hidden_layers"]
    config = {"model_type": "llama4_text", **sizes, **experts(draw, "num_local_experts"), **rope(draw)}
    if draw(st.booleans()):
        config["moe_layers"] = draw(st.lists(st.integers(0, max(layers - 1, 0)), max_size=2, unique=True))
    else:
        config["interleave_moe_layer_step"] = draw(st.integers(1, 2))
    if draw(st.booleans()):
        config["no_rope_layers"] = draw(st.lists(st.integers(0, 1), min_size=layers, max_size=layers))
    else:
        config["no_rope_layer_interval"] = draw(st.integers(1, 3))
    switches = {"use_qk_norm": draw(st.booleans()), "attention_bias": draw(st.booleans())}
    return config | switches | {"intermediate_size_mlp": draw(st.integers(1, 12))}


@st.composite
def llama4_configs(draw: st.DrawFn) -> dict[str, Any]:
    """The image-text model: a small text model (vocabulary above the image token ids) and vision tower."""
    text = draw(llama4_text_configs()) | {"vocab_size": 300}
    del text["model_type"]
    heads, patch = draw(st.sampled_from([1, 2, 3])), draw(st.sampled_from([2, 3, 4]))
    vision = {
        "hidden_size": heads * draw(st.sampled_from([2, 4, 6])),
        "num_attention_heads": heads,
        "intermediate_size": draw(st.integers(1, 12)),
        "num_hidden_layers": draw(st.integers(0, 2)),
        "patch_size": patch,
        "image_size": patch * draw(st.integers(1, 4)) + draw(st.integers(0, patch - 1)),
        "num_channels": draw(st.integers(1, 3)),
        "vision_output_dim": draw(st.integers(1, 12)),
        "projector_input_dim": draw(st.integers(1, 8)),
        "projector_output_dim": draw(st.integers(1, 8)),
    }
    tokens = {"boi_token_index": 1, "eoi_token_index": 2, "image_token_index": 3}
    return {"model_type": "llama4", "text_config": text, "vision_config": vision, **tokens}


FAMILY_CONFIGS = {
    "olmo": olmo_configs(),
    "granite": granite_configs(),
    "starcoder2": starcoder2_configs(),
    "stablelm": stablelm_configs(),
    "cohere": cohere_configs(),
    "phimoe": phimoe_configs(),
    "smollm3-glm4": smollm3_glm4_configs(),
    "deepseek_v2": deepseek_v2_configs(),
    "glm4_moe": glm4_moe_configs(),
    "gpt_bigcode": gpt_bigcode_configs(),
    "gpt_neo": gpt_neo_configs(),
    "codegen-mpt": codegen_mpt_configs(),
    "gpt_oss": gpt_oss_configs(),
    "qwen3_next": qwen3_next_configs(),
    "llama4_text": llama4_text_configs(),
    "llama4": llama4_configs(),
}


@pytest.mark.parametrize("family", FAMILY_CONFIGS)
@settings(max_examples=12)
@given(data=st.data())
def test_random_config_matches_transformers(family: str, data: st.DataObject) -> None:
    config = data.draw(FAMILY_CONFIGS[family])
    spec = spec_for(config["model_type"])
    assert_same_model(config, spec.default)
    architecture = data.draw(st.sampled_from(spec.architectures))
    if architecture != spec.default:
        config |= data.draw(labels())
        assert_matches_transformers(config, architecture)


# --- bad input -------------------------------------------------------------------------------------------------


def without_padding(config: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if key != "pad_token_id"}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            # absent: SmolLM3Config's pad_token_id 128004 applies
            without_padding(shipped("HuggingFaceTB--SmolLM3-3B.json")) | {"vocab_size": 32000},
            "config.json: 'pad_token_id' must index the vocab_size rows (-32,000 to 31,999), got 128,004",
        ),
        (
            shipped("THUDM--GLM-4-9B-0414.json") | {"vocab_size": 151329},
            "config.json: 'pad_token_id' must index the vocab_size rows (-151,329 to 151,328), got 151,329",
        ),
    ],
)
def test_padding_index_outside_the_vocabulary_is_refused_as_in_transformers(
    config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build_config_tree(config)
    assert (str(caught.value), caught.value.key_path) == (message, "pad_token_id")
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        transformers_model(config, counted_class(config))


def test_deepseek_v2_refuses_heads_that_do_not_divide_the_width_as_transformers_does() -> None:
    config = shipped("deepseek-ai--DeepSeek-V2-Lite.json") | {"num_attention_heads": 15}
    with pytest.raises(ConfigError) as caught:
        build_config_tree(config)
    message = "config.json: 'hidden_size' (2,048) must be divisible by 'num_attention_heads' (15)"
    assert (str(caught.value), caught.value.key_path) == (message, "num_attention_heads")
    with pytest.raises(StrictDataclassError):
        transformers_model(config, counted_class(config))


@pytest.mark.parametrize(
    ("config", "message", "key_path"),
    [
        (
            shipped("EleutherAI--gpt-neo-1.3B.json") | {"num_layers": 12},
            "config.json: 'attention_types' lays out 24 layers but 'num_layers' is 12",
            "attention_types",
        ),
        (
            shipped("bigcode--starcoder.json") | {"add_cross_attention": True},
            "config.json: cross-attention with 'multi_query' is not implemented by transformers",
            "add_cross_attention",
        ),
    ],
)
def test_gpt_style_config_transformers_refuses_is_refused(config: dict[str, Any], message: str, key_path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build_config_tree(config)
    assert (str(caught.value), caught.value.key_path) == (message, key_path)
    with pytest.raises((StrictDataclassError, NotImplementedError)):
        transformers_model(config, counted_class(config))


def test_qwen3_next_refuses_a_layer_type_without_a_token_mixer() -> None:
    """transformers builds a layer of any other type without attention (a model that cannot run); refused here."""
    config = shipped("Qwen--Qwen3-Next-80B-A3B-Instruct.json") | {"num_hidden_layers": 2}
    config["layer_types"] = ["linear_attention", "sliding_attention"]
    with pytest.raises(ConfigError) as caught:
        build_config_tree(config)
    message = "config.json: 'layer_types' must list 'linear_attention' or 'full_attention' per layer"
    assert (str(caught.value), caught.value.key_path) == (message, "layer_types")
    layer = transformers_model(config, counted_class(config)).get_submodule("model.layers.1")
    assert not hasattr(layer, "self_attn")
    assert not hasattr(layer, "linear_attn")


def test_readme_table_lists_every_supported_model_type_with_its_classes() -> None:
    readme = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Supported Hugging Face model types", 1)[1].split("\n## ", 1)[0]
    rows = [line.split(" | ") for line in section.splitlines() if line.startswith("| `")][1:]  # after the header
    listed = {row[0].removeprefix("| `").removesuffix("`"): row[1] for row in rows}
    assert list(listed) == list(supported_model_types())
    assert all(classes == ", ".join(spec_for(name).architectures) for name, classes in listed.items())

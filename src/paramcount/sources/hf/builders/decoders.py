"""Decoder-only language models built like llama: llama, Mistral, Mixtral, Qwen2/Qwen3 and their MoE variants,
Gemma, Gemma 2, Phi and Phi-3.

Each family is a ``Family`` row over the shared llama-style shape (``_llama_style.py``, where the keys, defaults
and buffers every row follows are described), plus the attention and MLP variants only these families use.
Gemma 3 (``gemma3.py``) and DeepSeek-V3 (``deepseek.py``) are rows of the same shape kept in their own modules.
"""

from __future__ import annotations

from paramcount.sources.hf._config import Config
from paramcount.sources.hf.builders._common import head_classes, layer_norm, linear, module
from paramcount.sources.hf.builders._llama_style import (
    ALL_HEADS,
    NO_QA,
    Family,
    Sizes,
    dense_mlp,
    fused_experts,
    gated_mlp,
    register_family,
    router,
    standard_attention,
    switch,
)
from paramcount.tree import Dim, Module

__all__: list[str] = []


# --- attention and MLP variants ------------------------------------------------------------------------------


def _phi_attention(family: Family, config: Config, sizes: Sizes) -> Module:
    """Phi: biased q/k/v and ``dense``; optional LayerNorms over hidden_size/num_attention_heads."""
    queries, keys = sizes.heads * sizes.head_dim, sizes.kv_heads * sizes.head_dim
    children = [
        linear("q_proj", sizes.hidden, queries, bias=True),
        linear("k_proj", sizes.hidden, keys, bias=True),
        linear("v_proj", sizes.hidden, keys, bias=True),
        linear("dense", queries, sizes.hidden, bias=True),
    ]
    if switch(config, "qk_layernorm", False):
        width = sizes.hidden // sizes.heads
        children += [layer_norm("q_layernorm", width), layer_norm("k_layernorm", width)]
    return module("self_attn", "PhiAttention", *children)


def _phi3_attention(family: Family, config: Config, sizes: Sizes) -> Module:
    """Phi-3: ``o_proj`` first, then one fused ``qkv_proj``; no biases."""
    queries, keys = sizes.heads * sizes.head_dim, sizes.kv_heads * sizes.head_dim
    return module(
        "self_attn",
        "Phi3Attention",
        linear("o_proj", queries, sizes.hidden, bias=False),
        linear("qkv_proj", sizes.hidden, queries + 2 * keys, bias=False),
    )


def _phi_mlp(family: Family, config: Config, sizes: Sizes, kind: str) -> Module:
    return module(
        "mlp",
        "PhiMLP",
        linear("fc1", sizes.hidden, sizes.intermediate, bias=True),
        linear("fc2", sizes.intermediate, sizes.hidden, bias=True),
    )


def _phi3_mlp(family: Family, config: Config, sizes: Sizes, kind: str) -> Module:
    return module(
        "mlp",
        "Phi3MLP",
        linear("gate_up_proj", sizes.hidden, 2 * sizes.intermediate, bias=False),
        linear("down_proj", sizes.intermediate, sizes.hidden, bias=False),
    )


# --- mixture of experts ------------------------------------------------------------------------------------


def _mixtral_mlp(family: Family, config: Config, sizes: Sizes, kind: str) -> Module:
    count = Dim.of(config.layers("num_local_experts", 8), "num_local_experts")
    per_token = config.layers("num_experts_per_tok", 2)
    return module(
        "mlp",
        "MixtralSparseMoeBlock",
        router("MixtralTopKRouter", count, sizes.hidden),
        fused_experts("MixtralExperts", count, per_token, sizes.hidden, sizes.intermediate),
    )


def _qwen_moe_kind(default_experts: int) -> Callable[[Config, int], Iterator[str]]:
    """Qwen MoE: layer i is sparse unless listed in ``mlp_only_layers`` or ``(i + 1) % decoder_sparse_step``."""

    def kinds(config: Config, count: int) -> Iterator[str]:
        mlp_only = set(config.sizes("mlp_only_layers", []))
        step = config.size("decoder_sparse_step", 1)
        sparse = config.layers("num_experts", default_experts) > 0
        for index in range(count):
            yield "moe" if sparse and index not in mlp_only and (index + 1) % step == 0 else "dense"

    return kinds


def _qwen2_moe_mlp(family: Family, config: Config, sizes: Sizes, kind: str) -> Module:
    if kind == "dense":
        return gated_mlp("mlp", "Qwen2MoeMLP", sizes.hidden, sizes.intermediate)
    count = Dim.of(config.layers("num_experts", 60), "num_experts")
    width = Dim.of(config.size("moe_intermediate_size", 1408, minimum=0), "moe_intermediate_size")
    shared = Dim.of(config.size("shared_expert_intermediate_size", 5632, minimum=0), "shared_expert_intermediate_size")
    return module(
        "mlp",
        "Qwen2MoeSparseMoeBlock",
        router("Qwen2MoeTopKRouter", count, sizes.hidden),
        fused_experts("Qwen2MoeExperts", count, config.layers("num_experts_per_tok", 4), sizes.hidden, width),
        gated_mlp("shared_expert", "Qwen2MoeMLP", sizes.hidden, shared),
        linear("shared_expert_gate", sizes.hidden, Dim.constant(1), bias=False),
    )


def _qwen3_moe_mlp(family: Family, config: Config, sizes: Sizes, kind: str) -> Module:
    if kind == "dense":
        return gated_mlp("mlp", "Qwen3MoeMLP", sizes.hidden, sizes.intermediate)
    count = Dim.of(config.layers("num_experts", 128), "num_experts")
    width = Dim.of(config.size("moe_intermediate_size", 768, minimum=0), "moe_intermediate_size")
    return module(
        "mlp",
        "Qwen3MoeSparseMoeBlock",
        fused_experts("Qwen3MoeExperts", count, config.layers("num_experts_per_tok", 8), sizes.hidden, width),
        router("Qwen3MoeTopKRouter", count, sizes.hidden),
    )


# --- the families --------------------------------------------------------------------------------------------

_FAMILIES = (
    Family(
        "llama",
        "Llama",
        head_classes("Llama", ALL_HEADS),
        standard_attention,
        dense_mlp,
        mlp_bias=("mlp_bias", False),
        checks_head_divisibility=True,
        question_answering_prefix="transformer",
    ),
    Family(
        "mistral",
        "Mistral",
        head_classes("Mistral", ALL_HEADS),
        standard_attention,
        dense_mlp,
        kv_heads_default=8,
        qkv_bias=False,
        o_bias=False,
    ),
    Family(
        "mixtral",
        "Mixtral",
        head_classes("Mixtral", ALL_HEADS),
        standard_attention,
        _mixtral_mlp,
        kv_heads_default=8,
        qkv_bias=False,
        o_bias=False,
    ),
    Family(
        "qwen2",
        "Qwen2",
        head_classes("Qwen2", ALL_HEADS),
        standard_attention,
        dense_mlp,
        kv_heads_default=32,
        qkv_bias=True,
        o_bias=False,
        question_answering_prefix="transformer",
    ),
    Family(
        "qwen2_moe",
        "Qwen2Moe",
        head_classes("Qwen2Moe", ALL_HEADS),
        standard_attention,
        _qwen2_moe_mlp,
        layer_kind=_qwen_moe_kind(60),
        kv_heads_default=16,
        qkv_bias=("qkv_bias", True),
        o_bias=False,
    ),
    Family(
        "qwen3",
        "Qwen3",
        head_classes("Qwen3", ALL_HEADS),
        standard_attention,
        dense_mlp,
        kv_heads_default=32,
        head_dim_default=128,
        qk_norm=True,
        question_answering_prefix="transformer",
    ),
    Family(
        "qwen3_moe",
        "Qwen3Moe",
        head_classes("Qwen3Moe", ALL_HEADS),
        standard_attention,
        _qwen3_moe_mlp,
        layer_kind=_qwen_moe_kind(128),
        kv_heads_default=4,
        qk_norm=True,
        question_answering_prefix="transformer",
    ),
    Family(
        "gemma",
        "Gemma",
        head_classes("Gemma", NO_QA),
        standard_attention,
        dense_mlp,
        kv_heads_default=16,
        head_dim_default=256,
        scaled_embedding=True,
        tie_default=True,
        pad_default=0,
    ),
    Family(
        "gemma2",
        "Gemma2",
        head_classes("Gemma2", NO_QA),
        standard_attention,
        dense_mlp,
        kv_heads_default=4,
        head_dim_default=256,
        feedforward_norms=True,
        scaled_embedding=True,
        tie_default=True,
        pad_default=0,
        checks_head_divisibility=True,
    ),
    Family(
        "phi",
        "Phi",
        head_classes("Phi", NO_QA),
        _phi_attention,
        _phi_mlp,
        layer_norm=True,
        lm_head_bias=True,
        rotary_factor_default=0.5,
        rotary_factor_always=True,
    ),
    Family(
        "phi3",
        "Phi3",
        head_classes("Phi3", NO_QA),
        _phi3_attention,
        _phi3_mlp,
        pad_default=32000,
        rotary_factor_always=True,
    ),
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

for _family in _FAMILIES:
    register_family(_family)

"""DeepSeek-V3: multi-head latent attention (low-rank queries, keys and values) and a mixture of experts with
shared experts, over the shared llama-style shape (``_llama_style.py``).

Mirrors ``transformers`` 5.24 (``models/deepseek_v3/modeling_deepseek_v3.py``): the first
``first_k_dense_replace`` layers are dense, the rest MoE; the router holds the ``e_score_correction_bias``
buffer; RoPE spans ``qk_rope_head_dim`` of each head, so ``inv_freq`` is sized by it.
"""

from __future__ import annotations

from paramcount.sources.hf._config import Config
from paramcount.sources.hf.builders._common import head_classes, linear, module
from paramcount.sources.hf.builders._llama_style import (
    NO_QA,
    Family,
    Sizes,
    fused_experts,
    gated_mlp,
    norm,
    register_family,
    router,
    switch,
)
from paramcount.tree import Buffer, Dim, Module

__all__: list[str] = []


def _mla_attention(family: Family, config: Config, sizes: Sizes) -> Module:
    """DeepSeek-V3's multi-head latent attention: low-rank query (unless ``q_lora_rank`` is null) and key/value."""
    bias = switch(config, "attention_bias", False)
    rope = Dim.of(config.size("qk_rope_head_dim", 64), "qk_rope_head_dim")
    nope = Dim.of(config.size("qk_nope_head_dim", 128), "qk_nope_head_dim")
    value = Dim.of(config.size("v_head_dim", 128), "v_head_dim")
    kv_rank = Dim.of(config.size("kv_lora_rank", 512), "kv_lora_rank")
    queries = sizes.heads * (nope + rope)
    if "q_lora_rank" in config.data and config.data["q_lora_rank"] is None:
        query: list[Module] = [linear("q_proj", sizes.hidden, queries, bias=False)]
    else:
        q_rank = Dim.of(config.size("q_lora_rank", 1536), "q_lora_rank")
        query = [
            linear("q_a_proj", sizes.hidden, q_rank, bias=bias),
            norm(family, "q_a_layernorm", q_rank),
            linear("q_b_proj", q_rank, queries, bias=False),
        ]
    return module(
        "self_attn",
        "DeepseekV3Attention",
        *query,
        linear("kv_a_proj_with_mqa", sizes.hidden, kv_rank + rope, bias=bias),
        norm(family, "kv_a_layernorm", kv_rank),
        linear("kv_b_proj", kv_rank, sizes.heads * (nope + value), bias=False),
        linear("o_proj", sizes.heads * value, sizes.hidden, bias=bias),
    )


def _deepseek_kind(config: Config, count: int) -> Iterator[str]:
    """DeepSeek-V3: the first ``first_k_dense_replace`` layers are dense, the rest MoE. transformers 5.24 does not
    read ``moe_layer_freq`` (1 in every published config), so neither do we."""
    dense = config.layers("first_k_dense_replace", 3)
    for index in range(count):
        yield "moe" if index >= dense else "dense"


def _deepseek_mlp(family: Family, config: Config, sizes: Sizes, kind: str) -> Module:
    if kind == "dense":
        return gated_mlp("mlp", "DeepseekV3MLP", sizes.hidden, sizes.intermediate)
    count = Dim.of(config.layers("n_routed_experts", 256), "n_routed_experts")
    width = Dim.of(config.size("moe_intermediate_size", 2048, minimum=0), "moe_intermediate_size")
    shared = width * Dim.of(config.layers("n_shared_experts", 1), "n_shared_experts")
    correction = Buffer("e_score_correction_bias", (count,))
    return module(
        "mlp",
        "DeepseekV3MoE",
        fused_experts("DeepseekV3Experts", count, config.layers("num_experts_per_tok", 8), sizes.hidden, width),
        router("DeepseekV3TopkRouter", count, sizes.hidden, (correction,)),
        gated_mlp("shared_experts", "DeepseekV3MLP", sizes.hidden, shared),
    )


_DEEPSEEK_V3 = Family(
    "deepseek_v3",
    "DeepseekV3",
    head_classes("DeepseekV3", NO_QA),
    _mla_attention,
    _deepseek_mlp,
    layer_kind=_deepseek_kind,
    kv_heads_default=128,
    rotary_dim=("qk_rope_head_dim", 64),
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

register_family(_DEEPSEEK_V3)

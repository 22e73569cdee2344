"""DeepSeek-V2 and V3: multi-head latent attention (low-rank queries, keys and values) and a mixture of experts
with shared experts, over the shared llama-style shape (``_llama_style.py``); GLM-4.5 (``glm4_moe``), llama's
attention over DeepSeek-V3's mixture of experts.

Mirrors ``transformers`` 5.24 (``models/deepseek_v3/modeling_deepseek_v3.py``, ``deepseek_v2``, ``glm4_moe``):
the first ``first_k_dense_replace`` layers are dense, the rest MoE; V3's and GLM-4.5's router holds the
``e_score_correction_bias`` buffer, V2's none; RoPE spans ``qk_rope_head_dim`` of each head, so ``inv_freq`` is
sized by it. GLM-4.5's multi-token-prediction layer (``num_nextn_predict_layers``) is not built by transformers.
"""

from __future__ import annotations

from paramcount._record import Record
from paramcount.sources.hf._config import Config
from paramcount.sources.hf.builders._common import head_classes, linear, module
from paramcount.sources.hf.builders._llama_style import (
    NO_QA,
    Family,
    Sizes,
    first_dense,
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
        f"{family.prefix}Attention",
        *query,
        linear("kv_a_proj_with_mqa", sizes.hidden, kv_rank + rope, bias=bias),
        norm(family, "kv_a_layernorm", kv_rank),
        linear("kv_b_proj", kv_rank, sizes.heads * (nope + value), bias=False),
        linear("o_proj", sizes.heads * value, sizes.hidden, bias=bias),
    )


class _Moe(Record):
    """A DeepSeek-style MoE block: its class, its config class's defaults, whether the router holds the
    ``e_score_correction_bias`` buffer and whether the MLPs read ``mlp_bias``."""

    kind: str
    experts: int
    per_token: int
    width: int
    shared: int
    correction: bool = True
    mlp_bias: bool = False


def _moe_mlp(moe: _Moe) -> Callable[[Family, Config, Sizes, str], Module]:
    def build(family: Family, config: Config, sizes: Sizes, kind: str) -> Module:
        bias = moe.mlp_bias and switch(config, "mlp_bias", False)
        mlp = f"{family.prefix}MLP"
        if kind == "dense":
            return gated_mlp("mlp", mlp, sizes.hidden, sizes.intermediate, bias=bias)
        count = Dim.of(config.layers("n_routed_experts", moe.experts), "n_routed_experts")
        width = Dim.of(config.size("moe_intermediate_size", moe.width, minimum=0), "moe_intermediate_size")
        shared = width * Dim.of(config.layers("n_shared_experts", moe.shared), "n_shared_experts")
        correction = (Buffer("e_score_correction_bias", (count,)),) if moe.correction else ()
        per_token = config.layers("num_experts_per_tok", moe.per_token)
        return module(
            "mlp",
            moe.kind,
            fused_experts(f"{family.prefix}Experts", count, per_token, sizes.hidden, width),
            router(f"{family.prefix}TopkRouter", count, sizes.hidden, correction),
            gated_mlp("shared_experts", mlp, sizes.hidden, shared, bias=bias),
        )

    return build


_DEEPSEEK_V3 = Family(
    "deepseek_v3",
    "DeepseekV3",
    head_classes("DeepseekV3", NO_QA),
    attention=_mla_attention,
    mlp=_moe_mlp(_Moe("DeepseekV3MoE", experts=256, per_token=8, width=2048, shared=1)),
    layer_kind=first_dense(3),
    kv_heads_default=128,
    rotary_dim=("qk_rope_head_dim", 64),
)

# DeepseekV2Config's num_experts_per_tok defaults to None, which builds (the router's top-k is unused on meta).
_DEEPSEEK_V2 = Family(
    "deepseek_v2",
    "DeepseekV2",
    head_classes("DeepseekV2", ("causal_lm", "sequence_classification")),
    attention=_mla_attention,
    mlp=_moe_mlp(_Moe("DeepseekV2Moe", experts=64, per_token=0, width=1407, shared=2, correction=False, mlp_bias=True)),
    layer_kind=first_dense(0),
    checks_head_divisibility=True,
    rotary_dim=("qk_rope_head_dim", 64),
)

_GLM4_MOE = Family(
    "glm4_moe",
    "Glm4Moe",
    head_classes("Glm4Moe", ("causal_lm",)),
    mlp=_moe_mlp(_Moe("Glm4MoeMoE", experts=128, per_token=8, width=1408, shared=1)),
    layer_kind=first_dense(1),
    kv_heads_default=8,
    o_bias=False,
    qk_norm=("use_qk_norm", False),
    rotary_factor_default=0.5,
    rotary_factor_always=True,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

for _family in (_DEEPSEEK_V3, _DEEPSEEK_V2, _GLM4_MOE):
    register_family(_family)

"""Decoder-only language models built like llama: llama, Mistral, Mixtral, Qwen2/Qwen3 and their MoE variants,
Gemma, Gemma 2, Phi, Phi-3 and PhiMoE, OLMo, OLMo 2 and OLMoE, Granite and Granite MoE, StarCoder2, StableLM,
Cohere (Command R) and Cohere 2, SmolLM3, GLM-4, gpt-oss and Qwen3-Next.

Each family is a ``Family`` row over the shared llama-style shape (``_llama_style.py``, where the keys, defaults
and buffers every row follows are described), plus the attention and MLP variants only these families use.
Gemma 3 (``gemma3.py``) and DeepSeek-V3 (``deepseek.py``) are rows of the same shape kept in their own modules.
"""

from __future__ import annotations

from paramcount._record import replace
from paramcount.sources.hf._config import Config
from paramcount.sources.hf.builders._common import (
    conv,
    experts,
    head_classes,
    layer_norm,
    linear,
    mlp,
    module,
    qkv_projections,
    rms_norm,
    stack,
)
from paramcount.sources.hf.builders._llama_style import (
    ALL_HEADS,
    NO_QA,
    Family,
    Sizes,
    fused_experts,
    fused_gated_mlp,
    gated_mlp,
    register_family,
    router,
    standard_attention,
    switch,
)
from paramcount.tree import Dim, Module, Param

__all__ = ["GEMMA2"]


# --- attention and MLP variants ------------------------------------------------------------------------------


def _phi_attention(family: Family, config: Config, sizes: Sizes) -> Module:
    """Phi: biased q/k/v and ``dense``; optional LayerNorms over hidden_size/num_attention_heads."""
    queries, keys = sizes.heads * sizes.head_dim, sizes.kv_heads * sizes.head_dim
    children = [
        *qkv_projections(sizes.hidden, queries, keys, bias=True),
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
    return mlp("mlp", "PhiMLP", sizes.hidden, sizes.intermediate)


def _stablelm_attention(family: Family, config: Config, sizes: Sizes) -> Module:
    """StableLM: heads of hidden_size/num_attention_heads whatever ``head_dim`` says, q/k/v biased by
    ``use_qkv_bias``, ``o_proj`` hidden → hidden; ``qk_layernorm`` adds one bias-free LayerNorm per head."""
    head_dim = sizes.hidden // sizes.heads
    queries, keys = sizes.heads * head_dim, sizes.kv_heads * head_dim
    bias = switch(config, "use_qkv_bias", False)
    children = [
        *qkv_projections(sizes.hidden, queries, keys, bias=bias),
        linear("o_proj", sizes.hidden, sizes.hidden, bias=False),
    ]
    if switch(config, "qk_layernorm", False):
        per_head = layer_norm("0", head_dim, bias=False)
        children += [
            module(name, "StableLmLayerNormPerHead", stack("norms", per_head, count.value))
            for name, count in (("q_layernorm", sizes.heads), ("k_layernorm", sizes.kv_heads))
        ]
    return module("self_attn", "StableLmAttention", *children)


def _stablelm_norms(config: Config) -> tuple[str, ...]:
    """StableLM's parallel residual has no ``post_attention_layernorm``."""
    if switch(config, "use_parallel_residual", False):
        return ("input_layernorm",)
    return ("input_layernorm", "post_attention_layernorm")


def _cohere_attention(family: Family, config: Config, sizes: Sizes) -> Module:
    """Cohere: llama's attention; ``use_qk_norm`` adds bias-free LayerNorms of shape (heads, head_dim)."""
    attention = standard_attention(family, config, sizes)
    if not switch(config, "use_qk_norm", False):
        return attention
    kind = f"{family.prefix}LayerNorm"
    norms = (
        module(name, kind, params=(Param("weight", (heads, sizes.head_dim)),))
        for name, heads in (("q_norm", sizes.heads), ("k_norm", sizes.kv_heads))
    )
    return replace(attention, children=(*attention.children, *norms))


def _starcoder2_mlp(family: Family, config: Config, sizes: Sizes, kind: str) -> Module:
    bias = switch(config, "use_bias", True)
    return mlp("mlp", "Starcoder2MLP", sizes.hidden, sizes.intermediate, names=("c_fc", "c_proj"), bias=bias)


# --- mixture of experts ------------------------------------------------------------------------------------


def _local_experts(
    name: str, kind: str, experts_kind: str, default: int, gate: Callable[[Dim, Dim], Module]
) -> Callable[[Family, Config, Sizes, str], Module]:
    """A sparse MoE block ``name``: ``gate(num_local_experts, hidden_size)`` (``default`` experts when absent),
    then fused experts of width ``intermediate_size``, ``num_experts_per_tok`` (default 2) per token."""

    def mlp(family: Family, config: Config, sizes: Sizes, layer_kind: str) -> Module:
        count = Dim.of(config.layers("num_local_experts", default), "num_local_experts")
        per_token = config.layers("num_experts_per_tok", 2)
        experts = fused_experts(experts_kind, count, per_token, sizes.hidden, sizes.intermediate)
        return module(name, kind, gate(count, sizes.hidden), experts)

    return mlp


_mixtral_mlp = _local_experts(
    "mlp",
    "MixtralSparseMoeBlock",
    "MixtralExperts",
    8,
    lambda count, hidden: router("MixtralTopKRouter", count, hidden),
)


def _olmoe_mlp(family: Family, config: Config, sizes: Sizes, kind: str) -> Module:
    """OLMoE: router first, then experts of width ``intermediate_size``; ``num_local_experts`` is an alias."""
    key = "num_local_experts" if config.has("num_local_experts") else "num_experts"
    count = Dim.of(config.layers(key, 64), key)
    return module(
        "mlp",
        "OlmoeSparseMoeBlock",
        router("OlmoeTopKRouter", count, sizes.hidden),
        fused_experts("OlmoeExperts", count, config.layers("num_experts_per_tok", 8), sizes.hidden, sizes.intermediate),
    )


_granitemoe_mlp = _local_experts(
    "block_sparse_moe",
    "GraniteMoeMoE",
    "GraniteMoeExperts",
    8,
    lambda count, hidden: replace(router("GraniteMoeTopKRouter", count, hidden), name="router"),
)
"""Granite MoE: ``block_sparse_moe`` with a ``router``."""
_phimoe_mlp = _local_experts(
    "mlp",
    "PhimoeSparseMoeBlock",
    "PhimoeExperts",
    16,
    lambda count, hidden: linear("router", hidden, count, bias=False, kind="PhimoeTopKRouter"),
)
"""PhiMoE: the router is an ``nn.Linear`` subclass without bias."""


def _gpt_oss_attention(family: Family, config: Config, sizes: Sizes) -> Module:
    """gpt-oss: llama's attention (biased by default) with one learned attention-sink logit per head."""
    return replace(standard_attention(family, config, sizes), params=(Param("sinks", (sizes.heads,)),))


def _gpt_oss_mlp(family: Family, config: Config, sizes: Sizes, kind: str) -> Module:
    """gpt-oss: a router with a bias, and experts stored transposed, (E, hidden, 2·width), with biases."""
    count = Dim.of(config.layers("num_local_experts", 128), "num_local_experts")
    width, per_token = sizes.intermediate, config.layers("num_experts_per_tok", 4)
    weights = (
        Param("gate_up_proj", (count, sizes.hidden, 2 * width)),
        Param("gate_up_proj_bias", (count, 2 * width)),
        Param("down_proj", (count, width, sizes.hidden)),
        Param("down_proj_bias", (count, sizes.hidden)),
    )
    return module(
        "mlp",
        "GptOssMLP",
        module("router", "GptOssTopKRouter", params=(Param("weight", (count, sizes.hidden)), Param("bias", (count,)))),
        experts(module("experts", "GptOssExperts", params=weights), count.value, per_token),
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


def _shared_expert_moe(
    experts: int, width: int, shared: int, per_token: int
) -> Callable[[Family, Config, Sizes, str], Module]:
    """Qwen2-MoE's and Qwen3-Next's sparse block (defaults from their config classes): a router, experts, one
    shared expert and its sigmoid gate; a dense MLP in a layer whose kind ends in ``dense``."""

    def build(family: Family, config: Config, sizes: Sizes, kind: str) -> Module:
        mlp = f"{family.prefix}MLP"
        if kind.endswith("dense"):
            return gated_mlp("mlp", mlp, sizes.hidden, sizes.intermediate)
        count = Dim.of(config.layers("num_experts", experts), "num_experts")
        expert = Dim.of(config.size("moe_intermediate_size", width, minimum=0), "moe_intermediate_size")
        key = "shared_expert_intermediate_size"
        return module(
            "mlp",
            f"{family.prefix}SparseMoeBlock",
            router(f"{family.prefix}TopKRouter", count, sizes.hidden),
            fused_experts(
                f"{family.prefix}Experts", count, config.layers("num_experts_per_tok", per_token), sizes.hidden, expert
            ),
            gated_mlp("shared_expert", mlp, sizes.hidden, Dim.of(config.size(key, shared, minimum=0), key)),
            linear("shared_expert_gate", sizes.hidden, Dim.constant(1), bias=False),
        )

    return build


_MIXERS = ("linear_attention", "full_attention")


def _qwen3_next_kind(config: Config, count: int) -> Iterator[str]:
    """Qwen3-Next: ``layer_types`` (by default every ``full_attention_interval``-th layer full attention, the rest
    linear) and, as Qwen2-MoE, sparse or dense feed-forward: ``"<layer type> <moe or dense>"``."""
    types = config.raw("layer_types")
    if types is None:
        interval = config.size("full_attention_interval", 4)
        types = ["linear_attention" if (index + 1) % interval else "full_attention" for index in range(count)]
    if not isinstance(types, list) or any(kind not in _MIXERS for kind in types):
        raise config.fail(
            "layer_types", f"'{config.path('layer_types')}' must list 'linear_attention' or 'full_attention' per layer"
        )
    for mixer, feed_forward in zip(types, _qwen_moe_kind(512)(config, count), strict=False):
        yield f"{mixer} {feed_forward}"


def _qwen3_next_mixer(family: Family, config: Config, sizes: Sizes, kind: str) -> Module:
    """Full attention with a gated query (``q_proj`` twice as wide), or the gated delta net: a depthwise causal
    convolution over q, k and v, the projections of q, k, v, z and of the decay inputs b, a, per-value-head
    ``dt_bias`` and ``A_log``, a gated RMSNorm over one value head."""
    if kind.startswith("full_attention"):
        attention = standard_attention(family, config, sizes)
        bias = switch(config, "attention_bias", False)
        query = linear("q_proj", sizes.hidden, 2 * sizes.heads * sizes.head_dim, bias=bias)
        return replace(attention, children=(query, *attention.children[1:]))
    key_heads = Dim.of(config.size("linear_num_key_heads", 16), "linear_num_key_heads")
    value_heads = Dim.of(config.size("linear_num_value_heads", 32), "linear_num_value_heads")
    key_dim = key_heads * Dim.of(config.size("linear_key_head_dim", 128), "linear_key_head_dim")
    value_head = Dim.of(config.size("linear_value_head_dim", 128), "linear_value_head_dim")
    value_dim = value_heads * value_head
    kernel = config.size("linear_conv_kernel_dim", 4)
    mixed = 2 * key_dim + value_dim
    net = module(
        "linear_attn",
        "Qwen3NextGatedDeltaNet",
        conv(
            "conv1d",
            "Conv1d",
            mixed,
            mixed,
            (Dim.of(kernel, "linear_conv_kernel_dim"),),
            bias=False,
            groups=mixed.value,
            padding=kernel - 1,
        ),
        linear("in_proj_qkvz", sizes.hidden, 2 * key_dim + 2 * value_dim, bias=False),
        linear("in_proj_ba", sizes.hidden, 2 * value_heads, bias=False),
        rms_norm("norm", value_head, "Qwen3NextRMSNormGated"),
        linear("out_proj", value_dim, sizes.hidden, bias=False),
        params=(Param("dt_bias", (value_heads,)), Param("A_log", (value_heads,))),
    )
    # What the delta rule's shapes need and the tensors do not say (analysis/shapes/hybrids.py).
    return replace(net, attributes=(("key_heads", key_heads.value),))


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

_BASE_LM_SEQUENCE: tuple[Head, ...] = ("causal_lm", "sequence_classification")
_BASE_LM: tuple[Head, ...] = ("causal_lm",)

_COHERE = Family(
    "cohere",
    "Cohere",
    head_classes("Cohere", _BASE_LM),
    attention=_cohere_attention,
    norm_type="weight",
    layer_norms=lambda config: ("input_layernorm",),
    tie_default=True,
    pad_default=0,
)
"""Cohere 2 keeps Cohere's norms, ties and padding; its attention is the standard one (no ``use_qk_norm``)."""

_GEMMA = Family(
    "gemma",
    "Gemma",
    head_classes("Gemma", NO_QA),
    kv_heads_default=16,
    head_dim_default=256,
    scaled_embedding=True,
    tie_default=True,
    pad_default=0,
)
GEMMA2 = replace(
    _GEMMA,
    name="gemma2",
    prefix="Gemma2",
    classes=head_classes("Gemma2", NO_QA),
    kv_heads_default=4,
    feedforward_norms=True,
    checks_head_divisibility=True,
)
"""Gemma 2 keeps Gemma's head size, scaled embedding, tied head and padding (transformers derives its modelling
code from Gemma's), adds the norms around each MLP and checks that the heads divide the width; Gemma 3 derives
from it in turn (``gemma3.py``)."""

_FAMILIES = (
    Family(
        "llama",
        "Llama",
        head_classes("Llama", ALL_HEADS),
        mlp_bias=("mlp_bias", False),
        checks_head_divisibility=True,
        question_answering_prefix="transformer",
    ),
    Family(
        "mistral",
        "Mistral",
        head_classes("Mistral", ALL_HEADS),
        kv_heads_default=8,
        qkv_bias=False,
        o_bias=False,
    ),
    Family(
        "mixtral",
        "Mixtral",
        head_classes("Mixtral", ALL_HEADS),
        mlp=_mixtral_mlp,
        kv_heads_default=8,
        qkv_bias=False,
        o_bias=False,
    ),
    Family(
        "qwen2",
        "Qwen2",
        head_classes("Qwen2", ALL_HEADS),
        kv_heads_default=32,
        qkv_bias=True,
        o_bias=False,
        question_answering_prefix="transformer",
    ),
    Family(
        "qwen2_moe",
        "Qwen2Moe",
        head_classes("Qwen2Moe", ALL_HEADS),
        mlp=_shared_expert_moe(experts=60, width=1408, shared=5632, per_token=4),
        layer_kind=_qwen_moe_kind(60),
        kv_heads_default=16,
        qkv_bias=("qkv_bias", True),
        o_bias=False,
    ),
    Family(
        "qwen3",
        "Qwen3",
        head_classes("Qwen3", ALL_HEADS),
        kv_heads_default=32,
        head_dim_default=128,
        qk_norm=True,
        question_answering_prefix="transformer",
    ),
    Family(
        "qwen3_moe",
        "Qwen3Moe",
        head_classes("Qwen3Moe", ALL_HEADS),
        mlp=_qwen3_moe_mlp,
        layer_kind=_qwen_moe_kind(128),
        kv_heads_default=4,
        qk_norm=True,
        question_answering_prefix="transformer",
    ),
    _GEMMA,
    GEMMA2,
    Family(
        "phi",
        "Phi",
        head_classes("Phi", NO_QA),
        attention=_phi_attention,
        mlp=_phi_mlp,
        layer_norm=True,
        lm_head_bias=True,
        rotary_factor_default=0.5,
        rotary_factor_always=True,
    ),
    Family(
        "phi3",
        "Phi3",
        head_classes("Phi3", NO_QA),
        attention=_phi3_attention,
        mlp=fused_gated_mlp,
        pad_default=32000,
        rotary_factor_always=True,
    ),
    Family(
        "olmo",
        "Olmo",
        head_classes("Olmo", _BASE_LM_SEQUENCE),
        norm_type="none",
        pad_default=1,
    ),
    Family(
        "olmo2",
        "Olmo2",
        head_classes("Olmo2", _BASE_LM_SEQUENCE),
        qk_norm=True,
        qk_norm_width="all_heads",
        layer_norms=lambda config: ("post_attention_layernorm", "post_feedforward_layernorm"),
        pad_default=1,
    ),
    Family(
        "olmoe",
        "Olmoe",
        head_classes("Olmoe", _BASE_LM),
        mlp=_olmoe_mlp,
        qk_norm=True,
        qk_norm_width="olmoe",
        pad_default=1,
    ),
    Family(
        "granite",
        "Granite",
        head_classes("Granite", _BASE_LM),
        mlp_bias=("mlp_bias", False),
    ),
    Family(
        "granitemoe",
        "GraniteMoe",
        head_classes("GraniteMoe", _BASE_LM),
        mlp=_granitemoe_mlp,
        mlp_last=True,
    ),
    Family(
        "starcoder2",
        "Starcoder2",
        head_classes("Starcoder2", NO_QA),
        mlp=_starcoder2_mlp,
        kv_heads_default=2,
        qkv_bias=("use_bias", True),
        o_bias=("use_bias", True),
        norm_type="layer",
        tie_default=True,
    ),
    Family(
        "stablelm",
        "StableLm",
        head_classes("StableLm", NO_QA),
        attention=_stablelm_attention,
        kv_heads_default=32,
        norm_type="layer",
        layer_norms=_stablelm_norms,
        rotary_factor_default=0.25,
        rotary_factor_always=True,
    ),
    _COHERE,
    replace(
        _COHERE,
        name="cohere2",
        prefix="Cohere2",
        classes=head_classes("Cohere2", _BASE_LM),
        attention=standard_attention,
    ),
    Family(
        "phimoe",
        "Phimoe",
        head_classes("Phimoe", _BASE_LM_SEQUENCE),
        mlp=_phimoe_mlp,
        kv_heads_default=8,
        norm_type="layer",
        lm_head_bias=("lm_head_bias", False),
    ),
    Family(
        "smollm3",
        "SmolLM3",
        head_classes("SmolLM3", ALL_HEADS),
        kv_heads_default=4,
        mlp_bias=("mlp_bias", False),
        tie_default=True,
        pad_default=128004,
        question_answering_prefix="transformer",
    ),
    Family(
        "glm4",
        "Glm4",
        head_classes("Glm4", NO_QA),
        mlp=fused_gated_mlp,
        kv_heads_default=2,
        head_dim_default=128,
        qkv_bias=("attention_bias", True),
        o_bias=False,
        layer_norms=lambda config: (
            "input_layernorm",
            "post_attention_layernorm",
            "post_self_attn_layernorm",
            "post_mlp_layernorm",
        ),
        pad_default=151329,
        rotary_factor_default=0.5,
        rotary_factor_always=True,
    ),
    Family(
        "gpt_oss",
        "GptOss",
        head_classes("GptOss", NO_QA),
        attention=_gpt_oss_attention,
        mlp=_gpt_oss_mlp,
        kv_heads_default=8,
        head_dim_default=64,
        qkv_bias=("attention_bias", True),
        o_bias=("attention_bias", True),
        rotary_factor_always=True,  # GptOssConfig's RoPE is yarn, which honours partial_rotary_factor
    ),
    Family(
        "qwen3_next",
        "Qwen3Next",
        head_classes("Qwen3Next", ALL_HEADS),
        mlp=_shared_expert_moe(experts=512, width=512, shared=512, per_token=10),
        layer_kind=_qwen3_next_kind,
        mixer=_qwen3_next_mixer,
        kv_heads_default=2,
        head_dim_default=256,
        qk_norm=True,
        rotary_factor_default=0.25,
        rotary_factor_always=True,
        question_answering_prefix="transformer",
    ),
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from paramcount.sources.hf.builders._common import Head

for _family in _FAMILIES:
    register_family(_family)

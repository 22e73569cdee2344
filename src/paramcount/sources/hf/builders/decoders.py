"""Decoder-only language models: llama and the families built like it, their MoE variants, Phi, Gemma, DeepSeek-V3.

Every builder mirrors the modelling code of ``transformers`` 5.24 (``models/<type>/modeling_<type>.py``): the
same parameter names in the same order, the same biases, norms and tied head, so the tree can be compared
name by name with the model transformers builds on the meta device. Most families share one shape (embedding,
a stack of attention + MLP blocks, a final norm, a head) and differ in small ways that a ``_Family`` row
states as data: bias flags, q/k norms, Gemma's extra norms and scaled embedding, which MLP each layer gets.

Keys and defaults: the five keys that size a model (``hidden_size``, ``intermediate_size``,
``num_hidden_layers``, ``num_attention_heads``, ``vocab_size``) are required; a config without them is refused
with the key named, where transformers would silently use its reference model's values. Every other key
(``num_key_value_heads``, ``head_dim``, ``tie_word_embeddings``, biases, expert counts …) takes the default of
that family's transformers config class, because published configs rely on those defaults. Gemma 3's nested
``text_config`` and ``vision_config`` are the exception: the published multimodal configs omit even the size
keys there, so those take transformers' defaults too.

Identical consecutive layers are one child with ``repeat``; layers that differ (dense and MoE) are separate
runs. Buffers are modelled as transformers registers them: the rotary ``inv_freq`` / ``original_inv_freq``
(non-persistent), Gemma's scalar ``embed_scale`` and DeepSeek-V3's router ``e_score_correction_bias``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Literal

from paramcount.sources.hf._config import Config
from paramcount.sources.hf._registry import model_type
from paramcount.sources.hf.builders._common import (
    check_divisible,
    check_padding_index,
    config_flag,
    embedding,
    experts,
    layer_norm,
    linear,
    module,
    num_labels,
    rms_norm,
    stack,
    tied_linear,
)
from paramcount.tree import Buffer, Dim, Module, Param

__all__: list[str] = []

_Head = Literal["base", "causal_lm", "sequence_classification", "token_classification", "question_answering"]
_Flag = bool | tuple[str, bool]
"""A bias switch: fixed by the modelling code, or ``(config key, default)``."""

_ALL_HEADS: tuple[_Head, ...] = ("causal_lm", "sequence_classification", "token_classification", "question_answering")
_NO_QA: tuple[_Head, ...] = ("causal_lm", "sequence_classification", "token_classification")


@dataclass(frozen=True, slots=True)
class _Sizes:
    """The sizes every block reads, as Dims named by their config keys."""

    hidden: Dim
    vocab: Dim
    intermediate: Dim
    heads: Dim
    kv_heads: Dim
    head_dim: Dim
    layers: int


@dataclass(frozen=True, slots=True)
class _Family:
    """What one ``model_type`` changes in the shared decoder shape (defaults from its transformers config)."""

    name: str
    prefix: str
    """Class-name prefix: ``Llama`` → ``LlamaAttention``, ``LlamaRMSNorm`` …"""
    classes: tuple[tuple[str, _Head], ...]
    attention: Callable[[_Family, Config, _Sizes], Module]
    mlp: Callable[[_Family, Config, _Sizes, str], Module]
    layer_kind: Callable[[Config, int], Iterator[str]] = lambda config, count: itertools.repeat("dense", count)
    kv_heads_default: int | None = None
    """Absent ``num_key_value_heads``: this number, or ``num_attention_heads`` when None."""
    head_dim_default: int | None = None
    """Absent ``head_dim``: this number, or ``hidden_size/num_attention_heads`` when None."""
    qkv_bias: _Flag = ("attention_bias", False)
    o_bias: _Flag = ("attention_bias", False)
    mlp_bias: _Flag = False
    qk_norm: bool = False
    feedforward_norms: bool = False
    """Gemma 2/3: ``pre_feedforward_layernorm`` and ``post_feedforward_layernorm`` in every layer."""
    scaled_embedding: bool = False
    """Gemma: the embedding multiplies by sqrt(hidden_size), held in an ``embed_scale`` buffer."""
    layer_norm: bool = False
    """Phi: ``nn.LayerNorm`` (with bias) instead of RMSNorm, one per layer, ``final_layernorm`` at the end."""
    lm_head_bias: bool = False
    tie_default: bool = False
    pad_default: int | None = None
    checks_head_divisibility: bool = False
    """transformers' ``validate_architecture`` refuses hidden_size not divisible by num_attention_heads."""
    rotary_factor_default: float = 1.0
    rotary_factor_always: bool = False
    """Whether the default RoPE honours ``partial_rotary_factor`` (Phi's and Phi-3's do; llama's does not)."""
    question_answering_prefix: str = "model"
    """Where ``XForQuestionAnswering`` keeps the base model: ``transformer`` for llama/qwen2/qwen3 (kept for BC)."""


def _switch(config: Config, key: str, default: bool) -> bool:
    """A switch the family's config class declares as ``bool``: its strict validation refuses null, and so do we."""
    if key in config.data and config.data[key] is None:
        raise config.fail(key, f"'{config.path(key)}' must be true or false, got None")
    return config.flag(key, default)


def _flag(config: Config, flag: _Flag) -> bool:
    return flag if isinstance(flag, bool) else _switch(config, flag[0], flag[1])


def _classes(prefix: str, heads: tuple[_Head, ...]) -> tuple[tuple[str, _Head], ...]:
    suffixes = {
        "causal_lm": "ForCausalLM",
        "sequence_classification": "ForSequenceClassification",
        "token_classification": "ForTokenClassification",
        "question_answering": "ForQuestionAnswering",
    }
    return ((f"{prefix}Model", "base"), *((f"{prefix}{suffixes[head]}", head) for head in heads))


# --- sizes -----------------------------------------------------------------------------------------------------


def _optional_size(config: Config, key: str, *, absent: int, null: int) -> int:
    """A size whose absence and whose explicit ``null`` mean different things to transformers."""
    if key in config.data and config.data[key] is None:
        return null
    return config.size(key, absent)


def _sizes(family: _Family, config: Config) -> _Sizes:
    hidden = Dim.of(config.size("hidden_size"), "hidden_size")
    heads = Dim.of(config.size("num_attention_heads"), "num_attention_heads")
    if family.checks_head_divisibility:
        check_divisible(config, hidden, heads)
    kv_absent = heads.value if family.kv_heads_default is None else family.kv_heads_default
    kv_heads = _optional_size(config, "num_key_value_heads", absent=kv_absent, null=heads.value)
    derived = hidden // heads
    if config.has("head_dim") or family.head_dim_default is not None:
        head_dim = Dim.of(config.size("head_dim", family.head_dim_default), "head_dim")
    else:
        head_dim = derived
    return _Sizes(
        hidden=hidden,
        vocab=Dim.of(config.size("vocab_size"), "vocab_size"),
        intermediate=Dim.of(config.size("intermediate_size", minimum=0), "intermediate_size"),
        heads=heads,
        kv_heads=Dim.of(kv_heads, "num_key_value_heads"),
        head_dim=head_dim,
        layers=config.layers("num_hidden_layers"),
    )


def _check_layer_types(config: Config, layers: int) -> None:
    """transformers refuses a ``layer_types`` list whose length is not ``num_hidden_layers``."""
    layer_types = config.raw("layer_types")
    if isinstance(layer_types, list) and len(layer_types) != layers:
        raise config.fail(
            "layer_types",
            f"'{config.path('layer_types')}' lists {len(layer_types)} layers but "
            f"'{config.path('num_hidden_layers')}' is {layers}",
        )


# --- attention -------------------------------------------------------------------------------------------------


def _norm(family: _Family, name: str, width: Dim) -> Module:
    if family.layer_norm:
        return layer_norm(name, width)
    return rms_norm(name, width, f"{family.prefix}RMSNorm")


def _standard_attention(family: _Family, config: Config, sizes: _Sizes) -> Module:
    """q/k/v/o projections with grouped key/value heads (``LlamaAttention`` and its copies)."""
    qkv_bias, o_bias = _flag(config, family.qkv_bias), _flag(config, family.o_bias)
    queries, keys = sizes.heads * sizes.head_dim, sizes.kv_heads * sizes.head_dim
    children = [
        linear("q_proj", sizes.hidden, queries, bias=qkv_bias),
        linear("k_proj", sizes.hidden, keys, bias=qkv_bias),
        linear("v_proj", sizes.hidden, keys, bias=qkv_bias),
        linear("o_proj", queries, sizes.hidden, bias=o_bias),
    ]
    if family.qk_norm:
        children += [_norm(family, "q_norm", sizes.head_dim), _norm(family, "k_norm", sizes.head_dim)]
    return module("self_attn", f"{family.prefix}Attention", *children)


def _phi_attention(family: _Family, config: Config, sizes: _Sizes) -> Module:
    """Phi: biased q/k/v and ``dense``; optional LayerNorms over hidden_size/num_attention_heads."""
    queries, keys = sizes.heads * sizes.head_dim, sizes.kv_heads * sizes.head_dim
    children = [
        linear("q_proj", sizes.hidden, queries, bias=True),
        linear("k_proj", sizes.hidden, keys, bias=True),
        linear("v_proj", sizes.hidden, keys, bias=True),
        linear("dense", queries, sizes.hidden, bias=True),
    ]
    if _switch(config, "qk_layernorm", False):
        width = sizes.hidden // sizes.heads
        children += [layer_norm("q_layernorm", width), layer_norm("k_layernorm", width)]
    return module("self_attn", "PhiAttention", *children)


def _phi3_attention(family: _Family, config: Config, sizes: _Sizes) -> Module:
    """Phi-3: ``o_proj`` first, then one fused ``qkv_proj``; no biases."""
    queries, keys = sizes.heads * sizes.head_dim, sizes.kv_heads * sizes.head_dim
    return module(
        "self_attn",
        "Phi3Attention",
        linear("o_proj", queries, sizes.hidden, bias=False),
        linear("qkv_proj", sizes.hidden, queries + 2 * keys, bias=False),
    )


def _mla_attention(family: _Family, config: Config, sizes: _Sizes) -> Module:
    """DeepSeek-V3's multi-head latent attention: low-rank query (unless ``q_lora_rank`` is null) and key/value."""
    bias = _switch(config, "attention_bias", False)
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
            _norm(family, "q_a_layernorm", q_rank),
            linear("q_b_proj", q_rank, queries, bias=False),
        ]
    return module(
        "self_attn",
        "DeepseekV3Attention",
        *query,
        linear("kv_a_proj_with_mqa", sizes.hidden, kv_rank + rope, bias=bias),
        _norm(family, "kv_a_layernorm", kv_rank),
        linear("kv_b_proj", kv_rank, sizes.heads * (nope + value), bias=False),
        linear("o_proj", sizes.heads * value, sizes.hidden, bias=bias),
    )


# --- feed-forward ----------------------------------------------------------------------------------------------


def _gated(name: str, kind: str, hidden: Dim, width: Dim, *, bias: bool = False) -> Module:
    """``gate_proj``/``up_proj``/``down_proj``: the SwiGLU/GeGLU MLP of llama and most of its relatives."""
    return module(
        name,
        kind,
        linear("gate_proj", hidden, width, bias=bias),
        linear("up_proj", hidden, width, bias=bias),
        linear("down_proj", width, hidden, bias=bias),
    )


def _dense_mlp(family: _Family, config: Config, sizes: _Sizes, kind: str) -> Module:
    bias = _flag(config, family.mlp_bias)
    return _gated("mlp", f"{family.prefix}MLP", sizes.hidden, sizes.intermediate, bias=bias)


def _phi_mlp(family: _Family, config: Config, sizes: _Sizes, kind: str) -> Module:
    return module(
        "mlp",
        "PhiMLP",
        linear("fc1", sizes.hidden, sizes.intermediate, bias=True),
        linear("fc2", sizes.intermediate, sizes.hidden, bias=True),
    )


def _phi3_mlp(family: _Family, config: Config, sizes: _Sizes, kind: str) -> Module:
    return module(
        "mlp",
        "Phi3MLP",
        linear("gate_up_proj", sizes.hidden, 2 * sizes.intermediate, bias=False),
        linear("down_proj", sizes.intermediate, sizes.hidden, bias=False),
    )


def _fused_experts(kind: str, count: Dim, per_token: int, hidden: Dim, width: Dim) -> Module:
    """transformers 5 stores the experts fused: ``gate_up_proj (E, 2·width, hidden)``, ``down_proj (E, hidden,
    width)``."""
    params = (Param("gate_up_proj", (count, 2 * width, hidden)), Param("down_proj", (count, hidden, width)))
    return experts(module("experts", kind, params=params), count.value, per_token)


def _router(kind: str, count: Dim, hidden: Dim, buffers: tuple[Buffer, ...] = ()) -> Module:
    return module("gate", kind, params=(Param("weight", (count, hidden)),), buffers=buffers)


def _mixtral_mlp(family: _Family, config: Config, sizes: _Sizes, kind: str) -> Module:
    count = Dim.of(config.layers("num_local_experts", 8), "num_local_experts")
    per_token = config.layers("num_experts_per_tok", 2)
    return module(
        "mlp",
        "MixtralSparseMoeBlock",
        _router("MixtralTopKRouter", count, sizes.hidden),
        _fused_experts("MixtralExperts", count, per_token, sizes.hidden, sizes.intermediate),
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


def _qwen2_moe_mlp(family: _Family, config: Config, sizes: _Sizes, kind: str) -> Module:
    if kind == "dense":
        return _gated("mlp", "Qwen2MoeMLP", sizes.hidden, sizes.intermediate)
    count = Dim.of(config.layers("num_experts", 60), "num_experts")
    width = Dim.of(config.size("moe_intermediate_size", 1408, minimum=0), "moe_intermediate_size")
    shared = Dim.of(config.size("shared_expert_intermediate_size", 5632, minimum=0), "shared_expert_intermediate_size")
    return module(
        "mlp",
        "Qwen2MoeSparseMoeBlock",
        _router("Qwen2MoeTopKRouter", count, sizes.hidden),
        _fused_experts("Qwen2MoeExperts", count, config.layers("num_experts_per_tok", 4), sizes.hidden, width),
        _gated("shared_expert", "Qwen2MoeMLP", sizes.hidden, shared),
        linear("shared_expert_gate", sizes.hidden, Dim.constant(1), bias=False),
    )


def _qwen3_moe_mlp(family: _Family, config: Config, sizes: _Sizes, kind: str) -> Module:
    if kind == "dense":
        return _gated("mlp", "Qwen3MoeMLP", sizes.hidden, sizes.intermediate)
    count = Dim.of(config.layers("num_experts", 128), "num_experts")
    width = Dim.of(config.size("moe_intermediate_size", 768, minimum=0), "moe_intermediate_size")
    return module(
        "mlp",
        "Qwen3MoeSparseMoeBlock",
        _fused_experts("Qwen3MoeExperts", count, config.layers("num_experts_per_tok", 8), sizes.hidden, width),
        _router("Qwen3MoeTopKRouter", count, sizes.hidden),
    )


def _deepseek_kind(config: Config, count: int) -> Iterator[str]:
    """DeepSeek-V3: the first ``first_k_dense_replace`` layers are dense, the rest MoE. transformers 5.24 does not
    read ``moe_layer_freq`` (1 in every published config), so neither do we."""
    dense = config.layers("first_k_dense_replace", 3)
    for index in range(count):
        yield "moe" if index >= dense else "dense"


def _deepseek_mlp(family: _Family, config: Config, sizes: _Sizes, kind: str) -> Module:
    if kind == "dense":
        return _gated("mlp", "DeepseekV3MLP", sizes.hidden, sizes.intermediate)
    count = Dim.of(config.layers("n_routed_experts", 256), "n_routed_experts")
    width = Dim.of(config.size("moe_intermediate_size", 2048, minimum=0), "moe_intermediate_size")
    shared = width * Dim.of(config.layers("n_shared_experts", 1), "n_shared_experts")
    correction = Buffer("e_score_correction_bias", (count,))
    return module(
        "mlp",
        "DeepseekV3MoE",
        _fused_experts("DeepseekV3Experts", count, config.layers("num_experts_per_tok", 8), sizes.hidden, width),
        _router("DeepseekV3TopkRouter", count, sizes.hidden, (correction,)),
        _gated("shared_experts", "DeepseekV3MLP", sizes.hidden, shared),
    )


# --- the model -------------------------------------------------------------------------------------------------


def _decoder_layer(family: _Family, config: Config, sizes: _Sizes, kind: str) -> Module:
    children = [family.attention(family, config, sizes), family.mlp(family, config, sizes, kind)]
    names = ["input_layernorm"] if family.layer_norm else ["input_layernorm", "post_attention_layernorm"]
    if family.feedforward_norms:
        names += ["pre_feedforward_layernorm", "post_feedforward_layernorm"]
    children += [_norm(family, name, sizes.hidden) for name in names]
    return module("0", f"{family.prefix}DecoderLayer", *children)


def _layers(family: _Family, config: Config, sizes: _Sizes) -> Module:
    """The ModuleList: one child per run of identical consecutive layers, each built once."""
    built: dict[str, Module] = {}
    children: list[Module] = []
    start = 0
    for kind, run in itertools.groupby(family.layer_kind(config, sizes.layers)):
        count = sum(1 for _ in run)
        if kind not in built:
            built[kind] = _decoder_layer(family, config, sizes, kind)
        children.append(replace(built[kind], name=str(start), repeat=count))
        start += count
    return Module(name="layers", kind="ModuleList", children=tuple(children))


def _rotary_length(family: _Family, config: Config, head_dim: int, symbol: str = "head_dim") -> Dim:
    """Length of RoPE's ``inv_freq``: ``arange(0, dim, 2)`` with ``dim = int(head_dim · partial_rotary_factor)``.

    The factor comes from ``rope_scaling``/``rope_parameters``, else the top-level key, else the family default;
    the default RoPE of most families ignores it (only non-default rope types and Phi/Phi-3 apply it)."""
    rope = config.raw("rope_scaling") or config.raw("rope_parameters")
    rope = rope if isinstance(rope, dict) else {}
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    factor = rope.get("partial_rotary_factor", config.raw("partial_rotary_factor", family.rotary_factor_default))
    if not isinstance(factor, int | float) or isinstance(factor, bool) or not 0 < factor <= 1:
        factor = 1.0
    if rope_type == "default" and not family.rotary_factor_always:
        factor = 1.0
    dim = int(head_dim * factor)
    label = f"{symbol}/2" if factor == 1 else f"partial_rotary_factor·{symbol}/2"
    return Dim.of((dim + 1) // 2, label)


def _rotary(family: _Family, config: Config, sizes: _Sizes) -> Module:
    """``rotary_emb`` holds only non-persistent buffers (Gemma 3: one pair per attention type in use)."""
    if family.name == "deepseek_v3":
        length = _rotary_length(family, config, config.size("qk_rope_head_dim", 64), "qk_rope_head_dim")
    else:
        length = _rotary_length(family, config, sizes.head_dim.value)
    if family.name == "gemma3_text":
        prefixes = [f"{layer_type}_" for layer_type in _gemma3_layer_types(config, sizes.layers)]
    else:
        prefixes = [""]
    buffers = tuple(
        Buffer(f"{prefix}{name}", (length,), persistent=False)
        for prefix in prefixes
        for name in ("inv_freq", "original_inv_freq")
    )
    return module("rotary_emb", f"{family.prefix}RotaryEmbedding", buffers=buffers)


def _gemma3_layer_types(config: Config, layers: int) -> list[str]:
    listed = config.raw("layer_types")
    if isinstance(listed, list) and all(isinstance(item, str) for item in listed):
        return sorted(set(listed))
    pattern = config.size("sliding_window_pattern", 6)
    return sorted({"sliding_attention" if (index + 1) % pattern else "full_attention" for index in range(layers)})


def _embed_tokens(family: _Family, sizes: _Sizes) -> Module:
    table = embedding("embed_tokens", sizes.vocab, sizes.hidden)
    if not family.scaled_embedding:
        return table
    scale = Buffer("embed_scale", (), persistent=False)
    return replace(table, kind=f"{family.prefix}TextScaledWordEmbedding", buffers=(scale,))


def _base_model(family: _Family, config: Config, sizes: _Sizes, kind: str) -> Module:
    if config.has("per_layer_config"):  # transformers 5's per-layer overrides: refused rather than miscounted
        raise config.fail(
            "per_layer_config", f"'{config.path('per_layer_config')}' (per-layer overrides) is not supported"
        )
    _check_layer_types(config, sizes.layers)
    check_padding_index(config, family.pad_default, sizes.vocab)
    embed, layers, rotary = _embed_tokens(family, sizes), _layers(family, config, sizes), _rotary(family, config, sizes)
    if family.layer_norm:  # Phi registers rotary_emb before final_layernorm
        return module("model", kind, embed, layers, rotary, layer_norm("final_layernorm", sizes.hidden))
    return module("model", kind, embed, layers, _norm(family, "norm", sizes.hidden), rotary)


def _head(family: _Family, config: Config, sizes: _Sizes, head: _Head) -> Module:
    if head == "causal_lm":
        if _switch(config, "tie_word_embeddings", family.tie_default):
            return tied_linear(
                "lm_head", sizes.hidden, sizes.vocab, "model.embed_tokens.weight", bias=family.lm_head_bias
            )
        return linear("lm_head", sizes.hidden, sizes.vocab, bias=family.lm_head_bias)
    if head == "sequence_classification":
        return linear("score", sizes.hidden, num_labels(config), bias=False)
    if head == "token_classification":
        return linear(
            "score", sizes.hidden, num_labels(config), bias=config_flag(config, "token_classification_bias", True)
        )
    return linear("qa_outputs", sizes.hidden, Dim.constant(2), bias=True)


def _build(family: _Family, config: Config, architecture: str) -> Module:
    head = dict(family.classes)[architecture]
    sizes = _sizes(family, config)
    base_kind = family.classes[0][0]
    base = _base_model(family, config, sizes, base_kind)
    if head == "base":
        return base
    if head == "question_answering":
        base = base.renamed(family.question_answering_prefix)
    return module("", architecture, base, _head(family, config, sizes, head))


def _register(family: _Family) -> None:
    names = tuple(name for name, _ in family.classes)

    def build(config: Config, architecture: str) -> Module:
        return _build(family, config, architecture)

    model_type(family.name, architectures=names, default=f"{family.prefix}ForCausalLM")(build)


_FAMILIES = (
    _Family(
        "llama",
        "Llama",
        _classes("Llama", _ALL_HEADS),
        _standard_attention,
        _dense_mlp,
        mlp_bias=("mlp_bias", False),
        checks_head_divisibility=True,
        question_answering_prefix="transformer",
    ),
    _Family(
        "mistral",
        "Mistral",
        _classes("Mistral", _ALL_HEADS),
        _standard_attention,
        _dense_mlp,
        kv_heads_default=8,
        qkv_bias=False,
        o_bias=False,
    ),
    _Family(
        "mixtral",
        "Mixtral",
        _classes("Mixtral", _ALL_HEADS),
        _standard_attention,
        _mixtral_mlp,
        kv_heads_default=8,
        qkv_bias=False,
        o_bias=False,
    ),
    _Family(
        "qwen2",
        "Qwen2",
        _classes("Qwen2", _ALL_HEADS),
        _standard_attention,
        _dense_mlp,
        kv_heads_default=32,
        qkv_bias=True,
        o_bias=False,
        question_answering_prefix="transformer",
    ),
    _Family(
        "qwen2_moe",
        "Qwen2Moe",
        _classes("Qwen2Moe", _ALL_HEADS),
        _standard_attention,
        _qwen2_moe_mlp,
        layer_kind=_qwen_moe_kind(60),
        kv_heads_default=16,
        qkv_bias=("qkv_bias", True),
        o_bias=False,
    ),
    _Family(
        "qwen3",
        "Qwen3",
        _classes("Qwen3", _ALL_HEADS),
        _standard_attention,
        _dense_mlp,
        kv_heads_default=32,
        head_dim_default=128,
        qk_norm=True,
        question_answering_prefix="transformer",
    ),
    _Family(
        "qwen3_moe",
        "Qwen3Moe",
        _classes("Qwen3Moe", _ALL_HEADS),
        _standard_attention,
        _qwen3_moe_mlp,
        layer_kind=_qwen_moe_kind(128),
        kv_heads_default=4,
        qk_norm=True,
        question_answering_prefix="transformer",
    ),
    _Family(
        "gemma",
        "Gemma",
        _classes("Gemma", _NO_QA),
        _standard_attention,
        _dense_mlp,
        kv_heads_default=16,
        head_dim_default=256,
        scaled_embedding=True,
        tie_default=True,
        pad_default=0,
    ),
    _Family(
        "gemma2",
        "Gemma2",
        _classes("Gemma2", _NO_QA),
        _standard_attention,
        _dense_mlp,
        kv_heads_default=4,
        head_dim_default=256,
        feedforward_norms=True,
        scaled_embedding=True,
        tie_default=True,
        pad_default=0,
        checks_head_divisibility=True,
    ),
    _Family(
        "gemma3_text",
        "Gemma3",
        (
            ("Gemma3TextModel", "base"),
            ("Gemma3ForCausalLM", "causal_lm"),
            ("Gemma3TextForSequenceClassification", "sequence_classification"),
        ),
        _standard_attention,
        _dense_mlp,
        kv_heads_default=4,
        head_dim_default=256,
        qk_norm=True,
        feedforward_norms=True,
        scaled_embedding=True,
        tie_default=True,
        pad_default=0,
        checks_head_divisibility=True,
    ),
    _Family(
        "phi",
        "Phi",
        _classes("Phi", _NO_QA),
        _phi_attention,
        _phi_mlp,
        layer_norm=True,
        lm_head_bias=True,
        rotary_factor_default=0.5,
        rotary_factor_always=True,
    ),
    _Family(
        "phi3",
        "Phi3",
        _classes("Phi3", _NO_QA),
        _phi3_attention,
        _phi3_mlp,
        pad_default=32000,
        rotary_factor_always=True,
    ),
    _Family(
        "deepseek_v3",
        "DeepseekV3",
        _classes("DeepseekV3", _NO_QA),
        _mla_attention,
        _deepseek_mlp,
        layer_kind=_deepseek_kind,
        kv_heads_default=128,
    ),
)

for _family in _FAMILIES:
    _register(_family)


# --- Gemma 3 with its SigLIP vision tower (model_type "gemma3") -----------------------------------------------

_GEMMA3_TEXT_DEFAULTS = {
    "vocab_size": 262_208,
    "hidden_size": 2304,
    "intermediate_size": 9216,
    "num_hidden_layers": 26,
    "num_attention_heads": 8,
}
"""``Gemma3TextConfig``'s defaults for the size keys, which published ``gemma3`` configs leave out."""

_SIGLIP_VISION_DEFAULTS = {
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "num_channels": 3,
    "image_size": 224,
    "patch_size": 16,
}
"""``SiglipVisionConfig``'s defaults."""

_GEMMA3_TEXT = next(family for family in _FAMILIES if family.name == "gemma3_text")


def _defaulted(config: Config, key: str, defaults: dict[str, int], kind: str) -> Config:
    """The nested config ``key`` over transformers' defaults (an absent or null sub-config is all defaults)."""
    data = config.sub(key).data if config.has(key) else {}
    return Config({**defaults, **data}, kind, config.source, f"{config.path(key)}.")


def _siglip_vision_tower(config: Config) -> Module:
    """``SiglipVisionModel``: patch embedding, pre-norm encoder layers, post-norm, optional attention-pooling head."""
    if config.text("model_type", "siglip_vision_model") != "siglip_vision_model":
        raise config.fail("model_type", f"'{config.path('model_type')}' must be 'siglip_vision_model' for gemma3")
    hidden = Dim.of(config.size("hidden_size"), "hidden_size")
    check_divisible(config, hidden, Dim.of(config.size("num_attention_heads"), "num_attention_heads"))
    width = Dim.of(config.size("intermediate_size"), "intermediate_size")
    patch = Dim.of(config.size("patch_size"), "patch_size")
    side = config.size("image_size") // patch.value
    positions = Dim.of(side * side, "(image_size/patch_size)²")
    channels = Dim.of(config.size("num_channels"), "num_channels")
    patches = Module(
        name="patch_embedding",
        kind="Conv2d",
        params=(Param("weight", (hidden, channels, patch, patch)), Param("bias", (hidden,))),
    )
    position_ids = Buffer("position_ids", (Dim.constant(1), positions), dtype="int64", persistent=False)
    embeddings = module(
        "embeddings",
        "SiglipVisionEmbeddings",
        patches,
        embedding("position_embedding", positions, hidden),
        buffers=(position_ids,),
    )
    layers = stack("layers", _siglip_layer(hidden, width), config.layers("num_hidden_layers"))
    encoder = module("encoder", "SiglipEncoder", layers)
    children = [embeddings, encoder, layer_norm("post_layernorm", hidden)]
    if _switch(config, "vision_use_head", True):
        children.append(_siglip_pooling_head(hidden, width))
    return module("vision_tower", "SiglipVisionModel", *children)


def _siglip_layer(hidden: Dim, width: Dim) -> Module:
    """Pre-norm encoder layer; SigLIP's attention registers k, v, q, then out."""
    projections = (linear(name, hidden, hidden, bias=True) for name in ("k_proj", "v_proj", "q_proj", "out_proj"))
    return module(
        "0",
        "SiglipEncoderLayer",
        layer_norm("layer_norm1", hidden),
        module("self_attn", "SiglipAttention", *projections),
        layer_norm("layer_norm2", hidden),
        _siglip_mlp(hidden, width),
    )


def _siglip_mlp(hidden: Dim, width: Dim) -> Module:
    return module("mlp", "SiglipMLP", linear("fc1", hidden, width, bias=True), linear("fc2", width, hidden, bias=True))


def _siglip_pooling_head(hidden: Dim, width: Dim) -> Module:
    """A learned probe attending over the patches with ``nn.MultiheadAttention`` (packed q/k/v)."""
    attention = Module(
        name="attention",
        kind="MultiheadAttention",
        params=(Param("in_proj_weight", (3 * hidden, hidden)), Param("in_proj_bias", (3 * hidden,))),
        children=(linear("out_proj", hidden, hidden, bias=True, kind="NonDynamicallyQuantizableLinear"),),
    )
    probe = Param("probe", (Dim.constant(1), Dim.constant(1), hidden))
    return module(
        "head",
        "SiglipMultiheadAttentionPoolingHead",
        attention,
        layer_norm("layernorm", hidden),
        _siglip_mlp(hidden, width),
        params=(probe,),
    )


def _gemma3_multimodal(config: Config, kind: str) -> tuple[Module, _Sizes]:
    """``Gemma3Model``: vision tower, projector into the text width, the Gemma 3 text model."""
    text = _defaulted(config, "text_config", _GEMMA3_TEXT_DEFAULTS, "gemma3_text")
    vision = _defaulted(config, "vision_config", _SIGLIP_VISION_DEFAULTS, "siglip_vision_model")
    sizes = _sizes(_GEMMA3_TEXT, text)
    tower = _siglip_vision_tower(vision)
    vision_hidden = Dim.of(vision.size("hidden_size"), "vision_config.hidden_size")
    text_hidden = Dim.of(sizes.hidden.value, "text_config.hidden_size")
    projector = module(
        "multi_modal_projector",
        "Gemma3MultiModalProjector",
        rms_norm("mm_soft_emb_norm", vision_hidden, "Gemma3RMSNorm"),
        params=(Param("mm_input_projection_weight", (vision_hidden, text_hidden)),),
    )
    language = _base_model(_GEMMA3_TEXT, text, sizes, "Gemma3TextModel").renamed("language_model")
    return module("model", kind, tower, projector, language), sizes


@model_type(
    "gemma3",
    architectures=("Gemma3Model", "Gemma3ForConditionalGeneration", "Gemma3ForSequenceClassification"),
    default="Gemma3ForConditionalGeneration",
)
def gemma3(config: Config, architecture: str) -> Module:
    """Gemma 3 with images (``Gemma3ForConditionalGeneration``); text-only checkpoints use ``gemma3_text``."""
    base, sizes = _gemma3_multimodal(config, "Gemma3Model")
    if architecture == "Gemma3Model":
        return base
    if architecture == "Gemma3ForSequenceClassification":
        return module("", architecture, base, linear("score", sizes.hidden, num_labels(config), bias=False))
    if config_flag(config, "tie_word_embeddings", True):  # Gemma3Config: ``bool | None``, null unties
        head = tied_linear("lm_head", sizes.hidden, sizes.vocab, "model.language_model.embed_tokens.weight")
    else:
        head = linear("lm_head", sizes.hidden, sizes.vocab, bias=False)
    return module("", architecture, base, head)

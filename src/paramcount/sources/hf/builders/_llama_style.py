"""The decoder shape llama and the families built like it share: an embedding, a stack of attention + MLP blocks,
a final norm, a head. Each family states how it differs as a ``Family`` row (bias flags, q/k norms, Gemma's
extra norms and scaled embedding, which MLP each layer gets); ``register_family`` turns a row into a builder.

Every builder mirrors the modelling code of ``transformers`` 5.24 (``models/<type>/modeling_<type>.py``): the
same parameter names in the same order, the same biases, norms and tied head, so the tree can be compared
name by name with the model transformers builds on the meta device.

Keys and defaults: the five keys that size a model (``hidden_size``, ``intermediate_size``,
``num_hidden_layers``, ``num_attention_heads``, ``vocab_size``) are required; a config without them is refused
with the key named, where transformers would silently use its reference model's values. Every other key
(``num_key_value_heads``, ``head_dim``, ``tie_word_embeddings``, biases, expert counts …) takes the default of
that family's transformers config class, because published configs rely on those defaults.

Identical consecutive layers are one child with ``repeat``; layers that differ (dense and MoE) are separate
runs. Buffers are modelled as transformers registers them: the rotary ``inv_freq`` / ``original_inv_freq``
(non-persistent) and Gemma's scalar ``embed_scale``.
"""

from __future__ import annotations

import itertools

from paramcount._record import Record, replace
from paramcount.sources.hf._config import Config
from paramcount.sources.hf._registry import model_type
from paramcount.sources.hf.builders._common import (
    LinearHead,
    check_divisible,
    check_padding_index,
    class_names,
    embedding,
    experts,
    layer_norm,
    linear,
    linear_head,
    module,
    qkv_projections,
    rms_norm,
    tied_linear,
)
from paramcount.tree import Buffer, Dim, Module, Param

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Final, Literal

    from paramcount.sources.hf.builders._common import Head

__all__ = [
    "ALL_HEADS",
    "NO_QA",
    "TASK_HEADS",
    "Family",
    "Flag",
    "Sizes",
    "base_model",
    "dense_mlp",
    "first_dense",
    "fused_experts",
    "fused_gated_mlp",
    "gated_mlp",
    "norm",
    "read_sizes",
    "register_family",
    "router",
    "standard_attention",
    "switch",
]

Flag = bool | tuple[str, bool]
"""A bias switch: fixed by the modelling code, or ``(config key, default)``."""

ALL_HEADS: tuple[Head, ...] = ("causal_lm", "sequence_classification", "token_classification", "question_answering")
NO_QA: tuple[Head, ...] = ("causal_lm", "sequence_classification", "token_classification")


class Sizes(Record):
    """The sizes every block reads, as Dims named by their config keys."""

    hidden: Dim
    vocab: Dim
    intermediate: Dim
    heads: Dim
    kv_heads: Dim
    head_dim: Dim
    layers: int


def switch(config: Config, key: str, default: bool) -> bool:
    """A switch the family's config class declares as ``bool``: its strict validation refuses null, and so do we."""
    if key in config.data and config.data[key] is None:
        raise config.fail(key, f"'{config.path(key)}' must be true or false, got None")
    return config.flag(key, default)


def _flag(config: Config, flag: Flag) -> bool:
    return flag if isinstance(flag, bool) else switch(config, flag[0], flag[1])


# --- sizes -----------------------------------------------------------------------------------------------------


def _optional_size(config: Config, key: str, *, absent: int, null: int) -> int:
    """A size whose absence and whose explicit ``null`` mean different things to transformers."""
    if key in config.data and config.data[key] is None:
        return null
    return config.size(key, absent)


def read_sizes(family: Family, config: Config) -> Sizes:
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
    return Sizes(
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


def norm(family: Family, name: str, width: Dim) -> Module:
    if family.layer_norm or family.norm_type == "layer":
        return layer_norm(name, width)
    if family.norm_type == "weight":
        return rms_norm(name, width, f"{family.prefix}LayerNorm")
    if family.norm_type == "none":
        return module(name, f"{family.prefix}LayerNorm")
    return rms_norm(name, width, f"{family.prefix}RMSNorm")


def _qk_norms(family: Family, sizes: Sizes) -> list[Module]:
    if family.qk_norm_width == "all_heads":
        widths = (sizes.heads * sizes.head_dim, sizes.kv_heads * sizes.head_dim)
    elif family.qk_norm_width == "olmoe":
        widths = (sizes.hidden, sizes.hidden // sizes.heads * sizes.kv_heads)
    else:
        widths = (sizes.head_dim, sizes.head_dim)
    return [norm(family, "q_norm", widths[0]), norm(family, "k_norm", widths[1])]


def standard_attention(family: Family, config: Config, sizes: Sizes) -> Module:
    """q/k/v/o projections with grouped key/value heads (``LlamaAttention`` and its copies)."""
    qkv_bias, o_bias = _flag(config, family.qkv_bias), _flag(config, family.o_bias)
    queries, keys = sizes.heads * sizes.head_dim, sizes.kv_heads * sizes.head_dim
    children = [
        *qkv_projections(sizes.hidden, queries, keys, bias=qkv_bias),
        linear("o_proj", queries, sizes.hidden, bias=o_bias),
    ]
    if _flag(config, family.qk_norm):
        children += _qk_norms(family, sizes)
    return module("self_attn", f"{family.prefix}Attention", *children)


# --- feed-forward ----------------------------------------------------------------------------------------------


def gated_mlp(name: str, kind: str, hidden: Dim, width: Dim, *, bias: bool = False) -> Module:
    """``gate_proj``/``up_proj``/``down_proj``: the SwiGLU/GeGLU MLP of llama and most of its relatives."""
    projections = (linear(projection, hidden, width, bias=bias) for projection in ("gate_proj", "up_proj"))
    return module(name, kind, *projections, linear("down_proj", width, hidden, bias=bias))


def dense_mlp(family: Family, config: Config, sizes: Sizes, kind: str) -> Module:
    bias = _flag(config, family.mlp_bias)
    return gated_mlp("mlp", f"{family.prefix}MLP", sizes.hidden, sizes.intermediate, bias=bias)


def fused_gated_mlp(family: Family, config: Config, sizes: Sizes, kind: str) -> Module:
    """The gated MLP with gate and up fused in one ``gate_up_proj`` (Phi-3, GLM-4); no biases."""
    return module(
        "mlp",
        f"{family.prefix}MLP",
        linear("gate_up_proj", sizes.hidden, 2 * sizes.intermediate, bias=False),
        linear("down_proj", sizes.intermediate, sizes.hidden, bias=False),
    )


def first_dense(default: int) -> Callable[[Config, int], Iterator[str]]:
    """DeepSeek-style layers: the first ``first_k_dense_replace`` (default ``default``) are dense, the rest MoE.
    transformers 5.24 reads no ``moe_layer_freq`` (1 in every published config), so neither do we."""

    def kinds(config: Config, count: int) -> Iterator[str]:
        dense = config.layers("first_k_dense_replace", default)
        for index in range(count):
            yield "moe" if index >= dense else "dense"

    return kinds


def fused_experts(kind: str, count: Dim, per_token: int, hidden: Dim, width: Dim) -> Module:
    """transformers 5 stores the experts fused: ``gate_up_proj (E, 2·width, hidden)``, ``down_proj (E, hidden,
    width)``."""
    params = (Param("gate_up_proj", (count, 2 * width, hidden)), Param("down_proj", (count, hidden, width)))
    return experts(module("experts", kind, params=params), count.value, per_token)


def router(kind: str, count: Dim, hidden: Dim, buffers: tuple[Buffer, ...] = ()) -> Module:
    return module("gate", kind, params=(Param("weight", (count, hidden)),), buffers=buffers)


# --- the family row --------------------------------------------------------------------------------------------


class Family(Record):
    """What one ``model_type`` changes in the shared decoder shape (defaults from its transformers config); the
    defaults here are llama's: its attention and gated MLP, RMSNorms, an untied head."""

    name: str
    prefix: str
    """Class-name prefix: ``Llama`` → ``LlamaAttention``, ``LlamaRMSNorm`` …"""
    classes: tuple[tuple[str, Head], ...]
    attention: Callable[[Family, Config, Sizes], Module] = standard_attention
    mlp: Callable[[Family, Config, Sizes, str], Module] = dense_mlp
    """The feed-forward block of a layer of the kind ``layer_kind`` gives (dense, MoE …)."""
    layer_kind: Callable[[Config, int], Iterator[str]] = lambda config, count: itertools.repeat("dense", count)
    kv_heads_default: int | None = None
    """Absent ``num_key_value_heads``: this number, or ``num_attention_heads`` when None."""
    head_dim_default: int | None = None
    """Absent ``head_dim``: this number, or ``hidden_size/num_attention_heads`` when None."""
    qkv_bias: Flag = ("attention_bias", False)
    o_bias: Flag = ("attention_bias", False)
    mlp_bias: Flag = False
    qk_norm: Flag = False
    qk_norm_width: Literal["head", "all_heads", "olmoe"] = "head"
    """What ``q_norm``/``k_norm`` normalise: each head (``head_dim``), all query and all key heads at once
    (OLMo 2: ``num_attention_heads·head_dim`` and ``num_key_value_heads·head_dim``), or OLMoE's ``hidden_size``
    and ``hidden_size/num_attention_heads·num_key_value_heads``."""
    norm_type: Literal["rms", "layer", "weight", "none"] = "rms"
    """The norms: ``<prefix>RMSNorm`` (a weight), ``nn.LayerNorm`` (weight and bias: StarCoder2, StableLM),
    ``<prefix>LayerNorm`` with a weight and no bias (Cohere), or without parameters (OLMo)."""
    layer_norms: Callable[[Config], tuple[str, ...]] = lambda config: ("input_layernorm", "post_attention_layernorm")
    """The norms of each decoder layer, in the order the layer registers them (after Gemma's and Phi's rules)."""
    mlp_last: bool = False
    """Whether the layer registers its MLP after its norms (Granite MoE's ``block_sparse_moe``)."""
    mixer: Callable[[Family, Config, Sizes, str], Module] | None = None
    """The token mixer of a layer of the kind ``layer_kind`` gives, where it varies by layer (Qwen3-Next's linear
    attention); ``attention`` in every layer otherwise."""
    feedforward_norms: bool = False
    """Gemma 2/3: ``pre_feedforward_layernorm`` and ``post_feedforward_layernorm`` in every layer."""
    scaled_embedding: bool = False
    """Gemma: the embedding multiplies by sqrt(hidden_size), held in an ``embed_scale`` buffer."""
    layer_norm: bool = False
    """Phi: ``nn.LayerNorm`` (with bias) instead of RMSNorm, one per layer, ``final_layernorm`` at the end."""
    lm_head_bias: Flag = False
    tie_default: bool = False
    pad_default: int | None = None
    checks_head_divisibility: bool = False
    """transformers' ``validate_architecture`` refuses hidden_size not divisible by num_attention_heads."""
    rotary_factor_default: float = 1.0
    rotary_factor_always: bool = False
    """Whether the default RoPE honours ``partial_rotary_factor`` (Phi's and Phi-3's do; llama's does not)."""
    question_answering_prefix: str = "model"
    """Where ``XForQuestionAnswering`` keeps the base model: ``transformer`` for llama/qwen2/qwen3 (kept for BC)."""
    rotary_dim: tuple[str, int] | None = None
    """The key (and its default) RoPE spans when not all of ``head_dim``: DeepSeek-V3's ``qk_rope_head_dim``."""
    rotary_prefixes: Callable[[Config, int], list[str]] = lambda config, count: [""]
    """Name prefixes of the rotary ``inv_freq``/``original_inv_freq`` pairs: Gemma 3 keeps one per attention type."""


# --- the model -------------------------------------------------------------------------------------------------


def _decoder_layer(family: Family, config: Config, sizes: Sizes, kind: str) -> Module:
    names = ["input_layernorm"] if family.layer_norm else list(family.layer_norms(config))
    if family.feedforward_norms:
        names += ["pre_feedforward_layernorm", "post_feedforward_layernorm"]
    norms = [norm(family, name, sizes.hidden) for name in names]
    if family.mixer is None:
        attention = family.attention(family, config, sizes)
    else:
        attention = family.mixer(family, config, sizes, kind)
    mlp = family.mlp(family, config, sizes, kind)
    children = [attention, *norms, mlp] if family.mlp_last else [attention, mlp, *norms]
    return module("0", f"{family.prefix}DecoderLayer", *children)


def _layers(family: Family, config: Config, sizes: Sizes) -> Module:
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


def _rotary_length(family: Family, config: Config, head_dim: int, symbol: str = "head_dim") -> Dim:
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


def _rotary(family: Family, config: Config, sizes: Sizes) -> Module:
    """``rotary_emb`` holds only non-persistent buffers (Gemma 3: one pair per attention type in use)."""
    if family.rotary_dim is None:
        length = _rotary_length(family, config, sizes.head_dim.value)
    else:
        key, default = family.rotary_dim
        length = _rotary_length(family, config, config.size(key, default), key)
    prefixes = family.rotary_prefixes(config, sizes.layers)
    buffers = tuple(
        Buffer(f"{prefix}{name}", (length,), persistent=False)
        for prefix in prefixes
        for name in ("inv_freq", "original_inv_freq")
    )
    return module("rotary_emb", f"{family.prefix}RotaryEmbedding", buffers=buffers)


def _embed_tokens(family: Family, sizes: Sizes) -> Module:
    table = embedding("embed_tokens", sizes.vocab, sizes.hidden)
    if not family.scaled_embedding:
        return table
    scale = Buffer("embed_scale", (), persistent=False)
    return replace(table, kind=f"{family.prefix}TextScaledWordEmbedding", buffers=(scale,))


def base_model(family: Family, config: Config, sizes: Sizes, kind: str) -> Module:
    if config.has("per_layer_config"):  # transformers 5's per-layer overrides: refused rather than miscounted
        raise config.fail(
            "per_layer_config", f"'{config.path('per_layer_config')}' (per-layer overrides) is not supported"
        )
    _check_layer_types(config, sizes.layers)
    check_padding_index(config, family.pad_default, sizes.vocab)
    embed, layers, rotary = _embed_tokens(family, sizes), _layers(family, config, sizes), _rotary(family, config, sizes)
    if family.layer_norm:  # Phi registers rotary_emb before final_layernorm
        return module("model", kind, embed, layers, rotary, layer_norm("final_layernorm", sizes.hidden))
    return module("model", kind, embed, layers, norm(family, "norm", sizes.hidden), rotary)


TASK_HEADS: Final[dict[Head, LinearHead]] = {
    "sequence_classification": LinearHead("score", False),
    "token_classification": LinearHead("score", ("token_classification_bias", True)),
    "question_answering": LinearHead("qa_outputs", True, 2),
}
"""The heads of the llama-style classes other than the language-model head."""


def _head(family: Family, config: Config, sizes: Sizes, head: Head) -> Module:
    if head != "causal_lm":
        return linear_head(TASK_HEADS[head], config, sizes.hidden)
    bias = _flag(config, family.lm_head_bias)
    if switch(config, "tie_word_embeddings", family.tie_default):
        return tied_linear("lm_head", sizes.hidden, sizes.vocab, "model.embed_tokens.weight", bias=bias)
    return linear("lm_head", sizes.hidden, sizes.vocab, bias=bias)


def _build(family: Family, config: Config, architecture: str) -> Module:
    head = dict(family.classes)[architecture]
    sizes = read_sizes(family, config)
    base_kind = family.classes[0][0]
    base = base_model(family, config, sizes, base_kind)
    if head == "base":
        return base
    if head == "question_answering":
        base = base.renamed(family.question_answering_prefix)
    return module("", architecture, base, _head(family, config, sizes, head))


def register_family(family: Family) -> None:
    def build(config: Config, architecture: str) -> Module:
        return _build(family, config, architecture)

    default = next(name for name, head in family.classes if head == "causal_lm")
    model_type(family.name, architectures=class_names(family.classes), default=default)(build)

"""Hybrid attention + state-space decoders: Jamba and Falcon-H1.

Each builder mirrors ``transformers`` 5.24 (``models/<type>/modeling_<type>.py``), checked against it on the meta
device. A mixer's own tensors (``A_log``, ``D``, ``dt_bias``) come before its layers, as ``named_parameters()``
lists a module's parameters before its children's.

- Jamba interleaves attention layers (every ``attn_layer_period``-th from ``attn_layer_offset``) with Mamba layers
  (``mamba_*`` keys; the mixer adds RMSNorms on the step, B and C), and gives every ``expert_layer_period``-th layer
  (from ``expert_layer_offset``) a mixture of ``num_experts`` fused experts; no positional embedding.
- Falcon-H1 runs a Mamba-2 mixer and attention side by side in every layer (``mamba_d_ssm`` wide, ``mamba_n_heads``
  heads of ``mamba_d_head``), with rotary positions; each mixer holds the non-persistent µP ``mup_vector`` buffer
  (1, 1, width of ``in_proj``).
"""

from __future__ import annotations

import itertools

from paramcount._record import replace
from paramcount.sources.hf._config import Config
from paramcount.sources.hf._registry import model_type
from paramcount.sources.hf.builders._common import (
    check_padding_index,
    config_dim,
    config_flag,
    config_layers,
    embedding,
    linear,
    lm_head,
    module,
    num_labels,
    qkv_projections,
    rms_norm,
)
from paramcount.sources.hf.builders._llama_style import fused_experts, gated_mlp
from paramcount.sources.hf.builders.state_space import depthwise_conv, selective_scan, time_step_rank
from paramcount.tree import Buffer, Dim, Module, Param

__all__: list[str] = []


def _attention(config: Config, kind: str, hidden: Dim, *, bias: bool) -> Module:
    """q/k/v/o with grouped key/value heads of ``head_dim`` (``hidden_size / num_attention_heads`` by default)."""
    heads = config_dim(config, "num_attention_heads")
    kv_heads = config_dim(config, "num_key_value_heads", default=heads)
    head_dim = config_dim(config, "head_dim", default=hidden // heads)
    queries, keys = heads * head_dim, kv_heads * head_dim
    return module(
        "self_attn",
        kind,
        *qkv_projections(hidden, queries, keys, bias=bias),
        linear("o_proj", queries, hidden, bias=bias),
    )


def _depthwise(config: Config, channels: Dim) -> Module:
    return depthwise_conv(config, channels, "mamba_d_conv", "mamba_conv_bias")


def _causal_lm(config: Config, architecture: str, base: Module, hidden: Dim, vocab: Dim) -> Module:
    """``<kind>ForCausalLM`` (``lm_head`` tied to ``embed_tokens`` with ``tie_word_embeddings``, false by default)
    or ``<kind>ForSequenceClassification`` (a bias-free ``score``)."""
    if architecture.endswith("ForSequenceClassification"):
        return module("", architecture, base, linear("score", hidden, num_labels(config), bias=False))
    head = lm_head(config, hidden, vocab, "model.embed_tokens.weight", tie_default=False)
    return module("", architecture, base, head)


# --- Jamba ------------------------------------------------------------------------------------------------------


def _jamba_period(config: Config, name: str) -> tuple[int, int]:
    """``(<name>_layer_period, <name>_layer_offset)``; the offset must be below the period, as JambaConfig requires."""
    period = config.size(f"{name}_layer_period")
    offset = config.size(f"{name}_layer_offset", minimum=0)
    if offset >= period:
        raise config.fail(
            f"{name}_layer_offset",
            f"'{config.path(f'{name}_layer_offset')}' ({offset}) must be smaller than "
            f"'{config.path(f'{name}_layer_period')}' ({period})",
        )
    return period, offset


def _jamba_mixer(config: Config, hidden: Dim) -> Module:
    """``JambaMambaMixer``: Mamba's selective scan (``mamba_expand·hidden_size`` wide, step rank ``mamba_dt_rank``,
    ``ceil(hidden_size/16)`` when "auto") with RMSNorms on the step and on B and C."""
    inner = hidden * config_dim(config, "mamba_expand")
    state = config_dim(config, "mamba_d_state")
    rank = time_step_rank(config, "mamba_dt_rank", hidden)
    return selective_scan(
        "mamba",
        "JambaMambaMixer",
        _depthwise(config, inner),
        (hidden, inner, state, rank),
        config_flag(config, "mamba_proj_bias", False),
        rms_norm("dt_layernorm", rank, "JambaRMSNorm"),
        rms_norm("b_layernorm", state, "JambaRMSNorm"),
        rms_norm("c_layernorm", state, "JambaRMSNorm"),
    )


def _jamba_layer(config: Config, hidden: Dim, attention: bool, sparse: bool) -> Module:
    intermediate = config_dim(config, "intermediate_size")
    if sparse:
        count = config_dim(config, "num_experts")
        router = module("router", "JambaTopKRouter", params=(Param("weight", (count, hidden)),))
        per_token = config.layers("num_experts_per_tok")
        experts = fused_experts("JambaExperts", count, per_token, hidden, intermediate)
        feed_forward = module("feed_forward", "JambaSparseMoeBlock", router, experts)
    else:
        feed_forward = gated_mlp("feed_forward", "JambaMLP", hidden, intermediate)
    mixer = _attention(config, "JambaAttention", hidden, bias=False) if attention else _jamba_mixer(config, hidden)
    return module(
        "0",
        f"Jamba{'Attention' if attention else 'Mamba'}DecoderLayer",
        mixer,
        feed_forward,
        rms_norm("input_layernorm", hidden, "JambaRMSNorm"),
        rms_norm("pre_ff_layernorm", hidden, "JambaRMSNorm"),
    )


@model_type(
    "jamba",
    architectures=("JambaModel", "JambaForCausalLM", "JambaForSequenceClassification"),
    default="JambaForCausalLM",
)
def jamba(config: Config, architecture: str) -> Module:
    """Jamba (``modeling_jamba.py``): attention and Mamba layers interleaved, dense and MoE feed-forwards
    alternating; consecutive identical layers are one repeated child."""
    hidden, vocab = config_dim(config, "hidden_size"), config_dim(config, "vocab_size")
    check_padding_index(config, 0, vocab)
    attention_period, attention_offset = _jamba_period(config, "attn")
    expert_period, expert_offset = _jamba_period(config, "expert")
    sparse_allowed = config.layers("num_experts") > 1
    kinds = [
        (index % attention_period == attention_offset, sparse_allowed and index % expert_period == expert_offset)
        for index in range(config_layers(config, "num_hidden_layers"))
    ]
    built: dict[tuple[bool, bool], Module] = {}
    children, start = [], 0
    for kind, run in itertools.groupby(kinds):
        count = sum(1 for _ in run)
        if kind not in built:
            built[kind] = _jamba_layer(config, hidden, *kind)
        children.append(replace(built[kind], name=str(start), repeat=count))
        start += count
    base = module(
        "model" if architecture != "JambaModel" else "",
        "JambaModel",
        embedding("embed_tokens", vocab, hidden),
        Module(name="layers", kind="ModuleList", children=tuple(children)),
        rms_norm("final_layernorm", hidden, "JambaRMSNorm"),
    )
    if architecture == "JambaModel":
        return base
    return _causal_lm(config, architecture, base, hidden, vocab)


# --- Falcon-H1 --------------------------------------------------------------------------------------------------


def _falcon_h1_mixer(config: Config, hidden: Dim) -> Module:
    """``FalconH1Mixer``: Mamba-2 with ``mamba_n_heads`` heads of ``mamba_d_head`` over ``mamba_d_ssm`` channels
    (``mamba_expand·hidden_size`` when null), a gated RMSNorm only with ``mamba_rms_norm``."""
    if config.has("mamba_d_ssm"):
        inner = config_dim(config, "mamba_d_ssm")
    else:
        inner = hidden * config_dim(config, "mamba_expand")
    heads = config_dim(config, "mamba_n_heads")
    head_dim = config.raw("mamba_d_head", "auto")
    if inner.value % heads.value or (head_dim != "auto" and config.size("mamba_d_head") * heads.value != inner.value):
        raise config.fail(
            "mamba_n_heads",
            f"'{config.path('mamba_n_heads')}' ({heads.value:,}) heads of 'mamba_d_head' must make the Mamba width "
            f"({inner.value:,}), as FalconH1Config requires",
        )
    state = config_dim(config, "mamba_d_state")
    groups = config_dim(config, "mamba_n_groups")
    channels = inner + groups * state * 2
    projected = inner + channels + heads
    parts = [
        _depthwise(config, channels),
        linear("in_proj", hidden, projected, bias=config_flag(config, "mamba_proj_bias", False)),
    ]
    if config_flag(config, "mamba_rms_norm", False):
        parts.append(rms_norm("norm", inner, "FalconH1RMSNormGated"))
    parts.append(linear("out_proj", inner, hidden, bias=config_flag(config, "projectors_bias", False)))
    mixer = module(
        "mamba",
        "FalconH1Mixer",
        *parts,
        params=(Param("dt_bias", (heads,)), Param("A_log", (heads,)), Param("D", (heads,))),
        buffers=(Buffer("mup_vector", (Dim.constant(1), Dim.constant(1), projected), persistent=False),),
    )
    # What the scan's shapes need and the tensors do not say (analysis/shapes/state_space.py).
    chunk = config_dim(config, "mamba_chunk_size").value
    return replace(mixer, attributes=(("n_groups", groups.value), ("chunk_size", chunk)))


@model_type("falcon_h1", architectures=("FalconH1Model", "FalconH1ForCausalLM"), default="FalconH1ForCausalLM")
def falcon_h1(config: Config, architecture: str) -> Module:
    """Falcon-H1 (``modeling_falcon_h1.py``): every layer runs a gated MLP, a Mamba-2 mixer and attention, the
    µP multipliers being scalars (no parameters); rotary ``inv_freq`` of ``head_dim/2``."""
    hidden, vocab = config_dim(config, "hidden_size"), config_dim(config, "vocab_size")
    check_padding_index(config, 0, vocab)
    heads = config_dim(config, "num_attention_heads")
    bias = config_flag(config, "mlp_bias", False)
    layer = module(
        "0",
        "FalconH1DecoderLayer",
        gated_mlp("feed_forward", "FalconH1MLP", hidden, config_dim(config, "intermediate_size"), bias=bias),
        _falcon_h1_mixer(config, hidden),
        _attention(config, "FalconH1Attention", hidden, bias=config_flag(config, "attention_bias", False)),
        rms_norm("input_layernorm", hidden, "FalconH1RMSNorm"),
        rms_norm("pre_ff_layernorm", hidden, "FalconH1RMSNorm"),
    )
    count = config_layers(config, "num_hidden_layers")
    head_dim = config_dim(config, "head_dim", default=hidden // heads)
    rotary = Dim.of((head_dim.value + 1) // 2, f"{head_dim.symbol}/2")
    buffers = tuple(Buffer(name, (rotary,), persistent=False) for name in ("inv_freq", "original_inv_freq"))
    base = module(
        "model" if architecture != "FalconH1Model" else "",
        "FalconH1Model",
        embedding("embed_tokens", vocab, hidden),
        Module(name="layers", kind="ModuleList", children=(replace(layer, repeat=count),) if count else ()),
        rms_norm("final_layernorm", hidden, "FalconH1RMSNorm"),
        module("rotary_emb", "FalconH1RotaryEmbedding", buffers=buffers),
    )
    if architecture == "FalconH1Model":
        return base
    return _causal_lm(config, architecture, base, hidden, vocab)

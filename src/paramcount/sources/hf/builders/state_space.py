"""State-space models: Mamba and Mamba-2.

Each builder mirrors the modelling code of transformers 5.24 (``models/<type>/modeling_<type>.py``): the same
module names and registration order, each checked against transformers on the meta device. A mixer's own
tensors (``A_log``, ``D``, Mamba-2's ``dt_bias``) come before its layers, as ``named_parameters()`` lists a
module's parameters before its children's.

Sizes: ``intermediate_size`` is ``expand · hidden_size``; Mamba's ``time_step_rank`` is ``ceil(hidden_size / 16)``
when ``"auto"`` (the default). The depthwise ``conv1d`` has one input channel per group. Mamba ties ``lm_head``
to the embeddings by default, Mamba-2 does not (their config classes' defaults).
"""

from __future__ import annotations

from paramcount._record import replace
from paramcount.sources.hf._config import Config
from paramcount.sources.hf._registry import model_type
from paramcount.sources.hf.builders._common import (
    config_dim,
    config_flag,
    config_layers,
    conv,
    embedding,
    linear,
    lm_head,
    module,
    rms_norm,
    stack,
)
from paramcount.tree import Dim, Module, Param

__all__ = ["depthwise_conv", "mamba", "mamba2", "selective_scan", "time_step_rank"]


def _inner(config: Config, hidden: Dim) -> Dim:
    """``int(expand · hidden_size)``: the mixer's width."""
    return hidden * config_dim(config, "expand", default=2)


def depthwise_conv(config: Config, channels: Dim, kernel_key: str, bias_key: str, default: int | None = None) -> Module:
    """The causal depthwise ``conv1d`` of a Mamba mixer: kernel ``kernel_key``, padded by kernel - 1."""
    kernel = config_dim(config, kernel_key, default=default)
    bias = config_flag(config, bias_key, True)
    return conv(
        "conv1d", "Conv1d", channels, channels, (kernel,), bias=bias, groups=channels.value, padding=kernel.value - 1
    )


def _depthwise(config: Config, channels: Dim) -> Module:
    return depthwise_conv(config, channels, "conv_kernel", "use_conv_bias", default=4)


def time_step_rank(config: Config, key: str, hidden: Dim) -> Dim:
    """The step's rank ``key``: ``ceil(hidden_size / 16)`` when ``"auto"``."""
    if config.raw(key, "auto") == "auto":
        return Dim.of(-(-hidden.value // 16), f"ceil({hidden.symbol}/16)")
    return config_dim(config, key)


def selective_scan(
    name: str, kind: str, conv1d: Module, sizes: tuple[Dim, Dim, Dim, Dim], bias: bool, *norms: Module
) -> Module:
    """Mamba's selective-scan mixer over ``sizes`` (hidden, inner, state, rank): the projections in and out,
    the step's ``x_proj`` and ``dt_proj``, then ``norms`` (Jamba's RMSNorms on the step and on B and C)."""
    hidden, inner, state, rank = sizes
    return module(
        name,
        kind,
        conv1d,
        linear("in_proj", hidden, inner * 2, bias=bias),
        linear("x_proj", inner, rank + state * 2, bias=False),
        linear("dt_proj", rank, inner, bias=True),
        linear("out_proj", inner, hidden, bias=bias),
        *norms,
        params=(Param("A_log", (inner, state)), Param("D", (inner,))),
    )


def _mamba_mixer(config: Config, hidden: Dim) -> Module:
    inner = _inner(config, hidden)
    sizes = (
        hidden,
        inner,
        config_dim(config, "state_size", default=16),
        time_step_rank(config, "time_step_rank", hidden),
    )
    bias = config_flag(config, "use_bias", False)
    return selective_scan("mixer", "MambaMixer", _depthwise(config, inner), sizes, bias)


def _mamba2_mixer(config: Config, hidden: Dim) -> Module:
    inner = _inner(config, hidden)
    state = config_dim(config, "state_size", default=128)
    heads = config_dim(config, "num_heads", default=128)
    head_dim = config_dim(config, "head_dim", default=64)
    if inner.value != heads.value * head_dim.value:
        raise config.fail(
            "num_heads",
            f"'{config.path('hidden_size')}' × '{config.path('expand')}' ({inner.value:,}) must equal "
            f"'{config.path('num_heads')}' × '{config.path('head_dim')}' ({heads.value * head_dim.value:,}), "
            "as Mamba2Config requires",
        )
    groups = config_dim(config, "n_groups", default=8)
    channels = inner + groups * state * 2
    bias = config_flag(config, "use_bias", False)
    mixer = module(
        "mixer",
        "Mamba2Mixer",
        _depthwise(config, channels),
        linear("in_proj", hidden, inner + channels + heads, bias=bias),
        rms_norm("norm", inner, "MambaRMSNormGated"),
        linear("out_proj", inner, hidden, bias=bias),
        params=(Param("dt_bias", (heads,)), Param("A_log", (heads,)), Param("D", (heads,))),
    )
    # What the scan's shapes need and the tensors do not say (analysis/shapes/state_space.py).
    chunk = config_dim(config, "chunk_size", default=256).value
    return replace(mixer, attributes=(("n_groups", groups.value), ("chunk_size", chunk)))


def _state_space(config: Config, architecture: str, kind: str, *, tie_default: bool) -> Module:
    """``<kind>Model`` (``embeddings``, pre-norm blocks of one mixer each, ``norm_f``) and ``<kind>ForCausalLM``."""
    hidden = config_dim(config, "hidden_size")
    vocab = config_dim(config, "vocab_size")
    mixer = _mamba2_mixer(config, hidden) if kind == "Mamba2" else _mamba_mixer(config, hidden)
    block = module("0", f"{kind}Block", rms_norm("norm", hidden, f"{kind}RMSNorm"), mixer)
    causal = architecture == f"{kind}ForCausalLM"
    backbone = module(
        "backbone" if causal else "",
        f"{kind}Model",
        embedding("embeddings", vocab, hidden),
        stack("layers", block, config_layers(config, "num_hidden_layers")),
        rms_norm("norm_f", hidden, f"{kind}RMSNorm"),
    )
    if not causal:
        return backbone
    head = lm_head(config, hidden, vocab, "backbone.embeddings.weight", tie_default=tie_default)
    return module("", architecture, backbone, head)


@model_type("mamba", architectures=("MambaModel", "MambaForCausalLM"), default="MambaForCausalLM")
def mamba(config: Config, architecture: str) -> Module:
    """Mamba (``modeling_mamba.py``): selective-scan mixers with a data-dependent step (``x_proj``, ``dt_proj``)."""
    return _state_space(config, architecture, "Mamba", tie_default=True)


@model_type("mamba2", architectures=("Mamba2Model", "Mamba2ForCausalLM"), default="Mamba2ForCausalLM")
def mamba2(config: Config, architecture: str) -> Module:
    """Mamba-2 (``modeling_mamba2.py``): one fused ``in_proj`` (gate, convolved x·B·C, per-head step), per-head
    ``A_log``/``D``/``dt_bias`` and a gated RMSNorm before ``out_proj``."""
    return _state_space(config, architecture, "Mamba2", tie_default=False)

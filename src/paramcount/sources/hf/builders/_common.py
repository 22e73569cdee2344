"""Building blocks shared by the Hugging Face builders, so every family names things the same way.

Dims use the config's key names as symbols (``hidden_size``, ``intermediate_size``, ``vocab_size``,
``num_key_value_heads·head_dim``), so a model's formula reads in the config's own words.
"""

from __future__ import annotations

from dataclasses import replace

from paramcount.tree import Buffer, Dim, Module, Param

__all__ = ["embedding", "experts", "layer_norm", "linear", "module", "rms_norm", "stack", "tied_linear"]


def module(
    name: str, kind: str, *children: Module, params: tuple[Param, ...] = (), buffers: tuple[Buffer, ...] = ()
) -> Module:
    """A custom (modelling-code) module: ``module("self_attn", "LlamaAttention", q_proj, k_proj, …)``."""
    return Module(name=name, kind=kind, params=params, buffers=buffers, children=children)


def linear(name: str, inputs: Dim, outputs: Dim, *, bias: bool, kind: str = "Linear") -> Module:
    """``nn.Linear(inputs, outputs, bias=bias)`` named ``name``: weight (outputs, inputs), bias (outputs,)."""
    params = [Param("weight", (outputs, inputs))]
    if bias:
        params.append(Param("bias", (outputs,)))
    return Module(name=name, kind=kind, params=tuple(params))


def tied_linear(name: str, inputs: Dim, outputs: Dim, tied_to: str, *, bias: bool = False) -> Module:
    """An output head whose weight is the input embedding's (``tie_word_embeddings``): counted once."""
    params = [Param("weight", (outputs, inputs), tied_to=tied_to)]
    if bias:
        params.append(Param("bias", (outputs,)))
    return Module(name=name, kind="Linear", params=tuple(params))


def embedding(name: str, count: Dim, width: Dim) -> Module:
    return Module(name=name, kind="Embedding", params=(Param("weight", (count, width)),))


def layer_norm(name: str, width: Dim, *, bias: bool = True, kind: str = "LayerNorm") -> Module:
    params = [Param("weight", (width,))]
    if bias:
        params.append(Param("bias", (width,)))
    return Module(name=name, kind=kind, params=tuple(params))


def rms_norm(name: str, width: Dim, kind: str) -> Module:
    """The RMSNorm of most decoders (``LlamaRMSNorm``): a weight, no bias."""
    return Module(name=name, kind=kind, params=(Param("weight", (width,)),))


def stack(name: str, block: Module, count: int) -> Module:
    """``nn.ModuleList`` of ``count`` identical blocks, stored once with ``repeat=count`` (names 0…count-1)."""
    children = (replace(block, name="0", repeat=count),) if count else ()
    return Module(name=name, kind="ModuleList", children=children)


def experts(module: Module, count: int, per_token: int) -> Module:
    """Mark ``module`` as holding ``count`` experts of which ``per_token`` run for each token, whether it is a
    list of expert modules or fused 3-d expert tensors. The active-parameter analysis counts
    ``per_token / count`` of such a module's parameters as active."""
    return replace(module, attributes=(*module.attributes, ("num_experts", count), ("experts_per_token", per_token)))

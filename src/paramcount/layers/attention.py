"""Attention family: MultiheadAttention (torch/nn/modules/activation.py, torch 2.13)."""

from __future__ import annotations

from paramcount.layers._arguments import Arguments
from paramcount.layers._registry import Parts, build, layer
from paramcount.layers._signature import signature
from paramcount.tree import Dim, Param


def _optional_dim(a: Arguments, name: str, default: Dim) -> Dim:
    # kdim/vdim default to embed_dim (``kdim if kdim is not None else embed_dim``).
    return default if a.is_none(name) else a.dim(name)


@layer(
    "MultiheadAttention",
    signature(
        "embed_dim",
        "num_heads",
        dropout=0.0,
        bias=True,
        add_bias_kv=False,
        add_zero_attn=False,
        kdim=None,
        vdim=None,
        batch_first=False,
        device=None,
        dtype=None,
    ),
)
def multihead_attention(a: Arguments) -> Parts:
    # dropout, add_zero_attn and batch_first are stored unchecked by torch and shape nothing.
    embed = a.dim("embed_dim", minimum=1)
    heads = a.integer("num_heads", minimum=1)
    if embed.value % heads:
        raise a.fail(
            f"embed_dim must be divisible by num_heads (embed_dim={embed.value}, num_heads={heads})",
            "num_heads",
        )
    kdim = _optional_dim(a, "kdim", embed)
    vdim = _optional_dim(a, "vdim", embed)
    bias = a.flag("bias")
    params: list[Param] = []
    if kdim.value == embed.value and vdim.value == embed.value:  # torch's _qkv_same_embed_dim
        params.append(Param("in_proj_weight", (3 * embed, embed)))
    else:
        params += [
            Param("q_proj_weight", (embed, embed)),
            Param("k_proj_weight", (embed, kdim)),
            Param("v_proj_weight", (embed, vdim)),
        ]
    if bias:
        params.append(Param("in_proj_bias", (3 * embed,)))
    if a.flag("add_bias_kv"):
        one = Dim.constant(1)
        params += [Param("bias_k", (one, one, embed)), Param("bias_v", (one, one, embed))]
    # torch's out_proj is a NonDynamicallyQuantizableLinear: a Linear subclass with Linear's constructor and
    # tensors that exists only to steer quantization. It is kept as kind "Linear" so every analysis that
    # looks a kind up in the catalog (formulas, expressions, shapes) handles it.
    out_proj = build("Linear", (embed.value, embed.value), [("bias", bias)]).renamed("out_proj")
    return Parts(params=tuple(params), children=(out_proj,))

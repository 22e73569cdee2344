"""Linear family: Identity, Linear, Bilinear (torch/nn/modules/linear.py, torch 2.13)."""

from __future__ import annotations

from paramcount.layers._arguments import Arguments
from paramcount.layers._registry import Parts, layer
from paramcount.layers._signature import signature
from paramcount.tree import Param


@layer("Identity", signature("*args", "**kwargs"))
def identity(a: Arguments) -> Parts:
    # torch.nn.Identity(*args, **kwargs) ignores its arguments.
    return Parts()


@layer("Linear", signature("in_features", "out_features", bias=True, device=None, dtype=None))
def linear(a: Arguments) -> Parts:
    inp = a.dim("in_features")
    out = a.dim("out_features")
    params = [Param("weight", (out, inp))]
    if a.flag("bias"):
        params.append(Param("bias", (out,)))
    return Parts(params=tuple(params))


@layer("Bilinear", signature("in1_features", "in2_features", "out_features", bias=True, device=None, dtype=None))
def bilinear(a: Arguments) -> Parts:
    in1 = a.dim("in1_features", minimum=1)  # torch's reset_parameters refuses in1_features <= 0
    in2 = a.dim("in2_features")
    out = a.dim("out_features")
    params = [Param("weight", (out, in1, in2))]
    if a.flag("bias"):
        params.append(Param("bias", (out,)))
    return Parts(params=tuple(params))

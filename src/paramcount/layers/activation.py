"""Activation family: every torch.nn activation module; only PReLU has a parameter (torch 2.13)."""

from __future__ import annotations

from paramcount.errors import short_repr
from paramcount.layers._arguments import Arguments
from paramcount.layers._registry import Parts, layer
from paramcount.layers._signature import Signature, signature
from paramcount.tree import Param


def _no_parameters(a: Arguments) -> Parts:
    # torch stores these arguments without checking them; a bad value only fails in forward.
    return Parts()


def _no_arguments(a: Arguments) -> Parts:
    # These classes have no __init__ of their own: Module.__init__ refuses any argument.
    if a.variadic:
        raise a.fail(f"takes no arguments ({len(a.variadic)} given)")
    return Parts()


_INPLACE = signature(inplace=False)
_DIM = signature(dim=None)
_LAMBD = signature(lambd=0.5)
_ALPHA = signature(alpha=1.0, inplace=False)

_PLAIN: tuple[tuple[str, Signature], ...] = (
    ("ReLU", _INPLACE),
    ("ReLU6", _INPLACE),
    ("SELU", _INPLACE),
    ("SiLU", _INPLACE),
    ("Mish", _INPLACE),
    ("Hardswish", _INPLACE),
    ("Hardsigmoid", _INPLACE),
    ("ELU", _ALPHA),
    ("CELU", _ALPHA),
    ("LeakyReLU", signature(negative_slope=0.01, inplace=False)),
    ("RReLU", signature(lower=1.0 / 8, upper=1.0 / 3, inplace=False)),
    ("Threshold", signature("threshold", "value", inplace=False)),
    ("GELU", signature(approximate="none")),
    ("GLU", signature(dim=-1)),
    ("Hardshrink", _LAMBD),
    ("Softshrink", _LAMBD),
    ("Softplus", signature(beta=1.0, threshold=20.0)),
    ("Softmax", _DIM),
    ("Softmin", _DIM),
    ("LogSoftmax", _DIM),
)

_WITHOUT_INIT = ("Sigmoid", "Tanh", "LogSigmoid", "Softsign", "Tanhshrink", "Softmax2d")

for _kind, _sig in _PLAIN:
    layer(_kind, _sig)(_no_parameters)
for _kind in _WITHOUT_INIT:
    layer(_kind, signature("*args"))(_no_arguments)


@layer("Hardtanh", signature(min_val=-1.0, max_val=1.0, inplace=False, min_value=None, max_value=None))
def hardtanh(a: Arguments) -> Parts:
    # min_value/max_value are torch's deprecated spellings: when given, they replace min_val/max_val.
    low_name = "min_val" if a.is_none("min_value") else "min_value"
    high_name = "max_val" if a.is_none("max_value") else "max_value"
    low, high = a.real(low_name), a.real(high_name)
    if high <= low:  # torch's own test, so a NaN bound passes as it does there
        raise a.fail(
            f"{high_name} must be greater than {low_name} "
            f"({high_name}={short_repr(high)}, {low_name}={short_repr(low)})",
            high_name,
        )
    return Parts()


@layer("PReLU", signature(num_parameters=1, init=0.25, device=None, dtype=None))
def prelu(a: Arguments) -> Parts:
    count = a.dim("num_parameters")
    init = a.real("init")
    # reset_parameters fills the weight with init; torch passes an int through a 64-bit integer first.
    if isinstance(init, int) and not -(2**63) <= init < 2**64:
        raise a.fail(f"init must fit in a 64-bit integer, got {short_repr(init)}", "init")
    return Parts(params=(Param("weight", (count,)),))

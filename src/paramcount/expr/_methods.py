"""The module methods an expression may call (``.to()``, ``.half()``, ``.requires_grad_()`` …), applied to
a built layer: each changes trainability or dtype, or nothing counted, and returns the layer."""

from __future__ import annotations

from paramcount.errors import ExpressionError
from paramcount.expr._names import DTYPE_ALIASES, device_message, device_name
from paramcount.expr._values import describe, is_int
from paramcount.layers._registry import FLOAT_DTYPES, cast_floating, set_trainable
from paramcount.tree import Module, Ref

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

__all__ = ["apply_method"]

_CASTS: Final = {"half": "float16", "bfloat16": "bfloat16", "float": "float32", "double": "float64"}


def apply_method(
    target: Module, method: str, positional: list[object], keywords: list[tuple[str, object]], column: int
) -> Module:
    """``target.<method>(*positional, **keywords)``, checked as ``nn.Module`` checks it; errors at ``column``."""
    if method == "to":
        return _to(target, positional, keywords, column)
    parameters = {"requires_grad_": ("requires_grad",), "train": ("mode",), "cuda": ("device",)}.get(method, ())
    values = _bind_method(method, parameters, positional, keywords, column)
    if method in _CASTS:
        return cast_floating(target, _CASTS[method])
    if method == "requires_grad_":
        flag = values.get("requires_grad", True)
        if not isinstance(flag, bool):
            raise ExpressionError(f".requires_grad_() takes True or False, got {describe(flag)}", column)
        return set_trainable(target, flag)
    if method == "train" and not isinstance(values.get("mode", True), bool):
        raise ExpressionError(f".train() takes True or False, got {describe(values['mode'])}", column)
    return target  # train, eval, cpu, cuda: nothing counted changes


def _to(target: Module, positional: list[object], keywords: list[tuple[str, object]], column: int) -> Module:
    """``.to(dtype)``, ``.to(device)``, ``.to(device, dtype)`` and the keywords ``device``, ``dtype``,
    ``non_blocking``, as ``nn.Module.to`` accepts them."""
    values: dict[str, object] = {}
    for value in positional:
        key = "dtype" if isinstance(value, Ref) else ("non_blocking" if isinstance(value, bool) else "device")
        if key in values or (key == "device" and values):
            raise ExpressionError(".to() takes a device and/or a dtype, as in .to('cuda', torch.float16)", column)
        values[key] = value
    for key, value in keywords:
        if key not in ("device", "dtype", "non_blocking") or key in values:
            raise ExpressionError(f".to() got an unexpected or repeated argument {key!r}", column)
        values[key] = value
    if not values:
        raise ExpressionError(".to() needs a dtype or a device, as in .to(torch.float16)", column)
    device = values.get("device")
    if is_int(device) and device >= 0:
        device = "cuda"  # .to(0) is .to("cuda:0")
    if device is not None and not (isinstance(device, str) and device_name(device) is not None):
        raise ExpressionError(device_message(device), column)
    dtype = values.get("dtype")
    if dtype is None:
        return target
    name = DTYPE_ALIASES.get(dtype.path[6:], dtype.path[6:]) if isinstance(dtype, Ref) else ""
    if name not in FLOAT_DTYPES:
        raise ExpressionError(
            f".to() dtype must be a floating dtype such as torch.float16, got {describe(dtype)}", column
        )
    return cast_floating(target, name)


def _bind_method(
    method: str,
    parameters: tuple[str, ...],
    positional: list[object],
    keywords: list[tuple[str, object]],
    column: int,
) -> dict[str, object]:
    if len(positional) > len(parameters):
        takes = "no arguments" if not parameters else f"at most {len(parameters)} argument"
        raise ExpressionError(f".{method}() takes {takes}", column)
    values = dict(zip(parameters, positional, strict=False))
    for key, value in keywords:
        if key not in parameters or key in values:
            raise ExpressionError(f".{method}() got an unexpected or repeated argument {key!r}", column)
        values[key] = value
    return values

"""Tensors an expression may make for ``nn.ParameterList`` / ``nn.ParameterDict``: ``torch.randn``,
``torch.rand``, ``torch.zeros``, ``torch.ones`` and ``torch.empty`` with integer sizes, and ``nn.Parameter``
around one. Only the shape, dtype and ``requires_grad`` are kept (a ``TensorSpec``): nothing is allocated and
nothing is run. The sizes are integers the evaluator has already capped (``MAX_INT_BITS``); the tensor's
size in bytes is checked by the catalog when a container takes it."""

from __future__ import annotations

from paramcount.errors import ExpressionError
from paramcount.expr._names import DTYPE_ALIASES, device_message, device_name
from paramcount.expr._syntax import Positions
from paramcount.expr._values import SequenceValue, describe, is_int
from paramcount.layers._registry import FLOAT_DTYPES
from paramcount.tree import Ref, TensorSpec

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ast
    from typing import Final, NoReturn

__all__ = ["PARAMETER_NAMES", "TENSOR_FACTORIES", "parameter_spec", "tensor_spec"]

TENSOR_FACTORIES: Final = frozenset({"torch.randn", "torch.rand", "torch.zeros", "torch.ones", "torch.empty"})
"""The torch functions whose result is known by its shape alone (the values never change a count)."""

PARAMETER_NAMES: Final = frozenset({"Parameter", "nn.Parameter", "torch.nn.Parameter"})

_FACTORY_KEYWORDS: Final = ("size", "dtype", "device", "requires_grad")


def tensor_spec(
    node: ast.Call, factory: str, positional: list[object], keywords: list[tuple[str, object]], positions: Positions
) -> TensorSpec:
    """``torch.<factory>(*sizes, dtype=..., device=..., requires_grad=...)`` (sizes also as one tuple or
    list, or ``size=``), checked as torch checks it."""
    what = f"torch.{factory}()"
    options: dict[str, object] = {}
    for key, value in keywords:
        if key not in _FACTORY_KEYWORDS or key in options:
            allowed = ", ".join(_FACTORY_KEYWORDS)
            _fail(positions, node, f"{what} got an unexpected or repeated argument {key!r}; allowed: {allowed}")
        options[key] = value
    if "size" in options and positional:
        _fail(positions, node, f"{what} got its size twice (positionally and as size=)")
    given = [options["size"]] if "size" in options else positional
    if len(given) == 1 and isinstance(given[0], SequenceValue):
        given = list(given[0].items)
    elif not given:
        _fail(positions, node, f"{what} needs a size, as in {what[:-1]}3, 4)")
    for size in given:
        if not is_int(size) or size < 0:
            _fail(positions, node, f"{what} sizes must be non-negative integers, got {describe(size)}")
    _check_device(node, what, options.get("device"), positions)
    _flag(node, what, "requires_grad", options.get("requires_grad", False), positions)
    sizes = tuple(size for size in given if is_int(size))
    return TensorSpec(factory, sizes, _dtype(node, what, options.get("dtype"), positions))


def parameter_spec(
    node: ast.Call, positional: list[object], keywords: list[tuple[str, object]], positions: Positions
) -> TensorSpec:
    """``nn.Parameter(data=None, requires_grad=True)``; no data is an empty tensor, as in torch."""
    values = dict(zip(("data", "requires_grad"), positional, strict=False))
    if len(positional) > 2:
        _fail(positions, node, "nn.Parameter() takes a tensor and requires_grad")
    for key, value in keywords:
        if key not in ("data", "requires_grad") or key in values:
            _fail(positions, node, f"nn.Parameter() got an unexpected or repeated argument {key!r}")
        values[key] = value
    data = values.get("data")
    if data is None:
        data = TensorSpec("empty", (0,))
    if not isinstance(data, TensorSpec):
        _fail(positions, node, f"nn.Parameter() takes a tensor such as torch.randn(3, 4), got {describe(data)}")
    requires_grad = _flag(node, "nn.Parameter()", "requires_grad", values.get("requires_grad", True), positions)
    return TensorSpec(data.factory, data.sizes, data.dtype, True, requires_grad)


def _dtype(node: ast.Call, what: str, value: object, positions: Positions) -> str:
    if value is None:
        return "float32"
    name = value.path.removeprefix("torch.") if isinstance(value, Ref) else ""
    name = DTYPE_ALIASES.get(name, name)
    if name not in FLOAT_DTYPES:
        # A parameter is trainable by default, and torch lets only floating tensors require gradients.
        _fail(positions, node, f"{what} dtype must be a floating dtype such as torch.float16, got {describe(value)}")
    return name


def _check_device(node: ast.Call, what: str, value: object, positions: Positions) -> None:
    if value is not None and not (isinstance(value, str) and device_name(value) is not None):
        _fail(positions, node, f"{what}: {device_message(value)}")


def _flag(node: ast.Call, what: str, name: str, value: object, positions: Positions) -> bool:
    if not isinstance(value, bool):
        _fail(positions, node, f"{what} {name} must be True or False, got {describe(value)}")
    return value


def _fail(positions: Positions, node: ast.Call, message: str) -> NoReturn:
    raise ExpressionError(message, positions.start(node))

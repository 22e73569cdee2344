"""The names an expression may spell besides its layer calls, and what they resolve to: ``torch.<dtype>``,
``F.<activation>``, device names, zoo models; and the refusal of any other name, with close matches and the
column where it is written."""

from __future__ import annotations

import ast

from paramcount.errors import ExpressionError, UnknownNameError, did_you_mean, short_repr
from paramcount.expr._check import NAMES_ALLOWED, is_weights_chain
from paramcount.expr._syntax import Positions
from paramcount.expr._values import describe
from paramcount.layers import known_layers, lookup
from paramcount.tree import Ref
from paramcount.zoo import known_models
from paramcount.zoo.weights import WEIGHTS, weights_enum_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final, NoReturn

__all__ = [
    "DTYPE_ALIASES",
    "check_layer_kind",
    "device_message",
    "device_name",
    "is_zoo_model",
    "layer_kind",
    "resolve_reference",
    "unknown_name",
]

_DTYPES: Final = frozenset(
    {
        "float32", "float", "float16", "half", "bfloat16", "float64", "double", "float8_e4m3fn", "float8_e5m2",
        "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu", "complex32", "chalf", "complex64", "cfloat",
        "complex128", "cdouble", "int8", "int16", "short", "int32", "int", "int64", "long", "uint8", "uint16",
        "uint32", "uint64", "bool",
    }
)  # fmt: skip
"""``torch.<name>`` dtypes an expression may name (``dtype=torch.bfloat16``); the catalog decides which a
layer accepts."""

DTYPE_ALIASES: Final = {"float": "float32", "half": "float16", "double": "float64"}

_ACTIVATIONS: Final = frozenset(
    {
        "celu", "elu", "gelu", "glu", "hardshrink", "hardsigmoid", "hardswish", "hardtanh", "leaky_relu",
        "logsigmoid", "mish", "relu", "relu6", "rrelu", "selu", "sigmoid", "silu", "softplus", "softshrink",
        "softsign", "tanh", "tanhshrink",
    }
)  # fmt: skip
"""``torch.nn.functional`` activations an expression may pass as a value (``activation=F.gelu``)."""

_DEVICE_TYPES: Final = (
    "cpu", "cuda", "mps", "meta", "xpu", "hpu", "mtia", "xla", "ipu", "hip", "ve", "fpga", "maia", "lazy",
    "vulkan", "mkldnn", "opengl", "opencl", "ideep", "privateuseone",
)  # fmt: skip
"""Device types ``torch.device`` accepts (torch 2.13); devices do not change a count."""


def unknown_name(node: ast.Name, positions: Positions) -> NoReturn:
    """Refuse a bare name that is neither the loop variable nor a zoo model, with what it should have been."""
    if node.id in known_layers():
        _fail(positions, node, f"{node.id} is a layer class; call it to build a layer, as in {node.id}(...)")
    if node.id in ("OrderedDict", "range"):
        _fail(positions, node, f"{node.id} must be called, as in {node.id}(...)")
    import difflib  # error path only

    models = difflib.get_close_matches(node.id.lower(), known_models(), n=3, cutoff=0.6)
    if models:
        message = f"unknown model {short_repr(node.id)}{did_you_mean(models)}"
        raise UnknownNameError(message, node.id, tuple(models), column=positions.start(node))
    _fail(
        positions,
        node,
        f"unknown name {short_repr(node.id)}; a name must be a layer call, torch.<dtype>, F.<activation> "
        "or the variable of a list comprehension",
    )


def resolve_reference(node: ast.Attribute, parts: list[str], positions: Positions) -> Ref:
    """``torch.bfloat16`` → ``Ref("torch.bfloat16")``; ``F.gelu`` → ``Ref("torch.nn.functional.gelu")``."""
    dotted = ".".join(parts)
    name = parts[-1]
    if is_weights_chain(parts):
        return _weights_member(node, parts, positions)
    if parts[:-1] in (["F"], ["nn", "functional"], ["torch", "nn", "functional"]):
        if name in _ACTIVATIONS:
            return Ref(f"torch.nn.functional.{name}")
        _unknown(positions, node, "activation function", dotted, name, _ACTIVATIONS, f"{'.'.join(parts[:-1])}.")
    if parts[:-1] == ["torch"] and name in _DTYPES:
        return Ref(dotted)
    if parts[:-1] == ["torch"] and name not in ("nn", "device"):
        import difflib  # error path only

        if difflib.get_close_matches(name, _DTYPES, n=1, cutoff=0.75):
            _unknown(positions, node, "dtype", dotted, name, _DTYPES, "torch.")
        _fail(positions, node, f"attribute access {short_repr(dotted)} is not allowed; {NAMES_ALLOWED}")
    kind = layer_kind(parts)
    if kind is not None:
        check_layer_kind(node, kind, positions)
        _fail(positions, node, f"{dotted} is a layer class; call it to build a layer, as in {dotted}(...)")
    if dotted in ("collections.OrderedDict", "torch.device"):
        _fail(positions, node, f"{dotted} must be called, as in {dotted}(...)")
    _fail(positions, node, f"attribute access {short_repr(dotted)} is not allowed; {NAMES_ALLOWED}")


def _weights_member(node: ast.Attribute, parts: list[str], positions: Positions) -> Ref:
    """``ResNet50_Weights.IMAGENET1K_V2`` → ``Ref("torchvision.models.ResNet50_Weights.IMAGENET1K_V2")``, a
    value only ``weights=`` of its model takes; an unknown enum or member is refused with the known ones."""
    enum, member = parts[-2], parts[-1]
    members = weights_enum_of(enum)
    if members is None:
        import difflib  # error path only

        enums = [entry[0] for entry in WEIGHTS.values()]
        close = tuple(difflib.get_close_matches(enum, enums, n=3, cutoff=0.6))
        message = f"column {positions.start(node)}: unknown torchvision weights {enum!r}{did_you_mean(close)}"
        raise UnknownNameError(message, enum, close)
    if member not in members:
        message = f"column {positions.attribute(node)}: {enum} has no {member!r}; it has {', '.join(members)}"
        raise UnknownNameError(message, member, ())
    return Ref(f"torchvision.models.{enum}.{member}")


def _unknown(
    positions: Positions, node: ast.Attribute, what: str, dotted: str, name: str, known: frozenset[str], prefix: str
) -> NoReturn:
    import difflib  # error path only

    close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
    suggestions = tuple(f"{prefix}{match}" for match in close)
    message = f"unknown {what} {short_repr(dotted)}{did_you_mean(suggestions)}"
    raise UnknownNameError(message, dotted, suggestions, column=positions.attribute(node))


def check_layer_kind(node: ast.AST, kind: str, positions: Positions) -> None:
    """``UnknownNameError`` with close matches (and the column) when ``kind`` is not in the catalog; a bare
    name that resembles a zoo model suggests the model instead."""
    try:
        lookup(kind)
    except UnknownNameError as error:
        column = positions.attribute(node) if isinstance(node, ast.Attribute) else positions.start(node)
        message, suggestions = error.message, error.suggestions
        if isinstance(node, ast.Name) and not suggestions:
            import difflib  # error path only

            models = difflib.get_close_matches(kind.lower(), known_models(), n=3, cutoff=0.6)
            if models:
                message, suggestions = f"unknown layer or model {kind!r}{did_you_mean(models)}", tuple(models)
        raise UnknownNameError(message, error.name, suggestions, column=column) from None


def is_zoo_model(name: str) -> bool:
    """A zoo architecture (``resnet50``); catalog layers win, zoo names are all lower case."""
    return name.islower() and name in known_models()


def layer_kind(parts: list[str]) -> str | None:
    """The catalog name a call target spells: ``Linear``, ``nn.Linear`` or ``torch.nn.Linear``."""
    if len(parts) == 1 or parts[:-1] in (["nn"], ["torch", "nn"]):
        return parts[-1]
    return None


def device_name(text: str) -> str | None:
    kind, _, index = text.partition(":")
    if kind not in _DEVICE_TYPES or (":" in text and not index.isdigit()):
        return None
    return text


def device_message(value: object) -> str:
    return f"unknown device {describe(value)}; use a device such as 'cpu', 'cuda', 'cuda:0', 'mps' or 'meta'"


def _fail(positions: Positions, node: ast.AST, message: str) -> NoReturn:
    raise ExpressionError(message, positions.start(node))

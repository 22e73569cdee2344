"""The values of step 5 while it evaluates: lists and dicts as the evaluator holds them (sized, so no value
can stand for more than ``MAX_ITEMS`` items), how a value is described in a message, and its conversion to
the ``Value`` the catalog takes."""

from __future__ import annotations

from paramcount.errors import ExpressionError, short_repr
from paramcount.layers.containers import DictValue, OrderedDictValue
from paramcount.tree import Module, Ref, TensorSpec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeGuard

    from paramcount.tree import Value

__all__ = ["MappingValue", "SequenceValue", "describe", "is_int", "module_nodes_of", "size_of", "to_value"]


class SequenceValue:
    """A list or tuple while evaluating (both become tuples for the catalog). ``size`` counts the items of
    nested sequences in full; ``module_nodes`` the modules a container would hold if it took them all."""

    __slots__ = ("items", "module_nodes", "size")

    def __init__(self, items: tuple[object, ...], size: int, module_nodes: int) -> None:
        self.items = items
        self.size = size
        self.module_nodes = module_nodes


class MappingValue:
    """An ``OrderedDict(...)`` or ``{...}`` while evaluating."""

    __slots__ = ("ordered", "pairs", "size")

    def __init__(self, pairs: tuple[tuple[str, object], ...], ordered: bool, size: int) -> None:
        self.pairs = pairs
        self.ordered = ordered
        self.size = size


def size_of(value: object) -> int:
    if isinstance(value, SequenceValue | MappingValue):
        return value.size
    return 1


def module_nodes_of(value: object) -> int:
    if isinstance(value, SequenceValue):
        return value.module_nodes
    if isinstance(value, MappingValue):
        return sum(module_nodes_of(item) for _, item in value.pairs)
    if isinstance(value, Module):
        return _expanded_nodes(value)
    return 0


def _expanded_nodes(module: Module) -> int:
    """Modules in ``module``'s tree with repeats expanded: what a tied copy of it materialises."""
    return 1 + sum(child.repeat * _expanded_nodes(child) for child in module.children)


def describe(value: object) -> str:
    if isinstance(value, SequenceValue):
        count = len(value.items)
        return f"a list of {count} item{'' if count == 1 else 's'}"
    if isinstance(value, MappingValue):
        return "a dict"
    if isinstance(value, Module):
        return f"a {value.kind} layer"
    if isinstance(value, Ref):
        return value.path
    if isinstance(value, TensorSpec):
        return f"a tensor of shape {value.sizes}"
    return short_repr(value)


def is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def to_value(value: object, converted: dict[int, Value]) -> Value:
    """An evaluated value as the catalog takes it: lists become tuples, dicts ``DictValue``s. Module objects
    keep their identity, so a container sees which references are shared. ``converted`` memoises by
    identity, so a list repeated inside a list is converted once."""
    if isinstance(value, SequenceValue | MappingValue):
        known = converted.get(id(value))
        if known is None:
            known = _converted_container(value, converted)
            converted[id(value)] = known
        return known
    if value is None or isinstance(value, int | float | str | Ref | TensorSpec | Module):  # all an evaluation yields
        return value
    raise ExpressionError(f"{describe(value)} cannot be passed to a layer")  # pragma: no cover


def _converted_container(value: SequenceValue | MappingValue, converted: dict[int, Value]) -> Value:
    if isinstance(value, SequenceValue):
        return tuple(to_value(item, converted) for item in value.items)
    pairs = [(key, to_value(item, converted)) for key, item in value.pairs]
    return OrderedDictValue.of(pairs) if value.ordered else DictValue.of(pairs)

"""A call's arguments: binding positional and keyword values to a signature as Python does, and the
validating accessors builders read them through, which raise ``ArgumentError`` naming the argument the way
torch's own checks do. ``Declaration`` is what the catalog and the zoo declare (a name, its signature and the
builder of a bound call), ``declare`` the decorator that registers one."""

from __future__ import annotations

from paramcount._record import Record, Typed
from paramcount.errors import ArgumentError, short_repr
from paramcount.layers._signature import REQUIRED
from paramcount.tree import Dim, Module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import TypeAlias, TypeVar

    from paramcount._registry import Registry
    from paramcount.layers._signature import Signature
    from paramcount.tree import Value

    _T = TypeVar("_T")
    _Builder: TypeAlias = Callable[["Arguments"], _T]
else:
    _T = None

__all__ = ["Arguments", "Declaration", "bind", "declare"]


class Arguments:
    """Bound arguments of one call, with validating accessors that raise ``ArgumentError`` like torch."""

    __slots__ = ("layer", "values", "variadic")

    def __init__(self, layer: str, values: dict[str, Value], variadic: tuple[Value, ...] = ()) -> None:
        self.layer = layer
        self.values = values
        self.variadic = variadic

    def fail(self, message: str, argument: str | None = None) -> ArgumentError:
        """An ``ArgumentError`` for this layer (to be raised by the caller)."""
        return ArgumentError(self.layer, message, argument)

    def raw(self, name: str) -> Value:
        return self.values[name]

    def is_none(self, name: str) -> bool:
        return self.values[name] is None

    def integer(self, name: str, *, minimum: int | None = None) -> int:
        """An int argument (bools are refused: ``Linear(True, 3)`` is almost certainly a mistake)."""
        value = self.values[name]
        if type(value) is not int:  # bools are refused too
            raise self.fail(f"{name} must be an integer, got {short_repr(value)}", name)
        if minimum is not None and value < minimum:
            relation = "positive" if minimum == 1 else ("non-negative" if minimum == 0 else f">= {minimum}")
            raise self.fail(f"{name} must be {relation}, got {value}", name)
        return value

    def dim(self, name: str, symbol: str | None = None, *, minimum: int = 0) -> Dim:
        """An integer argument as a named ``Dim`` (symbol defaults to the argument name)."""
        value = self.values[name]
        if type(value) is int and value >= minimum:
            return Dim(value, symbol or name)  # Dim.of, without the extra call
        return Dim.of(self.integer(name, minimum=minimum), symbol or name)  # integer() raises its error

    def number(self, name: str, *, minimum: float | None = None, maximum: float | None = None) -> float:
        value = self.values[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{name} must be a number, got {short_repr(value)}", name)
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise self.fail(f"{name} must be between {minimum} and {maximum}, got {value}", name)
        return float(value)

    def real(self, name: str) -> int | float:
        """A number argument kept as given, so comparisons are Python's exact ones as in torch's checks
        (``float()`` would overflow on huge ints). Bools are refused."""
        value = self.values[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{name} must be a number, got {short_repr(value)}", name)
        return value

    def flag(self, name: str) -> bool:
        """A boolean argument; ``0``/``1`` are accepted as torch would (truthiness of an int)."""
        value = self.values[name]
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise self.fail(f"{name} must be True or False, got {short_repr(value)}", name)

    def choice(self, name: str, options: Sequence[str]) -> str:
        value = self.values[name]
        if not isinstance(value, str) or value not in options:
            allowed = ", ".join(repr(option) for option in options)
            raise self.fail(f"{name} must be one of {allowed}, got {short_repr(value)}", name)
        return value

    def ints(self, name: str, count: int, *, minimum: int | None = None) -> tuple[int, ...]:
        """An int or a tuple/list of ``count`` ints, expanded like torch's ``_pair``/``_triple``."""
        value = self.values[name]
        if type(value) is int and (minimum is None or value >= minimum):
            return (value,) * count  # the usual case: one int for every dimension
        items = value if isinstance(value, tuple) else (value,) * count
        if len(items) != count:
            raise self.fail(f"{name} must be an int or a tuple of {count} ints, got {short_repr(value)}", name)
        result = []
        for item in items:
            if type(item) is not int:  # bools are refused too
                raise self.fail(f"{name} must be an int or a tuple of {count} ints, got {short_repr(value)}", name)
            if minimum is not None and item < minimum:
                raise self.fail(f"{name} must be >= {minimum}, got {short_repr(value)}", name)
            result.append(item)
        return tuple(result)

    def int_tuple(self, name: str) -> tuple[int, ...]:
        """An int or a non-empty tuple/list of ints, kept as given (``normalized_shape``)."""
        value = self.values[name]
        items = value if isinstance(value, tuple) else (value,)
        if not items or any(isinstance(item, bool) or not isinstance(item, int) for item in items):
            raise self.fail(f"{name} must be an int or a tuple of ints, got {short_repr(value)}", name)
        return tuple(item for item in items if isinstance(item, int))

    def module(self, name: str) -> Module:
        value = self.values[name]
        if not isinstance(value, Module):
            raise self.fail(f"{name} must be a module such as nn.Linear(...), got {short_repr(value)}", name)
        return value


def bind(kind: str, sig: Signature, positional: Sequence[Value], keywords: Sequence[tuple[str, Value]]) -> Arguments:
    """Bind a call of ``kind`` (a layer or a zoo model) to its signature as Python would, or raise
    ``ArgumentError``."""
    bound: dict[str, Value] = dict(sig.parameters)  # type: ignore[arg-type]  # defaults, REQUIRED where none
    variadic: tuple[Value, ...] = ()
    given: tuple[str, ...] = ()
    if sig.variadic is not None:
        variadic = tuple(positional)
    elif len(positional) > len(sig.positional):
        raise ArgumentError(kind, f"takes at most {len(sig.positional)} positional arguments ({len(positional)} given)")
    else:
        given = sig.positional[: len(positional)]
        bound.update(zip(given, positional, strict=True))
    if keywords:
        _bind_keywords(kind, sig, bound, set(given), keywords)
    for name in sig.required:
        if bound[name] is REQUIRED:  # type: ignore[comparison-overlap]  # a default until given
            raise ArgumentError(kind, f"missing required argument {name!r}", name)
    return Arguments(kind, bound, variadic)


def _bind_keywords(
    kind: str, sig: Signature, bound: dict[str, Value], given: set[str], keywords: Sequence[tuple[str, Value]]
) -> None:
    for key, value in keywords:
        if key not in bound and sig.any_keywords:
            continue
        if key not in bound:
            allowed = ", ".join(name for name in sig.names if not name.startswith("_"))
            import difflib  # error path only

            suggestion = difflib.get_close_matches(key, sig.names, n=1)
            if suggestion:
                hint = f"; did you mean {suggestion[0]!r}?"
            else:
                hint = f"; allowed: {allowed}" if allowed else f"; {kind} takes no keyword arguments"
            raise ArgumentError(kind, f"unexpected keyword argument {key!r}{hint}", key)
        if key in given:
            raise ArgumentError(kind, f"got multiple values for argument {key!r}", key)
        given.add(key)
        bound[key] = value


class Declaration(Record, Typed[_T]):
    """A catalog layer (the builder makes its ``Parts``) or a zoo model (the builder makes its whole tree):
    the name it is called by, torch's signature for it, and the builder of a call bound to that signature."""

    name: str
    signature: Signature
    builder: _Builder[_T]

    def build(self, positional: Sequence[Value], keywords: Sequence[tuple[str, Value]]) -> tuple[Arguments, _T]:
        """The call bound to the signature (or ``ArgumentError``) and what the builder makes of it."""
        arguments = bind(self.name, self.signature, positional, keywords)
        return arguments, self.builder(arguments)


def declare(table: Registry[Declaration[_T]], name: str, sig: Signature) -> Callable[[_Builder[_T]], _Builder[_T]]:
    """A decorator that registers the builder it decorates in ``table`` as ``name``, called with ``sig``."""

    def register(builder: _Builder[_T]) -> _Builder[_T]:
        table.add(name, Declaration(name, sig, builder))
        return builder

    return register

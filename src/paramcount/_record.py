"""Frozen, slotted value classes for the start-up path, built without ``dataclasses``.

``@record`` does what ``@dataclass(frozen=True, slots=True)`` did for the tree, the catalog and the
report: fields from the class annotations (a base record's fields first), defaults from class attributes,
``__init__`` taking them positionally or by keyword, ``__eq__``/``__hash__`` over the field values,
``__repr__`` and ``__match_args__``, ``__post_init__`` when defined, and ``replace()``. Methods the class
defines itself (``__init__``, ``__repr__`` …) are kept, as ``dataclasses`` keeps them.

Why not ``dataclasses``: it writes each method as source text and compiles it, and imports ``inspect``;
for the sixty classes a CLI answer touches that was ~35 ms of a ~220 ms process. These methods are
closures over the field names, made in microseconds. Type checkers see the decorator as a dataclass
(PEP 681 ``dataclass_transform``), so constructor calls are checked as before.
"""

from __future__ import annotations

from itertools import repeat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar, dataclass_transform

    _T = TypeVar("_T")
else:

    def dataclass_transform(**_: object) -> Callable[[_T], _T]:
        return lambda decorated: decorated


__all__ = ["field_values", "record", "replace"]

_MISSING = object()
_KEPT_FROM_BODY = ("__dict__", "__weakref__")


def _own_fields(cls: type) -> list[str]:
    # Not inspect.get_annotations: importing inspect is what this module avoids.
    annotations: dict[str, str] = cls.__dict__.get("__annotations__", {})  # noqa: RUF063
    return [name for name, annotation in annotations.items() if not str(annotation).startswith("ClassVar")]


def _make_init(name: str, fields: tuple[str, ...], defaults: dict[str, Any], post_init: bool) -> Callable[..., None]:
    count = len(fields)
    set_field = object.__setattr__
    # filled[n]: the default values of the fields after the first n, or None while one of them has no
    # default (then a call giving n positionally must name it); made on first use.
    filled: list[tuple[Any, ...] | None] = [None] * (count + 1)

    def defaults_after(given: int) -> tuple[Any, ...]:
        found = filled[given]
        if found is None:
            missing = [field for field in fields[given:] if field not in defaults]
            if missing:
                raise TypeError(f"{name}() missing required argument: {missing[0]!r}")
            found = filled[given] = tuple(defaults[field] for field in fields[given:])
        return found

    # fallbacks[n]: for the fields after the first n, their defaults or _MISSING; made on first use.
    fallbacks: list[tuple[Any, ...] | None] = [None] * (count + 1)

    def with_keywords(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        given = len(args)
        fallback = fallbacks[given]
        if fallback is None:
            fallback = fallbacks[given] = tuple(defaults.get(field, _MISSING) for field in fields[given:])
        values = args + tuple(map(kwargs.pop, fields[given:], fallback))
        if kwargs:
            unexpected = next(iter(kwargs))
            problem = "multiple values for" if unexpected in fields else "an unexpected keyword"
            raise TypeError(f"{name}() got {problem} argument {unexpected!r}")
        if _MISSING in values:
            missing = fields[values.index(_MISSING)]
            raise TypeError(f"{name}() missing required argument: {missing!r}")
        return values

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        given = len(args)
        if given > count:
            raise TypeError(f"{name}() takes {count} positional arguments but {given} were given")
        if kwargs:
            values = with_keywords(args, kwargs)
        elif given < count:
            values = args + defaults_after(given)
        else:
            values = args
        # object.__setattr__ mapped over the fields in C: no bytecode per field (any() runs the map; every
        # call returns None).
        any(map(set_field, repeat(self), fields, values))
        if post_init:
            self.__post_init__()

    return __init__


def _values(self: Any) -> tuple[Any, ...]:
    return tuple(getattr(self, field) for field in self.__record_fields__)


def _eq(self: Any, other: object) -> object:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _values(self) == _values(other)


def _hash(self: Any) -> int:
    return hash(_values(self))


def _repr(self: Any) -> str:
    shown = ", ".join(f"{field}={getattr(self, field)!r}" for field in self.__record_fields__)
    return f"{self.__class__.__qualname__}({shown})"


def _frozen_setattr(self: Any, name: str, value: object) -> None:
    raise AttributeError(f"cannot assign to field {name!r} of a frozen {self.__class__.__name__}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise AttributeError(f"cannot delete field {name!r} of a frozen {self.__class__.__name__}")


@dataclass_transform(frozen_default=True)
def record(cls: type[_T]) -> type[_T]:
    """Make ``cls`` a frozen, slotted value class (see the module docstring)."""
    base_fields: tuple[str, ...] = getattr(cls, "__record_fields__", ())
    base_defaults: dict[str, Any] = getattr(cls, "__record_defaults__", {})
    own = _own_fields(cls)
    body = dict(cls.__dict__)
    defaults = dict(base_defaults)
    for field in own:
        if field in body:
            defaults[field] = body.pop(field)
    fields = base_fields + tuple(field for field in own if field not in base_fields)
    for key in _KEPT_FROM_BODY:
        body.pop(key, None)
    body["__slots__"] = tuple(field for field in own if field not in base_fields)
    body["__record_fields__"] = fields
    body["__record_defaults__"] = defaults
    body["__match_args__"] = fields
    generated = {
        "__init__": _make_init(cls.__name__, fields, defaults, post_init=hasattr(cls, "__post_init__")),
        "__repr__": _repr,
        "__eq__": _eq,
        "__hash__": _hash,
        "__setattr__": _frozen_setattr,
        "__delattr__": _frozen_delattr,
    }
    for method, function in generated.items():
        if method not in body:
            body[method] = function
    metaclass: type = type(cls)
    made: type[_T] = metaclass(cls.__name__, cls.__bases__, body)
    made.__qualname__ = cls.__qualname__
    return made


def replace(instance: _T, **changes: Any) -> _T:
    """A copy of a record with some fields changed (``dataclasses.replace``); ``__init__`` checks them."""
    for field in instance.__record_fields__:  # type: ignore[attr-defined]
        if field not in changes:
            changes[field] = getattr(instance, field)
    return instance.__class__(**changes)


def field_values(instance: object) -> dict[str, Any]:
    """A record's fields by name, in declaration order (a shallow ``dataclasses.asdict``)."""
    fields: tuple[str, ...] = instance.__record_fields__  # type: ignore[attr-defined]
    return {field: getattr(instance, field) for field in fields}

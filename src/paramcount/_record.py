"""Frozen, slotted value classes for the start-up path, built without ``dataclasses``.

A subclass of ``Record`` is what ``@dataclass(frozen=True, slots=True)`` made for the tree, the catalog and
the report: fields from the class annotations (a base record's fields first), defaults from class
attributes, ``__init__`` taking them positionally or by keyword, ``__eq__``/``__hash__`` over the field
values, ``__repr__`` and ``__match_args__``, ``__post_init__`` when defined, and ``replace()``. Methods the
class defines itself (``__init__``, ``__repr__`` …) are kept, as ``dataclasses`` keeps them.

Why not ``dataclasses``: it writes each method as source text and compiles it, and imports ``inspect``;
for the sixty classes a CLI answer touches that was ~35 ms of a ~220 ms process. Here the metaclass adds
``__slots__`` and a per-class ``__init__`` (a closure over the field names) to the class body before the
class is made, so each class is created once (a decorator would have to create it twice to add slots),
and the other methods are inherited from ``Record``. Type checkers see ``Record`` subclasses as
dataclasses (PEP 681 ``dataclass_transform``), so constructor calls are checked as before.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Generic, TypeVar, dataclass_transform

    _T = TypeVar("_T")

    class Typed(Generic[_T]):
        """A base that makes a class generic (``Registry[LayerSpec]``) for the type checker only."""

else:

    def dataclass_transform(**_: object) -> Callable[[_T], _T]:
        return lambda decorated: decorated

    class Typed:  # the answer path does without ``typing`` (an import of a millisecond)
        __slots__ = ()

        def __class_getitem__(cls, item: object) -> type:
            return cls


__all__ = ["Record", "Typed", "field_values", "replace"]


def _own_fields(namespace: dict[str, Any]) -> list[str]:
    annotations: dict[str, str] = namespace.get("__annotations__", {})
    return [name for name, annotation in annotations.items() if not str(annotation).startswith("ClassVar")]


_MISSING = object()


def _values(name: str, fields: tuple[str, ...], defaults: dict[str, Any], args: Any, kwargs: dict[str, Any]) -> Any:
    """Every field's value, in order, from a call's arguments and the defaults; the ``TypeError`` a
    dataclass's ``__init__`` raises for a call that does not fit."""
    if len(args) > len(fields):
        raise TypeError(f"{name}() takes {len(fields)} positional arguments but {len(args)} were given")
    for field in fields[: len(args)] if kwargs else ():
        if field in kwargs:
            raise TypeError(f"{name}() got multiple values for argument {field!r}")
    values = list(args)
    for field in fields[len(args) :]:
        value = kwargs.pop(field, _MISSING)
        if value is _MISSING:
            value = defaults.get(field, _MISSING)
            if value is _MISSING:
                raise TypeError(f"{name}() missing required argument: {field!r}")
        values.append(value)
    if kwargs:
        raise TypeError(f"{name}() got an unexpected keyword argument {next(iter(kwargs))!r}")
    return values


def _make_init(cls: type, fields: tuple[str, ...], defaults: dict[str, Any], post_init: bool) -> Callable[..., None]:
    """An ``__init__`` that takes ``fields`` positionally or by keyword, as a dataclass's does.

    It stores each value through its slot's descriptor (``__set__``), past the frozen ``__setattr__``; a call
    with every field given positionally, the common case, goes straight there."""
    name = cls.__name__
    setters = tuple(getattr(cls, field).__set__ for field in fields)
    size = len(fields)

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if kwargs or len(args) != size:
            args = _values(name, fields, defaults, args, kwargs)
        for set_field, value in zip(setters, args, strict=True):
            set_field(self, value)
        if post_init:
            self.__post_init__()

    return __init__


class _RecordType(type):
    """Completes a ``Record`` subclass's body (slots, fields, ``__init__``) before the class is made."""

    def __new__(mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any) -> _RecordType:
        if "__record_fields__" in namespace:  # Record itself
            return super().__new__(mcls, name, bases, namespace, **kwargs)
        base_fields: tuple[str, ...] = ()
        defaults: dict[str, Any] = {}
        for base in reversed(bases):
            base_fields = getattr(base, "__record_fields__", ()) or base_fields
            defaults.update(getattr(base, "__record_defaults__", {}))
        own = [field for field in _own_fields(namespace) if field not in base_fields]
        for field in own:
            if field in namespace:
                defaults[field] = namespace.pop(field)
        fields = base_fields + tuple(own)
        namespace["__slots__"] = tuple(own)
        namespace["__record_fields__"] = fields
        namespace["__record_defaults__"] = defaults
        namespace["__match_args__"] = fields
        written = "__init__" in namespace
        cls = super().__new__(mcls, name, bases, namespace, **kwargs)
        if not written:
            post_init = "__post_init__" in namespace or any(hasattr(base, "__post_init__") for base in bases)
            cls.__init__ = _make_init(cls, fields, defaults, post_init)  # type: ignore[misc]
        return cls


@dataclass_transform(frozen_default=True)
class Record(metaclass=_RecordType):
    """Base of the frozen value classes (see the module docstring)."""

    __slots__ = ()
    __record_fields__: tuple[str, ...] = ()
    __record_defaults__: dict[str, Any] = {}  # noqa: RUF012 - read-only, per class

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, field) for field in self.__record_fields__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{field}={getattr(self, field)!r}" for field in self.__record_fields__)
        return f"{self.__class__.__qualname__}({shown})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r} of a frozen {self.__class__.__name__}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r} of a frozen {self.__class__.__name__}")

    # pickle and copy restore state through setattr, which a frozen record refuses (dataclasses adds the
    # same pair to frozen slotted classes).
    def __getstate__(self) -> tuple[Any, ...]:
        return self._values()

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for field, value in zip(self.__record_fields__, state, strict=True):
            object.__setattr__(self, field, value)


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

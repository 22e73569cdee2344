"""Constructor signatures of the catalog's layers and the zoo's models, mirroring torch's exactly.

``signature("in_features", "out_features", bias=True, device=None, dtype=None)`` gives positional order,
keyword names and defaults; a ``"*"`` marks where keyword-only arguments start, ``"*args"`` a variadic
container, ``"**kwargs"`` a class that accepts and ignores any keyword (``Identity``).
"""

from __future__ import annotations

from paramcount._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

__all__ = ["REQUIRED", "Signature", "signature"]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Final = _Required()
"""Default marker of an argument that has no default."""


class Signature(Record):
    """A constructor signature: ``(name, default)`` pairs in torch's order. Made by ``signature()``, which
    also fills the fields after ``any_keywords`` (read on every call of the layer, so computed once)."""

    parameters: tuple[tuple[str, object], ...]
    keyword_only: frozenset[str] = frozenset()
    variadic: str | None = None
    """Name of a ``*args`` parameter (containers), or None."""
    any_keywords: bool = False
    """True for ``**kwargs`` signatures (``Identity``): unknown keywords are accepted and ignored."""
    names: tuple[str, ...] = ()
    """Every parameter name, in order."""
    positional: tuple[str, ...] = ()
    """The names that can be given positionally, in order."""
    required: tuple[str, ...] = ()
    """The names without a default, in order."""

    def default(self, name: str) -> object:
        for key, value in self.parameters:
            if key == name:
                return value
        raise KeyError(name)


def signature(*positional: str, **defaults: object) -> Signature:
    """Build a signature: bare names are required, ``"*"`` starts keyword-only names, ``"*args"`` is
    variadic; keyword arguments give the remaining parameters with their defaults, in order."""
    parameters: list[tuple[str, object]] = []
    keyword_only: set[str] = set()
    variadic = None
    any_keywords = False
    star_seen = False
    for name in positional:
        if name.startswith("**"):
            any_keywords = True
        elif name == "*":
            star_seen = True
        elif name.startswith("*"):
            variadic = name[1:]
        else:
            parameters.append((name, REQUIRED))
            if star_seen:
                keyword_only.add(name)
    for name, default in defaults.items():
        if name.startswith("kw_"):
            name = name[3:]
            keyword_only.add(name)
        parameters.append((name, default))
    names = tuple(name for name, _ in parameters)
    positional_names = tuple(name for name in names if name not in keyword_only)
    required = tuple(name for name, default in parameters if default is REQUIRED)
    return Signature(
        tuple(parameters), frozenset(keyword_only), variadic, any_keywords, names, positional_names, required
    )

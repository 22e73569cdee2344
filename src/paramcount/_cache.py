"""``per_tree``: a pure function of an immutable tree computed once per tree (by identity), so the reports and
plans of one model share it (the planner asks for many plans of one Llama); ``per_frozen`` the same for a
function of other frozen values (a tree's counts, a section built from them), as the renderers use it."""

from __future__ import annotations

from collections import OrderedDict

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    F = TypeVar("F", bound=Callable[..., Any])
    Tree = TypeVar("Tree")
    T = TypeVar("T")

__all__ = ["per_frozen", "per_tree"]

TREES_KEPT = 64
"""Trees (argument tuples) whose values each function keeps (a Llama's tensor listing is ~300 rows)."""


def per_frozen(function: F) -> F:
    """``function`` memoised by the identity of its positional arguments, kept alive beside its value (so no
    other object can take their ids while the entry stands: the same ids are the same objects), the oldest of
    ``TREES_KEPT`` dropped first. Only for functions of frozen values alone (a ``Module``, a ``Record``, a
    string), whose value cannot go stale; safe across threads (a race at worst computes a value twice)."""
    found: OrderedDict[tuple[int, ...], tuple[tuple[object, ...], object]] = OrderedDict()

    def memoised(*arguments: object) -> object:
        key = tuple(map(id, arguments))
        entry = found.get(key)
        if entry is None:
            entry = (arguments, function(*arguments))
            if len(found) >= TREES_KEPT:
                found.popitem(last=False)
            found[key] = entry
        return entry[1]

    memoised.__doc__ = function.__doc__
    memoised.__name__ = function.__name__
    memoised.__wrapped__ = function  # type: ignore[attr-defined]
    return memoised  # type: ignore[return-value]


def per_tree(function: Callable[[Tree], T]) -> Callable[[Tree], T]:
    """``function`` of a tree (a ``paramcount.tree.Module``) alone, memoised by the tree's identity
    (``per_frozen``): a ``Module`` is frozen, so the value cannot go stale."""
    return per_frozen(function)

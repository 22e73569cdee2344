"""``per_tree``: a pure function of an immutable tree computed once per tree (by identity), so the reports and
plans of one model share it (the planner asks for many plans of one Llama)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    from paramcount.tree import Module

    T = TypeVar("T")

__all__ = ["per_tree"]

TREES_KEPT = 64
"""Trees whose values each function keeps (a Llama's tensor listing is ~300 rows)."""


def per_tree(function: Callable[[Module], T]) -> Callable[[Module], T]:
    """``function`` memoised by the tree's identity, the tree kept alive beside its value (so its id is not
    reused), the oldest of ``TREES_KEPT`` dropped first. Only for functions of the tree alone: a ``Module`` is
    frozen, so the value cannot go stale."""
    found: dict[int, tuple[Module, T]] = {}

    def memoised(tree: Module) -> T:
        entry = found.get(id(tree))
        if entry is None or entry[0] is not tree:
            entry = (tree, function(tree))
            if len(found) >= TREES_KEPT:
                del found[next(iter(found))]
            found[id(tree)] = entry
        return entry[1]

    memoised.__doc__ = function.__doc__
    memoised.__name__ = function.__name__
    memoised.__wrapped__ = function  # type: ignore[attr-defined]
    return memoised

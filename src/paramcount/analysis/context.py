"""Where a layer's exact configuration occurs in real architectures, computed from the zoo's trees.

Two layers match when they are the same kind with the same parameter shapes (stride and padding hold no
parameters, so they do not matter); a layer with the same weight but a different bias (ResNet's
``bias=False`` convolutions) is a near match with its own count. Entries are grouped per model and
configuration: ``features.5.0.block.3 (+26 more)``.
"""

from __future__ import annotations

from paramcount._record import Record
from paramcount.tree import Module, iter_modules_collapsed, parameter_count

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = ["IndexEntry", "Occurrence", "index_entries", "layer_signature", "occurrences"]

Shapes = tuple[tuple[str, tuple[int, ...]], ...]


class IndexEntry(Record):
    """One configuration of one layer kind in one zoo model: where it first appears and how often."""

    kind: str
    shapes: Shapes
    model: str
    path: str
    places: int
    expression: str
    total: int


class Occurrence(Record):
    entry: IndexEntry
    exact: bool
    """False for the same weight with a different bias (the count differs by the bias)."""


def layer_signature(module: Module) -> tuple[str, Shapes]:
    return module.kind, tuple((p.name, p.sizes) for p in module.params)


def index_entries(
    models: Iterable[tuple[str, Module]], describe: Callable[[Module], str | None]
) -> tuple[IndexEntry, ...]:
    """Every parameter-holding leaf layer of the models, grouped by (model, configuration); ``describe``
    gives a layer's canonical call, or None for kinds a query cannot name (a model's own block kinds)."""
    entries: dict[tuple[str, str, str], IndexEntry] = {}
    for name, root in models:
        for path, module, times in iter_modules_collapsed(root):
            if not module.params or module.children:
                continue
            kind, shapes = layer_signature(module)
            expression = describe(module)
            if expression is None:
                continue
            key = (name, kind, expression)
            found = entries.get(key)
            if found is None:
                entries[key] = IndexEntry(kind, shapes, name, path, times, expression, parameter_count(module))
            else:
                entries[key] = IndexEntry(kind, shapes, name, found.path, found.places + times, expression, found.total)
    return tuple(entries.values())


def _weights(shapes: Shapes) -> Shapes:
    return tuple((name, shape) for name, shape in shapes if name != "bias")


def occurrences(layer: Module, entries: Iterable[IndexEntry]) -> tuple[Occurrence, ...]:
    """Exact matches first, then same-weight matches whose bias differs, each in index order."""
    if not layer.params or layer.children:
        return ()
    kind, shapes = layer_signature(layer)
    exact, near = [], []
    for entry in entries:
        if entry.kind != kind:
            continue
        if entry.shapes == shapes:
            exact.append(Occurrence(entry, True))
        elif _weights(entry.shapes) == _weights(shapes):
            near.append(Occurrence(entry, False))
    return (*exact, *near)

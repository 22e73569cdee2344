"""The zoo's layer index, shipped as data (``index.json``) so answers never rebuild the zoo.

``compute_index()`` builds it from the zoo; ``load_index(kind)`` reads the shipped entries of one layer
kind. ``tests/zoo/test_index.py`` checks that the shipped file equals a fresh computation, and
``pytest --update-golden`` rewrites it after a zoo change.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from paramcount.analysis.context import IndexEntry, index_entries
from paramcount.layers._registry import expression_of, known_layers
from paramcount.tree import Module
from paramcount.zoo._registry import build_model, known_models

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["INDEX_PATH", "compute_index", "dump_index", "load_index"]

INDEX_PATH = Path(__file__).parent / "index.json"


def compute_index() -> tuple[IndexEntry, ...]:
    catalog = set(known_layers())

    def describe(module: Module) -> str | None:
        return expression_of(module) if module.kind in catalog else None

    return index_entries(((name, build_model(name)) for name in known_models()), describe)


def dump_index(entries: tuple[IndexEntry, ...]) -> str:
    """One line per layer kind: ``{"Conv2d": [[shapes, model, path, places, expression, total], …], …}``."""
    import json

    by_kind: dict[str, list[list[Any]]] = {}
    for entry in entries:
        shapes = [[name, list(shape)] for name, shape in entry.shapes]
        by_kind.setdefault(entry.kind, []).append(
            [shapes, entry.model, entry.path, entry.places, entry.expression, entry.total]
        )
    lines = [f"{json.dumps(kind)}: {json.dumps(rows, separators=(',', ':'))}" for kind, rows in sorted(by_kind.items())]
    return "{\n" + ",\n".join(lines) + "\n}\n"


@cache
def _shipped() -> dict[str, list[list[Any]]]:
    import json

    data: dict[str, list[list[Any]]] = json.loads(INDEX_PATH.read_text(encoding="utf-8"))
    return data


def load_index(kind: str) -> tuple[IndexEntry, ...]:
    """The shipped entries for one layer kind (empty when the zoo has none)."""
    return tuple(
        IndexEntry(
            kind,
            tuple((name, tuple(shape)) for name, shape in shapes),
            model,
            path,
            places,
            expression,
            total,
        )
        for shapes, model, path, places, expression, total in _shipped().get(kind, ())
    )

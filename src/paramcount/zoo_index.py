"""The zoo's layer index, shipped as data (``zoo/index.tsv``) so answers never rebuild the zoo.

It joins a door and an analysis (the zoo's trees, read by ``analysis.context``), so it sits beside ``api``,
above both: the zoo imports no analysis, and no analysis imports the zoo.

``compute_index()`` builds it from the zoo; ``load_index(kind)`` reads the shipped entries of one layer
kind. ``tests/zoo/test_index.py`` checks that the shipped file equals a fresh computation, and
``pytest --update-golden`` rewrites it after a zoo change.

The format is tab-separated text, one entry per line, sorted by kind:
``kind  model  path  places  total  shapes  expression`` with shapes written ``weight:512,256,3,3 bias:512``.
Reading it needs only ``str.split`` (no ``json``, whose import costs more than the whole lookup) and only
the lines of the kind asked for are decoded.
"""

from __future__ import annotations

import os
from functools import lru_cache

from paramcount.analysis.context import IndexEntry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from paramcount.analysis.context import Shapes
    from paramcount.tree import Module

__all__ = ["INDEX_PATH", "compute_index", "dump_index", "load_index"]

INDEX_PATH = os.path.join(os.path.dirname(__file__), "zoo", "index.tsv")

_shipped: list[str] = []
"""The shipped file's text (after a line break, so every line starts with one), read on first use."""


def compute_index() -> tuple[IndexEntry, ...]:
    from paramcount.analysis.context import index_entries
    from paramcount.layers import known_layers
    from paramcount.layers.construction import call_of
    from paramcount.render.code import call_text
    from paramcount.zoo import build_model, known_models

    catalog = set(known_layers())

    def describe(module: Module) -> str | None:
        return call_text(call_of(module)) if module.kind in catalog else None

    return index_entries(((name, build_model(name)) for name in known_models()), describe)


def _shapes_text(shapes: Shapes) -> str:
    return " ".join(f"{name}:{','.join(map(str, shape))}" for name, shape in shapes)


def dump_index(entries: tuple[IndexEntry, ...]) -> str:
    """The file's text: one tab-separated line per entry, sorted by kind (stable within a kind)."""
    lines = []
    for entry in sorted(entries, key=lambda entry: entry.kind):
        fields = (entry.kind, entry.model, entry.path, str(entry.places), str(entry.total))
        line = "\t".join((*fields, _shapes_text(entry.shapes), entry.expression))
        if line.count("\t") != 6 or "\n" in line:
            raise ValueError(f"an index entry cannot hold a tab or a line break: {line!r}")
        lines.append(line)
    return "\n".join(lines) + "\n"


def _decode_shapes(text: str) -> Shapes:
    shapes = []
    for item in text.split():
        name, _, sizes = item.partition(":")
        shapes.append((name, tuple(int(size) for size in sizes.split(",")) if sizes else ()))
    return tuple(shapes)


def _weights_text(shapes_text: str) -> str:
    """The shapes without the bias: what an exact or a near match (differing only in bias) shares."""
    return " ".join(item for item in shapes_text.split() if not item.startswith("bias:"))


@lru_cache(maxsize=64)
def _lines_of(kind: str) -> tuple[str, ...]:
    """The shipped file's lines for one kind (none when it has none), found once per kind: finding them scans
    the whole 300 kB text, more than the rest of a new layer's answer page."""
    if not _shipped:
        with open(INDEX_PATH, encoding="utf-8") as stream:
            _shipped.append("\n" + stream.read())
    text = _shipped[0]
    prefix = "\n" + kind + "\t"
    first = text.find(prefix)
    if first < 0:
        return ()
    last = text.rfind(prefix)  # the file is sorted by kind: the kind's lines are one block
    end = text.find("\n", last + 1)
    return tuple(text[first + 1 : end if end >= 0 else len(text)].split("\n"))


def load_index(kind: str, like: Shapes | None = None) -> tuple[IndexEntry, ...]:
    """The shipped entries for one layer kind (empty when the zoo has none); with ``like``, only those whose
    tensors other than the bias have these shapes (the candidates of ``occurrences``), chosen before any
    line is decoded."""
    wanted = None if like is None else _weights_text(_shapes_text(like))
    probe = wanted.split(" ", 1)[0] if wanted else ""  # a substring every candidate line holds
    entries = []
    for line in _lines_of(kind):
        if probe in line:
            _, model, path, places, total, shapes, expression = line.split("\t")
            if wanted is None or _weights_text(shapes) == wanted:
                entry = IndexEntry(kind, _decode_shapes(shapes), model, path, int(places), expression, int(total))
                entries.append(entry)
    return tuple(entries)

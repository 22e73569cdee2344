"""Where a layer's exact configuration occurs in real architectures, computed from the zoo's trees.

Two layers match when they are the same kind with the same parameter shapes (so stride and padding,
which hold no parameters, do not matter); a layer with the same weight but a bias where the other has
none (ResNet's ``bias=False`` convolutions) is reported as a near match with its own count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from paramcount.tree import Module, iter_modules_collapsed

__all__ = ["Occurrence", "ZooIndex", "build_index", "occurrences"]

Signature = tuple[str, tuple[tuple[str, tuple[int, ...]], ...]]


@dataclass(frozen=True, slots=True)
class Occurrence:
    model: str
    path: str
    times: int
    module: Module
    exact: bool
    """False for the same weight with a different bias (the count differs by the bias)."""


@dataclass(frozen=True, slots=True)
class ZooIndex:
    by_signature: dict[Signature, tuple[tuple[str, str, int, Module], ...]]
    by_weight: dict[Signature, tuple[tuple[str, str, int, Module], ...]]


def _signature(module: Module) -> Signature:
    return module.kind, tuple((p.name, p.sizes) for p in module.params)


def _weight_signature(module: Module) -> Signature:
    return module.kind, tuple((p.name, p.sizes) for p in module.params if p.name != "bias")


def build_index(models: Iterable[tuple[str, Module]]) -> ZooIndex:
    """Index every parameter-holding leaf layer of the given models (collapsed: a repeated block once)."""
    exact: dict[Signature, list[tuple[str, str, int, Module]]] = {}
    weight: dict[Signature, list[tuple[str, str, int, Module]]] = {}
    for name, root in models:
        for path, module, times in iter_modules_collapsed(root):
            if not module.params or module.children:
                continue
            entry = (name, path, times, module)
            exact.setdefault(_signature(module), []).append(entry)
            weight.setdefault(_weight_signature(module), []).append(entry)
    return ZooIndex(
        {key: tuple(value) for key, value in exact.items()},
        {key: tuple(value) for key, value in weight.items()},
    )


def occurrences(layer: Module, index: ZooIndex) -> tuple[Occurrence, ...]:
    """Exact matches first, then same-weight matches whose bias differs."""
    if not layer.params or layer.children:
        return ()
    found = [Occurrence(m, p, t, mod, True) for m, p, t, mod in index.by_signature.get(_signature(layer), ())]
    seen = {(o.model, o.path) for o in found}
    for model, path, times, module in index.by_weight.get(_weight_signature(layer), ()):
        if (model, path) not in seen:
            found.append(Occurrence(model, path, times, module, False))
    return tuple(found)

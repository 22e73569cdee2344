"""The model zoo: name-addressable architectures built from the catalog (Python that builds the tree).

    @model("resnet50", signature(num_classes=1000), family="vision", reference="torchvision.models.resnet50")
    def resnet50(a: Arguments) -> Module: ...

Each entry is checked in the tests against the published exact count of its reference implementation.
The root's ``args`` are the builder's arguments, so a report can rebuild its call; which model was called
is known to the caller (the expression door), which records it as the answer's provenance.
"""

from __future__ import annotations

from paramcount._record import Record, replace
from paramcount.errors import UnknownNameError, did_you_mean
from paramcount.layers._registry import Arguments, LayerSpec, Parts, Signature, bind
from paramcount.tree import Module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import TypeAlias

    from paramcount.tree import Value

__all__ = ["ModelSpec", "build_model", "known_models", "lookup_model", "model"]

if TYPE_CHECKING:
    ModelBuilder: TypeAlias = Callable[[Arguments], Module]


class ModelSpec(Record):
    name: str
    signature: Signature
    builder: ModelBuilder
    family: str
    reference: str
    """The reference implementation whose count the tests check (``torchvision.models.resnet50``)."""


_REGISTRY: dict[str, ModelSpec] = {}


def model(name: str, sig: Signature, *, family: str, reference: str) -> Callable[[ModelBuilder], ModelBuilder]:
    def register(builder: ModelBuilder) -> ModelBuilder:
        if name in _REGISTRY:
            raise RuntimeError(f"zoo model {name!r} registered twice")
        _REGISTRY[name] = ModelSpec(name, sig, builder, family, reference)
        return builder

    return register


def _load() -> None:
    from paramcount.zoo import models  # noqa: F401  (imports every family module)


def known_models() -> tuple[str, ...]:
    _load()
    return tuple(sorted(_REGISTRY))


def lookup_model(name: str) -> ModelSpec:
    _load()
    spec = _REGISTRY.get(name)
    if spec is None:
        import difflib

        close = difflib.get_close_matches(name.lower(), list(_REGISTRY), n=3, cutoff=0.6)
        raise UnknownNameError(f"unknown model {name!r}{did_you_mean(close)}", name, tuple(close))
    return spec


def _no_parts(a: Arguments) -> Parts:
    return Parts()


def build_model(name: str, positional: Sequence[Value] = (), keywords: Sequence[tuple[str, Value]] = ()) -> Module:
    """Build zoo model ``name`` with its constructor arguments (``resnet50(num_classes=10)``); torchvision's
    ``weights=``, ``pretrained=`` and ``progress=`` are read before, by ``zoo.weights.with_weights``."""
    spec = lookup_model(name)
    arguments = bind(LayerSpec(name, spec.signature, _no_parts, spec.family), positional, keywords)
    root = spec.builder(arguments)
    return replace(root, name="", args=tuple(arguments.values.items()))

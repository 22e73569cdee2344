"""The model zoo: name-addressable architectures built from the catalog (Python that builds the tree).

    @model("resnet50", signature(num_classes=1000))
    def resnet50(a: Arguments) -> Module: ...

Each entry is checked in the tests against the published exact count of its reference implementation.
The root's ``args`` are the builder's arguments, so a report can rebuild its call; which model was called
is known to the caller (the expression door), which records it as the answer's provenance.
"""

from __future__ import annotations

from paramcount._record import replace
from paramcount._registry import Registry
from paramcount.layers._arguments import Arguments, Declaration, declare
from paramcount.tree import Module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Final, TypeAlias

    from paramcount.layers._signature import Signature
    from paramcount.tree import Value

__all__ = ["ModelSpec", "build_model", "known_models", "lookup_model", "model"]

ModelSpec: TypeAlias = Declaration[Module]
"""One zoo model: its name, torchvision's signature and the builder of its tree."""
if TYPE_CHECKING:
    ModelBuilder: TypeAlias = Callable[[Arguments], Module]


def _load() -> None:
    from paramcount.zoo import models  # noqa: F401  (imports every family module)


ZOO: Final[Registry[ModelSpec]] = Registry("model", _load)
"""Every zoo model by name."""


def model(name: str, sig: Signature) -> Callable[[ModelBuilder], ModelBuilder]:
    """Register ``builder`` as zoo model ``name``, which mirrors ``torchvision.models.<name>``."""
    return declare(ZOO, name, sig)


def known_models() -> tuple[str, ...]:
    return ZOO.names()


def lookup_model(name: str) -> ModelSpec:
    """The zoo model ``name``, or ``UnknownNameError`` with the closest names."""
    return ZOO.lookup(name)


def build_model(name: str, positional: Sequence[Value] = (), keywords: Sequence[tuple[str, Value]] = ()) -> Module:
    """Build zoo model ``name`` with its constructor arguments (``resnet50(num_classes=10)``); torchvision's
    ``weights=``, ``pretrained=`` and ``progress=`` are read before, by ``zoo.weights.with_weights``."""
    arguments, root = lookup_model(name).build(positional, keywords)
    return replace(root, name="", args=tuple(arguments.values.items()))

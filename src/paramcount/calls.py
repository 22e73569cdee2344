"""Python calls as data: what builds a module, before anything is written as text.

The catalog knows which constructor arguments a module needs (required ones, and others where they differ
from torch's defaults) and which objects a program must share; ``layers.construction`` turns a tree into
these records. ``render.code`` writes them as text: the canonical expression (``Conv2d(256, 512, 3)``) and
the runnable verification programs. A leaf module, like ``provenance``: the doors' side builds the records,
the renderers read them, and neither imports the other.

    Argument        a plain value (int, float, bool, str, None) or one of the records below, or a tuple
    ├── Call        ``kind(*positional, **keywords)``, then ``.to(torch.<cast>)``, ``.requires_grad_(False)``
    ├── Container   ``Sequential`` / ``ModuleList`` / ``ModuleDict`` and their named members
    ├── Name        a name written as is: a torch object (``torch.bfloat16``, ``F.gelu``) or a variable
    ├── NewTensor   ``torch.<factory>(*sizes)``, wrapped in ``nn.Parameter`` when ``parameter``
    ├── Repeated    one object ``times`` times in a row (``*[linear] * 4``)
    └── Dictionary  ``OrderedDict([...])`` or ``{...}``

The verification programs: ``TorchProgram`` (a ``Construction``), ``TorchvisionProgram``,
``TransformersProgram``.
"""

from __future__ import annotations

from paramcount._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeAlias

__all__ = [
    "Argument",
    "Call",
    "Construction",
    "Container",
    "Dictionary",
    "Name",
    "NewTensor",
    "Program",
    "Repeated",
    "TorchProgram",
    "TorchvisionProgram",
    "TransformersProgram",
]


class Call(Record):
    """A constructor call: ``kind`` with its arguments; ``cast`` and ``frozen`` are the method calls that
    reproduce what arguments cannot (``.to(torch.float16)``, ``.requires_grad_(False)``)."""

    kind: str
    positional: tuple[Argument, ...] = ()
    keywords: tuple[tuple[str, Argument], ...] = ()
    cast: str | None = None
    frozen: bool = False


class Container(Record):
    """A ``Sequential``, ``ModuleList`` or ``ModuleDict`` holding ``members`` by name (a ``Repeated`` member
    stands for several consecutive numbered ones)."""

    kind: str
    members: tuple[tuple[str, Argument], ...]


class Name(Record):
    """A name written as is: a torch object an expression named (``torch.bfloat16``) or a variable."""

    text: str


class NewTensor(Record):
    """A tensor made by shape only (``torch.randn(3, 4)``), wrapped in ``nn.Parameter`` when ``parameter``."""

    factory: str
    sizes: tuple[int, ...]
    dtype: str = "float32"
    parameter: bool = False
    requires_grad: bool = True


class Repeated(Record):
    """One object ``times`` times in a row: torch holds (and counts) it once."""

    item: Argument
    times: int


class Dictionary(Record):
    """``OrderedDict([(key, value), …])`` when ``ordered``, else a dict display ``{key: value, …}``."""

    items: tuple[tuple[str, Argument], ...]
    ordered: bool


class Construction(Record):
    """A module built with its sharing: each object used more than once assigned to a variable first
    (``assignments``), then the ``call`` that builds the module from them."""

    assignments: tuple[tuple[str, Argument], ...]
    call: Argument


class TorchProgram(Record):
    """Verification with PyTorch: the construction, and the parameter and buffer shapes printed."""

    construction: Construction


class TorchvisionProgram(Record):
    """Verification with torchvision: its builder called as the zoo call is."""

    call: Call


class TransformersProgram(Record):
    """Verification with transformers: the config at ``location`` (a hub id or a folder) and the class."""

    location: str
    architecture: str


if TYPE_CHECKING:
    Argument: TypeAlias = (
        int
        | float
        | bool
        | str
        | Call
        | Container
        | Name
        | NewTensor
        | Repeated
        | Dictionary
        | tuple["Argument", ...]
        | None
    )
    Program: TypeAlias = TorchProgram | TorchvisionProgram | TransformersProgram
    """A verification program, by the library it uses."""

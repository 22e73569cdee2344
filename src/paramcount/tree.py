"""The one tree every door produces and every analysis reads.

A ``Module`` is a frozen node: its kind (``"Conv2d"``), the bound constructor arguments, its own parameter
and buffer tensors, and its children. Tensor shapes are tuples of ``Dim``: each dimension carries its value
*and* the symbol it came from (``in_channels/groups``), and the dims it was made of, from which the same
expression with numbers (``256/1``) is derived when asked for; so formulas and step-by-step arithmetic are
derived from the shapes, never written by hand per layer.

Counts are Python ints (exact, unbounded); nothing here allocates tensors.
"""

from __future__ import annotations

from paramcount._record import Record, replace

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import TypeAlias

__all__ = [
    "DTYPES_STATED",
    "EXPERTS_TRANSPOSED",
    "RAW_SHAPES",
    "STORED_DATA",
    "Buffer",
    "Dim",
    "Module",
    "Param",
    "Ref",
    "Tensor",
    "TensorSpec",
    "Value",
    "buffer_count",
    "iter_buffers",
    "iter_modules",
    "iter_modules_collapsed",
    "iter_params",
    "parameter_count",
]

_ATOM, _PRODUCT, _SUM = 0, 1, 2

_OPERATORS: dict[str, tuple[int, int, int]] = {
    "·": (_PRODUCT, _PRODUCT, _PRODUCT),
    "/": (_PRODUCT, _PRODUCT, _ATOM),
    " + ": (_SUM, _SUM, _SUM),
    " - ": (_SUM, _SUM, _PRODUCT),
    "^": (_ATOM, _ATOM, _ATOM),
    "²": (_ATOM, _ATOM, _ATOM),
}
"""Each operator's precedence, and the loosest precedence its left and right operands may have without
brackets (the right operand of "/" and "-" binds tighter: a/(b·c), a - (b + c)). "²" is postfix."""

DTYPES_STATED = "dtypes_stated"
"""Key of a root's ``Module.attributes`` entry (value True) saying that the door read every tensor's dtype (a
checkpoint's header, a live module's tensors), so a float32 is the tensors' own, not torch's default that a
tensor without a stated dtype gets."""

NO_KV_CACHE = "no_kv_cache"
"""Key of a root's ``Module.attributes`` entry saying why the model keeps no KV cache when it generates (a
Hugging Face encoder, whose attention reads the whole sequence in one pass): the planner then plans none."""

EXPERTS_TRANSPOSED = "experts_transposed"
"""Key of a ``Module.attributes`` entry (value True) on fused experts whose 3-d weights are stored (experts, in,
out), each expert's slice the transpose of a Linear weight: the live-module door's mark for transformers'
``use_experts_implementation(is_transposed=True)`` (``AriaExperts``); the planner also knows the classes of the
config door that store them so (``GptOssExperts``, ``Llama4TextExperts``) by name."""

STORED_DATA = "stored_data"
"""Key of a root's ``Module.attributes`` entry holding what a checkpoint's tensor data takes per dtype,
``((dtype, elements, bytes), ...)``, when that is not each tensor's own bytes once: ``torch.save`` writes each
storage whole and once, so a view saved beside its base (``w`` and ``w[:2]``) adds no bytes and a slice saved
alone brings its whole storage."""

RAW_SHAPES = "raw_shapes"
"""Key of a ``Module.attributes`` entry saying why the module's tensors have raw shapes (``dim0`` …), not
the catalog's named dimensions: the live-module door's mark for a class it could not build."""


class Dim(Record):
    """One tensor dimension: its value, its symbol, and how it was made.

    Dims combine with ``*``, ``//``, ``+``, ``-`` and ``**`` (with each other or with int constants) so a
    layer declaration writes ``4 * hidden`` and gets ``value=4096, symbol='4·hidden_size'``; the operands
    are kept, so the same arithmetic with numbers (``4·1024``) is derived when it is asked for.
    """

    value: int
    symbol: str
    operator: str = ""
    """How the dim was made from ``operands`` (a key of ``_OPERATORS``); empty for a named dimension."""
    operands: tuple[Dim, ...] = ()
    number: float | None = None
    """The number a named dimension stands for in the arithmetic when it is not ``value`` (the float
    ``div_value`` that divides ``in_features``)."""

    @staticmethod
    def of(value: int, symbol: str) -> Dim:
        """A named dimension: ``Dim.of(512, "out_channels")``."""
        return Dim(value, symbol)

    @staticmethod
    def constant(value: int) -> Dim:
        """A literal number, e.g. the 3 of ``3·embed_dim``."""
        return Dim(value, str(value))

    @property
    def precedence(self) -> int:
        return _OPERATORS[self.operator][0] if self.operator else _ATOM

    @property
    def arithmetic(self) -> str:
        """The expression with numbers substituted (``256/1``)."""
        if not self.operands:
            return str(self.value) if self.number is None else repr(self.number)
        return _written(self.operator, self.operands, [operand.arithmetic for operand in self.operands])

    def _combine(self, other: Dim | int, operator: str, value: int) -> Dim:
        right = other if isinstance(other, Dim) else Dim.constant(other)
        operands = (self, right)
        return Dim(value, _written(operator, operands, [self.symbol, right.symbol]), operator, operands)

    def __mul__(self, other: Dim | int) -> Dim:
        other_value = other.value if isinstance(other, Dim) else other
        return self._combine(other, "·", self.value * other_value)

    def __rmul__(self, other: int) -> Dim:
        return Dim.constant(other) * self

    def __floordiv__(self, other: Dim | int) -> Dim:
        other_value = other.value if isinstance(other, Dim) else other
        return self._combine(other, "/", self.value // other_value)

    def __add__(self, other: Dim | int) -> Dim:
        other_value = other.value if isinstance(other, Dim) else other
        return self._combine(other, " + ", self.value + other_value)

    def __sub__(self, other: Dim | int) -> Dim:
        other_value = other.value if isinstance(other, Dim) else other
        return self._combine(other, " - ", self.value - other_value)

    def __pow__(self, exponent: int) -> Dim:
        """``div_value^2``."""
        return self._combine(exponent, "^", self.value**exponent)

    def squared(self) -> Dim:
        """``(image_size/patch_size)²``."""
        return Dim(self.value * self.value, _written("²", (self,), [self.symbol]), "²", (self,))


def _written(operator: str, operands: tuple[Dim, ...], texts: list[str]) -> str:
    """``operands`` (written as ``texts``: their symbols or their numbers) joined by ``operator``, an operand
    that binds looser than the operator allows in brackets."""
    _, left_limit, right_limit = _OPERATORS[operator]
    left = f"({texts[0]})" if operands[0].precedence > left_limit else texts[0]
    if operator == "²":
        return f"{left}²"
    right = f"({texts[1]})" if operands[1].precedence > right_limit else texts[1]
    return f"{left}{operator}{right}"


class Ref(Record):
    """A reference to a torch object an expression may name: ``torch.bfloat16``, ``F.gelu``."""

    path: str

    def __repr__(self) -> str:
        """The name as torch spells it (``torch.int8``): a message quoting a refused value shows what was
        written, not the record."""
        return self.path


class TensorSpec(Record):
    """A tensor an expression makes, by shape only (``torch.randn(3, 4)``, ``nn.Parameter(torch.zeros(5))``),
    to put into a ``ParameterList`` or ``ParameterDict``; nothing is allocated. ``factory`` is the torch
    function written (``"randn"``), ``parameter`` whether it is wrapped in ``nn.Parameter``."""

    factory: str
    sizes: tuple[int, ...]
    dtype: str = "float32"
    parameter: bool = False
    requires_grad: bool = True
    """``nn.Parameter``'s ``requires_grad`` (a plain tensor put into a container becomes a trainable one)."""


if TYPE_CHECKING:
    # For type checkers only (nothing checks it at run time, and importing typing costs start-up time).
    Value: TypeAlias = int | float | bool | str | Ref | TensorSpec | "Module" | tuple["Value", ...] | None
    """What a bound constructor argument can hold."""


class Tensor(Record):
    """Fields shared by parameters and buffers. ``name`` is torch's local name (``bias_hh_l0``)."""

    name: str
    shape: tuple[Dim, ...]
    dtype: str = "float32"
    tied_to: str | None = None
    """Dotted path (from the tree's root) of the tensor this one shares storage with; counted once."""

    @property
    def count(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim.value
        return count

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(dim.value for dim in self.shape)


class Param(Tensor):
    """A learnable tensor (``nn.Parameter``)."""

    trainable: bool = True


class Buffer(Tensor):
    """A registered buffer: state that is not a parameter (running statistics, counters)."""

    persistent: bool = True


class Module(Record):
    """A node of the tree. ``repeat`` > 1 stands for that many consecutive identical siblings, named by
    consecutive integers from ``name`` (only inside containers whose children are numbered)."""

    name: str
    kind: str
    args: tuple[tuple[str, Value], ...] = ()
    params: tuple[Param, ...] = ()
    buffers: tuple[Buffer, ...] = ()
    children: tuple[Module, ...] = ()
    repeat: int = 1
    attributes: tuple[tuple[str, Value], ...] = ()
    """Facts a door knows that are not constructor arguments (e.g. a config's ``torch_dtype``)."""

    def __repr__(self) -> str:
        return f"Module(kind={self.kind!r}, name={self.name!r}, params={len(self.params)})"

    def arg(self, name: str) -> Value:
        """The bound value of constructor argument ``name``."""
        for key, value in self.args:
            if key == name:
                return value
        raise KeyError(name)

    def renamed(self, name: str) -> Module:
        return replace(self, name=name)


def _member_names(module: Module) -> Iterator[tuple[str, Module]]:
    """Children with their names, a repeated child expanded into consecutive integer names."""
    for child in module.children:
        if child.repeat == 1:
            yield child.name, child
        else:
            start = int(child.name)
            single = replace(child, repeat=1)
            for index in range(start, start + child.repeat):
                yield str(index), single


def iter_modules(root: Module, prefix: str = "") -> Iterator[tuple[str, Module]]:
    """Every module with its dotted path, depth first (torch's ``named_modules`` order), repeats expanded."""
    stack: list[tuple[str, Module]] = [(prefix, root)]
    while stack:
        path, module = stack.pop()
        yield path, module
        members = [(f"{path}.{name}" if path else name, child) for name, child in _member_names(module)]
        stack.extend(reversed(members))


def iter_modules_collapsed(root: Module) -> Iterator[tuple[str, Module, int]]:
    """Every module once, a repeated child labelled ``layers.0-31`` with its multiplicity (times its
    ancestors' repeats), so a 126-layer model is walked as one layer."""
    stack: list[tuple[str, Module, int]] = [("", root, 1)]
    while stack:
        path, module, times = stack.pop()
        yield path, module, times
        members = []
        for child in module.children:
            label = child.name if child.repeat == 1 else f"{child.name}-{int(child.name) + child.repeat - 1}"
            members.append((f"{path}.{label}" if path else label, child, times * child.repeat))
        stack.extend(reversed(members))


def iter_params(root: Module, *, include_tied: bool = False) -> Iterator[tuple[str, Param]]:
    """``(dotted name, Param)`` in torch's ``named_parameters()`` order; tied copies skipped unless asked."""
    for path, module in iter_modules(root):
        for param in module.params:
            if include_tied or param.tied_to is None:
                yield (f"{path}.{param.name}" if path else param.name), param


def iter_buffers(root: Module, *, include_tied: bool = False) -> Iterator[tuple[str, Buffer]]:
    """``(dotted name, Buffer)`` in torch's ``named_buffers()`` order."""
    for path, module in iter_modules(root):
        for buffer in module.buffers:
            if include_tied or buffer.tied_to is None:
                yield (f"{path}.{buffer.name}" if path else buffer.name), buffer


def parameter_count(module: Module, *, trainable: bool | None = None) -> int:
    """Number of parameter elements, tied copies counted once, repeats multiplied (no expansion)."""
    own = sum(
        param.count
        for param in module.params
        if param.tied_to is None and (trainable is None or param.trainable == trainable)
    )
    total = own + sum(parameter_count(child, trainable=trainable) for child in module.children)
    return total * module.repeat


def buffer_count(module: Module) -> int:
    """Number of buffer elements, tied copies counted once, repeats multiplied."""
    own = sum(buffer.count for buffer in module.buffers if buffer.tied_to is None)
    return (own + sum(buffer_count(child) for child in module.children)) * module.repeat

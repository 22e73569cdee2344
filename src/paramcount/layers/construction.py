"""How to build a module again, as ``calls`` records: the catalog's side of the canonical expression and of
the verification program.

Which arguments a call needs is catalog knowledge (each layer's signature and torch's defaults), and so is
which objects a program must share (the ties ``containers`` records); writing the call as text is
``render.code``'s.
"""

from __future__ import annotations

from paramcount.calls import Call, Construction, Container, Dictionary, Name, NewTensor, Repeated
from paramcount.layers._registry import FLOAT_DTYPES, lookup, members
from paramcount.layers._signature import REQUIRED
from paramcount.layers.containers import DictValue, OrderedDictValue, shared_owner
from paramcount.tree import Module, Ref, TensorSpec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from paramcount.calls import Argument
    from paramcount.tree import Value

__all__ = ["argument_of", "call_of", "construction_of"]

_CONTAINERS = frozenset({"Sequential", "ModuleList", "ModuleDict"})


def call_of(module: Module, *, shared: Mapping[int, Argument] | None = None) -> Call | Container:
    """The canonical constructor call that builds ``module``: required arguments positionally, others by
    keyword only when they differ from torch's default (``Conv2d(256, 512, 3, bias=False)``). ``shared``
    stands in for argument values (by ``id``) that a program has assigned to variables."""
    if module.kind in _CONTAINERS:
        return Container(module.kind, tuple((name, call_of(child)) for name, child in members(module)))
    signature = lookup(module.kind).signature
    positional: list[Argument] = []
    keywords: list[tuple[str, Argument]] = []
    in_order = True  # required arguments go positionally until one argument is not written so
    for name, value in module.args:
        default = signature.default(name)
        if default is REQUIRED and in_order and name not in signature.keyword_only:
            positional.append(argument_of(value, shared))
            continue
        in_order = False
        if name != "device" and (default is REQUIRED or not _same(value, default)):
            keywords.append((name, argument_of(value, shared)))
    floating = {t.dtype for t in (*module.params, *module.buffers) if t.dtype in FLOAT_DTYPES}
    given = dict(module.args).get("dtype") is not None
    cast = floating.pop() if len(floating) == 1 and floating != {"float32"} and not given else None
    frozen = bool(module.params) and not any(param.trainable for param in module.params)
    return Call(module.kind, tuple(positional), tuple(keywords), cast, frozen)


def _same(value: object, default: object) -> bool:
    return type(value) is type(default) and value == default


def argument_of(value: Value, shared: Mapping[int, Argument] | None = None) -> Argument:
    """A bound argument value as a call argument (a module as its call); ``shared`` as in ``call_of``."""
    if value is None or isinstance(value, (int, float, str)):  # most arguments (a program shares only tensors)
        return value
    found = shared.get(id(value)) if shared else None
    if found is not None:
        return found
    if isinstance(value, Module):
        return call_of(value)
    if isinstance(value, Ref):
        return Name(value.path)
    if isinstance(value, TensorSpec):
        return NewTensor(value.factory, value.sizes, value.dtype, value.parameter, value.requires_grad)
    if isinstance(value, DictValue):
        items = tuple((key, argument_of(item, shared)) for key, item in value)
        return Dictionary(items, ordered=isinstance(value, OrderedDictValue))
    return _sequence(value, shared)


def _sequence(value: tuple[Value, ...], shared: Mapping[int, Argument] | None) -> tuple[Argument, ...]:
    """A tuple; one ``nn.Parameter`` object held n times in a row is one ``Repeated`` item, so the program
    shares it as the expression did."""
    parts: list[Argument] = []
    index = 0
    while index < len(value):
        item, end = value[index], index + 1
        while isinstance(item, TensorSpec) and item.parameter and end < len(value) and value[end] is item:
            end += 1
        argument = argument_of(item, shared)
        parts.append(argument if end - index == 1 else Repeated(argument, end - index))
        index = end
    return tuple(parts)


class _Program:
    """Assignments that build each shared object once, for ``construction_of``."""

    def __init__(self) -> None:
        self.assignments: list[tuple[str, Argument]] = []
        self.taken = {"torch", "nn", "layer", "model", "OrderedDict"}

    def variable(self, kind: str, value: Argument) -> Name:
        base = kind.lower()
        name, number = base, 1
        while name in self.taken:
            number += 1
            name = f"{base}_{number}"
        self.taken.add(name)
        self.assignments.append((name, value))
        return Name(name)

    def call(self, module: Module, path: str) -> Argument:
        if module.kind not in _CONTAINERS:
            reused = {id(spec): self.variable("parameter", argument_of(spec, {})) for spec in _reused(module)}
            return call_of(module, shared=reused)
        listed = members(module)
        named = dict(listed)
        owners = {name: shared_owner(path, named, child) for name, child in listed}
        shared = {owner for owner in owners.values() if owner is not None}
        parts: list[Argument] = []
        variables: dict[str, Name] = {}
        for name, child in listed:
            owner = owners[name]
            if owner is not None:
                parts.append(variables[owner])
                continue
            part = self.call(child, f"{path}.{name}" if path else name)
            if name in shared:
                part = variables[name] = self.variable(child.kind, part)
            parts.append(part)
        names = [name for name, _ in listed]
        if module.kind != "ModuleDict" and all(name == str(index) for index, name in enumerate(names)):
            parts = _runs(parts, set(variables.values()))
            names = [str(index) for index in range(len(parts))]
        return Container(module.kind, tuple(zip(names, parts, strict=True)))


def _reused(module: Module) -> list[TensorSpec]:
    """The ``nn.Parameter`` objects a parameter container holds more than once (counted once by torch)."""
    seen: dict[int, int] = {}
    specs: dict[int, TensorSpec] = {}
    stack: list[object] = [value for _, value in module.args]
    while stack:
        value = stack.pop()
        if isinstance(value, TensorSpec) and value.parameter:
            seen[id(value)] = seen.get(id(value), 0) + 1
            specs[id(value)] = value
        elif isinstance(value, tuple) and not isinstance(value, Module):
            stack.extend(value)
    return [specs[key] for key, times in seen.items() if times > 1]


def _runs(parts: list[Argument], variables: set[Name]) -> list[Argument]:
    """Consecutive references to one variable as one ``Repeated`` part (the same object n times)."""
    grouped: list[Argument] = []
    index = 0
    while index < len(parts):
        part, end = parts[index], index + 1
        while part in variables and end < len(parts) and parts[end] == part:
            end += 1
        grouped.append(Repeated(part, end - index) if end - index > 1 else part)
        index = end
    return grouped


def construction_of(module: Module) -> Construction:
    """What builds ``module`` with its sharing: assignments ``(variable, call)`` that build each object used
    more than once, then the call that builds ``module`` from them. Without sharing, no assignments and
    ``call_of(module)``.

    ``Sequential(*[Linear(64, 64)] * 4)`` gives the assignment ``linear = Linear(64, 64)`` and the call
    ``Sequential(*[linear] * 4)``: the same object four times, as torch counts it (4,160, not 16,640)."""
    program = _Program()
    call = program.call(module, "")
    return Construction(tuple(program.assignments), call)

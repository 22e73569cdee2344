"""Container family: Sequential, ModuleList, ModuleDict (torch/nn/modules/container.py, torch 2.13).

Containers hold other modules under names: ``"0"``, ``"1"`` … for Sequential and ModuleList, the given keys
for ``Sequential(OrderedDict(...))`` and ModuleDict. Two torch behaviours are kept exactly:

- **Sharing.** A module object held twice (``[nn.Linear(64, 64)] * 4`` repeats *one* object) is counted
  once: ``named_parameters()`` and ``named_buffers()`` deduplicate by identity. The tree stores the first
  reference as is and each later one as a copy whose tensors carry ``tied_to=<path of the first
  reference's tensor>``, so counting skips them and the report can name the tie. Sharing is detected among
  the members one container is given, which is all the sharing an expression can write (``[m] * n``); a
  tree built by hand that puts one object into two different containers is not deduplicated.
- **Naming.** ``tied_to`` paths are relative to the tree's root, so whenever a container adopts a child
  under a name, the paths inside the child gain that name as a prefix (``with_prefixed_ties``).

Identical consecutive *distinct* modules of a numbered container (``[nn.Linear(64, 64) for _ in
range(4)]``) are stored as one child with ``repeat=4``; ``iter_params`` expands their names as torch
spells them (``0.weight`` … ``3.bias``).

An ``OrderedDict([...])`` or ``{...}`` written in an expression arrives as an ``OrderedDictValue`` or a
``DictValue``: its ``(name, value)`` pairs in order, duplicate keys resolved as a dict resolves them.
Both are tuples, so they are tree ``Value``s; only the ``OrderedDict`` spelling names the children of a
Sequential, as in torch (a plain dict there is refused, as torch refuses it).
"""

from __future__ import annotations

from paramcount._record import replace
from paramcount.errors import short_repr
from paramcount.layers._arguments import Arguments
from paramcount.layers._registry import Parts, layer
from paramcount.layers._signature import signature
from paramcount.tree import Buffer, Dim, Module, Param, TensorSpec, iter_modules

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Final, TypeAlias, TypeVar

    from paramcount.tree import Value

__all__ = [
    "DictValue",
    "OrderedDictValue",
    "shared_owner",
    "shared_reference",
    "with_prefixed_ties",
]

if TYPE_CHECKING:
    _T = TypeVar("_T", Param, Buffer)
    _Pairs: TypeAlias = tuple[tuple[str, Value], ...]
else:
    _Pairs = tuple  # the same class at run time, without a typing import


class DictValue(_Pairs):
    """A ``{"name": module, ...}`` written in an expression: its ``(name, value)`` pairs in order."""

    __slots__ = ()

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, Value]]) -> DictValue:
        """The pairs as a dict keeps them: a repeated key keeps its first position and its last value."""
        return cls(dict(pairs).items())

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{key!r}: {value!r}" for key, value in self) + "}"


class OrderedDictValue(DictValue):
    """An ``OrderedDict([("name", module), ...])`` written in an expression."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"OrderedDict({list(self)!r})"


# What hasattr() finds on a fresh container in torch 2.13: add_module refuses these as child names
# ("attribute 'forward' already exists"). Pinned against torch's dir() by a test.
_MODULE_ATTRIBUTES: Final = frozenset(
    {
        "T_destination", "__annotations__", "__call__", "__class__", "__delattr__", "__dict__", "__dir__",
        "__doc__", "__eq__", "__format__", "__ge__", "__getattr__", "__getattribute__", "__getstate__",
        "__gt__", "__hash__", "__init__", "__init_subclass__", "__le__", "__lt__", "__module__", "__ne__",
        "__new__", "__reduce__", "__reduce_ex__", "__repr__", "__setattr__", "__setstate__", "__sizeof__",
        "__str__", "__subclasshook__", "__weakref__", "_apply", "_backward_hooks", "_backward_pre_hooks",
        "_buffers", "_call_impl", "_compiled_call_impl", "_forward_hooks", "_forward_hooks_always_called",
        "_forward_hooks_with_kwargs", "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs",
        "_get_backward_hooks", "_get_backward_pre_hooks", "_get_name", "_is_full_backward_hook",
        "_load_from_state_dict", "_load_state_dict_post_hooks", "_load_state_dict_pre_hooks",
        "_maybe_warn_non_full_backward_hook", "_modules", "_named_members", "_non_persistent_buffers_set",
        "_parameters", "_register_load_state_dict_pre_hook", "_register_state_dict_hook",
        "_replicate_for_data_parallel", "_save_to_state_dict", "_slow_forward", "_state_dict_hooks",
        "_state_dict_pre_hooks", "_version", "_wrapped_call_impl", "add_module", "apply", "bfloat16",
        "buffers", "call_super_init", "children", "compile", "cpu", "cuda", "double", "dump_patches", "eval",
        "extra_repr", "float", "forward", "get_buffer", "get_extra_state", "get_parameter", "get_submodule",
        "half", "ipu", "load_state_dict", "modules", "mtia", "named_buffers", "named_children",
        "named_modules", "named_parameters", "parameters", "register_backward_hook", "register_buffer",
        "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
        "register_full_backward_pre_hook", "register_load_state_dict_post_hook",
        "register_load_state_dict_pre_hook", "register_module", "register_parameter",
        "register_state_dict_post_hook", "register_state_dict_pre_hook", "requires_grad_",
        "set_extra_state", "set_submodule", "share_memory", "state_dict", "to", "to_empty", "train",
        "training", "type", "xpu", "zero_grad",
    }
)  # fmt: skip
_CONTAINER_ATTRIBUTES: Final = frozenset({"__delitem__", "__getitem__", "__iter__", "__len__", "__setitem__", "pop"})
RESERVED_NAMES: Final = {
    "Sequential": _MODULE_ATTRIBUTES
    | _CONTAINER_ATTRIBUTES
    | {"__add__", "__iadd__", "__imul__", "__mul__", "__rmul__", "_get_item_by_idx", "append", "extend", "insert"},
    "ModuleDict": _MODULE_ATTRIBUTES
    | _CONTAINER_ATTRIBUTES
    | {"__contains__", "clear", "items", "keys", "update", "values"},
}
"""Child names torch's ``add_module`` refuses on each named container, because the attribute exists."""


def _adopt_numbered(a: Arguments, argument: str, members: tuple[Value, ...]) -> Parts:
    """The modules ``members`` (of the argument ``argument``) as children named ``"0"``, ``"1"`` …"""
    named = [(str(index), item) for index, item in enumerate(members)]
    return Parts(children=_adopt(a, argument, named, numbered=True))


@layer("Sequential", signature("*args"))
def sequential(a: Arguments) -> Parts:
    """Children named ``"0"``, ``"1"`` …, or by the keys of a single ``OrderedDict`` argument."""
    values = a.variadic
    if len(values) == 1 and isinstance(values[0], OrderedDictValue):
        return Parts(children=_adopt(a, "args", list(values[0]), numbered=False))
    return _adopt_numbered(a, "args", values)


@layer("ModuleList", signature(modules=None))
def module_list(a: Arguments) -> Parts:
    """Children named ``"0"``, ``"1"`` … from a list or tuple of modules."""
    value = a.raw("modules")
    if value is None:
        return Parts()
    if isinstance(value, DictValue) or not isinstance(value, tuple):
        # torch iterates whatever it is given; a dict yields its keys, which are not modules.
        raise a.fail(f"modules must be a list of modules, got {short_repr(value)}", "modules")
    return _adopt_numbered(a, "modules", value)


@layer("ModuleDict", signature(modules=None))
def module_dict(a: Arguments) -> Parts:
    """Children named by the keys of a dict, an OrderedDict or a list of ``(name, module)`` pairs."""
    value = a.raw("modules")
    if value is None:
        return Parts()
    if isinstance(value, DictValue):
        return Parts(children=_adopt(a, "modules", list(value), numbered=False))
    if not isinstance(value, tuple):
        message = f"modules must be a dict of modules or a list of (name, module) pairs, got {short_repr(value)}"
        raise a.fail(message, "modules")
    pairs: dict[str, Value] = {}
    for index, item in enumerate(value):
        if not isinstance(item, tuple) or len(item) != 2 or not isinstance(item[0], str):
            raise a.fail(f"modules item {index} must be a (name, module) pair, got {short_repr(item)}", "modules")
        pairs[item[0]] = item[1]  # a repeated key keeps its first position and its last module, as in torch
    return Parts(children=_adopt(a, "modules", list(pairs.items()), numbered=False))


_INSTANCE_STATE: Final = frozenset(
    {
        "_backward_hooks", "_backward_pre_hooks", "_buffers", "_forward_hooks", "_forward_hooks_always_called",
        "_forward_hooks_with_kwargs", "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_is_full_backward_hook",
        "_load_state_dict_post_hooks", "_load_state_dict_pre_hooks", "_modules", "_non_persistent_buffers_set",
        "_state_dict_hooks", "_state_dict_pre_hooks", "training",
    }
)  # fmt: skip
"""Instance attributes a ``Parameter`` assignment replaces: ``Module.__setattr__`` deletes the attribute
before registering the parameter, so torch accepts these names in a ParameterDict (``_parameters`` itself
is refused: registering needs it)."""
RESERVED_NAMES["ParameterDict"] = (_MODULE_ATTRIBUTES - _INSTANCE_STATE) | {
    "__contains__", "__delitem__", "__getitem__", "__ior__", "__iter__", "__len__", "__or__", "__reversed__",
    "__ror__", "__setitem__", "_key_to_attr", "clear", "copy", "fromkeys", "get", "items", "keys", "pop",
    "popitem", "setdefault", "update", "values",
}  # fmt: skip
"""Keys torch refuses in a ParameterDict: attributes of the class, and ``_parameters``."""


@layer("ParameterList", signature(values=None))
def parameter_list(a: Arguments) -> Parts:
    """Parameters named ``"0"``, ``"1"`` … from a list or tuple of tensors (a plain tensor becomes a new
    trainable ``nn.Parameter``, as ``ParameterList.__setitem__`` wraps it)."""
    value = a.raw("values")
    if value is None:
        return Parts()
    if isinstance(value, DictValue) or not isinstance(value, tuple):
        raise a.fail(f"values must be a list of tensors, got {short_repr(value)}", "values")
    return Parts(params=_parameters(a, "values", [(str(index), item) for index, item in enumerate(value)]))


@layer("ParameterDict", signature(parameters=None))
def parameter_dict(a: Arguments) -> Parts:
    """Parameters named by the keys of a dict (in sorted order: ``ParameterDict.update`` sorts a plain
    dict's items), an OrderedDict or a list of ``(name, tensor)`` pairs (both in their order)."""
    value = a.raw("parameters")
    if value is None:
        return Parts()
    if isinstance(value, OrderedDictValue):
        pairs = list(value)
    elif isinstance(value, DictValue):
        pairs = sorted(value, key=lambda pair: pair[0])
    elif isinstance(value, tuple):
        named: dict[str, Value] = {}
        for index, item in enumerate(value):
            if not isinstance(item, tuple) or len(item) != 2 or not isinstance(item[0], str):
                raise a.fail(
                    f"parameters item {index} must be a (name, tensor) pair, got {short_repr(item)}", "parameters"
                )
            named[item[0]] = item[1]  # a repeated key keeps its first position and its last tensor, as in torch
        pairs = list(named.items())
    else:
        raise a.fail(f"parameters must be a dict of tensors, got {short_repr(value)}", "parameters")
    for name, _ in pairs:
        _check_parameter_name(a, name)
    return Parts(params=_parameters(a, "parameters", pairs))


def _check_parameter_name(a: Arguments, name: str) -> None:
    """torch's register_parameter rules for a ``ParameterDict`` key."""
    if "." in name:
        raise a.fail(f"parameter name {short_repr(name)} must not contain '.'", "parameters")
    if name == "":
        raise a.fail("parameter name must not be empty", "parameters")
    if name in RESERVED_NAMES[a.layer]:
        raise a.fail(f"parameter name {name!r} is already an attribute of {a.layer}; choose another name", "parameters")


def _parameters(a: Arguments, argument: str, named: list[tuple[str, Value]]) -> tuple[Param, ...]:
    """One ``Param`` per tensor; an ``nn.Parameter`` object held twice is one tensor (tied to its first
    name), as ``named_parameters()`` deduplicates by identity; a plain tensor is wrapped anew each time."""
    owners: dict[int, str] = {}
    params = []
    for name, value in named:
        if not isinstance(value, TensorSpec):
            got = f"a {value.kind} layer" if isinstance(value, Module) else short_repr(value)
            message = f"{argument} item {name!r} must be a tensor such as nn.Parameter(torch.randn(3, 4)), got {got}"
            raise a.fail(message, argument)
        owner = owners.setdefault(id(value), name) if value.parameter else name
        shape = tuple(Dim.of(size, f"dim{index}") for index, size in enumerate(value.sizes))
        trainable = value.requires_grad or not value.parameter
        params.append(Param(name, shape, value.dtype, None if owner == name else owner, trainable))
    return tuple(params)


def _adopt(a: Arguments, argument: str, named: list[tuple[str, Value]], *, numbered: bool) -> tuple[Module, ...]:
    """The children of a container: each value checked and named, later references to an already adopted
    module object turned into tied copies, runs of identical distinct modules collapsed (numbered only)."""
    owners: dict[int, str] = {}
    adopted: list[tuple[Module, Module | None]] = []  # (child, the value it came from if a first reference)
    for position, (name, value) in enumerate(named):
        if value is None:
            continue  # torch's add_module accepts None: the name is taken, nothing is counted
        if not isinstance(value, Module):
            what = _member_label(argument, name if not numbered else int(name), position)
            raise a.fail(f"{what} must be a module such as nn.Linear(...), got {short_repr(value)}", argument)
        if not numbered:
            _check_name(a, argument, name)
        owner = owners.get(id(value))
        if owner is None:
            owners[id(value)] = name
            adopted.append((with_prefixed_ties(value, name).renamed(name), value))
        else:
            adopted.append((shared_reference(value, owner).renamed(name), None))
    if not numbered:
        return tuple(child for child, _ in adopted)
    return _collapse(adopted)


def _member_label(argument: str, name: str | int, position: int) -> str:
    """How a message names a member: ``argument 2`` of a Sequential, ``modules item 0``, ``item 'conv'``."""
    if argument == "args":
        return f"argument {position + 1}" if isinstance(name, int) else f"item {name!r}"
    return f"{argument} item {name!r}"


def _check_name(a: Arguments, argument: str, name: str) -> None:
    """torch's add_module rules for a child name."""
    if "." in name:
        raise a.fail(f"module name {short_repr(name)} must not contain '.'", argument)
    if name == "":
        raise a.fail("module name must not be empty", argument)
    if name in RESERVED_NAMES[a.layer]:
        raise a.fail(f"module name {name!r} is already an attribute of {a.layer}; choose another name", argument)


def _collapse(adopted: list[tuple[Module, Module | None]]) -> tuple[Module, ...]:
    """Consecutive first references that are equal and hold no ties become one child with ``repeat``."""
    children: list[Module] = []
    previous: Module | None = None  # the value behind children[-1] when it may absorb the next child
    for child, value in adopted:
        last = children[-1] if children else None
        if (
            last is not None
            and value is not None
            and previous is not None
            and value == previous
            and int(child.name) == int(last.name) + last.repeat
        ):
            children[-1] = replace(last, repeat=last.repeat + 1)
            continue
        children.append(child)
        previous = value if value is not None and not _has_ties(value) else None
    return tuple(children)


def _has_ties(module: Module) -> bool:
    own = any(tensor.tied_to is not None for tensor in (*module.params, *module.buffers))
    return own or any(_has_ties(child) for child in module.children)


def with_prefixed_ties(module: Module, prefix: str) -> Module:
    """``module`` adopted under the name ``prefix``: every ``tied_to`` inside it (a path relative to
    ``module``) gains ``prefix.`` so that it stays relative to the root of the tree."""
    if not _has_ties(module):
        return module
    return replace(
        module,
        params=tuple(_prefixed(param, prefix) for param in module.params),
        buffers=tuple(_prefixed(buffer, prefix) for buffer in module.buffers),
        children=tuple(with_prefixed_ties(child, prefix) for child in module.children),
    )


def _prefixed(tensor: _T, prefix: str) -> _T:
    return tensor if tensor.tied_to is None else replace(tensor, tied_to=f"{prefix}.{tensor.tied_to}")


def shared_reference(module: Module, owner: str) -> Module:
    """A later reference to ``module``, whose first reference was adopted under the name ``owner``: each
    tensor is tied to the owner's tensor at the same path (a tensor already tied inside ``module`` to the
    one its tie names). Repeated children are expanded, since every copy needs its own path."""
    return _tied(module, owner, "")


def _tied(module: Module, owner: str, path: str) -> Module:
    def tie(tensor: _T) -> _T:
        target = tensor.tied_to if tensor.tied_to is not None else f"{path}{tensor.name}"
        return replace(tensor, tied_to=f"{owner}.{target}")

    children = [
        _tied(single, owner, f"{path}{single.name}.") for child in module.children for single in _expanded(child)
    ]
    return replace(
        module,
        params=tuple(tie(param) for param in module.params),
        buffers=tuple(tie(buffer) for buffer in module.buffers),
        children=tuple(children),
    )


def _expanded(child: Module) -> Iterator[Module]:
    """A child standing for ``repeat`` siblings, as those siblings."""
    if child.repeat == 1:
        yield child
        return
    start = int(child.name)
    for index in range(start, start + child.repeat):
        yield replace(child, name=str(index), repeat=1)


def _tensor_ties(module: Module) -> list[tuple[str, str | None]]:
    """``(path relative to module, tied_to)`` of every tensor in ``module``, repeats expanded."""
    found: list[tuple[str, str | None]] = []
    for path, node in iter_modules(module):
        prefix = f"{path}." if path else ""
        found.extend((prefix + tensor.name, tensor.tied_to) for tensor in (*node.params, *node.buffers))
    return found


def shared_owner(path: str, named: dict[str, Module], member: Module) -> str | None:
    """The earlier member of the container at ``path`` that ``member`` is a later reference to (every
    tensor of ``member`` tied to the owner's tensor at the same relative path, or to where that one is
    tied), or None. A module without tensors is never found shared: sharing it changes no number."""
    ties = _tensor_ties(member)
    if not ties or any(tie is None for _, tie in ties):
        return None
    base = f"{path}." if path else ""
    first = str(ties[0][1])
    owner_name = first.removeprefix(base).split(".", 1)[0] if first.startswith(base) else None
    owner = named.get(owner_name) if owner_name is not None else None
    if owner is None or owner is member or owner.kind != member.kind:
        return None
    expected = [(relative, tie or f"{base}{owner_name}.{relative}") for relative, tie in _tensor_ties(owner)]
    return owner_name if ties == expected else None

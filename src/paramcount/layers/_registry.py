"""The layer catalog's machinery: signatures, argument binding, validation helpers and the registry.

A catalog entry is one declaration::

    @layer("Linear", signature("in_features", "out_features", bias=True, device=None, dtype=None))
    def linear(a: Arguments) -> Parts:
        out, inp = a.dim("out_features"), a.dim("in_features")
        ...

``signature`` mirrors torch's constructor exactly (positional order, keyword names, defaults; a ``"*"``
marks where keyword-only arguments start, ``"*args"`` a variadic container). ``Arguments`` validates the
way torch does and raises ``ArgumentError`` naming the argument. The registry binds a call (positional and
keyword values) to the signature, runs the builder and returns a frozen ``Module``.
"""

from __future__ import annotations

from paramcount._record import Record, replace
from paramcount.errors import ArgumentError, UnknownNameError, did_you_mean, short_repr
from paramcount.tree import Buffer, Dim, Module, Param, Ref, TensorSpec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Final, TypeAlias

    from paramcount.tree import Value

__all__ = [
    "REQUIRED",
    "Arguments",
    "LayerSpec",
    "Parts",
    "Signature",
    "bind",
    "build",
    "container_call",
    "expression_of",
    "known_layers",
    "layer",
    "lookup",
    "members",
    "rebuild",
    "registered",
    "signature",
]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Final = _Required()
"""Default marker of an argument that has no default."""

FLOAT_DTYPES: Final = frozenset({"float32", "float16", "bfloat16", "float64", "float8_e4m3fn", "float8_e5m2"})
_DTYPE_ALIASES: Final = {
    "float": "float32",
    "half": "float16",
    "double": "float64",
}


class Signature(Record):
    """A constructor signature: ``(name, default)`` pairs in torch's order. Made by ``signature()``, which
    also fills the fields after ``any_keywords`` (read on every call of the layer, so computed once)."""

    parameters: tuple[tuple[str, object], ...]
    keyword_only: frozenset[str] = frozenset()
    variadic: str | None = None
    """Name of a ``*args`` parameter (containers), or None."""
    any_keywords: bool = False
    """True for ``**kwargs`` signatures (``Identity``): unknown keywords are accepted and ignored."""
    names: tuple[str, ...] = ()
    """Every parameter name, in order."""
    positional: tuple[str, ...] = ()
    """The names that can be given positionally, in order."""
    required: tuple[str, ...] = ()
    """The names without a default, in order."""

    def default(self, name: str) -> object:
        for key, value in self.parameters:
            if key == name:
                return value
        raise KeyError(name)


def signature(*positional: str, **defaults: object) -> Signature:
    """Build a signature: bare names are required, ``"*"`` starts keyword-only names, ``"*args"`` is
    variadic; keyword arguments give the remaining parameters with their defaults, in order."""
    parameters: list[tuple[str, object]] = []
    keyword_only: set[str] = set()
    variadic = None
    any_keywords = False
    star_seen = False
    for name in positional:
        if name.startswith("**"):
            any_keywords = True
        elif name == "*":
            star_seen = True
        elif name.startswith("*"):
            variadic = name[1:]
        else:
            parameters.append((name, REQUIRED))
            if star_seen:
                keyword_only.add(name)
    for name, default in defaults.items():
        if name.startswith("kw_"):
            name = name[3:]
            keyword_only.add(name)
        parameters.append((name, default))
    names = tuple(name for name, _ in parameters)
    positional_names = tuple(name for name in names if name not in keyword_only)
    required = tuple(name for name, default in parameters if default is REQUIRED)
    return Signature(
        tuple(parameters), frozenset(keyword_only), variadic, any_keywords, names, positional_names, required
    )


class Parts(Record):
    """What a builder returns: the module's own tensors and children (named)."""

    params: tuple[Param, ...] = ()
    buffers: tuple[Buffer, ...] = ()
    children: tuple[Module, ...] = ()


class Arguments:
    """Bound arguments of one call, with validating accessors that raise ``ArgumentError`` like torch."""

    __slots__ = ("layer", "values", "variadic")

    def __init__(self, layer: str, values: dict[str, Value], variadic: tuple[Value, ...] = ()) -> None:
        self.layer = layer
        self.values = values
        self.variadic = variadic

    def fail(self, message: str, argument: str | None = None) -> ArgumentError:
        """An ``ArgumentError`` for this layer (to be raised by the caller)."""
        return ArgumentError(self.layer, message, argument)

    def raw(self, name: str) -> Value:
        return self.values[name]

    def is_none(self, name: str) -> bool:
        return self.values[name] is None

    def integer(self, name: str, *, minimum: int | None = None) -> int:
        """An int argument (bools are refused: ``Linear(True, 3)`` is almost certainly a mistake)."""
        value = self.values[name]
        if type(value) is not int:  # bools are refused too
            raise self.fail(f"{name} must be an integer, got {short_repr(value)}", name)
        if minimum is not None and value < minimum:
            relation = "positive" if minimum == 1 else ("non-negative" if minimum == 0 else f">= {minimum}")
            raise self.fail(f"{name} must be {relation}, got {value}", name)
        return value

    def dim(self, name: str, symbol: str | None = None, *, minimum: int = 0) -> Dim:
        """An integer argument as a named ``Dim`` (symbol defaults to the argument name)."""
        value = self.values[name]
        if type(value) is int and value >= minimum:
            return Dim(value, symbol or name)  # Dim.of, without the extra call
        return Dim.of(self.integer(name, minimum=minimum), symbol or name)  # integer() raises its error

    def number(self, name: str, *, minimum: float | None = None, maximum: float | None = None) -> float:
        value = self.values[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{name} must be a number, got {short_repr(value)}", name)
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise self.fail(f"{name} must be between {minimum} and {maximum}, got {value}", name)
        return float(value)

    def real(self, name: str) -> int | float:
        """A number argument kept as given, so comparisons are Python's exact ones as in torch's checks
        (``float()`` would overflow on huge ints). Bools are refused."""
        value = self.values[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{name} must be a number, got {short_repr(value)}", name)
        return value

    def flag(self, name: str) -> bool:
        """A boolean argument; ``0``/``1`` are accepted as torch would (truthiness of an int)."""
        value = self.values[name]
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise self.fail(f"{name} must be True or False, got {short_repr(value)}", name)

    def choice(self, name: str, options: Sequence[str]) -> str:
        value = self.values[name]
        if not isinstance(value, str) or value not in options:
            allowed = ", ".join(repr(option) for option in options)
            raise self.fail(f"{name} must be one of {allowed}, got {short_repr(value)}", name)
        return value

    def ints(self, name: str, count: int, *, minimum: int | None = None) -> tuple[int, ...]:
        """An int or a tuple/list of ``count`` ints, expanded like torch's ``_pair``/``_triple``."""
        value = self.values[name]
        if type(value) is int and (minimum is None or value >= minimum):
            return (value,) * count  # the usual case: one int for every dimension
        items = value if isinstance(value, tuple) else (value,) * count
        if len(items) != count:
            raise self.fail(f"{name} must be an int or a tuple of {count} ints, got {short_repr(value)}", name)
        result = []
        for item in items:
            if type(item) is not int:  # bools are refused too
                raise self.fail(f"{name} must be an int or a tuple of {count} ints, got {short_repr(value)}", name)
            if minimum is not None and item < minimum:
                raise self.fail(f"{name} must be >= {minimum}, got {short_repr(value)}", name)
            result.append(item)
        return tuple(result)

    def int_tuple(self, name: str) -> tuple[int, ...]:
        """An int or a non-empty tuple/list of ints, kept as given (``normalized_shape``)."""
        value = self.values[name]
        items = value if isinstance(value, tuple) else (value,)
        if not items or any(isinstance(item, bool) or not isinstance(item, int) for item in items):
            raise self.fail(f"{name} must be an int or a tuple of ints, got {short_repr(value)}", name)
        return tuple(item for item in items if isinstance(item, int))

    def module(self, name: str) -> Module:
        value = self.values[name]
        if not isinstance(value, Module):
            raise self.fail(f"{name} must be a module such as nn.Linear(...), got {short_repr(value)}", name)
        return value


if TYPE_CHECKING:
    Builder: TypeAlias = Callable[[Arguments], Parts]


class LayerSpec(Record):
    """One catalog entry."""

    kind: str
    signature: Signature
    builder: Builder
    family: str


_REGISTRY: dict[str, LayerSpec] = {}


def layer(kind: str, sig: Signature, *, family: str) -> Callable[[Builder], Builder]:
    """Register ``builder`` as the catalog entry for ``torch.nn.<kind>``."""

    def register(builder: Builder) -> Builder:
        if kind in _REGISTRY:
            raise RuntimeError(f"layer {kind!r} registered twice")
        _REGISTRY[kind] = LayerSpec(kind, sig, builder, family)
        return builder

    return register


_catalog_loaded = False
"""Whether ``_load_catalog`` has imported every family module (set only once all imports succeeded)."""


def _load_catalog() -> None:
    # Importing the family modules runs their @layer declarations; once done, later calls return at once.
    global _catalog_loaded
    if _catalog_loaded:
        return
    from paramcount.layers import (  # noqa: F401
        activation,
        attention,
        containers,
        conv,
        embedding,
        linear,
        loss,
        norm,
        recurrent,
        stateless,
        transformer,
    )

    _catalog_loaded = True


def known_layers() -> tuple[str, ...]:
    """All catalog kinds, sorted."""
    _load_catalog()
    return tuple(sorted(_REGISTRY))


_FAMILY_OF: dict[str, str] = {}
"""Catalog kind → the family module declaring it, from the generated ``_families`` table (filled on first use)."""


def registered(kind: str) -> LayerSpec | None:
    """The catalog entry for ``kind`` if the generated family table knows it (importing only that family's
    module), else None; nothing else is loaded and nothing is raised."""
    spec = _REGISTRY.get(kind)
    if spec is None:
        if not _FAMILY_OF:
            from paramcount.layers._families import FAMILIES

            _FAMILY_OF.update((name, family) for family, names in FAMILIES.items() for name in names)
        family = _FAMILY_OF.get(kind)
        if family is not None:
            __import__(f"paramcount.layers.{family}")
            spec = _REGISTRY.get(kind)
    return spec


def lookup(kind: str) -> LayerSpec:
    """The catalog entry for ``kind``, or ``UnknownNameError`` with the closest names."""
    spec = registered(kind)
    if spec is None:
        _load_catalog()  # a kind the family table does not list (it is regenerated by its test)
        spec = _REGISTRY.get(kind)
    if spec is None:
        import difflib  # only on the error path: keeps the counting path's imports small

        by_lower = {name.lower(): name for name in _REGISTRY}
        suggestions = difflib.get_close_matches(kind, list(_REGISTRY), n=3, cutoff=0.6)
        exact_case = by_lower.get(kind.lower())
        if exact_case and exact_case not in suggestions:
            suggestions.insert(0, exact_case)
        raise UnknownNameError(f"unknown layer {kind!r}{did_you_mean(suggestions[:3])}", kind, tuple(suggestions[:3]))
    return spec


def bind(spec: LayerSpec, positional: Sequence[Value], keywords: Sequence[tuple[str, Value]]) -> Arguments:
    """Bind a call to ``spec.signature`` as Python would, or raise ``ArgumentError``."""
    sig = spec.signature
    bound: dict[str, Value] = dict(sig.parameters)  # type: ignore[arg-type]  # defaults, REQUIRED where none
    variadic: tuple[Value, ...] = ()
    given: tuple[str, ...] = ()
    if sig.variadic is not None:
        variadic = tuple(positional)
    elif len(positional) > len(sig.positional):
        raise ArgumentError(
            spec.kind, f"takes at most {len(sig.positional)} positional arguments ({len(positional)} given)"
        )
    else:
        given = sig.positional[: len(positional)]
        bound.update(zip(given, positional, strict=True))
    if keywords:
        _bind_keywords(spec, bound, set(given), keywords)
    for name in sig.required:
        if bound[name] is REQUIRED:  # type: ignore[comparison-overlap]  # a default until given
            raise ArgumentError(spec.kind, f"missing required argument {name!r}", name)
    return Arguments(spec.kind, bound, variadic)


def _bind_keywords(
    spec: LayerSpec, bound: dict[str, Value], given: set[str], keywords: Sequence[tuple[str, Value]]
) -> None:
    sig = spec.signature
    for key, value in keywords:
        if key not in bound and sig.any_keywords:
            continue
        if key not in bound:
            allowed = ", ".join(name for name in sig.names if not name.startswith("_"))
            import difflib  # error path only

            suggestion = difflib.get_close_matches(key, sig.names, n=1)
            if suggestion:
                hint = f"; did you mean {suggestion[0]!r}?"
            else:
                hint = f"; allowed: {allowed}" if allowed else f"; {spec.kind} takes no keyword arguments"
            raise ArgumentError(spec.kind, f"unexpected keyword argument {key!r}{hint}", key)
        if key in given:
            raise ArgumentError(spec.kind, f"got multiple values for argument {key!r}", key)
        given.add(key)
        bound[key] = value


def _dtype_name(layer_name: str, value: Value) -> str | None:
    if value is None:
        return None
    if isinstance(value, Ref) and value.path.startswith("torch."):
        name = value.path.removeprefix("torch.")
        name = _DTYPE_ALIASES.get(name, name)
        if name in FLOAT_DTYPES:
            return name
    raise ArgumentError(
        layer_name,
        f"dtype must be a floating torch dtype such as torch.bfloat16, got {short_repr(value)}",
        "dtype",
    )


def build(kind: str, positional: Sequence[Value] = (), keywords: Sequence[tuple[str, Value]] = ()) -> Module:
    """Build ``torch.nn.<kind>(*positional, **keywords)`` as a frozen ``Module`` (name ``""``)."""
    spec = _REGISTRY.get(kind) or lookup(kind)
    arguments = bind(spec, positional, keywords)
    parts = spec.builder(arguments)
    # name, kind, args, params, buffers, children (positional: the most frequent construction of a record)
    module = Module("", kind, tuple(arguments.values.items()), parts.params, parts.buffers, parts.children)
    if arguments.values.get("dtype") is not None:
        dtype = _dtype_name(kind, arguments.values["dtype"])
        if dtype is not None:
            module = cast_floating(module, dtype)
    _check_storage(module)
    return module


_DTYPE_BYTES: Final = {
    "float64": 8,
    "float32": 4,
    "float16": 2,
    "bfloat16": 2,
    "float8_e4m3fn": 1,
    "float8_e5m2": 1,
    "int64": 8,
}


def _check_storage(module: Module) -> None:
    """Torch refuses any tensor of 2**63 bytes or more ("Storage size calculation overflowed"), even on
    the meta device; so do we, instead of counting a layer that cannot exist."""
    for tensor in (*module.params, *module.buffers):
        size = tensor.count * _DTYPE_BYTES.get(tensor.dtype, 8)
        if size >= 2**63:
            shape = ", ".join(str(value) for value in tensor.sizes)
            raise ArgumentError(
                module.kind,
                f"{tensor.name} of shape ({shape}) would take {size:,} bytes; torch refuses tensors of 2**63 bytes"
                " or more",
            )


def cast_floating(module: Module, dtype: str) -> Module:
    """``module.to(dtype)``: floating parameters and buffers take ``dtype``; integer buffers keep theirs."""
    params = tuple(replace(p, dtype=dtype) if p.dtype in FLOAT_DTYPES else p for p in module.params)
    buffers = tuple(replace(b, dtype=dtype) if b.dtype in FLOAT_DTYPES else b for b in module.buffers)
    children = tuple(cast_floating(child, dtype) for child in module.children)
    return replace(module, params=params, buffers=buffers, children=children)


def set_trainable(module: Module, trainable: bool) -> Module:
    """``module.requires_grad_(trainable)``."""
    params = tuple(replace(p, trainable=trainable) for p in module.params)
    children = tuple(set_trainable(child, trainable) for child in module.children)
    return replace(module, params=params, children=children)


_CONTAINERS: Final = frozenset({"Sequential", "ModuleList", "ModuleDict"})


def _value_text(value: object, prefix: str, shared: Mapping[int, str]) -> str:
    if id(value) in shared:
        return shared[id(value)]
    if isinstance(value, Module):
        return expression_of(value, prefix=prefix)
    if isinstance(value, Ref):
        return value.path
    if isinstance(value, TensorSpec):
        return value.expression(prefix)
    if isinstance(value, tuple):
        from paramcount.layers.containers import DictValue, OrderedDictValue  # loaded with any dict value

        if isinstance(value, OrderedDictValue):
            pairs = ", ".join(f"({key!r}, {_value_text(item, prefix, shared)})" for key, item in value)
            return f"OrderedDict([{pairs}])"
        if isinstance(value, DictValue):
            return "{" + ", ".join(f"{key!r}: {_value_text(item, prefix, shared)}" for key, item in value) + "}"
        return _sequence_text(value, prefix, shared)
    return repr(value)


def _sequence_text(value: tuple[object, ...], prefix: str, shared: Mapping[int, str]) -> str:
    """A tuple; one ``nn.Parameter`` object held n times in a row is written ``[p] * n`` (the whole tuple)
    or ``*[p] * n``, so the program shares it as the expression did."""
    parts: list[str] = []
    index = 0
    while index < len(value):
        item, end = value[index], index + 1
        while isinstance(item, TensorSpec) and item.parameter and end < len(value) and value[end] is item:
            end += 1
        text = _value_text(item, prefix, shared)
        parts.append(text if end - index == 1 else f"*[{text}] * {end - index}")
        index = end
    if len(parts) == 1 and parts[0].startswith("*"):
        return parts[0][1:]
    return f"({parts[0]},)" if len(parts) == 1 else f"({', '.join(parts)})"


def members(module: Module) -> list[tuple[str, Module]]:
    """A container's members with their names, a repeated child expanded into its copies."""
    expanded = []
    for child in module.children:
        for offset in range(child.repeat):
            name = child.name if child.repeat == 1 else str(int(child.name) + offset)
            expanded.append((name, replace(child, repeat=1)))
    return expanded


def expression_of(module: Module, *, prefix: str = "", shared: Mapping[int, str] | None = None) -> str:
    """The canonical constructor call that builds ``module``: required arguments positionally, others
    by keyword only when they differ from torch's default (``Conv2d(256, 512, 3, bias=False)``).
    ``prefix`` is put before every layer name (``"nn."`` for runnable PyTorch); ``shared`` names argument
    values (by ``id``) that a program has assigned to variables."""
    shared = shared or {}
    if module.kind in _CONTAINERS:
        listed = members(module)
        parts = [expression_of(child, prefix=prefix) for _, child in listed]
        return container_call(module.kind, [name for name, _ in listed], parts, prefix=prefix)
    spec = lookup(module.kind)
    texts = []
    positional = True
    for name, value in module.args:
        default = spec.signature.default(name)
        if default is REQUIRED and positional and name not in spec.signature.keyword_only:
            texts.append(_value_text(value, prefix, shared))
            continue
        positional = False
        if name in ("device",) or (default is not REQUIRED and _same(value, default)):
            continue
        texts.append(f"{name}={_value_text(value, prefix, shared)}")
    return f"{prefix}{module.kind}({', '.join(texts)}){_state_suffix(module)}"


def container_call(kind: str, names: Sequence[str], parts: Sequence[str], *, prefix: str) -> str:
    """The call of container ``kind`` holding members ``names`` written as ``parts``. A part written
    ``*[x] * n`` stands for n numbered members (the same object ``x`` n times)."""
    if kind == "ModuleDict":
        items = ", ".join(f"{name!r}: {part}" for name, part in zip(names, parts, strict=True))
        return f"{prefix}ModuleDict({{{items}}})"
    if kind == "ModuleList":
        if len(parts) == 1 and parts[0].startswith("*"):
            return f"{prefix}ModuleList({parts[0][1:]})"
        return f"{prefix}ModuleList([{', '.join(parts)}])"
    if all(name == str(index) for index, name in enumerate(names)):
        return f"{prefix}Sequential({', '.join(parts)})"
    pairs = ", ".join(f"({name!r}, {part})" for name, part in zip(names, parts, strict=True))
    return f"{prefix}Sequential(OrderedDict([{pairs}]))"


def _state_suffix(module: Module) -> str:
    """Method calls that reproduce what arguments cannot: frozen parameters, a cast after construction."""
    suffix = ""
    floating = {t.dtype for t in (*module.params, *module.buffers) if t.dtype in FLOAT_DTYPES}
    if len(floating) == 1 and floating != {"float32"} and dict(module.args).get("dtype") is None:
        suffix += f".to(torch.{floating.pop()})"
    if module.params and not any(param.trainable for param in module.params):
        suffix += ".requires_grad_(False)"
    return suffix


def _same(value: object, default: object) -> bool:
    return type(value) is type(default) and value == default


def rebuild(module: Module, overrides: Sequence[tuple[str, Value]]) -> Module:
    """The same layer with some constructor arguments replaced (variants, related questions)."""
    changes = dict(overrides)
    keywords = [(name, changes.get(name, value)) for name, value in module.args]
    return build(module.kind, (), keywords)

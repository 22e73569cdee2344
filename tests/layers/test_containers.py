"""Containers: torch's naming, torch's deduplication of shared modules, torch's child-name rules."""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from oracle import assert_same_module, assert_signature_matches, our_ties
from paramcount.errors import ArgumentError, ExpressionError, LimitError, ParamcountError
from paramcount.expr import parse
from paramcount.layers import build
from paramcount.layers.containers import (
    RESERVED_NAMES,
    DictValue,
    OrderedDictValue,
    shared_reference,
    with_prefixed_ties,
)
from paramcount.tree import Module, Param, iter_params, parameter_count

TYPE_CHECKING = False
if TYPE_CHECKING:
    from paramcount.tree import Value

nn = torch.nn


@pytest.mark.parametrize("kind", ["Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"])
def test_signature_is_torchs(kind: str) -> None:
    assert_signature_matches(kind)


def _torchs_own(name: str) -> bool:
    """Not a method another library patched onto ``nn.Module`` (transformers adds ``smart_apply`` when it
    builds a model, so an earlier test would otherwise change the set)."""
    module = getattr(getattr(nn.ParameterDict, name, None), "__module__", None) or "torch"
    return module.startswith(("torch", "builtins", "typing"))


def test_parameter_dict_reserved_names_are_those_torch_refuses() -> None:
    refused = set()
    for name in filter(_torchs_own, dir(nn.ParameterDict())):
        try:
            nn.ParameterDict({name: torch.zeros(2)})
        except (KeyError, AttributeError):
            refused.add(name)
    assert refused == RESERVED_NAMES["ParameterDict"]


@pytest.mark.parametrize("kind", ["Sequential", "ModuleDict"])
def test_reserved_names_are_torchs_attributes(kind: str) -> None:
    # add_module refuses a name hasattr() finds on the container; dir() of a fresh one lists them all (less what
    # another library patched onto nn.Module when an earlier test imported it).
    assert set(filter(_torchs_own, dir(getattr(nn, kind)()))) == RESERVED_NAMES[kind]


# ------------------------------------------------------------------------------------ sharing, as torch does


@dataclass(frozen=True)
class Spec:
    """One member of a container: a new Linear(inp, out) / Identity, or another reference to member ``ref``."""

    inp: int = 0
    out: int = 0
    ref: int | None = None


def specs() -> st.SearchStrategy[list[Spec]]:
    new = st.builds(Spec, inp=st.integers(1, 3), out=st.integers(0, 3))
    identity = st.just(Spec(inp=-1))
    return st.lists(st.one_of(new, identity, st.builds(Spec, ref=st.integers(0, 7))), max_size=8)


def members(items: list[Spec]) -> tuple[list[Module], list[torch.nn.Module]]:
    """Our modules and torch's, with the same pattern of object identity."""
    ours: list[Module] = []
    theirs: list[torch.nn.Module] = []
    for spec in items:
        if spec.ref is not None and ours:
            ours.append(ours[spec.ref % len(ours)])
            theirs.append(theirs[spec.ref % len(theirs)])
        elif spec.inp < 0:
            ours.append(build("Identity"))
            theirs.append(nn.Identity())
        else:
            ours.append(build("Linear", (spec.inp, spec.out)))
            with torch.device("meta"):
                theirs.append(nn.Linear(spec.inp, spec.out))
    return ours, theirs


@given(items=specs(), kind=st.sampled_from(["Sequential", "ModuleList"]))
def test_numbered_container_matches_torch(items: list[Spec], kind: str) -> None:
    ours, theirs = members(items)
    if kind == "Sequential":
        assert_same_module(build("Sequential", ours), nn.Sequential(*theirs))
    else:
        assert_same_module(build("ModuleList", (tuple(ours),)), nn.ModuleList(theirs))


@given(inner=specs(), outer=st.lists(st.integers(0, 3), min_size=1, max_size=4))
def test_nested_shared_containers_match_torch(inner: list[Spec], outer: list[int]) -> None:
    # outer picks among three inner blocks: two distinct Sequentials built alike, and a Linear; a block
    # picked twice is one object held twice. (An expression shares objects only among one container's
    # members: `[block] * n`; that is the sharing containers detect.)
    our_blocks: list[Module] = []
    their_blocks: list[torch.nn.Module] = []
    for _ in range(2):
        ours, theirs = members(inner)
        our_blocks.append(build("Sequential", ours))
        their_blocks.append(nn.Sequential(*theirs))
    our_blocks.append(build("Linear", (2, 2)))
    their_blocks.append(nn.Linear(2, 2, device="meta"))
    our_outer = build("Sequential", [our_blocks[index % 3] for index in outer])
    their_outer = nn.Sequential(*[their_blocks[index % 3] for index in outer])
    assert_same_module(build("ModuleList", ((our_outer, our_outer),)), nn.ModuleList([their_outer, their_outer]))


def test_repeated_object_is_counted_once() -> None:
    # [nn.Linear(64, 64)] * 4 is one module: 64·64 + 64 = 4,160 parameters, named 0.weight and 0.bias only.
    linear = build("Linear", (64, 64))
    sequential = build("Sequential", [linear] * 4)
    assert parameter_count(sequential) == 4_160
    assert [name for name, _ in iter_params(sequential)] == ["0.weight", "0.bias"]
    assert our_ties(sequential)["3.bias"] == "0.bias"


def test_identical_distinct_modules_collapse_into_a_repeat() -> None:
    sequential = build("Sequential", [build("Linear", (64, 64)) for _ in range(4)])
    assert [(child.name, child.repeat) for child in sequential.children] == [("0", 4)]
    assert parameter_count(sequential) == 4 * 4_160
    assert [name for name, _ in iter_params(sequential)][-2:] == ["3.weight", "3.bias"]


def test_different_modules_do_not_collapse() -> None:
    sequential = build("Sequential", [build("Linear", (2, 3)), build("Linear", (2, 3)), build("Linear", (3, 3))])
    assert [(child.name, child.repeat) for child in sequential.children] == [("0", 2), ("2", 1)]


def test_a_shared_copy_expands_repeats_so_each_tensor_has_its_own_tie() -> None:
    block = build("Sequential", [build("Linear", (2, 2)) for _ in range(3)])
    copy = shared_reference(block, "4")
    assert [child.name for child in copy.children] == ["0", "1", "2"]
    assert our_ties(copy) == {
        f"{index}.{name}": f"4.{index}.{name}" for index in range(3) for name in ("weight", "bias")
    }


def test_prefixing_keeps_tie_paths_root_relative() -> None:
    linear = build("Linear", (2, 2))
    inner = build("Sequential", [linear, linear])
    assert our_ties(with_prefixed_ties(inner, "encoder"))["1.weight"] == "encoder.0.weight"
    untied = build("Linear", (2, 2))
    assert with_prefixed_ties(untied, "x") is untied


def test_tied_members_are_not_collapsed() -> None:
    linear = build("Linear", (2, 2))
    pair = build("Sequential", [linear, linear])
    other = build("Sequential", [linear, linear])
    outer = build("Sequential", [pair, other])
    assert [child.repeat for child in outer.children] == [1, 1]
    assert our_ties(outer)["1.1.weight"] == "1.0.weight"


# ------------------------------------------------------------------------------------------- named containers


def test_sequential_ordered_dict_names_children() -> None:
    mapping = OrderedDictValue.of([("conv", build("Linear", (2, 3))), ("act", build("Identity"))])
    with torch.device("meta"):
        theirs = nn.Sequential(OrderedDict([("conv", nn.Linear(2, 3)), ("act", nn.Identity())]))
    assert_same_module(build("Sequential", [mapping]), theirs)


def test_module_dict_forms_match_torch() -> None:
    first, second = build("Linear", (2, 3)), build("Linear", (3, 4))
    with torch.device("meta"):
        theirs = nn.ModuleDict({"b": nn.Linear(2, 3), "a": nn.Linear(3, 4)})
    assert_same_module(build("ModuleDict", [DictValue.of([("b", first), ("a", second)])]), theirs)
    assert_same_module(build("ModuleDict", [(("b", first), ("a", second))]), theirs)


def test_repeated_key_keeps_first_position_and_last_module() -> None:
    first, second, third = build("Linear", (1, 1)), build("Linear", (2, 2)), build("Linear", (3, 3))
    with torch.device("meta"):
        pairs = [("a", nn.Linear(1, 1)), ("b", nn.Linear(2, 2)), ("a", nn.Linear(3, 3))]
        theirs = nn.ModuleDict(pairs)  # type: ignore[arg-type]  # torch accepts (name, module) pairs too
    assert_same_module(build("ModuleDict", [(("a", first), ("b", second), ("a", third))]), theirs)
    assert_same_module(build("ModuleDict", [DictValue.of([("a", first), ("b", second), ("a", third)])]), theirs)


def test_none_members_take_a_name_and_count_nothing() -> None:
    with torch.device("meta"):
        theirs = nn.Sequential(nn.Linear(1, 2), None, nn.Linear(2, 2))  # type: ignore[call-overload]
    assert_same_module(build("Sequential", [build("Linear", (1, 2)), None, build("Linear", (2, 2))]), theirs)


def test_empty_containers() -> None:
    for kind in ("Sequential", "ModuleList", "ModuleDict"):
        assert parameter_count(build(kind)) == 0


# ------------------------------------------------------------------------------------------------ rejections

LINEAR = build("Linear", (1, 1))

REJECTED: list[tuple[str, list[Value], str]] = [
    ("Sequential", [LINEAR, 3], "Sequential: argument 2 must be a module such as nn.Linear(...), got 3"),
    (
        "Sequential",
        [DictValue.of([("a", LINEAR)])],
        "Sequential: argument 1 must be a module such as nn.Linear(...), got {'a': Module(kind='Linear', name='', ...",
    ),
    ("ModuleList", [3], "ModuleList: modules must be a list of modules, got 3"),
    (
        "ModuleList",
        [DictValue.of([("a", LINEAR)])],
        "ModuleList: modules must be a list of modules, got {'a': Module(kind='Linear', name='', ...",
    ),
    ("ModuleList", [(LINEAR, "x")], "ModuleList: modules item 1 must be a module such as nn.Linear(...), got 'x'"),
    (
        "ModuleDict",
        [(LINEAR,)],
        "ModuleDict: modules item 0 must be a (name, module) pair, got Module(kind='Linear', name='', params=2)",
    ),
    (
        "ModuleDict",
        [DictValue.of([("a", 2)])],
        "ModuleDict: modules item 'a' must be a module such as nn.Linear(...), got 2",
    ),
    ("ModuleDict", [DictValue.of([("a.b", LINEAR)])], "ModuleDict: module name 'a.b' must not contain '.'"),
    ("ModuleDict", [DictValue.of([("", LINEAR)])], "ModuleDict: module name must not be empty"),
    (
        "ModuleDict",
        [DictValue.of([("update", LINEAR)])],
        "ModuleDict: module name 'update' is already an attribute of ModuleDict; choose another name",
    ),
    (
        "Sequential",
        [OrderedDictValue.of([("forward", LINEAR)])],
        "Sequential: module name 'forward' is already an attribute of Sequential; choose another name",
    ),
]


@pytest.mark.parametrize(("kind", "positional", "message"), REJECTED)
def test_container_rejections(kind: str, positional: list[Value], message: str) -> None:
    with pytest.raises(ArgumentError, match=re.escape(message)) as info:
        build(kind, positional)
    assert str(info.value) == message


@pytest.mark.parametrize("name", ["a", "a.b", "", "update", "keys", "training", "forward", "_modules", "0", "__x"])
def test_module_dict_names_rejected_iff_torch_rejects(name: str) -> None:
    try:
        nn.ModuleDict({name: nn.Identity()})
    except (KeyError, TypeError):
        with pytest.raises(ArgumentError):
            build("ModuleDict", [DictValue.of([(name, build("Identity"))])])
        return
    build("ModuleDict", [DictValue.of([(name, build("Identity"))])])


def test_tied_param_is_skipped_but_listed() -> None:
    linear = build("Linear", (3, 3))
    module_list = build("ModuleList", [(linear, linear)])
    tied = [(name, param) for name, param in iter_params(module_list, include_tied=True) if param.tied_to]
    assert [(name, param.tied_to) for name, param in tied] == [("1.weight", "0.weight"), ("1.bias", "0.bias")]
    assert all(isinstance(param, Param) for _, param in tied)


# ------------------------------------------------------------------------- ParameterList and ParameterDict


@dataclass(frozen=True)
class TensorItem:
    """One tensor of a parameter container: ``torch.<factory>(*sizes, dtype=...)``, maybe in nn.Parameter."""

    factory: str
    sizes: tuple[int, ...]
    dtype: str | None
    parameter: bool
    requires_grad: bool

    def text(self) -> str:
        dtype = f", dtype=torch.{self.dtype}" if self.dtype else ""
        tensor = f"torch.{self.factory}({', '.join(map(str, self.sizes)) or '()'}{dtype})"
        if not self.parameter:
            return tensor
        return f"nn.Parameter({tensor}, requires_grad={self.requires_grad})"

    def build(self) -> torch.Tensor:
        dtype = getattr(torch, self.dtype) if self.dtype else None
        tensor: torch.Tensor = getattr(torch, self.factory)(self.sizes, dtype=dtype)
        return nn.Parameter(tensor, requires_grad=self.requires_grad) if self.parameter else tensor


def tensor_items() -> st.SearchStrategy[TensorItem]:
    return st.builds(
        TensorItem,
        factory=st.sampled_from(["randn", "rand", "zeros", "ones", "empty"]),
        sizes=st.lists(st.integers(0, 6), max_size=3).map(tuple),
        dtype=st.sampled_from([None, "float16", "bfloat16", "float64"]),
        parameter=st.booleans(),
        requires_grad=st.booleans(),
    )


def _torch_view(module: torch.nn.Module) -> tuple[object, ...]:
    named = [(name, tuple(p.shape), p.requires_grad, str(p.dtype)[6:]) for name, p in module.named_parameters()]
    return (sum(p.numel() for p in module.parameters()), named)


def _our_view(text: str) -> tuple[object, ...]:
    tree = parse(text)
    named = [(name, p.sizes, p.trainable, p.dtype) for name, p in iter_params(tree)]
    return (parameter_count(tree), named)


@given(items=st.lists(tensor_items(), max_size=4), times=st.integers(1, 3))
def test_parameter_list_matches_torch(items: list[TensorItem], times: int) -> None:
    # [a, b] * times holds the same objects again: an nn.Parameter is counted once, while a plain tensor is
    # wrapped into a new Parameter each time (ParameterList.__setitem__), so it counts again.
    text = f"nn.ParameterList([{', '.join(item.text() for item in items)}] * {times})"
    with torch.device("meta"):
        theirs = nn.ParameterList([item.build() for item in items] * times)
    assert _our_view(text) == _torch_view(theirs)


@given(
    pairs=st.lists(st.tuples(st.sampled_from(["a", "b", "weight", "_size", "x1"]), tensor_items()), max_size=4),
    form=st.sampled_from(["dict", "OrderedDict", "pairs"]),
)
def test_parameter_dict_matches_torch(pairs: list[tuple[str, TensorItem]], form: str) -> None:
    # A plain dict is taken in sorted key order (ParameterDict.update sorts it); the others keep their order.
    written = ", ".join(f"({key!r}, {item.text()})" for key, item in pairs)
    text = {
        "dict": "nn.ParameterDict({" + ", ".join(f"{key!r}: {item.text()}" for key, item in pairs) + "})",
        "OrderedDict": f"nn.ParameterDict(OrderedDict([{written}]))",
        "pairs": f"nn.ParameterDict([{written}])",
    }[form]
    with torch.device("meta"):
        built = [(key, item.build()) for key, item in pairs]
        source: object = {"dict": dict(built), "OrderedDict": OrderedDict(built), "pairs": built}[form]
        theirs = nn.ParameterDict(source)
    assert _our_view(text) == _torch_view(theirs)


@pytest.mark.parametrize(
    "name", ["a", "a.b", "", "update", "keys", "training", "_keys", "_size", "0", "__x", "_parameters"]
)
def test_parameter_dict_names_rejected_iff_torch_rejects(name: str) -> None:
    text = f"nn.ParameterDict({{{name!r}: torch.zeros(2)}})"
    try:
        nn.ParameterDict({name: torch.zeros(2)})
    except (KeyError, AttributeError):
        with pytest.raises(ArgumentError):
            parse(text)
        return
    assert parameter_count(parse(text)) == 2


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("nn.ParameterList([torch.randn(x)])", ExpressionError, "column 31: unknown name 'x'"),
        ("nn.ParameterList([torch.load('f')])", ExpressionError, "column 19: torch.load() is not allowed"),
        ("nn.ParameterList([torch.randn(10**30)])", LimitError, "column 31: integer is 100 bits; the limit is 63"),
        ("nn.ParameterList([torch.randn(n) for n in range(3)]).x", ExpressionError, "column 54: attribute .x"),
        (
            "nn.ParameterList([torch.randn(2**40, 2**40)])",
            ArgumentError,
            "ParameterList: 0 of shape (1099511627776, 1099511627776) would take",
        ),
        (
            "nn.ParameterList([torch.randn(-1)])",
            ExpressionError,
            "column 19: torch.randn() sizes must be non-negative integers, got -1",
        ),
        (
            "nn.ParameterList([torch.randn(2.5)])",
            ExpressionError,
            "column 19: torch.randn() sizes must be non-negative integers, got 2.5",
        ),
        ("nn.ParameterList([torch.randn()])", ExpressionError, "column 19: torch.randn() needs a size"),
        (
            "nn.ParameterList([torch.randn(3, generator=None)])",
            ExpressionError,
            "column 19: torch.randn() got an unexpected or repeated argument 'generator'",
        ),
        (
            "nn.ParameterList([torch.zeros(3, dtype=torch.long)])",
            ExpressionError,
            "column 19: torch.zeros() dtype must be a floating dtype such as torch.float16, got torch.long",
        ),
        (
            "nn.ParameterList([nn.Parameter(3)])",
            ExpressionError,
            "column 19: nn.Parameter() takes a tensor such as torch.randn(3, 4), got 3",
        ),
        (
            "nn.ParameterList([nn.Parameter(torch.ones(2), requires_grad=1)])",
            ExpressionError,
            "column 19: nn.Parameter() requires_grad must be True or False, got 1",
        ),
        (
            "nn.ParameterList([nn.Linear(2, 2)])",
            ArgumentError,
            "ParameterList: values item '0' must be a tensor such as nn.Parameter(torch.randn(3, 4)), got a Linear",
        ),
        ("nn.ParameterList({'a': torch.ones(2)})", ArgumentError, "ParameterList: values must be a list of tensors"),
        ("torch.randn(3)", ExpressionError, "column 1: expression is a tensor of shape (3,), not a layer"),
        ("nn.ParameterList([torch.randn(3).cuda()])", ExpressionError, "column 34: .cuda() can only be called on"),
    ],
)
def test_parameter_container_refusals(text: str, error: type[ParamcountError], message: str) -> None:
    with pytest.raises(error) as info:
        parse(text)
    assert type(info.value) is error
    assert str(info.value).startswith(message)

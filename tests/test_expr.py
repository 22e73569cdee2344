"""The expression door: what it accepts builds what torch builds; everything else is refused with one line
that names the problem and its column; nothing but a ``ParamcountError`` ever escapes."""

from __future__ import annotations

import ast
import re
from collections import OrderedDict
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given
from hypothesis import strategies as st

from oracle import assert_same_module
from paramcount.errors import ArgumentError, ExpressionError, LimitError, ParamcountError, UnknownNameError
from paramcount.expr import parse
from paramcount.layers import build
from paramcount.layers._registry import registered
from paramcount.limits import MAX_DEPTH
from paramcount.tree import Module, Ref, iter_buffers, iter_params, parameter_count

nn = torch.nn

_ALLOWED = "use layer calls, numbers, strings, True/False/None, tuples and lists"
_NAMES = "only nn.<Layer>, torch.nn.<Layer>, torch.<dtype> and F.<activation> are accepted"
_METHODS = (
    "allowed methods: .requires_grad_(), .half(), .bfloat16(), .float(), .double(), .to(), .train(), .eval(), "
    ".cpu(), .cuda()"
)

# ---------------------------------------------------------------------------------- accepted: same as torch

# Each row: the text a user types, and the same expression written here as code for torch to build.
ACCEPTED: list[tuple[str, Callable[[], torch.nn.Module]]] = [
    ("Linear(64, 128)", lambda: nn.Linear(64, 128)),
    ("nn.Linear(64, 128)", lambda: nn.Linear(64, 128)),
    ("torch.nn.Linear(64, 128)", lambda: nn.Linear(64, 128)),
    ("nn.Linear(in_features=64, out_features=10, bias=False)", lambda: nn.Linear(64, 10, bias=False)),
    ("nn.Bilinear(3, 4, 5, False)", lambda: nn.Bilinear(3, 4, 5, False)),
    ("nn.Linear(64 * 7 * 7, 128)", lambda: nn.Linear(64 * 7 * 7, 128)),
    ("nn.Linear(2**10 // 4 + 3 - 1, 10 % 3)", lambda: nn.Linear(2**10 // 4 + 3 - 1, 10 % 3)),
    ("nn.Linear(-(-5), +3)", lambda: nn.Linear(5, 3)),
    (
        "nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Sequential(nn.Linear(128, 64), nn.Identity()))",
        lambda: nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Sequential(nn.Linear(128, 64), nn.Identity())),
    ),
    (
        "nn.Sequential(OrderedDict([('fc1', nn.Linear(4, 8)), ('act', nn.ReLU()), ('fc2', nn.Linear(8, 2))]))",
        lambda: nn.Sequential(OrderedDict([("fc1", nn.Linear(4, 8)), ("act", nn.ReLU()), ("fc2", nn.Linear(8, 2))])),
    ),
    (
        "nn.Sequential(collections.OrderedDict(fc=nn.Linear(4, 8), out=nn.Linear(8, 2)))",
        lambda: nn.Sequential(OrderedDict(fc=nn.Linear(4, 8), out=nn.Linear(8, 2))),
    ),
    (
        "nn.ModuleList([nn.Linear(2, 3), nn.Bilinear(3, 3, 1)])",
        lambda: nn.ModuleList([nn.Linear(2, 3), nn.Bilinear(3, 3, 1)]),
    ),
    (
        "nn.ModuleDict({'encoder': nn.Linear(8, 4), 'decoder': nn.Linear(4, 8)})",
        lambda: nn.ModuleDict({"encoder": nn.Linear(8, 4), "decoder": nn.Linear(4, 8)}),
    ),
    (
        "nn.ModuleDict([('b', nn.Linear(1, 2)), ('a', nn.Linear(2, 3))])",
        lambda: nn.ModuleDict([("b", nn.Linear(1, 2)), ("a", nn.Linear(2, 3))]),  # type: ignore[arg-type]
    ),
    (
        "nn.ModuleList([nn.Linear(2**i, 2**(i+1)) for i in range(4)])",
        lambda: nn.ModuleList([nn.Linear(2**i, 2 ** (i + 1)) for i in range(4)]),
    ),
    (
        "nn.Sequential(*[nn.Linear(64, 64) for _ in range(4)])",
        lambda: nn.Sequential(*[nn.Linear(64, 64) for _ in range(4)]),
    ),
    (
        "nn.Sequential(*[nn.Linear(i, i + 1) for i in range(10, 1, -3)])",
        lambda: nn.Sequential(*[nn.Linear(i, i + 1) for i in range(10, 1, -3)]),
    ),
    ("nn.Sequential(*[nn.Linear(64, 64)] * 4)", lambda: nn.Sequential(*[nn.Linear(64, 64)] * 4)),
    ("nn.ModuleList(2 * [nn.Linear(3, 3), nn.ReLU()])", lambda: nn.ModuleList(2 * [nn.Linear(3, 3), nn.ReLU()])),
    (
        "nn.Sequential(*[nn.Sequential(*[nn.Linear(2, 2)] * 2)] * 3)",
        lambda: nn.Sequential(*[nn.Sequential(*[nn.Linear(2, 2)] * 2)] * 3),
    ),
    (
        "nn.Sequential(nn.Linear(1, 1), *[nn.Linear(1, 1)] * 2, nn.Linear(1, 1))",
        lambda: nn.Sequential(nn.Linear(1, 1), *[nn.Linear(1, 1)] * 2, nn.Linear(1, 1)),
    ),
    ("nn.Linear(64, 64).requires_grad_(False)", lambda: nn.Linear(64, 64).requires_grad_(False)),
    (
        "nn.Sequential(nn.Linear(2, 2).requires_grad_(False), nn.Linear(2, 2)).requires_grad_(requires_grad=True)",
        lambda: nn.Sequential(nn.Linear(2, 2).requires_grad_(False), nn.Linear(2, 2)).requires_grad_(
            requires_grad=True
        ),
    ),
    ("nn.Linear(4, 4).half()", lambda: nn.Linear(4, 4).half()),
    ("nn.Linear(4, 4).bfloat16().float()", lambda: nn.Linear(4, 4).bfloat16().float()),
    ("nn.Linear(4, 4).double()", lambda: nn.Linear(4, 4).double()),
    ("nn.Linear(4, 4).to(torch.float16)", lambda: nn.Linear(4, 4).to(torch.float16)),
    ("nn.Linear(4, 4).to(dtype=torch.half)", lambda: nn.Linear(4, 4).to(dtype=torch.half)),
    ("nn.Linear(4, 4).to('meta', torch.bfloat16)", lambda: nn.Linear(4, 4).to("meta", torch.bfloat16)),
    # .cpu() copies data, which meta tensors lack; it changes nothing counted, so torch's side leaves it out.
    ("nn.Linear(4, 4).train().eval().train(False).cpu()", lambda: nn.Linear(4, 4).train().eval().train(False)),
    ("nn.Linear(64, 64, dtype=torch.bfloat16)", lambda: nn.Linear(64, 64, dtype=torch.bfloat16)),
    ("nn.Linear(64, 64, device='meta')", lambda: nn.Linear(64, 64, device="meta")),
    ("nn.Linear(64, 64, device=torch.device('meta'))", lambda: nn.Linear(64, 64, device=torch.device("meta"))),
    (
        "  nn.Sequential(\n    nn.Linear(64, 32),  # first\n\tnn.Identity()\n  )\n  .half()\n",
        lambda: nn.Sequential(nn.Linear(64, 32), nn.Identity()).half(),
    ),
    ("nn.Linear(\r\n2,\r3)", lambda: nn.Linear(2, 3)),
    ("nn.Identity(3, 'x', None, 1.5, (1, [2]), True)", lambda: nn.Identity(3, "x", None, 1.5, (1, [2]), True)),
    # Families written in parallel with this door: they pass as soon as their catalog entries exist.
    (
        "nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU()).half()",
        lambda: nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU()).half(),
    ),
    ("nn.BatchNorm2d(8).to(torch.float16)", lambda: nn.BatchNorm2d(8).to(torch.float16)),
    ("nn.Sequential(*[nn.BatchNorm1d(4)] * 3)", lambda: nn.Sequential(*[nn.BatchNorm1d(4)] * 3)),
    (
        "nn.LSTM(32, 64, num_layers=2, bidirectional=True).requires_grad_(False)",
        lambda: nn.LSTM(32, 64, num_layers=2, bidirectional=True).requires_grad_(False),
    ),
    (
        "nn.TransformerEncoderLayer(64, 4, 128, activation=F.gelu, dtype=torch.bfloat16)",
        lambda: nn.TransformerEncoderLayer(64, 4, 128, activation=F.gelu, dtype=torch.bfloat16),
    ),
]


@pytest.mark.parametrize(("text", "make"), ACCEPTED, ids=[text for text, _ in ACCEPTED])
def test_expression_builds_what_torch_builds(text: str, make: Callable[[], torch.nn.Module]) -> None:
    with torch.device("meta"):
        theirs = make()
    assert_same_module(parse(text), theirs)


def test_repeated_module_counts_once() -> None:
    # One Linear(64, 64) object held four times: 64·64 + 64 = 4,160 parameters, as torch counts it.
    module = parse("nn.Sequential(*[nn.Linear(64, 64)] * 4)")
    assert parameter_count(module) == 4_160
    assert [name for name, _ in iter_params(module)] == ["0.weight", "0.bias"]


def test_comprehension_builds_distinct_modules() -> None:
    # Four Linear(64, 64) objects: 4 · 4,160 = 16,640, stored as one child repeated four times.
    module = parse("nn.Sequential(*[nn.Linear(64, 64) for i in range(4)])")
    assert parameter_count(module) == 16_640
    assert [(child.name, child.repeat) for child in module.children] == [("0", 4)]


def test_requires_grad_false_freezes_every_parameter() -> None:
    module = parse("nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 1)).requires_grad_(False)")
    assert parameter_count(module, trainable=True) == 0
    assert parameter_count(module, trainable=False) == 3 * 3 + 3 + 3 + 1


def test_half_keeps_integer_buffers() -> None:
    module = parse("nn.BatchNorm2d(16).half()")
    assert {name: buffer.dtype for name, buffer in iter_buffers(module)} == {
        "running_mean": "float16",
        "running_var": "float16",
        "num_batches_tracked": "int64",
    }


def test_dtype_and_activation_values_are_references() -> None:
    assert parse("nn.Linear(2, 2, dtype=torch.bfloat16)").arg("dtype") == Ref("torch.bfloat16")
    for spelling in ("F.gelu", "nn.functional.gelu", "torch.nn.functional.gelu"):
        layer = parse(f"nn.TransformerEncoderLayer(8, 2, activation={spelling})")
        assert layer.arg("activation") == Ref("torch.nn.functional.gelu")


def test_device_values_are_plain_names() -> None:
    assert parse("nn.Linear(2, 2, device=torch.device('cuda', 1))").arg("device") == "cuda:1"
    assert parse("nn.Linear(2, 2, device=torch.device(type='cpu'))").arg("device") == "cpu"


def test_expression_matches_the_catalog_call() -> None:
    assert parse("nn.Linear(3, 4, bias=False)") == build("Linear", (3, 4), [("bias", False)])


# ----------------------------------------------------------------------------------- refused: one exact line

ERRORS: list[tuple[str, type[ParamcountError], str, int | None]] = [
    # the forms the parser itself refuses
    ("", ExpressionError, "expression is empty; write a layer call such as nn.Linear(64, 128)", None),
    (" \n\t", ExpressionError, "expression is empty; write a layer call such as nn.Linear(64, 128)", None),
    ("# just a comment", ExpressionError, "expression is empty; write a layer call such as nn.Linear(64, 128)", None),
    ("Linear(1, 2", ExpressionError, "column 7: invalid syntax: '(' was never closed", 7),
    ("nn.Linear(1,\n 2,, 3)", ExpressionError, "column 17: invalid syntax", 17),
    ("import os", ExpressionError, "column 1: invalid syntax", 1),
    # syntax outside the whitelist
    ("nn.Linear(2, lambda: 0)", ExpressionError, f"column 14: lambda is not allowed; {_ALLOWED}", 14),
    ("Linear('é', lambda: 0)", ExpressionError, f"column 13: lambda is not allowed; {_ALLOWED}", 13),
    ("nn.Linear(x[0], 2)", ExpressionError, f"column 11: subscripting is not allowed; {_ALLOWED}", 11),
    ("nn.Linear(f'{3}', 2)", ExpressionError, f"column 11: an f-string is not allowed; {_ALLOWED}", 11),
    ("nn.Linear((n := 3), n)", ExpressionError, f"column 12: the walrus operator is not allowed; {_ALLOWED}", 12),
    (
        "nn.Linear(1 if True else 2, 3)",
        ExpressionError,
        f"column 11: a conditional expression is not allowed; {_ALLOWED}",
        11,
    ),
    ("nn.Linear(1 < 2, 3)", ExpressionError, f"column 11: a comparison is not allowed; {_ALLOWED}", 11),
    ("nn.Linear(1 and 2, 3)", ExpressionError, f"column 11: and/or is not allowed; {_ALLOWED}", 11),
    ("nn.ModuleList({nn.Linear(1, 1)})", ExpressionError, f"column 15: a set is not allowed; {_ALLOWED}", 15),
    ("nn.Linear(b'1', 2)", ExpressionError, f"column 11: a bytes literal is not allowed; {_ALLOWED}", 11),
    ("nn.Linear(1j, 2)", ExpressionError, f"column 11: a complex number is not allowed; {_ALLOWED}", 11),
    ("nn.Linear(..., 2)", ExpressionError, f"column 11: Ellipsis is not allowed; {_ALLOWED}", 11),
    ("nn.Linear(1e999, 2)", ExpressionError, "column 11: number is too large for a float", 11),
    # comprehensions other than [element for name in range(...)]
    (
        "nn.Sequential(*(nn.Linear(1, 1) for i in range(3)))",
        ExpressionError,
        f"column 16: a generator expression is not allowed; {_ALLOWED}",
        16,
    ),
    (
        "nn.ModuleDict({str(i): nn.ReLU() for i in range(2)})",
        ExpressionError,
        f"column 15: a dict comprehension is not allowed; {_ALLOWED}",
        15,
    ),
    (
        "nn.ModuleList({nn.ReLU() for i in range(2)})",
        ExpressionError,
        f"column 15: a set comprehension is not allowed; {_ALLOWED}",
        15,
    ),
    (
        "nn.ModuleList([nn.ReLU() for i in range(4) if i])",
        ExpressionError,
        "column 47: 'if' in a list comprehension is not allowed",
        47,
    ),
    (
        "nn.ModuleList([nn.ReLU() for i in range(2) for j in range(2)])",
        ExpressionError,
        "column 48: a list comprehension may have only one 'for'",
        48,
    ),
    (
        "nn.ModuleList([nn.ModuleList([nn.ReLU() for j in range(2)]) for i in range(2)])",
        ExpressionError,
        "column 30: a list comprehension inside another is not allowed",
        30,
    ),
    (
        "nn.ModuleList([nn.ReLU() for i in [1, 2]])",
        ExpressionError,
        "column 35: a list comprehension must loop over range(...), as in [nn.Linear(64, 64) for i in range(4)]",
        35,
    ),
    (
        "nn.ModuleList([nn.ReLU() for i, j in range(2)])",
        ExpressionError,
        "column 30: the loop variable must be one name, as in 'for i in range(4)'",
        30,
    ),
    (
        "nn.ModuleList([nn.ReLU() for i in range(1, 2, 3, 4)])",
        ExpressionError,
        "column 35: range() takes one to three integers: range(stop), range(start, stop[, step])",
        35,
    ),
    (
        "nn.ModuleList([nn.ReLU() for i in range(0, 4, 0)])",
        ExpressionError,
        "column 35: range() step must not be zero",
        35,
    ),
    (
        "nn.ModuleList([nn.ReLU() for i in range(2.5)])",
        ExpressionError,
        "column 41: range() takes integers, got 2.5",
        41,
    ),
    (
        "nn.Linear(range(3), 2)",
        ExpressionError,
        "column 11: range() is allowed only as the loop of a list comprehension, as in [... for i in range(4)]",
        11,
    ),
    # starred and double-starred elsewhere
    (
        "nn.ModuleList([*[nn.ReLU()]])",
        ExpressionError,
        "column 16: *-unpacking is allowed only among a call's arguments, as in nn.Sequential(*[...])",
        16,
    ),
    (
        "nn.Linear(**{'in_features': 1})",
        ExpressionError,
        "column 11: **-unpacking of keyword arguments is not allowed",
        11,
    ),
    ("nn.ModuleDict({**{}})", ExpressionError, "column 18: **-unpacking in a dict is not allowed", 18),
    (
        "nn.Sequential(*nn.ReLU())",
        ExpressionError,
        "column 15: *-unpacking needs a list or tuple, got a ReLU layer",
        15,
    ),
    (
        "nn.ModuleDict({1: nn.ReLU()})",
        ExpressionError,
        "column 16: dict keys must be strings, as in {'conv': nn.Conv2d(3, 8, 3)}",
        16,
    ),
    # names and attribute chains
    ("__import__('os')", ExpressionError, "column 1: dunder name '__import__' is not allowed", 1),
    ("nn.Conv2d.__init__(1, 2, 3)", ExpressionError, "column 11: dunder name '__init__' is not allowed", 11),
    ("nn.Linear(1, 2, __x=3)", ExpressionError, "column 17: dunder name '__x' is not allowed", 17),
    ("os.system('ls')", ExpressionError, f"column 1: attribute access 'os.system' is not allowed; {_NAMES}", 1),
    (
        "nn.Linear(torch.zeros, 2)",
        ExpressionError,
        f"column 11: attribute access 'torch.zeros' is not allowed; {_NAMES}",
        11,
    ),
    (
        "torch.nn.modules.Linear(1, 2)",
        ExpressionError,
        f"column 1: attribute access 'torch.nn.modules.Linear' is not allowed; {_NAMES}",
        1,
    ),
    ("nn.Linear(1, 2).weight", ExpressionError, f"column 17: attribute .weight is not allowed; {_METHODS}", 17),
    (
        "nn.Linear(1, 2).cuda().zero_grad()",
        ExpressionError,
        f"column 24: method .zero_grad() is not allowed; {_METHODS}",
        24,
    ),
    (
        "nn.Linear(2, 3)(4)",
        ExpressionError,
        "column 1: only a layer can be called, by its name, as in nn.Linear(64, 128)",
        1,
    ),
    (
        "Conv2D(1, 2, 3)",
        UnknownNameError,
        "column 1: unknown layer 'Conv2D'; did you mean 'Conv2d', 'Conv3d' or 'Conv1d'?",
        1,
    ),
    ("nn.Linaer(1, 2)", UnknownNameError, "column 4: unknown layer 'Linaer'; did you mean 'Linear'?", 4),
    ("print('hi')", UnknownNameError, "column 1: unknown layer 'print'", 1),
    (
        "nn.Linear(2, 3, dtype=torch.flaot16)",
        UnknownNameError,
        "column 29: unknown dtype 'torch.flaot16'; did you mean 'torch.float16', 'torch.bfloat16' or 'torch.float64'?",
        29,
    ),
    (
        "nn.TransformerEncoderLayer(8, 2, activation=F.gleu)",
        UnknownNameError,
        "column 47: unknown activation function 'F.gleu'; did you mean 'F.glu' or 'F.gelu'?",
        47,
    ),
    (
        "nn.TransformerEncoderLayer(8, 2, activation=F.gelu(3))",
        ExpressionError,
        "column 45: calling F.gelu is not allowed; pass the function itself, as in activation=F.gelu",
        45,
    ),
    (
        "nn.Sequential(nn.ReLU)",
        ExpressionError,
        "column 15: nn.ReLU is a layer class; call it to build a layer, as in nn.ReLU(...)",
        15,
    ),
    (
        "nn.Linear(in_features, 2)",
        ExpressionError,
        "column 11: unknown name 'in_features'; a name must be a layer call, torch.<dtype>, F.<activation> or the "
        "variable of a list comprehension",
        11,
    ),
    (
        "nn.ModuleList([i(2) for i in range(2)])",
        ExpressionError,
        "column 16: 'i' is the loop variable, an int; it cannot be called or have attributes",
        16,
    ),
    # arithmetic beyond integers
    ("nn.Linear(4 / 2, 3)", ExpressionError, "column 11: '/' is not allowed; use '//' for integer division", 11),
    (
        "nn.Linear(1 << 4, 3)",
        ExpressionError,
        "column 11: operator '<<' is not allowed; use + - * // % ** on integers",
        11,
    ),
    ("nn.Linear(~4, 3)", ExpressionError, "column 11: operator '~' is not allowed; use + - * // % ** on integers", 11),
    ("nn.Linear(1.5 * 2, 3)", ExpressionError, "column 11: arithmetic is allowed only on integers, got 1.5 * 2", 11),
    ("nn.Linear(True + 1, 3)", ExpressionError, "column 11: arithmetic is allowed only on integers, got True + 1", 11),
    ("nn.Linear('a' * 3, 3)", ExpressionError, "column 11: arithmetic is allowed only on integers, got 'a' * 3", 11),
    ("nn.Linear(-'a', 3)", ExpressionError, "column 11: unary - applies only to numbers, got 'a'", 11),
    ("nn.Linear(4 // 0, 3)", ExpressionError, "column 11: integer division by zero", 11),
    ("nn.Linear(4 % 0, 3)", ExpressionError, "column 11: modulo by zero", 11),
    (
        "nn.Linear(2 ** -1, 3)",
        ExpressionError,
        "column 11: negative exponent -1 is not allowed; the result must be an integer",
        11,
    ),
    (
        "nn.ModuleList([nn.ReLU()] * 1.5)",
        ExpressionError,
        "column 15: arithmetic is allowed only on integers, got a list of 1 item * 1.5",
        15,
    ),
    # methods
    ("nn.Linear(1, 2).half(3)", ExpressionError, "column 17: .half() takes no arguments", 17),
    (
        "nn.Linear(1, 2).requires_grad_(0)",
        ExpressionError,
        "column 17: .requires_grad_() takes True or False, got 0",
        17,
    ),
    (
        "nn.Linear(1, 2).to(torch.int8)",
        ExpressionError,
        "column 17: .to() dtype must be a floating dtype such as torch.float16, got torch.int8",
        17,
    ),
    (
        "nn.Linear(1, 2).to('gpu')",
        ExpressionError,
        "column 17: unknown device 'gpu'; use a device such as 'cpu', 'cuda', 'cuda:0', 'mps' or 'meta'",
        17,
    ),
    (
        "nn.Linear(1, 2).to()",
        ExpressionError,
        "column 17: .to() needs a dtype or a device, as in .to(torch.float16)",
        17,
    ),
    ("(3).half()", ExpressionError, "column 5: .half() can only be called on a layer, got 3", 5),
    # OrderedDict and torch.device
    (
        "nn.Sequential(OrderedDict([nn.ReLU()]))",
        ExpressionError,
        "column 15: OrderedDict() items must be (name, module) pairs, got a ReLU layer",
        15,
    ),
    (
        "nn.Linear(1, 2, device=torch.device('gpu'))",
        ExpressionError,
        "column 24: unknown device 'gpu'; use a device such as 'cpu', 'cuda', 'cuda:0', 'mps' or 'meta'",
        24,
    ),
    # the result must be a layer
    ("3", ExpressionError, "column 1: expression is 3, not a layer; write a layer call such as nn.Linear(64, 128)", 1),
    (
        "  [nn.Linear(64, 64)] * 4",
        ExpressionError,
        "column 3: expression is a list of 4 items, not a layer; wrap it in nn.Sequential(*...) or nn.ModuleList(...)",
        3,
    ),
    (
        "{'a': nn.ReLU()}",
        ExpressionError,
        "column 1: expression is a dict, not a layer; wrap it in nn.ModuleDict(...)",
        1,
    ),
    (
        "torch.float16",
        ExpressionError,
        "column 1: expression is torch.float16, not a layer; write a layer call such as nn.Linear(64, 128)",
        1,
    ),
    # caps: each refused before the work it guards
    ("x" * 20_000, LimitError, "expression is 20,000 characters; the limit is 10,000 characters", None),
    (
        "(" * 300 + "nn.ReLU()" + ")" * 300,
        LimitError,
        "column 33: bracket nesting exceeds the limit of 32 levels",
        33,
    ),
    (
        "nn.Linear(" + "1" * 5_000 + ", 2)",
        LimitError,
        "column 11: integer literal is 5,000 digits; the limit is 19 digits",
        11,
    ),
    ("nn.Linear(10**10**10, 2)", LimitError, "column 11: integer 10**10000000000 exceeds the limit of 63 bits", 11),
    ("nn.Linear(2**64, 2)", LimitError, "column 11: integer 2**64 exceeds the limit of 63 bits", 11),
    ("nn.Linear(2**63, 2)", LimitError, "column 11: integer is 64 bits; the limit is 63 bits", 11),
    ("nn.Linear(9999999999999999999, 2)", LimitError, "column 11: integer is 64 bits; the limit is 63 bits", 11),
    ("nn.Linear(0x" + "f" * 100 + ", 2)", LimitError, "column 11: integer is 400 bits; the limit is 63 bits", 11),
    ("nn.Linear(3037000500 * 3037000500, 2)", LimitError, "column 11: integer is 64 bits; the limit is 63 bits", 11),
    (
        "nn.Sequential(*[nn.Linear(1, 1) for i in range(10**6)])",
        LimitError,
        "column 42: range() is 1,000,000 items; the limit is 1,024 items",
        42,
    ),
    (
        "nn.Sequential(*[nn.ReLU()] * 2000)",
        LimitError,
        "column 16: list repetition is 2,000 items; the limit is 1,024 items",
        16,
    ),
    (
        "nn.Sequential(*[[nn.ReLU()] * 1000] * 1000)",
        LimitError,
        "column 16: list is 1,001,001 items; the limit is 20,000 items",
        16,
    ),
    (
        "nn.Sequential(*[nn.Sequential(*[nn.Linear(1, 1) for i in range(1000)])] * 1000)",
        LimitError,
        "expression exceeds the limit of 20,000 modules",
        None,
    ),
    ("nn.Linear(" + "1 + " * 200 + "1, 2)", LimitError, "column 11: nesting exceeds the limit of 128 levels", 11),
    ("nn.Linear(" + "-" * 200 + "1, 2)", LimitError, "column 138: nesting exceeds the limit of 128 levels", 138),
    ("-" * 9_000 + "1", LimitError, "expression nesting exceeds the limit of 128 levels", None),
    ("nn.Identity(" + "-1," * 2_600 + ")", LimitError, "expression exceeds the limit of 5,000 syntax nodes", None),
    (
        "nn.ModuleList([nn.Identity(" + "1, " * 200 + ") for i in range(1000)])",
        LimitError,
        "expression exceeds the limit of 100,000 evaluation steps",
        None,
    ),
    # the catalog's own refusals pass through unchanged
    ("nn.Linear(3, -1)", ArgumentError, "Linear: out_features must be non-negative, got -1", None),
    (
        "nn.Sequential(nn.ReLU(), 3)",
        ArgumentError,
        "Sequential: argument 2 must be a module such as nn.Linear(...), got 3",
        None,
    ),
    # a torch name where torch refuses it is quoted as written (torch: "Only Tensors of floating point and
    # complex dtype can require gradients"), not as the record that holds it
    (
        "nn.Linear(3, 4, dtype=torch.int8)",
        ArgumentError,
        "Linear: dtype must be a floating torch dtype such as torch.bfloat16, got torch.int8",
        None,
    ),
    (
        "nn.Conv2d(3, 4, (F.gelu, 3))",
        ArgumentError,
        "Conv2d: kernel_size must be an int or a tuple of 2 ints, got (torch.nn.functional.gelu, 3)",
        None,
    ),
]


@pytest.mark.parametrize(
    ("text", "error", "message", "column"), ERRORS, ids=[f"{index}-{row[0][:40]}" for index, row in enumerate(ERRORS)]
)
def test_expression_refusal_is_exact(text: str, error: type[ParamcountError], message: str, column: int | None) -> None:
    with pytest.raises(ParamcountError) as info:
        parse(text)
    assert type(info.value) is error
    assert str(info.value) == message
    assert getattr(info.value, "column", None) == column


def test_unknown_layer_carries_suggestions() -> None:
    with pytest.raises(UnknownNameError) as info:
        parse("nn.Conv2D(1, 2, 3)")
    assert info.value.name == "Conv2D"
    assert info.value.suggestions[:1] == ("Conv2d",)


def test_limit_errors_carry_their_fields() -> None:
    with pytest.raises(LimitError) as info:
        parse("x" * 10_001)
    assert (info.value.what, info.value.limit, info.value.actual) == ("expression", 10_000, 10_001)


# ------------------------------------------------------------------------------------------------- fuzzing

TOKENS = [
    "nn.", "torch.", "F.", "Linear", "Bilinear", "Identity", "Sequential", "ModuleList", "ModuleDict", "ReLU",
    "OrderedDict", "range", "gelu", "float16", "half", "requires_grad_", "to", "(", ")", "[", "]", "{", "}",
    ",", ":", "*", "**", "//", "%", "+", "-", "/", ".", "=", " ", "\n", "0", "1", "2", "64", "2**63",
    "True", "None", "'a'", "bias", "for", "i", "in", "if", "lambda", "__class__", "#",
]  # fmt: skip


@given(text=st.text(max_size=200))
@example(text="\x00")
@example(text="'")
@example(text="\r")
@example(text="(\x0c1)")
def test_arbitrary_text_builds_or_raises_paramcount_error(text: str) -> None:
    message = ""
    try:
        assert isinstance(parse(text), Module)
    except ParamcountError as error:
        message = str(error)
    assert "\n" not in message


@given(tokens=st.lists(st.sampled_from(TOKENS), max_size=40))
def test_token_soup_builds_or_raises_paramcount_error(tokens: list[str]) -> None:
    column = None
    try:
        assert isinstance(parse("".join(tokens)), Module)
    except ParamcountError as error:
        column = getattr(error, "column", None)
    assert column is None or 1 <= column <= max(len("".join(tokens)), 1)


# Forbidden but valid Python: a snippet and where in it the refusal must point.
FORBIDDEN: list[tuple[str, int]] = [
    ("lambda: 0", 0),
    ("x[0]", 0),
    ("(i for i in range(3))", 0),
    ("{i for i in range(3)}", 0),
    ("{i: i for i in range(3)}", 0),
    ("f'{x}'", 0),
    ("(y := 3)", 1),
    ("1 < 2", 0),
    ("a and b", 0),
    ("a if b else c", 0),
    ("{1, 2}", 0),
    ("os.system", 0),
    ("__import__", 0),
    ("nn.Conv2d.__init__", 10),
    ("torch.nn.modules.linear", 0),
    ("4 / 2", 0),
    ("1 << 2", 0),
    ("~1", 0),
    ("not 1", 0),
    ("1 @ 2", 0),
    ("b'x'", 0),
    ("1j", 0),
    ("...", 0),
    ("[i for i in range(3) if i]", 24),
    ("[i for i in range(3) for j in range(2)]", 25),
    ("[i for i in [1, 2]]", 12),
    ("[i for i, j in range(3)]", 7),
    ("[[i for i in range(2)] for j in range(2)]", 1),
    ("range(3)", 0),
    ("[*[1]]", 1),
    ("nn.Linear(**{'a': 1})", 10),
    ("{**{}}", 3),
    ("{1: 2}", 1),
    ("nn.Linear(1, 2).weight", 16),
    ("nn.Linear(1, 2).foo()", 16),
    ("nn.Linear(2, 3)(4)", 0),
    ("Linear(__x=1)", 7),
]

WRAPPERS = [
    "argument",
    "keyword",
    "list",
    "tuple",
    "starred",
    "left",
    "right",
    "comprehension",
    "method",
    "dict",
    "minus",
]


def _expression(text: str) -> ast.expr:
    return ast.parse(text, mode="eval").body


def _wrap(node: ast.expr, wrapper: str) -> ast.expr:
    linear = _expression("nn.Linear")
    if wrapper == "argument":
        return ast.Call(linear, [node, ast.Constant(3)], [])
    if wrapper == "keyword":
        return ast.Call(linear, [ast.Constant(3), ast.Constant(4)], [ast.keyword("bias", node)])
    if wrapper in ("list", "tuple"):
        return ast.List([ast.Constant(1), node]) if wrapper == "list" else ast.Tuple([node, ast.Constant(2)])
    if wrapper == "starred":
        return ast.Call(_expression("nn.Sequential"), [ast.Starred(ast.List([node]))], [])
    if wrapper in ("left", "right"):
        return (
            ast.BinOp(node, ast.Add(), ast.Constant(1))
            if wrapper == "left"
            else ast.BinOp(ast.Constant(2), ast.Mult(), node)
        )
    if wrapper == "comprehension":
        loop = ast.comprehension(ast.Name("k", ast.Store()), _expression("range(2)"), [], 0)
        return ast.ListComp(node, [loop])
    if wrapper == "method":
        return ast.Call(ast.Attribute(node, "half"), [], [])
    if wrapper == "dict":
        return ast.Dict([ast.Constant("a")], [node])
    return ast.UnaryOp(ast.USub(), node)


@given(
    forbidden=st.sampled_from(FORBIDDEN),
    wrappers=st.lists(st.sampled_from(WRAPPERS), max_size=4).filter(lambda w: w.count("comprehension") <= 1),
)
def test_forbidden_python_is_refused_where_it_is_written(forbidden: tuple[str, int], wrappers: list[str]) -> None:
    snippet, offset = forbidden
    node = _expression(snippet)
    for wrapper in wrappers:
        node = _wrap(node, wrapper)
    text = ast.unparse(ast.fix_missing_locations(ast.Expression(node)))
    with pytest.raises(ExpressionError) as info:
        parse(text)
    canonical = ast.unparse(_expression(snippet))
    if "comprehension" in wrappers and snippet.startswith("[") and " for " in snippet:
        offset = 0  # inside another comprehension the nesting itself is refused first
    assert info.value.column == text.index(canonical) + offset + 1, text


# ----------------------------------------------------------------------------------------------- the scan
# The scan was a regular expression; it is hand-written now (importing ``re`` cost more start-up time than the
# scan). The expression stays here as the reference the hand-written loop must agree with.
_REFERENCE_TOKEN = re.compile(
    r"""
      (?P<open>[(\[{]) | (?P<close>[)\]}])
    | '''(?:[^\\]|\\.)*?''' | \"\"\"(?:[^\\]|\\.)*?\"\"\"
    | '(?:[^'\\\r\n]|\\.)*' | "(?:[^"\\\r\n]|\\.)*"
    | (?P<unclosed>['"])
    | \#[^\r\n]*
    | (?P<number>[0-9][\w.]*) | \.[0-9][\w.]*
    | [^\W\d]\w*
    """,
    re.VERBOSE | re.DOTALL,
)


def _reference_scan(text: str) -> bool | str:
    """What the regular expression made of ``text``: balanced or not, or the LimitError's subject when a
    limit is hit first (the nesting, or an integer literal longer than an int64's 19 digits)."""
    depth, balanced = 0, True
    for token in _REFERENCE_TOKEN.finditer(text):
        kind = token.lastgroup
        if kind == "open":
            depth += 1
            if depth > MAX_DEPTH:
                return f"column {token.start() + 1}: bracket nesting"
        elif kind == "close":
            depth -= 1
            balanced = balanced and depth >= 0
        elif kind == "unclosed":
            return False
        elif kind == "number":
            digits = token.group().replace("_", "")
            if token.group().isascii() and digits.isdigit() and len(digits) > 19:
                return f"column {token.start() + 1}: integer literal"
    return balanced and depth == 0


_SCAN_PIECES = [*"()[]{}'\"#\\\r\n._ a1٣²xé9", "12345678901", "'''", '"""', "((((((((", "1_000"]


@given(st.lists(st.sampled_from(_SCAN_PIECES), max_size=40).map("".join))
@example("'''abc'")
@example('"""a\\"""b"""')
@example("Linear(1_000, 2.5e3) # (")
@example("Linear(12345678901234567890, 2)")
@example("(" * 33)
def test_scan_agrees_with_the_reference_expression(text: str) -> None:
    from paramcount.expr._scan import scan

    expected = _reference_scan(text)
    if isinstance(expected, str):
        with pytest.raises(LimitError) as raised:
            scan(text)
        assert f"column {raised.value.column}: {raised.value.what}" == expected
    else:
        assert scan(text) == expected


# ------------------------------------------------ plain calls and their near misses: a tree or one clean error

# Each pool: plain calls, then near misses; draws take the first part three times as often.
_HEADS = (
    ["Conv2d", "nn.Conv2d", "torch.nn.Conv2d", "Linear", "nn.Linear", "LayerNorm", "Embedding", "LSTM", "Identity",
     "Sequential", "MultiheadAttention", "BatchNorm2d", "Dropout", "TransformerEncoderLayer", "ModuleList"],
    [" nn.Linear", "nn . Linear", "nn.nn.Linear", "torch.Linear", "F.relu", "linear", "resnet18", "Conv2D", ""],
)  # fmt: skip
_KEYWORDS = (
    ["in_features", "out_features", "bias", "eps", "padding", "padding_mode", "kernel_size", "groups",
     "num_layers", "bidirectional", "padding_idx", "elementwise_affine", "dropout", "p"],
    ["foo", "__class__", "lambda", "True"],
)  # fmt: skip
_LITERALS = (
    ["0", "1", "3", "8", "64", "-1", "-0", "9223372036854775807", "-9223372036854775807", "1e-05", "1E5", "0.1",
     ".5", "1.", "01.5", "-2.5", "-0.0", "True", "False", "None", "'zeros'", "'reflect'", '"same"', "''"],
    ["007", "00", "1_000", "9223372036854775808", "-9223372036854775808", "1e999", "1e+-5", "1e", "e5", ".", "-",
     "--1", "true", "-True", "'a b'", "'a,b'", "'a=b'", "'''", "'x\"", "(3, 3)", "[1]", "2**3", "x",
     "torch.float16", "- 1", "+1", "1j", "0x10", "\u0661", "1\u00a0", "=1", "", "9" * 5000, "9" * 500 + ".5"],
)  # fmt: skip
_SPACES = (["", " ", "\n", "\t", "\r\n", "\r"], ["\u00a0", "\x0c", "\v", "\x1c"])
_TAILS = (["", " ", "\n"], [" # note", ".half()", ")", "(1)", "\\\n"])


def _mostly(pool: tuple[list[str], list[str]], times: int = 3) -> st.SearchStrategy[str]:
    taken, missed = pool
    return st.sampled_from(taken * times + missed)


def _outcome(build_it: Callable[[], Module]) -> tuple[str, object]:
    try:
        return "built", build_it()
    except ParamcountError as error:
        return type(error).__name__, (str(error), getattr(error, "column", None))


@st.composite
def _plain_calls(draw: st.DrawFn) -> str:
    """Plain layer calls with literal arguments, their near misses, and odd spacing."""
    space = _mostly(_SPACES, times=12)
    head = draw(_mostly(_HEADS))
    spec = registered(head.rpartition(".")[2])
    keywords = (list(spec.signature.names) if spec else []) + _KEYWORDS[0], _KEYWORDS[1]
    pieces = []
    named = draw(st.lists(st.booleans(), max_size=5))
    for keyword in sorted(named) if draw(st.integers(0, 3)) else named:  # keywords mostly last
        literal = draw(_mostly(_LITERALS, times=8))
        if keyword:
            literal = f"{draw(_mostly(keywords))}{draw(space)}={draw(space)}{literal}"
        pieces.append(f"{draw(space)}{literal}{draw(space)}")
    separator = draw(_mostly(([",", ", ", ",\n    "], [",,", ";"])))
    tail = draw(_mostly(_TAILS))
    return f"{draw(space)}{head}{draw(space)}({separator.join(pieces)}){tail}{draw(space)}"


@given(_plain_calls())
@example("nn.Conv2d(256, 512, 3, bias=False)")
@example("Linear(1, 2, bias=True, bias=False)")
@example("Linear(in_features=1, 2)")
@example("LayerNorm(8, eps=1e999)")
@example("Linear(" + ", ".join(["1"] * 70) + ")")
def test_plain_calls_and_near_misses_build_or_fail_cleanly(text: str) -> None:
    kind, _ = _outcome(lambda: parse(text))
    assert kind in {"built", "ExpressionError", "LimitError", "UnknownNameError", "ArgumentError"}


def test_parse_arguments_reads_literals_only() -> None:
    from paramcount.expr import parse_arguments

    assert parse_arguments('64, depth=2, sizes=(3, 4), names=["a"], options={"x": 2**10}') == (
        (64,),
        {"depth": 2, "sizes": (3, 4), "names": ["a"], "options": {"x": 1024}},
    )
    for text, message in [
        ("*sizes", "column 1: *arguments are not allowed here; write the values"),
        ("1, **extra", "column 4: **arguments are not allowed here; write name=value"),
        (
            "1, Linear(2, 3)",
            "column 4: a Linear layer is not a plain value; give numbers, strings, tuples, lists or dicts",
        ),
        ("1), (2", "arguments must be what a call's parentheses hold, e.g. 64, depth=2"),
        ("__import__('os')", "column 1: dunder name '__import__' is not allowed"),
    ]:
        with pytest.raises(ParamcountError) as caught:
            parse_arguments(text)
        assert str(caught.value) == message

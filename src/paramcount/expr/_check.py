"""Step 4, the whitelist check: the whole syntax tree is walked, iteratively, before anything is evaluated;
node count (``MAX_NODES``), nesting (``MAX_SYNTAX_DEPTH``), node types, names, attribute chains, operators
and the shape of a list comprehension are checked, and the first offence is reported with its column."""

from __future__ import annotations

import ast
import math

from paramcount.errors import ExpressionError, LimitError, short_repr
from paramcount.expr._syntax import Positions
from paramcount.limits import MAX_INT_BITS, MAX_NODES, MAX_SYNTAX_DEPTH

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final, NoReturn

__all__ = ["ALLOWED", "NAMES_ALLOWED", "OPERATORS", "SyntaxCheck", "checked_int", "is_weights_chain", "name_chain"]

ALLOWED: Final = "use layer calls, numbers, strings, True/False/None, tuples and lists"
NAMES_ALLOWED: Final = "only nn.<Layer>, torch.nn.<Layer>, torch.<dtype> and F.<activation> are accepted"

_METHODS: Final = (
    "requires_grad_",
    "half",
    "bfloat16",
    "float",
    "double",
    "to",
    "train",
    "eval",
    "cpu",
    "cuda",
)
"""Module methods that change trainability, dtype or device but not structure; each returns the module."""

_FORBIDDEN: Final[dict[type[ast.AST], str]] = {
    ast.Lambda: "lambda",
    ast.GeneratorExp: "a generator expression",
    ast.SetComp: "a set comprehension",
    ast.DictComp: "a dict comprehension",
    ast.Subscript: "subscripting",
    ast.Slice: "slicing",
    ast.JoinedStr: "an f-string",
    ast.FormattedValue: "an f-string",
    ast.NamedExpr: "the walrus operator",
    ast.Compare: "a comparison",
    ast.BoolOp: "and/or",
    ast.IfExp: "a conditional expression",
    ast.Set: "a set",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}

OPERATORS: Final[dict[type[ast.AST], str]] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.Div: "/",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.BitAnd: "&",
    ast.Invert: "~",
    ast.Not: "not",
    ast.UAdd: "+",
    ast.USub: "-",
}


_Visit = tuple[ast.AST, str, int, bool]
"""A node to check: the node, its role (``"<parent type>.<field>"``: ``"Call.func"``, ``"Call.args"``,
``"comprehension.iter"`` …), its depth, and whether it is inside a list comprehension."""


def name_chain(node: ast.AST) -> list[str] | None:
    """``torch.nn.Linear`` → ``["torch", "nn", "Linear"]``; None unless names joined by dots (iterative)."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def _chain_shape_allowed(parts: list[str]) -> bool:
    head = tuple(parts[:-1])
    if head in (("nn",), ("torch",), ("F",), ("torch", "nn"), ("nn", "functional"), ("torch", "nn", "functional")):
        return True
    return is_weights_chain(parts)


def is_weights_chain(parts: list[str]) -> bool:
    """A torchvision weights member: ``ResNet50_Weights.DEFAULT``, also after ``models.`` or
    ``torchvision.models.`` (the enum and member names are checked when the value is resolved)."""
    return (
        len(parts) >= 2 and parts[-2].endswith("_Weights") and parts[:-2] in ([], ["models"], ["torchvision", "models"])
    )


class SyntaxCheck:
    """Walks the whole syntax tree before anything is evaluated and refuses the first node outside the
    whitelist. Iterative, so no input can exhaust the Python stack here."""

    def __init__(self, positions: Positions) -> None:
        self.positions = positions
        self.count = 0

    def fail(self, node: ast.AST, message: str) -> NoReturn:
        raise ExpressionError(message, self.positions.start(node))

    def run(self, body: ast.expr) -> None:
        stack: list[_Visit] = [(body, "Expression.body", 1, False)]
        while stack:
            node, role, depth, inside = stack.pop()
            self.count += 1
            if self.count > MAX_NODES:
                raise LimitError("expression", MAX_NODES, unit="syntax nodes")
            if depth > MAX_SYNTAX_DEPTH:
                column = self.positions.start(node)
                raise LimitError("nesting", MAX_SYNTAX_DEPTH, unit="levels", column=column)
            for child, child_role, child_inside in reversed(self.check(node, role, inside)):
                stack.append((child, child_role, depth + 1, child_inside))

    def check(self, node: ast.AST, role: str, inside: bool) -> list[tuple[ast.AST, str, bool]]:
        """Refuse ``node`` or return its children to check, with their roles."""
        if type(node) in _FORBIDDEN:
            self.fail(node, f"{_FORBIDDEN[type(node)]} is not allowed; {ALLOWED}")
        if isinstance(node, ast.Constant):
            self.constant(node)
            return []
        if isinstance(node, ast.Name):
            self.name(node, node.id)
            return []
        if isinstance(node, ast.Attribute):
            return self.attribute(node, role, inside)
        if isinstance(node, ast.Call):
            return self.call(node, role, inside)
        if isinstance(node, ast.Starred):
            if role != "Call.args":
                self.fail(node, "*-unpacking is allowed only among a call's arguments, as in nn.Sequential(*[...])")
            return [(node.value, "Starred.value", inside)]
        if isinstance(node, ast.Tuple | ast.List):
            return [(element, "List.elts", inside) for element in node.elts]
        if isinstance(node, ast.Dict):
            return self.dict(node, inside)
        if isinstance(node, ast.ListComp):
            return self.comprehension(node, inside)
        if isinstance(node, ast.UnaryOp | ast.BinOp):
            return self.operation(node, inside)
        self.fail(node, f"this syntax ({type(node).__name__}) is not allowed; {ALLOWED}")

    def constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bool) or value is None or isinstance(value, str):
            return
        if isinstance(value, int):
            checked_int(value, self.positions, node)
        elif isinstance(value, float):
            if not math.isfinite(value):
                self.fail(node, "number is too large for a float")
        elif isinstance(value, complex):
            self.fail(node, f"a complex number is not allowed; {ALLOWED}")
        elif isinstance(value, bytes):
            self.fail(node, f"a bytes literal is not allowed; {ALLOWED}")
        else:
            self.fail(node, f"{short_repr(value)} is not allowed; {ALLOWED}")

    def name(self, node: ast.AST, name: str, *, after_dot: bool = False) -> None:
        """Refuse a dunder name, at its column (the name after the dot of an attribute when ``after_dot``)."""
        if name.startswith("__"):
            if after_dot and isinstance(node, ast.Attribute):
                where = self.positions.attribute(node)
            else:
                where = self.positions.start(node)
            raise ExpressionError(f"dunder name {short_repr(name)} is not allowed", where)

    def attribute(self, node: ast.Attribute, role: str, inside: bool) -> list[tuple[ast.AST, str, bool]]:
        parts = name_chain(node)
        if parts is not None:
            self.chain(node, parts)
            return []
        self.name(node, node.attr, after_dot=True)
        if role != "Call.func" or node.attr not in _METHODS:
            allowed = ", ".join(f".{method}()" for method in _METHODS)
            what = f"method .{node.attr}()" if role == "Call.func" else f"attribute .{node.attr}"
            raise ExpressionError(f"{what} is not allowed; allowed methods: {allowed}", self.positions.attribute(node))
        return [(node.value, "Attribute.value", inside)]

    def chain(self, node: ast.Attribute, parts: list[str]) -> None:
        self.count += len(parts) - 1
        link: ast.expr = node
        while isinstance(link, ast.Attribute):  # report a dunder where it is written
            self.name(link, link.attr, after_dot=True)
            link = link.value
        self.name(link, parts[0])
        if not _chain_shape_allowed(parts) and parts != ["collections", "OrderedDict"]:
            self.fail(node, f"attribute access {short_repr('.'.join(parts))} is not allowed; {NAMES_ALLOWED}")

    def call(self, node: ast.Call, role: str, inside: bool) -> list[tuple[ast.AST, str, bool]]:
        func = node.func
        if isinstance(func, ast.Name) and func.id == "range" and role != "comprehension.iter":
            self.fail(
                node, "range() is allowed only as the loop of a list comprehension, as in [... for i in range(4)]"
            )
        if not isinstance(func, ast.Name | ast.Attribute) and type(func) not in _FORBIDDEN:
            self.fail(func, "only a layer can be called, by its name, as in nn.Linear(64, 128)")
        for keyword in node.keywords:
            if keyword.arg is None:
                self.fail(keyword, "**-unpacking of keyword arguments is not allowed")
            self.name(keyword, keyword.arg)
        return [
            (func, "Call.func", inside),
            *((argument, "Call.args", inside) for argument in node.args),
            *((keyword.value, "keyword.value", inside) for keyword in node.keywords),
        ]

    def dict(self, node: ast.Dict, inside: bool) -> list[tuple[ast.AST, str, bool]]:
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None:
                self.fail(value, "**-unpacking in a dict is not allowed")
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                self.fail(key, "dict keys must be strings, as in {'conv': nn.Conv2d(3, 8, 3)}")
        return [(value, "Dict.values", inside) for value in node.values]

    def comprehension(self, node: ast.ListComp, inside: bool) -> list[tuple[ast.AST, str, bool]]:
        if inside:
            self.fail(node, "a list comprehension inside another is not allowed")
        if len(node.generators) != 1:
            self.fail(node.generators[1].target, "a list comprehension may have only one 'for'")
        generator = node.generators[0]
        if generator.ifs:
            self.fail(generator.ifs[0], "'if' in a list comprehension is not allowed")
        if generator.is_async:
            self.fail(node, "an async comprehension is not allowed")
        if not isinstance(generator.target, ast.Name):
            self.fail(generator.target, "the loop variable must be one name, as in 'for i in range(4)'")
        self.name(generator.target, generator.target.id)
        loop = generator.iter
        if not (isinstance(loop, ast.Call) and isinstance(loop.func, ast.Name) and loop.func.id == "range"):
            self.fail(
                loop, "a list comprehension must loop over range(...), as in [nn.Linear(64, 64) for i in range(4)]"
            )
        if loop.keywords or not 1 <= len(loop.args) <= 3 or any(isinstance(a, ast.Starred) for a in loop.args):
            self.fail(loop, "range() takes one to three integers: range(stop), range(start, stop[, step])")
        self.count += 1  # the loop variable
        return [(node.elt, "ListComp.elt", True), (loop, "comprehension.iter", True)]

    def operation(self, node: ast.UnaryOp | ast.BinOp, inside: bool) -> list[tuple[ast.AST, str, bool]]:
        operator = type(node.op)
        symbol = OPERATORS.get(operator, "?")
        if operator is ast.Div:
            self.fail(node, "'/' is not allowed; use '//' for integer division")
        if isinstance(node, ast.UnaryOp):
            if operator not in (ast.USub, ast.UAdd):
                self.fail(node, f"operator {symbol!r} is not allowed; use + - * // % ** on integers")
            return [(node.operand, "UnaryOp.operand", inside)]
        if operator not in (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod, ast.Pow):
            self.fail(node, f"operator {symbol!r} is not allowed; use + - * // % ** on integers")
        return [(node.left, "BinOp.left", inside), (node.right, "BinOp.right", inside)]


def checked_int(value: int, positions: Positions, node: ast.AST) -> int:
    """``value`` if it fits an int64 (``abs(value) < 2**MAX_INT_BITS``), else a ``LimitError``."""
    bits = abs(value).bit_length()
    if bits > MAX_INT_BITS:  # the value itself is not shown: it may have thousands of digits
        raise LimitError("integer", MAX_INT_BITS, bits, unit="bits", column=positions.start(node))
    return value

"""The expression door: text as people type it (``nn.Conv2d(256, 512, 3)``) becomes a frozen ``Module``.

The text is hostile until proven otherwise, and it is never run: nothing here calls ``eval``, ``exec`` or
``literal_eval``, nor ``compile`` to execute (``ast.parse`` only builds a syntax tree). Each step is capped
before the work it guards (STYLE 2.9):

1. the length (``MAX_EXPRESSION_CHARS``);
2. one linear scan: bracket depth (``MAX_DEPTH``) and the digits of integer literals, so neither ever
   reaches the parser;
3. ``ast.parse(text, mode="eval")``; what the parser refuses becomes an ``ExpressionError`` (or a
   ``LimitError`` when it ran out of room);
4. a whitelist check of the whole syntax tree, iterative, before anything is evaluated: node count
   (``MAX_NODES``), nesting, node types, names, attribute chains, operators, the shape of a list
   comprehension; the first offence is reported with its column;
5. evaluation of the checked tree: literals, integer arithmetic whose size is checked before computing
   (``MAX_INT_BITS``), lists repeated or comprehended (``MAX_REPEAT`` items), calls into the catalog
   (``MAX_MODULES`` modules), with a bound on the total work.

Columns are 1-based character positions counted from the start of the whole text, line breaks included, so
one number locates the problem in a multi-line expression too.
"""

from __future__ import annotations

import ast
import math
import re
import warnings
from collections.abc import Sequence
from typing import Final, NoReturn, TypeGuard

from paramcount.errors import ExpressionError, LimitError, UnknownNameError, did_you_mean
from paramcount.layers import known_layers, lookup
from paramcount.layers._registry import FLOAT_DTYPES, build, cast_floating, set_trainable, short_repr
from paramcount.layers.containers import DictValue, OrderedDictValue
from paramcount.limits import MAX_DEPTH, MAX_EXPRESSION_CHARS, MAX_INT_BITS, MAX_MODULES, MAX_NODES, MAX_REPEAT
from paramcount.tree import Module, Ref, Value
from paramcount.zoo import build_model, known_models

__all__ = ["parse"]

MAX_SYNTAX_DEPTH: Final = 4 * MAX_DEPTH
"""Deepest syntax tree accepted. A bracket level adds one to three tree levels (a call, a starred list, a
comprehension); operator chains such as ``1 + 1 + …`` add one per operator without any bracket."""

MAX_STEPS: Final = 100_000
"""Most evaluation steps (nodes evaluated plus list items produced) one expression may take: a list
comprehension re-evaluates its element up to ``MAX_REPEAT`` times."""

MAX_ITEMS: Final = MAX_MODULES
"""Most items one list or tuple value may hold, counting the items of nested lists in full (a list repeated
inside a repeated list would otherwise stand for ``MAX_REPEAT ** depth`` items)."""

_MAX_INT_DIGITS: Final = len(str(2**MAX_INT_BITS - 1))
_ALLOWED: Final = "use layer calls, numbers, strings, True/False/None, tuples and lists"
_NAMES_ALLOWED: Final = "only nn.<Layer>, torch.nn.<Layer>, torch.<dtype> and F.<activation> are accepted"

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

_CASTS: Final = {"half": "float16", "bfloat16": "bfloat16", "float": "float32", "double": "float64"}

_DTYPES: Final = frozenset(
    {
        "float32", "float", "float16", "half", "bfloat16", "float64", "double", "float8_e4m3fn", "float8_e5m2",
        "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu", "complex32", "chalf", "complex64", "cfloat",
        "complex128", "cdouble", "int8", "int16", "short", "int32", "int", "int64", "long", "uint8", "uint16",
        "uint32", "uint64", "bool",
    }
)  # fmt: skip
"""``torch.<name>`` dtypes an expression may name (``dtype=torch.bfloat16``); the catalog decides which a
layer accepts."""

_DTYPE_ALIASES: Final = {"float": "float32", "half": "float16", "double": "float64"}

_ACTIVATIONS: Final = frozenset(
    {
        "celu", "elu", "gelu", "glu", "hardshrink", "hardsigmoid", "hardswish", "hardtanh", "leaky_relu",
        "logsigmoid", "mish", "relu", "relu6", "rrelu", "selu", "sigmoid", "silu", "softplus", "softshrink",
        "softsign", "tanh", "tanhshrink",
    }
)  # fmt: skip
"""``torch.nn.functional`` activations an expression may pass as a value (``activation=F.gelu``)."""

_DEVICE_TYPES: Final = (
    "cpu", "cuda", "mps", "meta", "xpu", "hpu", "mtia", "xla", "ipu", "hip", "ve", "fpga", "maia", "lazy",
    "vulkan", "mkldnn", "opengl", "opencl", "ideep", "privateuseone",
)  # fmt: skip
"""Device types ``torch.device`` accepts (torch 2.13); devices do not change a count."""

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

_OPERATORS: Final[dict[type[ast.AST], str]] = {
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


def parse(text: str) -> Module:
    """Build the ``Module`` an expression describes, without running it.

    Accepted: calls of catalog layers, bare or prefixed ``nn.`` / ``torch.nn.``, with positional and keyword
    arguments; int, float, bool, None and str literals; tuples and lists; ``{"name": layer}`` dicts and
    ``OrderedDict([("name", layer), ...])`` (also ``collections.OrderedDict``); unary ``-``/``+``; integer
    ``+ - * // % **``; ``[...] * n`` (one object repeated, as in Python); ``[element for i in range(...)]``
    (one ``for``, no ``if``, the variable usable in integer arithmetic); ``*[...]`` among call arguments;
    ``torch.<dtype>``, ``torch.device(...)``, ``F.<activation>`` (also ``nn.functional.`` and
    ``torch.nn.functional.``) as values; and the methods ``.requires_grad_()``, ``.half()``, ``.bfloat16()``,
    ``.float()``, ``.double()``, ``.to(...)``, ``.train()``, ``.eval()``, ``.cpu()``, ``.cuda()``.
    Line breaks and spaces may appear anywhere between tokens.

    Args:
        text: the expression, e.g. ``"nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))"``.

    Returns:
        The frozen tree of the module the expression builds.

    Raises:
        ExpressionError: syntax outside the whitelist or malformed text; ``.column`` says where.
        LimitError: a cap on length, nesting, size, repetition or work was exceeded.
        UnknownNameError: a layer, dtype or activation name that does not exist, with close matches.
        ArgumentError: a layer refused its arguments, as torch would.
    """
    if len(text) > MAX_EXPRESSION_CHARS:
        raise LimitError("expression", MAX_EXPRESSION_CHARS, len(text), unit="characters")
    if not text.strip():
        raise ExpressionError("expression is empty; write a layer call such as nn.Linear(64, 128)")
    balanced = _scan(text)
    tree, positions = _parse_syntax(text, wrapped=balanced)
    if balanced and isinstance(tree.body, ast.Tuple) and not tree.body.elts and "(" not in text:
        raise ExpressionError("expression is empty; write a layer call such as nn.Linear(64, 128)")  # comments only
    _SyntaxCheck(positions).run(tree.body)
    try:
        result = _Evaluator(positions).evaluate(tree.body)
    except RecursionError:  # not expected within MAX_SYNTAX_DEPTH; a cap, never a crash, if it happens
        raise LimitError("expression nesting", MAX_SYNTAX_DEPTH, unit="levels") from None
    if not isinstance(result, Module):
        hint = "write a layer call such as nn.Linear(64, 128)"
        if isinstance(result, _Sequence):
            hint = "wrap it in nn.Sequential(*...) or nn.ModuleList(...)"
        elif isinstance(result, _Mapping):
            hint = "wrap it in nn.ModuleDict(...)"
        raise ExpressionError(f"expression is {_describe(result)}, not a layer; {hint}", positions.start(tree.body))
    return result


# ---------------------------------------------------------------------------------------------- step 2: scan


_SCAN_TOKEN: Final = re.compile(
    r"""
      (?P<open>[(\[{]) | (?P<close>[)\]}])
    | '''(?:[^\\]|\\.)*?''' | \"\"\"(?:[^\\]|\\.)*?\"\"\"      # complete strings are skipped
    | '(?:[^'\\\r\n]|\\.)*' | "(?:[^"\\\r\n]|\\.)*"
    | (?P<unclosed>['"])                                    # a string that never closes
    | \#[^\r\n]*                                            # a comment
    | (?P<number>[0-9][\w.]*) | \.[0-9][\w.]*               # a number (a fraction is never an int)
    | [^\W\d]\w*                                            # a name, so its digits are not a number
    """,
    re.VERBOSE | re.DOTALL,
)


def _scan(text: str) -> bool:
    """Refuse deep bracket nesting and over-long integer literals in one linear pass (strings and comments
    skipped). Returns whether the brackets balance and every string closes: then the text can be parsed
    inside a pair of parentheses, which lets line breaks and indentation appear anywhere."""
    depth = 0
    balanced = True
    for token in _SCAN_TOKEN.finditer(text):
        kind = token.lastgroup
        if kind == "open":
            depth += 1
            if depth > MAX_DEPTH:
                raise LimitError(f"column {token.start() + 1}: bracket nesting", MAX_DEPTH, unit="levels")
        elif kind == "close":
            depth -= 1
            balanced = balanced and depth >= 0
        elif kind == "unclosed":
            return False
        elif kind == "number":
            _check_literal(token.group(), token.start())
    return balanced and depth == 0


def _check_literal(token: str, start: int) -> None:
    """A decimal integer literal is refused past 19 digits (no int64 is longer), before the parser spends
    time converting it."""
    if token.isascii() and token.replace("_", "").isdigit():
        digits = len(token) - token.count("_")
        if digits > _MAX_INT_DIGITS:
            raise LimitError(f"column {start + 1}: integer literal", _MAX_INT_DIGITS, digits, unit="digits")


# -------------------------------------------------------------------------------------------- step 3: parse


class _Positions:
    """Turns the parser's positions (line, UTF-8 byte offset) into 1-based character columns of the text."""

    def __init__(self, source: str, *, shift: int, length: int) -> None:
        self.source = source
        self.shift = shift  # characters put in front of the user's text
        self.length = length  # the user's text
        self._starts: list[int] | None = None  # computed on the first error only

    @property
    def line_starts(self) -> list[int]:
        """Where each line starts; a line ends at ``\n``, ``\r\n`` or a lone ``\r``, as Python's tokenizer reads it."""
        if self._starts is None:
            source = self.source
            self._starts = [0] + [
                index + 1
                for index, char in enumerate(source)
                if char == "\n" or (char == "\r" and source[index + 1 : index + 2] != "\n")
            ]
        return self._starts

    def _clamped(self, index: int) -> int:
        return min(max(index - self.shift, 0), max(self.length - 1, 0)) + 1

    def _line(self, line: int) -> tuple[int, str]:
        line = min(max(line, 1), len(self.line_starts))
        start = self.line_starts[line - 1]
        end = self.line_starts[line] if line < len(self.line_starts) else len(self.source)
        return start, self.source[start:end]

    def at_byte(self, line: int, byte_offset: int) -> int:
        start, text = self._line(line)
        return self._clamped(start + len(text.encode()[:byte_offset].decode(errors="ignore")))

    def at_character(self, line: int, column: int) -> int:
        start, _ = self._line(line)
        return self._clamped(start + column - 1)

    def start(self, node: ast.AST) -> int:
        """Column where ``node`` starts."""
        return self.at_byte(getattr(node, "lineno", 1), getattr(node, "col_offset", 0))

    def attribute(self, node: ast.Attribute) -> int:
        """Column of the name after the dot of ``node``."""
        start, text = self._line(node.end_lineno or node.lineno)
        end = start + len(text.encode()[: node.end_col_offset].decode(errors="ignore"))
        return self._clamped(end - len(node.attr))


def _parse_syntax(text: str, *, wrapped: bool) -> tuple[ast.Expression, _Positions]:
    source = f"({text}\n)" if wrapped else text
    positions = _Positions(source, shift=1 if wrapped else 0, length=len(text))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning/DeprecationWarning about the user's text
            tree = ast.parse(source, mode="eval")
    except SyntaxError as error:
        raise _syntax_error(error, positions) from None
    except ValueError as error:  # e.g. null characters, on some Python versions
        raise ExpressionError(f"invalid text ({short_repr(str(error))})") from None
    except (RecursionError, MemoryError):  # the parser's own stack: long chains such as - - - … 1
        raise LimitError("expression nesting", MAX_SYNTAX_DEPTH, unit="levels") from None
    return tree, positions


def _syntax_error(error: SyntaxError, positions: _Positions) -> ExpressionError:
    message = (error.msg or "invalid syntax").splitlines()[0].rstrip(".")
    if len(message) > 100:
        message = message[:97] + "..."
    if not message.startswith("invalid syntax"):
        message = f"invalid syntax: {message}"
    column = None
    if error.lineno is not None and error.offset is not None and error.offset >= 1:
        column = positions.at_character(error.lineno, error.offset)
    elif error.lineno is not None:
        column = positions.at_character(error.lineno, 1)
    return ExpressionError(message, column)


# ---------------------------------------------------------------------------------- step 4: whitelist check


_Visit = tuple[ast.AST, str, int, bool]
"""A node to check: the node, its role (``"<parent type>.<field>"``: ``"Call.func"``, ``"Call.args"``,
``"comprehension.iter"`` …), its depth, and whether it is inside a list comprehension."""


def _chain(node: ast.AST) -> list[str] | None:
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
    return head in (("nn",), ("torch",), ("F",), ("torch", "nn"), ("nn", "functional"), ("torch", "nn", "functional"))


class _SyntaxCheck:
    """Walks the whole syntax tree before anything is evaluated and refuses the first node outside the
    whitelist. Iterative, so no input can exhaust the Python stack here."""

    def __init__(self, positions: _Positions) -> None:
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
                raise LimitError(f"column {column}: nesting", MAX_SYNTAX_DEPTH, unit="levels")
            children = self.check(node, role, inside)
            stack.extend(
                (child, child_role, depth + 1, child_inside) for child, child_role, child_inside in reversed(children)
            )

    def check(self, node: ast.AST, role: str, inside: bool) -> list[tuple[ast.AST, str, bool]]:
        """Refuse ``node`` or return its children to check, with their roles."""
        if type(node) in _FORBIDDEN:
            self.fail(node, f"{_FORBIDDEN[type(node)]} is not allowed; {_ALLOWED}")
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
        self.fail(node, f"this syntax ({type(node).__name__}) is not allowed; {_ALLOWED}")

    def constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bool) or value is None or isinstance(value, str):
            return
        if isinstance(value, int):
            _checked_int(value, self.positions, node)
        elif isinstance(value, float):
            if not math.isfinite(value):
                self.fail(node, "number is too large for a float")
        elif isinstance(value, complex):
            self.fail(node, f"a complex number is not allowed; {_ALLOWED}")
        elif isinstance(value, bytes):
            self.fail(node, f"a bytes literal is not allowed; {_ALLOWED}")
        else:
            self.fail(node, f"{short_repr(value)} is not allowed; {_ALLOWED}")

    def name(self, node: ast.AST, name: str, column: int | None = None) -> None:
        if name.startswith("__"):
            where = column if column is not None else self.positions.start(node)
            raise ExpressionError(f"dunder name {short_repr(name)} is not allowed", where)

    def attribute(self, node: ast.Attribute, role: str, inside: bool) -> list[tuple[ast.AST, str, bool]]:
        parts = _chain(node)
        if parts is not None:
            self.chain(node, parts)
            return []
        self.name(node, node.attr, self.positions.attribute(node))
        if role != "Call.func" or node.attr not in _METHODS:
            allowed = ", ".join(f".{method}()" for method in _METHODS)
            what = f"method .{node.attr}()" if role == "Call.func" else f"attribute .{node.attr}"
            raise ExpressionError(f"{what} is not allowed; allowed methods: {allowed}", self.positions.attribute(node))
        return [(node.value, "Attribute.value", inside)]

    def chain(self, node: ast.Attribute, parts: list[str]) -> None:
        self.count += len(parts) - 1
        link: ast.expr = node
        while isinstance(link, ast.Attribute):  # report a dunder where it is written
            self.name(link, link.attr, self.positions.attribute(link))
            link = link.value
        self.name(link, parts[0])
        if not _chain_shape_allowed(parts) and parts != ["collections", "OrderedDict"]:
            self.fail(node, f"attribute access {short_repr('.'.join(parts))} is not allowed; {_NAMES_ALLOWED}")

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
        symbol = _OPERATORS.get(operator, "?")
        if operator is ast.Div:
            self.fail(node, "'/' is not allowed; use '//' for integer division")
        if isinstance(node, ast.UnaryOp):
            if operator not in (ast.USub, ast.UAdd):
                self.fail(node, f"operator {symbol!r} is not allowed; use + - * // % ** on integers")
            return [(node.operand, "UnaryOp.operand", inside)]
        if operator not in (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod, ast.Pow):
            self.fail(node, f"operator {symbol!r} is not allowed; use + - * // % ** on integers")
        return [(node.left, "BinOp.left", inside), (node.right, "BinOp.right", inside)]


def _checked_int(value: int, positions: _Positions, node: ast.AST) -> int:
    """``value`` if it fits an int64 (``abs(value) < 2**MAX_INT_BITS``), else a ``LimitError``."""
    bits = abs(value).bit_length()
    if bits > MAX_INT_BITS:  # the value itself is not shown: it may have thousands of digits
        raise LimitError(f"column {positions.start(node)}: integer", MAX_INT_BITS, bits, unit="bits")
    return value


# -------------------------------------------------------------------------------------------- step 5: evaluate


class _Sequence:
    """A list or tuple while evaluating (both become tuples for the catalog). ``size`` counts the items of
    nested sequences in full; ``module_nodes`` the modules a container would hold if it took them all."""

    __slots__ = ("items", "module_nodes", "size")

    def __init__(self, items: tuple[object, ...], size: int, module_nodes: int) -> None:
        self.items = items
        self.size = size
        self.module_nodes = module_nodes


class _Mapping:
    """An ``OrderedDict(...)`` or ``{...}`` while evaluating."""

    __slots__ = ("ordered", "pairs", "size")

    def __init__(self, pairs: tuple[tuple[str, object], ...], ordered: bool, size: int) -> None:
        self.pairs = pairs
        self.ordered = ordered
        self.size = size


def _size(value: object) -> int:
    if isinstance(value, _Sequence | _Mapping):
        return value.size
    return 1


def _module_nodes(value: object) -> int:
    if isinstance(value, _Sequence):
        return value.module_nodes
    if isinstance(value, _Mapping):
        return sum(_module_nodes(item) for _, item in value.pairs)
    if isinstance(value, Module):
        return _expanded_nodes(value)
    return 0


def _expanded_nodes(module: Module) -> int:
    """Modules in ``module``'s tree with repeats expanded: what a tied copy of it materialises."""
    return 1 + sum(child.repeat * _expanded_nodes(child) for child in module.children)


def _describe(value: object) -> str:
    if isinstance(value, _Sequence):
        count = len(value.items)
        return f"a list of {count} item{'' if count == 1 else 's'}"
    if isinstance(value, _Mapping):
        return "a dict"
    if isinstance(value, Module):
        return f"a {value.kind} layer"
    if isinstance(value, Ref):
        return value.path
    return short_repr(value)


class _Evaluator:
    """Evaluates a checked syntax tree. Recursion is bounded by ``MAX_SYNTAX_DEPTH``; work by ``MAX_STEPS``,
    ``MAX_MODULES``, ``MAX_REPEAT`` and ``MAX_ITEMS``."""

    def __init__(self, positions: _Positions) -> None:
        self.positions = positions
        self.steps = 0
        self.modules = 0
        self.loop: tuple[str, int] | None = None

    def fail(self, node: ast.AST, message: str) -> NoReturn:
        raise ExpressionError(message, self.positions.start(node))

    def spend(self, steps: int) -> None:
        self.steps += steps
        if self.steps > MAX_STEPS:
            raise LimitError("expression", MAX_STEPS, unit="evaluation steps")

    def count_modules(self, modules: int) -> None:
        self.modules += modules
        if self.modules > MAX_MODULES:
            raise LimitError("expression", MAX_MODULES, unit="modules")

    def evaluate(self, node: ast.expr) -> object:
        self.spend(1)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.Attribute):
            return self.reference(node)
        if isinstance(node, ast.Tuple | ast.List):
            return self.sequence(node, [self.evaluate(element) for element in node.elts])
        if isinstance(node, ast.Dict):
            pairs = [
                (_string_key(key), self.evaluate(value)) for key, value in zip(node.keys, node.values, strict=True)
            ]
            return self.mapping(node, pairs, ordered=False)
        if isinstance(node, ast.ListComp):
            return self.comprehension(node)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node)
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        self.fail(node, f"this syntax ({type(node).__name__}) is not allowed; {_ALLOWED}")  # the check refused it

    # values ---------------------------------------------------------------------------------------------

    def sequence(self, node: ast.AST, items: Sequence[object]) -> _Sequence:
        size = 1 + sum(_size(item) for item in items)
        if size > MAX_ITEMS:
            raise LimitError(f"column {self.positions.start(node)}: list", MAX_ITEMS, size, unit="items")
        nodes: dict[int, int] = {}
        for item in items:
            if id(item) not in nodes:
                nodes[id(item)] = _module_nodes(item)
        module_nodes = sum(nodes[id(item)] for item in items)
        return _Sequence(tuple(items), size, module_nodes)

    def mapping(self, node: ast.AST, pairs: Sequence[tuple[str, object]], *, ordered: bool) -> _Mapping:
        unique = tuple(dict(pairs).items())  # a repeated key keeps its first position and its last value
        size = 1 + sum(1 + _size(value) for _, value in unique)
        if size > MAX_ITEMS:
            raise LimitError(f"column {self.positions.start(node)}: dict", MAX_ITEMS, size, unit="items")
        return _Mapping(unique, ordered, size)

    def name(self, node: ast.Name) -> object:
        if self.loop is not None and node.id == self.loop[0]:
            return self.loop[1]
        if _is_zoo_model(node.id):
            self.count_modules(1)
            return build_model(node.id)
        if node.id in known_layers():
            self.fail(node, f"{node.id} is a layer class; call it to build a layer, as in {node.id}(...)")
        if node.id in ("OrderedDict", "range"):
            self.fail(node, f"{node.id} must be called, as in {node.id}(...)")
        import difflib  # error path only

        models = difflib.get_close_matches(node.id.lower(), known_models(), n=3, cutoff=0.6)
        if models:
            column = self.positions.start(node)
            message = f"column {column}: unknown model {short_repr(node.id)}{did_you_mean(models)}"
            raise UnknownNameError(message, node.id, tuple(models))
        self.fail(
            node,
            f"unknown name {short_repr(node.id)}; a name must be a layer call, torch.<dtype>, F.<activation> "
            "or the variable of a list comprehension",
        )

    def reference(self, node: ast.Attribute) -> object:
        """``torch.bfloat16`` → ``Ref("torch.bfloat16")``; ``F.gelu`` → ``Ref("torch.nn.functional.gelu")``."""
        parts = self.parts(node)
        dotted = ".".join(parts)
        name = parts[-1]
        if parts[:-1] in (["F"], ["nn", "functional"], ["torch", "nn", "functional"]):
            if name in _ACTIVATIONS:
                return Ref(f"torch.nn.functional.{name}")
            self.unknown(node, "activation function", dotted, name, _ACTIVATIONS, f"{'.'.join(parts[:-1])}.")
        if parts[:-1] == ["torch"] and name in _DTYPES:
            return Ref(dotted)
        if parts[:-1] == ["torch"] and name not in ("nn", "device"):
            import difflib  # error path only

            if difflib.get_close_matches(name, _DTYPES, n=1, cutoff=0.75):
                self.unknown(node, "dtype", dotted, name, _DTYPES, "torch.")
            self.fail(node, f"attribute access {short_repr(dotted)} is not allowed; {_NAMES_ALLOWED}")
        kind = _layer_kind(parts)
        if kind is not None:
            self.layer_spec(node, kind)
            self.fail(node, f"{dotted} is a layer class; call it to build a layer, as in {dotted}(...)")
        if dotted in ("collections.OrderedDict", "torch.device"):
            self.fail(node, f"{dotted} must be called, as in {dotted}(...)")
        self.fail(node, f"attribute access {short_repr(dotted)} is not allowed; {_NAMES_ALLOWED}")

    def parts(self, node: ast.Attribute | ast.Name) -> list[str]:
        parts = _chain(node)
        if parts is None:  # pragma: no cover - the syntax check only lets name chains reach here
            self.fail(node, f"attribute access is not allowed; {_NAMES_ALLOWED}")
        if self.loop is not None and parts[0] == self.loop[0]:
            self.fail(node, f"{parts[0]!r} is the loop variable, an int; it cannot be called or have attributes")
        return parts

    def unknown(
        self, node: ast.Attribute, what: str, dotted: str, name: str, known: frozenset[str], prefix: str
    ) -> NoReturn:
        import difflib  # error path only

        close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
        suggestions = tuple(f"{prefix}{match}" for match in close)
        column = self.positions.attribute(node)
        message = f"column {column}: unknown {what} {short_repr(dotted)}{did_you_mean(suggestions)}"
        raise UnknownNameError(message, dotted, suggestions)

    def layer_spec(self, node: ast.AST, kind: str) -> None:
        """``UnknownNameError`` with close matches (and the column) when ``kind`` is not in the catalog; a bare
        name that resembles a zoo model suggests the model instead."""
        try:
            lookup(kind)
        except UnknownNameError as error:
            column = self.positions.attribute(node) if isinstance(node, ast.Attribute) else self.positions.start(node)
            message, suggestions = error.message, error.suggestions
            if isinstance(node, ast.Name) and not suggestions:
                import difflib  # error path only

                models = difflib.get_close_matches(kind.lower(), known_models(), n=3, cutoff=0.6)
                if models:
                    message, suggestions = f"unknown layer or model {kind!r}{did_you_mean(models)}", tuple(models)
            raise UnknownNameError(f"column {column}: {message}", error.name, suggestions) from None

    # lists ----------------------------------------------------------------------------------------------

    def comprehension(self, node: ast.ListComp) -> _Sequence:
        generator = node.generators[0]
        target, loop = generator.target, generator.iter
        if not (isinstance(target, ast.Name) and isinstance(loop, ast.Call)):  # pragma: no cover - checked
            self.fail(node, "a list comprehension must be [... for name in range(...)]")
        values = self.range_values(loop)
        items = []
        for value in values:
            self.loop = (target.id, value)
            items.append(self.evaluate(node.elt))
        self.loop = None
        return self.sequence(node, items)

    def range_values(self, node: ast.Call) -> range:
        bounds = [self.integer(argument, "range()") for argument in node.args]
        start, stop, step = (0, bounds[0], 1) if len(bounds) == 1 else (bounds[0], bounds[1], 1)
        if len(bounds) == 3:
            step = bounds[2]
        if step == 0:
            self.fail(node, "range() step must not be zero")
        length = max(0, (stop - start + step + (-1 if step > 0 else 1)) // step)
        if length > MAX_REPEAT:
            raise LimitError(f"column {self.positions.start(node)}: range()", MAX_REPEAT, length, unit="items")
        return range(start, stop, step)

    def integer(self, node: ast.expr, what: str) -> int:
        value = self.evaluate(node)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(node, f"{what} takes integers, got {_describe(value)}")
        return value

    def repeated(self, node: ast.BinOp, sequence: _Sequence, times: int) -> _Sequence:
        """``[m] * n``: the same objects ``n`` times, as in Python (one module repeated is one module shared)."""
        times = max(times, 0)
        length = len(sequence.items) * times
        if length > MAX_REPEAT:
            column = self.positions.start(node)
            raise LimitError(f"column {column}: list repetition", MAX_REPEAT, length, unit="items")
        size = 1 + (sequence.size - 1) * times
        if size > MAX_ITEMS:
            raise LimitError(f"column {self.positions.start(node)}: list", MAX_ITEMS, size, unit="items")
        self.spend(length)
        # Each later reference becomes a tied copy once a container adopts it: charge those modules now.
        self.count_modules(max(times - 1, 0) * sequence.module_nodes)
        return _Sequence(sequence.items * times, size, sequence.module_nodes * times)

    # arithmetic -----------------------------------------------------------------------------------------

    def unary(self, node: ast.UnaryOp) -> object:
        operand = self.evaluate(node.operand)
        if isinstance(operand, bool) or not isinstance(operand, int | float):
            self.fail(node, f"unary {_OPERATORS[type(node.op)]} applies only to numbers, got {_describe(operand)}")
        return -operand if isinstance(node.op, ast.USub) else operand

    def binary(self, node: ast.BinOp) -> object:
        left = self.evaluate(node.left)
        right = self.evaluate(node.right)
        if isinstance(node.op, ast.Mult) and isinstance(left, _Sequence) and _is_int(right):
            return self.repeated(node, left, right)
        if isinstance(node.op, ast.Mult) and isinstance(right, _Sequence) and _is_int(left):
            return self.repeated(node, right, left)
        if _is_int(left) and _is_int(right):
            return self.arithmetic(node, left, right)
        symbol = _OPERATORS[type(node.op)]
        self.fail(node, f"arithmetic is allowed only on integers, got {_describe(left)} {symbol} {_describe(right)}")

    def arithmetic(self, node: ast.BinOp, left: int, right: int) -> int:
        op = node.op
        if isinstance(op, ast.Pow):
            if right < 0:
                self.fail(node, f"negative exponent {right} is not allowed; the result must be an integer")
            if abs(left) > 1 and right > MAX_INT_BITS:  # refused before computing: 10**10**10 is instant
                column = self.positions.start(node)
                raise LimitError(f"column {column}: integer {left}**{right}", MAX_INT_BITS, unit="bits")
            result = left**right
        elif isinstance(op, ast.FloorDiv | ast.Mod):
            if right == 0:
                self.fail(node, "integer division by zero" if isinstance(op, ast.FloorDiv) else "modulo by zero")
            result = left // right if isinstance(op, ast.FloorDiv) else left % right
        elif isinstance(op, ast.Mult):
            result = left * right
        elif isinstance(op, ast.Add):
            result = left + right
        else:
            result = left - right
        return _checked_int(result, self.positions, node)

    # calls ----------------------------------------------------------------------------------------------

    def call(self, node: ast.Call) -> object:
        func = node.func
        if isinstance(func, ast.Attribute) and _chain(func) is None:
            return self.method(node, func)
        if not isinstance(func, ast.Name | ast.Attribute):  # pragma: no cover - checked
            self.fail(node, "only a layer can be called, by its name, as in nn.Linear(64, 128)")
        parts = self.parts(func)
        dotted = ".".join(parts)
        if dotted in ("OrderedDict", "collections.OrderedDict"):
            return self.ordered_dict(node)
        if dotted == "torch.device":
            return self.device(node)
        if len(parts) == 1 and _is_zoo_model(parts[0]):
            positional, keywords = self.arguments(node)
            self.count_modules(1)
            converted_arguments: dict[int, Value] = {}
            return build_model(
                parts[0],
                [_to_value(value, converted_arguments) for value in positional],
                [(key, _to_value(value, converted_arguments)) for key, value in keywords],
            )
        kind = _layer_kind(parts)
        if kind is None:
            if parts[:-1] in (["F"], ["nn", "functional"], ["torch", "nn", "functional"]):
                self.fail(node, f"calling {dotted} is not allowed; pass the function itself, as in activation={dotted}")
            self.fail(node, f"{dotted}() is not allowed; call a layer, as in nn.Linear(64, 128)")
        self.layer_spec(func, kind)
        positional, keywords = self.arguments(node)
        self.count_modules(1)
        converted: dict[int, Value] = {}
        return build(
            kind,
            [_to_value(value, converted) for value in positional],
            [(key, _to_value(value, converted)) for key, value in keywords],
        )

    def arguments(self, node: ast.Call) -> tuple[list[object], list[tuple[str, object]]]:
        positional: list[object] = []
        for argument in node.args:
            if isinstance(argument, ast.Starred):
                value = self.evaluate(argument.value)
                if not isinstance(value, _Sequence):
                    self.fail(argument, f"*-unpacking needs a list or tuple, got {_describe(value)}")
                positional.extend(value.items)
            else:
                positional.append(self.evaluate(argument))
        keywords = [(keyword.arg or "", self.evaluate(keyword.value)) for keyword in node.keywords]
        return positional, keywords

    def ordered_dict(self, node: ast.Call) -> _Mapping:
        positional, keywords = self.arguments(node)
        if len(positional) > 1:
            self.fail(node, "OrderedDict() takes one list of (name, module) pairs")
        pairs: list[tuple[str, object]] = []
        if positional and isinstance(positional[0], _Mapping):
            pairs.extend(positional[0].pairs)
        elif positional:
            source = positional[0]
            if not isinstance(source, _Sequence):
                self.fail(node, f"OrderedDict() takes a list of (name, module) pairs, got {_describe(source)}")
            for item in source.items:
                if not (isinstance(item, _Sequence) and len(item.items) == 2 and isinstance(item.items[0], str)):
                    self.fail(node, f"OrderedDict() items must be (name, module) pairs, got {_describe(item)}")
                pairs.append((item.items[0], item.items[1]))
        pairs.extend(keywords)
        return self.mapping(node, pairs, ordered=True)

    def device(self, node: ast.Call) -> str:
        """``torch.device("cuda", 0)`` → ``"cuda:0"`` (devices do not change a count; the name is checked)."""
        positional, keywords = self.arguments(node)
        values = dict(zip(("type", "index"), positional, strict=False))
        for key, value in keywords:
            if key not in ("type", "index") or key in values:
                self.fail(node, f"torch.device() got an unexpected argument {key!r}")
            values[key] = value
        kind, index = values.get("type"), values.get("index")
        if len(positional) > 2 or not isinstance(kind, str):
            self.fail(node, "torch.device() takes a device name and an optional index, as in torch.device('cuda', 0)")
        name = _device_name(kind)
        if name is None:
            self.fail(node, _device_message(kind))
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, int) or index < 0 or ":" in name:
                self.fail(node, f"torch.device() index must be a non-negative int, got {_describe(index)}")
            name = f"{name}:{index}"
        return name

    # methods --------------------------------------------------------------------------------------------

    def method(self, node: ast.Call, func: ast.Attribute) -> Module:
        target = self.evaluate(func.value)
        method = func.attr
        column = self.positions.attribute(func)
        if not isinstance(target, Module):
            raise ExpressionError(f".{method}() can only be called on a layer, got {_describe(target)}", column)
        positional, keywords = self.arguments(node)
        if method == "to":
            return self.to(target, positional, keywords, column)
        parameters = {"requires_grad_": ("requires_grad",), "train": ("mode",), "cuda": ("device",)}.get(method, ())
        values = _bind_method(method, parameters, positional, keywords, column)
        if method in _CASTS:
            return cast_floating(target, _CASTS[method])
        if method == "requires_grad_":
            flag = values.get("requires_grad", True)
            if not isinstance(flag, bool):
                raise ExpressionError(f".requires_grad_() takes True or False, got {_describe(flag)}", column)
            return set_trainable(target, flag)
        if method == "train" and not isinstance(values.get("mode", True), bool):
            raise ExpressionError(f".train() takes True or False, got {_describe(values['mode'])}", column)
        return target  # train, eval, cpu, cuda: nothing counted changes

    def to(self, target: Module, positional: list[object], keywords: list[tuple[str, object]], column: int) -> Module:
        """``.to(dtype)``, ``.to(device)``, ``.to(device, dtype)`` and the keywords ``device``, ``dtype``,
        ``non_blocking``, as ``nn.Module.to`` accepts them."""
        values: dict[str, object] = {}
        for value in positional:
            key = "dtype" if isinstance(value, Ref) else ("non_blocking" if isinstance(value, bool) else "device")
            if key in values or (key == "device" and values):
                raise ExpressionError(".to() takes a device and/or a dtype, as in .to('cuda', torch.float16)", column)
            values[key] = value
        for key, value in keywords:
            if key not in ("device", "dtype", "non_blocking") or key in values:
                raise ExpressionError(f".to() got an unexpected or repeated argument {key!r}", column)
            values[key] = value
        if not values:
            raise ExpressionError(".to() needs a dtype or a device, as in .to(torch.float16)", column)
        device = values.get("device")
        if _is_int(device) and device >= 0:
            device = "cuda"  # .to(0) is .to("cuda:0")
        if device is not None and not (isinstance(device, str) and _device_name(device) is not None):
            raise ExpressionError(_device_message(device), column)
        dtype = values.get("dtype")
        if dtype is None:
            return target
        name = _DTYPE_ALIASES.get(dtype.path[6:], dtype.path[6:]) if isinstance(dtype, Ref) else ""
        if name not in FLOAT_DTYPES:
            raise ExpressionError(
                f".to() dtype must be a floating dtype such as torch.float16, got {_describe(dtype)}", column
            )
        return cast_floating(target, name)


def _bind_method(
    method: str,
    parameters: tuple[str, ...],
    positional: list[object],
    keywords: list[tuple[str, object]],
    column: int,
) -> dict[str, object]:
    if len(positional) > len(parameters):
        takes = "no arguments" if not parameters else f"at most {len(parameters)} argument"
        raise ExpressionError(f".{method}() takes {takes}", column)
    values = dict(zip(parameters, positional, strict=False))
    for key, value in keywords:
        if key not in parameters or key in values:
            raise ExpressionError(f".{method}() got an unexpected or repeated argument {key!r}", column)
        values[key] = value
    return values


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _string_key(key: ast.expr | None) -> str:
    if isinstance(key, ast.Constant) and isinstance(key.value, str):
        return key.value
    raise ExpressionError("dict keys must be strings")  # pragma: no cover - the check refused anything else


def _is_zoo_model(name: str) -> bool:
    """A zoo architecture (``resnet50``); catalog layers win, zoo names are all lower case."""
    return name.islower() and name in known_models()


def _layer_kind(parts: list[str]) -> str | None:
    """The catalog name a call target spells: ``Linear``, ``nn.Linear`` or ``torch.nn.Linear``."""
    if len(parts) == 1 or parts[:-1] in (["nn"], ["torch", "nn"]):
        return parts[-1]
    return None


def _device_name(text: str) -> str | None:
    kind, _, index = text.partition(":")
    if kind not in _DEVICE_TYPES or (":" in text and not index.isdigit()):
        return None
    return text


def _device_message(value: object) -> str:
    return f"unknown device {_describe(value)}; use a device such as 'cpu', 'cuda', 'cuda:0', 'mps' or 'meta'"


def _to_value(value: object, converted: dict[int, Value]) -> Value:
    """An evaluated value as the catalog takes it: lists become tuples, dicts ``DictValue``s. Module objects
    keep their identity, so a container sees which references are shared. ``converted`` memoises by
    identity, so a list repeated inside a list is converted once."""
    if isinstance(value, _Sequence | _Mapping):
        known = converted.get(id(value))
        if known is None:
            known = _converted_container(value, converted)
            converted[id(value)] = known
        return known
    if value is None or isinstance(value, int | float | str | Ref | Module):  # all an evaluation yields
        return value
    raise ExpressionError(f"{_describe(value)} cannot be passed to a layer")  # pragma: no cover


def _converted_container(value: _Sequence | _Mapping, converted: dict[int, Value]) -> Value:
    if isinstance(value, _Sequence):
        return tuple(_to_value(item, converted) for item in value.items)
    pairs = [(key, _to_value(item, converted)) for key, item in value.pairs]
    return OrderedDictValue.of(pairs) if value.ordered else DictValue.of(pairs)

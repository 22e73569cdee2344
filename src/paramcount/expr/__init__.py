"""The expression door: text as people type it (``nn.Conv2d(256, 512, 3)``) becomes a frozen ``Module``.

The text is hostile until proven otherwise, and it is never run: nothing here calls ``eval``, ``exec`` or
``literal_eval``, nor ``compile`` to execute (it is called with ``PyCF_ONLY_AST``, as ``ast.parse`` calls
it, so it only builds a syntax tree). Each step is capped
before the work it guards (STYLE 2.9):

1. the length (``MAX_EXPRESSION_CHARS``);
2. one linear scan: bracket depth (``MAX_DEPTH``) and the digits of integer literals, so neither ever
   reaches the parser;
3. the parse (``ast.parse(text, mode="eval")``);
   what the parser refuses becomes an ``ExpressionError`` (or a ``LimitError`` when it ran out of room);
4. a whitelist check of the whole syntax tree, iterative, before anything is evaluated: node count
   (``MAX_NODES``), nesting, node types, names, attribute chains, operators, the shape of a list
   comprehension; the first offence is reported with its column;
5. evaluation of the checked tree: literals, integer arithmetic whose size is checked before computing
   (``MAX_INT_BITS``), lists repeated or comprehended (``MAX_REPEAT`` items), calls into the catalog
   (``MAX_MODULES`` modules), with a bound on the total work.

Columns are 1-based character positions counted from the start of the whole text, line breaks included, so
one number locates the problem in a multi-line expression too.

The stages live in their own modules, each importing only the ones before it: ``_scan`` (step 2),
``_syntax`` (step 3, with the columns), ``_check`` (step 4), then ``_values``, ``_names`` and ``_methods``,
which ``_evaluate`` (step 5) uses; this module runs them in order.
"""

from __future__ import annotations

import ast

from paramcount.errors import ExpressionError, LimitError, expect_type
from paramcount.expr._check import SyntaxCheck
from paramcount.expr._evaluate import Evaluator
from paramcount.expr._scan import scan
from paramcount.expr._syntax import Positions, parse_syntax
from paramcount.expr._values import MappingValue, SequenceValue, describe
from paramcount.limits import MAX_EXPRESSION_CHARS, MAX_SYNTAX_DEPTH
from paramcount.provenance import FromZoo
from paramcount.tree import Module

__all__ = ["parse", "parse_arguments", "parse_model"]


def parse(text: str) -> Module:
    """Build the ``Module`` an expression describes, without running it.

    Accepted: calls of catalog layers, bare or prefixed ``nn.`` / ``torch.nn.``, with positional and keyword
    arguments; int, float, bool, None and str literals; tuples and lists; ``{"name": layer}`` dicts and
    ``OrderedDict([("name", layer), ...])`` (also ``collections.OrderedDict``); unary ``-``/``+``; integer
    ``+ - * // % **``; ``[...] * n`` (one object repeated, as in Python); ``[element for i in range(...)]``
    (one ``for``, no ``if``, the variable usable in integer arithmetic); ``*[...]`` among call arguments;
    ``torch.<dtype>``, ``torch.device(...)``, ``F.<activation>`` (also ``nn.functional.`` and
    ``torch.nn.functional.``) as values; tensors by shape for ``nn.ParameterList``/``nn.ParameterDict``
    (``nn.Parameter(torch.randn(3, 4))``; ``torch.rand``, ``zeros``, ``ones``, ``empty`` too); torchvision
    weights (``ResNet50_Weights.DEFAULT``) for a zoo model's ``weights=``; and the methods
    ``.requires_grad_()``, ``.half()``, ``.bfloat16()``, ``.float()``, ``.double()``, ``.to(...)``,
    ``.train()``, ``.eval()``, ``.cpu()``, ``.cuda()``.
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
    return parse_model(text)[0]


def parse_model(text: str) -> tuple[Module, FromZoo | None]:
    """``parse``'s tree, and the zoo model's provenance when the expression is a zoo model (``resnet50(...)``,
    ``resnet50().half()``), else None."""
    expect_type("text", text, str, "a string")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise LimitError("expression", MAX_EXPRESSION_CHARS, len(text), unit="characters")
    if not text.strip():
        raise ExpressionError("expression is empty; write a layer call such as nn.Linear(64, 128)")
    balanced = scan(text)
    tree, positions = parse_syntax(text, wrapped=balanced)
    if balanced and isinstance(tree.body, ast.Tuple) and not tree.body.elts and "(" not in text:
        raise ExpressionError("expression is empty; write a layer call such as nn.Linear(64, 128)")  # comments only
    SyntaxCheck(positions).run(tree.body)
    evaluator = Evaluator(positions)
    try:
        result = evaluator.evaluate(tree.body)
    except RecursionError:  # not expected within MAX_SYNTAX_DEPTH; a cap, never a crash, if it happens
        raise LimitError("expression nesting", MAX_SYNTAX_DEPTH, unit="levels") from None
    if not isinstance(result, Module):
        hint = "write a layer call such as nn.Linear(64, 128)"
        if isinstance(result, SequenceValue):
            hint = "wrap it in nn.Sequential(*...) or nn.ModuleList(...)"
        elif isinstance(result, MappingValue):
            hint = "wrap it in nn.ModuleDict(...)"
        raise ExpressionError(f"expression is {describe(result)}, not a layer; {hint}", positions.start(tree.body))
    return result, evaluator.model_of(result)


def parse_arguments(text: str) -> tuple[tuple[object, ...], dict[str, object]]:
    """The arguments of a Python call as written between its parentheses (``64, depth=2, sizes=(3, 4)``), read
    by the same capped, whitelisted walker as ``parse``, never run: int, float, bool, None and str literals,
    tuples, lists, dicts and integer arithmetic. Lists stay lists and dicts dicts, as JSON would give them.

    Raises:
        ExpressionError: anything else (a name, a call, ``*args``), with its column. LimitError: a cap.
    """
    if len(text) > MAX_EXPRESSION_CHARS:
        raise LimitError("arguments", MAX_EXPRESSION_CHARS, len(text), unit="characters")
    scan(text)
    tree, positions = parse_syntax(text, wrapped=True, call=True)
    call = tree.body
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name) or call.func.id != "_":
        raise ExpressionError("arguments must be what a call's parentheses hold, e.g. 64, depth=2")
    check, evaluator = SyntaxCheck(positions), Evaluator(positions)
    positional = []
    for node in call.args:
        if isinstance(node, ast.Starred):
            raise ExpressionError("*arguments are not allowed here; write the values", positions.start(node))
        check.run(node)
        positional.append(_plain(evaluator.evaluate(node), node, positions))
    keywords: dict[str, object] = {}
    for keyword in call.keywords:
        if keyword.arg is None:
            raise ExpressionError("**arguments are not allowed here; write name=value", positions.start(keyword))
        check.run(keyword.value)
        keywords[keyword.arg] = _plain(evaluator.evaluate(keyword.value), keyword.value, positions)
    return tuple(positional), keywords


def _plain(value: object, node: ast.AST, positions: Positions) -> object:
    """An evaluated argument as a plain Python value (layers and torch references are refused)."""
    if isinstance(value, SequenceValue):
        items = [_plain(item, node, positions) for item in value.items]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(value, MappingValue):
        return {key: _plain(item, node, positions) for key, item in value.pairs}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, tuple):
        return tuple(_plain(item, node, positions) for item in value)
    raise ExpressionError(
        f"{describe(value)} is not a plain value; give numbers, strings, tuples, lists or dicts", positions.start(node)
    )

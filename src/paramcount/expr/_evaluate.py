"""Step 5, the evaluation of a checked syntax tree: literals, integer arithmetic whose size is checked before
computing (``MAX_INT_BITS``), lists repeated or comprehended (``MAX_REPEAT`` items), calls into the catalog
and the zoo (``MAX_MODULES`` modules) and module methods, with a bound on the total work (``MAX_STEPS``)."""

from __future__ import annotations

import ast

from paramcount.errors import ExpressionError, LimitError
from paramcount.expr._check import ALLOWED, NAMES_ALLOWED, OPERATORS, checked_int, name_chain
from paramcount.expr._methods import apply_method
from paramcount.expr._names import (
    check_layer_kind,
    device_message,
    device_name,
    is_zoo_model,
    layer_kind,
    resolve_reference,
    unknown_name,
)
from paramcount.expr._syntax import Positions
from paramcount.expr._tensors import PARAMETER_NAMES, TENSOR_FACTORIES, parameter_spec, tensor_spec
from paramcount.expr._values import (
    MappingValue,
    SequenceValue,
    describe,
    is_int,
    module_nodes_of,
    size_of,
    to_value,
)
from paramcount.layers._registry import build
from paramcount.limits import MAX_INT_BITS, MAX_ITEMS, MAX_MODULES, MAX_REPEAT, MAX_STEPS
from paramcount.provenance import FromZoo
from paramcount.tree import Module
from paramcount.zoo import build_model, with_weights

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import NoReturn

    from paramcount.tree import Value

__all__ = ["Evaluator"]


class Evaluator:
    """Evaluates a checked syntax tree. Recursion is bounded by ``MAX_SYNTAX_DEPTH``; work by ``MAX_STEPS``,
    ``MAX_MODULES``, ``MAX_REPEAT`` and ``MAX_ITEMS``."""

    def __init__(self, positions: Positions) -> None:
        self.positions = positions
        self.steps = 0
        self.modules = 0
        self.loop: tuple[str, int] | None = None
        self.models: dict[int, tuple[Module, FromZoo]] = {}
        """The zoo models built, by ``id`` (each kept alive, so no id is reused), with their provenance; a
        method called on one (``resnet50().half()``) gives a module of the same model."""

    def model_of(self, value: object) -> FromZoo | None:
        """The zoo model (name and weights) when ``value`` is a zoo model this evaluation built."""
        found = self.models.get(id(value))
        return found[1] if found is not None else None

    def zoo_model(
        self, name: str, positional: Sequence[Value] = (), keywords: Sequence[tuple[str, Value]] = ()
    ) -> Module:
        self.count_modules(1)
        keywords, weights = with_weights(name, keywords)
        built = build_model(name, positional, keywords)
        self.models[id(built)] = (built, FromZoo(name, weights))
        return built

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
        self.fail(node, f"this syntax ({type(node).__name__}) is not allowed; {ALLOWED}")  # the check refused it

    # values ---------------------------------------------------------------------------------------------

    def sequence(self, node: ast.AST, items: Sequence[object]) -> SequenceValue:
        size = 1 + sum(size_of(item) for item in items)
        if size > MAX_ITEMS:
            raise LimitError("list", MAX_ITEMS, size, unit="items", column=self.positions.start(node))
        nodes: dict[int, int] = {}
        for item in items:
            if id(item) not in nodes:
                nodes[id(item)] = module_nodes_of(item)
        module_nodes = sum(nodes[id(item)] for item in items)
        return SequenceValue(tuple(items), size, module_nodes)

    def mapping(self, node: ast.AST, pairs: Sequence[tuple[str, object]], *, ordered: bool) -> MappingValue:
        unique = tuple(dict(pairs).items())  # a repeated key keeps its first position and its last value
        size = 1 + sum(1 + size_of(value) for _, value in unique)
        if size > MAX_ITEMS:
            raise LimitError("dict", MAX_ITEMS, size, unit="items", column=self.positions.start(node))
        return MappingValue(unique, ordered, size)

    def name(self, node: ast.Name) -> object:
        if self.loop is not None and node.id == self.loop[0]:
            return self.loop[1]
        if is_zoo_model(node.id):
            return self.zoo_model(node.id)
        unknown_name(node, self.positions)

    def reference(self, node: ast.Attribute) -> object:
        """``torch.bfloat16`` → ``Ref("torch.bfloat16")``; ``F.gelu`` → ``Ref("torch.nn.functional.gelu")``."""
        return resolve_reference(node, self.parts(node), self.positions)

    def parts(self, node: ast.Attribute | ast.Name) -> list[str]:
        parts = name_chain(node)
        if parts is None:  # pragma: no cover - the syntax check only lets name chains reach here
            self.fail(node, f"attribute access is not allowed; {NAMES_ALLOWED}")
        if self.loop is not None and parts[0] == self.loop[0]:
            self.fail(node, f"{parts[0]!r} is the loop variable, an int; it cannot be called or have attributes")
        return parts

    # lists ----------------------------------------------------------------------------------------------

    def comprehension(self, node: ast.ListComp) -> SequenceValue:
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
            raise LimitError("range()", MAX_REPEAT, length, unit="items", column=self.positions.start(node))
        return range(start, stop, step)

    def integer(self, node: ast.expr, what: str) -> int:
        value = self.evaluate(node)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(node, f"{what} takes integers, got {describe(value)}")
        return value

    def repeated(self, node: ast.BinOp, sequence: SequenceValue, times: int) -> SequenceValue:
        """``[m] * n``: the same objects ``n`` times, as in Python (one module repeated is one module shared)."""
        times = max(times, 0)
        length = len(sequence.items) * times
        if length > MAX_REPEAT:
            column = self.positions.start(node)
            raise LimitError("list repetition", MAX_REPEAT, length, unit="items", column=column)
        size = 1 + (sequence.size - 1) * times
        if size > MAX_ITEMS:
            raise LimitError("list", MAX_ITEMS, size, unit="items", column=self.positions.start(node))
        self.spend(length)
        # Each later reference becomes a tied copy once a container adopts it: charge those modules now.
        self.count_modules(max(times - 1, 0) * sequence.module_nodes)
        return SequenceValue(sequence.items * times, size, sequence.module_nodes * times)

    # arithmetic -----------------------------------------------------------------------------------------

    def unary(self, node: ast.UnaryOp) -> object:
        operand = self.evaluate(node.operand)
        if isinstance(operand, bool) or not isinstance(operand, int | float):
            self.fail(node, f"unary {OPERATORS[type(node.op)]} applies only to numbers, got {describe(operand)}")
        return -operand if isinstance(node.op, ast.USub) else operand

    def binary(self, node: ast.BinOp) -> object:
        left = self.evaluate(node.left)
        right = self.evaluate(node.right)
        if isinstance(node.op, ast.Mult) and isinstance(left, SequenceValue) and is_int(right):
            return self.repeated(node, left, right)
        if isinstance(node.op, ast.Mult) and isinstance(right, SequenceValue) and is_int(left):
            return self.repeated(node, right, left)
        if is_int(left) and is_int(right):
            return self.arithmetic(node, left, right)
        symbol = OPERATORS[type(node.op)]
        self.fail(node, f"arithmetic is allowed only on integers, got {describe(left)} {symbol} {describe(right)}")

    def arithmetic(self, node: ast.BinOp, left: int, right: int) -> int:
        op = node.op
        if isinstance(op, ast.Pow):
            if right < 0:
                self.fail(node, f"negative exponent {right} is not allowed; the result must be an integer")
            if abs(left) > 1 and right > MAX_INT_BITS:  # refused before computing: 10**10**10 is instant
                column = self.positions.start(node)
                raise LimitError(f"integer {left}**{right}", MAX_INT_BITS, unit="bits", column=column)
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
        return checked_int(result, self.positions, node)

    # calls ----------------------------------------------------------------------------------------------

    def call(self, node: ast.Call) -> object:
        func = node.func
        if isinstance(func, ast.Attribute) and name_chain(func) is None:
            return self.method(node, func)
        if not isinstance(func, ast.Name | ast.Attribute):  # pragma: no cover - checked
            self.fail(node, "only a layer can be called, by its name, as in nn.Linear(64, 128)")
        parts = self.parts(func)
        dotted = ".".join(parts)
        if dotted in ("OrderedDict", "collections.OrderedDict"):
            return self.ordered_dict(node)
        if dotted == "torch.device":
            return self.device(node)
        if dotted in TENSOR_FACTORIES:
            return tensor_spec(node, parts[-1], *self.arguments(node), self.positions)
        if dotted in PARAMETER_NAMES:
            return parameter_spec(node, *self.arguments(node), self.positions)
        if len(parts) == 1 and is_zoo_model(parts[0]):
            positional, keywords = self.arguments(node)
            converted_arguments: dict[int, Value] = {}
            return self.zoo_model(
                parts[0],
                [to_value(value, converted_arguments) for value in positional],
                [(key, to_value(value, converted_arguments)) for key, value in keywords],
            )
        kind = layer_kind(parts)
        if kind is None:
            if parts[:-1] in (["F"], ["nn", "functional"], ["torch", "nn", "functional"]):
                self.fail(node, f"calling {dotted} is not allowed; pass the function itself, as in activation={dotted}")
            self.fail(node, f"{dotted}() is not allowed; call a layer, as in nn.Linear(64, 128)")
        check_layer_kind(func, kind, self.positions)
        positional, keywords = self.arguments(node)
        self.count_modules(1)
        converted: dict[int, Value] = {}
        return build(
            kind,
            [to_value(value, converted) for value in positional],
            [(key, to_value(value, converted)) for key, value in keywords],
        )

    def arguments(self, node: ast.Call) -> tuple[list[object], list[tuple[str, object]]]:
        positional: list[object] = []
        for argument in node.args:
            if isinstance(argument, ast.Starred):
                value = self.evaluate(argument.value)
                if not isinstance(value, SequenceValue):
                    self.fail(argument, f"*-unpacking needs a list or tuple, got {describe(value)}")
                positional.extend(value.items)
            else:
                positional.append(self.evaluate(argument))
        keywords = [(keyword.arg or "", self.evaluate(keyword.value)) for keyword in node.keywords]
        return positional, keywords

    def ordered_dict(self, node: ast.Call) -> MappingValue:
        positional, keywords = self.arguments(node)
        if len(positional) > 1:
            self.fail(node, "OrderedDict() takes one list of (name, module) pairs")
        pairs: list[tuple[str, object]] = []
        if positional and isinstance(positional[0], MappingValue):
            pairs.extend(positional[0].pairs)
        elif positional:
            source = positional[0]
            if not isinstance(source, SequenceValue):
                self.fail(node, f"OrderedDict() takes a list of (name, module) pairs, got {describe(source)}")
            for item in source.items:
                if not (isinstance(item, SequenceValue) and len(item.items) == 2 and isinstance(item.items[0], str)):
                    self.fail(node, f"OrderedDict() items must be (name, module) pairs, got {describe(item)}")
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
        name = device_name(kind)
        if name is None:
            self.fail(node, device_message(kind))
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, int) or index < 0 or ":" in name:
                self.fail(node, f"torch.device() index must be a non-negative int, got {describe(index)}")
            name = f"{name}:{index}"
        return name

    # methods --------------------------------------------------------------------------------------------

    def method(self, node: ast.Call, func: ast.Attribute) -> Module:
        target = self.evaluate(func.value)
        method = func.attr
        column = self.positions.attribute(func)
        if not isinstance(target, Module):
            raise ExpressionError(f".{method}() can only be called on a layer, got {describe(target)}", column)
        positional, keywords = self.arguments(node)
        result = apply_method(target, method, positional, keywords, column)
        model = self.model_of(target)
        if model is not None:
            self.models[id(result)] = (result, model)
        return result


def _string_key(key: ast.expr | None) -> str:
    if isinstance(key, ast.Constant) and isinstance(key.value, str):
        return key.value
    raise ExpressionError("dict keys must be strings")  # pragma: no cover - the check refused anything else

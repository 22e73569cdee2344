"""Readable, reversible URLs for answer pages, made from the canonical expression.

::

    Conv2d(256, 512, 3)                                parameters-conv2d-256-512-kernel-3
    Linear(4096, 4096)                                 parameters-linear-4096-4096
    LSTM(512, 1024, num_layers=2, bidirectional=True)  parameters-lstm-512-1024-num-layers-2-bidirectional
    Conv2d(64, 64, (3, 1), bias=False)                 parameters-conv2d-64-64-kernel-3x1-no-bias
    Embedding(10, 3, padding_idx=-1)                   parameters-embedding-10-3-padding-idx-minus-1
    resnet50()                                         parameters-resnet50
    vit_b_16(image_size=384)                           parameters-vit-b-16-image-size-384
    meta-llama/Llama-3.1-8B                            parameters-meta-llama-llama-3.1-8b

The grammar (after ``parameters-``)::

    body     := hub-id | name ("-" bare){0,2} ("-" argument)*
    name     := a layer kind lower-cased | a zoo model with "_" written "-"
    bare     := a number or a tuple of numbers: the first two positional arguments of a layer
    argument := label "-" value | label (True) | "no-" label (False)
    label    := the torch parameter name with "_" written "-" (``kernel_size`` is written ``kernel``)
    value    := 12 | 0.1 | 1e-05 | minus-1 | 3x3 | 768x (a 1-tuple) | a lower-case word | torch.bfloat16 | none

Decoding needs only the catalog's and the zoo's signatures: a label is known by the layer's own parameter
names, so ``num-layers-2`` reads as ``num_layers=2``. The decoder writes the canonical call (required
arguments positionally, the rest by keyword in torch's order), and the encoder keeps a slug only when
decoding it gives back exactly the expression it came from, so every slug it hands out is reversible by
construction. Anything the grammar cannot say (containers, nested calls, lists, method suffixes such as
``.requires_grad_(False)``) has no slug: the counter page (``/?q=…``) answers it instead.

A slug is decoded into query *text*, which then goes through the same parser as anything a user types:
nothing in a URL is ever evaluated, and no slug reaches the filesystem.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import TYPE_CHECKING

from paramcount.calls import Call, Container, Name
from paramcount.layers import REQUIRED, Signature, known_layers, lookup
from paramcount.sources.hf.hub import hub_config_path, shipped_hub_ids
from paramcount.zoo import known_models, lookup_model

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from paramcount.calls import Argument

__all__ = ["PARAMETERS", "hub_slug", "query_for", "slug_for", "slugs_by_query"]

PARAMETERS = "parameters-"
"""Prefix of every parameter-count answer slug."""

MAX_SLUG_CHARS = 300
"""Longest slug decoded; longer ones are not ours."""

_LABELS = {"kernel_size": "kernel"}
"""Shorter labels where torch's name reads badly in a URL."""

_MINUS = "minus"
_RESERVED = frozenset({"true", "false", "none", _MINUS, "no"})
_WORD = re.compile(r"[a-z_][a-z0-9_]*")
_TOKEN = re.compile(r"\d+(?:x\d+)+|\d+x(?![0-9])|\d+(?:\.\d+)?(?:e[+-]\d+)?|torch\.[a-z0-9_]+|[a-z_][a-z0-9_]*")
_SCALAR = re.compile(r"\d+(?:\.\d+)?(?:e[+-]\d+)?")


@dataclass(frozen=True, slots=True)
class _Dtype:
    name: str


_Value = int | float | str | bool | None | tuple[int, ...] | _Dtype


@dataclass(frozen=True, slots=True)
class _Callable:
    name: str
    signature: Signature
    is_zoo: bool
    labels: dict[str, str] = field(init=False, compare=False)
    """Each parameter's name by its label, both spellings (``kernel`` and ``kernel-size``), but ``device``."""

    def __post_init__(self) -> None:
        names = [name for name in self.signature.names if name != "device"]
        labels = {name.replace("_", "-"): name for name in names} | {_label(name): name for name in names}
        object.__setattr__(self, "labels", labels)


@cache
def _names() -> dict[str, _Callable]:
    """Slug name → layer or zoo model (built once from the registries; both are immutable)."""
    found: dict[str, _Callable] = {}
    for kind in known_layers():
        found[kind.lower()] = _Callable(kind, lookup(kind).signature, is_zoo=False)
    for model in known_models():
        found[model.replace("_", "-")] = _Callable(model, lookup_model(model).signature, is_zoo=True)
    return found


@cache
def _by_name() -> dict[str, tuple[str, _Callable]]:
    return {target.name: (slug, target) for slug, target in _names().items()}


@cache
def _hubs() -> dict[str, str]:
    """Slug body → canonical hub id, for every shipped config."""
    return {_hub_body(hub_id): hub_id for hub_id in sorted(set(shipped_hub_ids()))}


def _hub_body(hub_id: str) -> str:
    return hub_id.lower().replace("/", "-")


def _label(parameter: str) -> str:
    return _LABELS.get(parameter, parameter.replace("_", "-"))


def hub_slug(hub_id: str) -> str | None:
    """The slug of a shipped hub id (any spelling ``hub_config_path`` accepts), or None."""
    path = hub_config_path(hub_id)
    if path is None:
        return None
    return PARAMETERS + _hub_body(path.stem.replace("--", "/"))


# ---- encoding: canonical expression → slug


def slug_for(expression: str, call: Call | Container | None = None) -> str | None:
    """The slug of a canonical layer or zoo call (``Report.expression`` as text), or None when it has none.
    ``call``, when the caller has the record the text was written from, is encoded instead of parsing the
    text; either way the slug is kept only when it decodes back to exactly ``expression``."""
    if call is None:
        return _text_slug(expression)
    body = _encode_record(call)
    if body is None or query_for(PARAMETERS + body) != expression:
        return None
    return PARAMETERS + body


def slugs_by_query(calls: Iterable[Call | Container]) -> dict[str, str]:
    """The slug of each call that has one, by the query text it decodes to: a link whose text is that query
    takes it (it decodes back to exactly the link's text, as ``slug_for``'s do), with no text parsed or written."""
    found: dict[str, str] = {}
    for call in calls:
        body = _encode_record(call)
        if body is None:
            continue
        query = query_for(PARAMETERS + body)
        if query is not None:
            found.setdefault(query, PARAMETERS + body)
    return found


@lru_cache(maxsize=1024)
def _text_slug(expression: str) -> str | None:
    """``slug_for`` of text alone, memoised: the counter's examples and the zoo models where a layer appears
    are asked for on every page, and the answer depends on nothing but the text."""
    try:
        node = ast.parse(expression, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    body = _encode_node(node)
    if body is None or query_for(PARAMETERS + body) != expression:
        return None
    return PARAMETERS + body


def _encode_node(node: ast.expr) -> str | None:
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        return None
    keywords = [(keyword.arg, _literal(keyword.value)) for keyword in node.keywords]
    return _encode_call(node.func.id, [_literal(argument) for argument in node.args], keywords)


def _encode_record(call: Call | Container) -> str | None:
    """A call written with ``.to(…)`` or ``.requires_grad_(False)`` after it has no slug, nor has a container."""
    if not isinstance(call, Call) or call.cast is not None or call.frozen:
        return None
    keywords = [(name, _argument(value)) for name, value in call.keywords]
    return _encode_call(call.kind, [_argument(value) for value in call.positional], keywords)


def _encode_call(name: str, arguments: Sequence[_Value], keywords: Sequence[tuple[str | None, _Value]]) -> str | None:
    found = _by_name().get(name)
    if found is None:
        return None
    slug_name, target = found
    tokens = [slug_name]
    positional = target.signature.positional
    if len(arguments) > len(positional):
        return None
    bare = True
    for index, value in enumerate(arguments):
        if value is _UNSUPPORTED:
            return None
        bare = bare and index < 2 and _is_number(value)
        encoded = _encode_value(value) if bare else _encode_argument(positional[index], value)
        if encoded is None:
            return None
        tokens.append(encoded)
    for keyword, value in keywords:
        encoded = None if keyword is None or value is _UNSUPPORTED else _encode_argument(keyword, value)
        if encoded is None:
            return None
        tokens.append(encoded)
    return "-".join(tokens)


_UNSUPPORTED = _Dtype("<unsupported>")


def _literal(node: ast.expr) -> _Value:
    """The value a canonical argument spells, or ``_UNSUPPORTED``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str | bool | None):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        operand = node.operand.value
        if isinstance(operand, int | float) and not isinstance(operand, bool):
            return -operand
    if isinstance(node, ast.Tuple) and node.elts:
        items = [element.value for element in node.elts if isinstance(element, ast.Constant)]
        numbers = tuple(item for item in items if type(item) is int and item >= 0)
        if len(numbers) == len(node.elts):
            return numbers
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "torch":
        return _Dtype(node.attr)
    return _UNSUPPORTED


def _argument(value: Argument) -> _Value:
    """The value a call record's argument holds, as ``_literal`` reads it from the call's text, or
    ``_UNSUPPORTED``."""
    if value is None or isinstance(value, int | float | str):  # bool is an int
        return value
    if isinstance(value, tuple) and value:
        numbers = tuple(item for item in value if type(item) is int and item >= 0)
        if len(numbers) == len(value):
            return numbers
    if isinstance(value, Name) and value.text.startswith("torch."):
        return _Dtype(value.text.removeprefix("torch."))
    return _UNSUPPORTED


def _is_number(value: _Value) -> bool:
    return isinstance(value, int | float | tuple) and not isinstance(value, bool)


def _encode_argument(parameter: str, value: _Value) -> str | None:
    label = _label(parameter)
    if value is True:
        return label
    if value is False:
        return f"no-{label}"
    encoded = _encode_value(value)
    return None if encoded is None else f"{label}-{encoded}"


def _encode_value(value: _Value) -> str | None:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        text = repr(abs(value))
        if not _SCALAR.fullmatch(text):
            return None  # inf, nan
        return text if value >= 0 and not repr(value).startswith("-") else f"minus-{text}"
    if isinstance(value, tuple):
        return "x".join(str(item) for item in value) if len(value) > 1 else f"{value[0]}x"
    if isinstance(value, _Dtype):
        return f"torch.{value.name}" if _WORD.fullmatch(value.name) else None
    if _WORD.fullmatch(value) and value not in _RESERVED:
        return value
    return None


# ---- decoding: slug → query text


def query_for(slug: str) -> str | None:
    """The query text a slug stands for (canonical when the slug is), or None when it is not a slug."""
    if len(slug) > MAX_SLUG_CHARS or not slug.startswith(PARAMETERS):
        return None
    return _decoded(slug[len(PARAMETERS) :])


@lru_cache(maxsize=1024)
def _decoded(body: str) -> str | None:
    """``query_for`` of a slug's body, memoised: a page's slug is decoded when the page is asked for and again when
    its report's slug is checked to read back as its query, and the answer depends on the text alone (the
    registries it reads are immutable)."""
    hub_id = _hubs().get(body)
    if hub_id is not None:
        return hub_id
    found = _split_name(body)
    if found is None:
        return None
    target, rest = found
    tokens = _tokens(rest)
    if tokens is None:
        return None
    values = _read_arguments(target, tokens)
    return None if values is None else _call_text(target, values)


def _split_name(body: str) -> tuple[_Callable, str] | None:
    parts = body.split("-")
    for length in range(len(parts), 0, -1):
        target = _names().get("-".join(parts[:length]))
        if target is not None:
            return target, "-".join(parts[length:])
    return None


def _tokens(rest: str) -> list[str] | None:
    tokens: list[str] = []
    position = 0
    while position < len(rest):
        match = _TOKEN.match(rest, position)
        if match is None:
            return None
        tokens.append(match.group())
        position = match.end()
        if position < len(rest):
            if rest[position] != "-" or position == len(rest) - 1:
                return None
            position += 1
    return tokens


def _read_value(tokens: list[str], index: int) -> tuple[_Value, int] | None:
    token = tokens[index]
    if token == _MINUS:
        if index + 1 >= len(tokens) or not _SCALAR.fullmatch(tokens[index + 1]):
            return None
        number = _number(tokens[index + 1])
        return (None, index) if isinstance(number, tuple) else (-number, index + 2)
    if token[0].isdigit():
        return _number(token), index + 1
    if token.startswith("torch."):
        return _Dtype(token.removeprefix("torch.")), index + 1
    constants: dict[str, _Value] = {"true": True, "false": False, "none": None}
    if token in constants:
        return constants[token], index + 1
    return (None, index) if token in _RESERVED else (token, index + 1)


def _number(token: str) -> int | float | tuple[int, ...]:
    if "x" in token:
        return tuple(int(part) for part in token.removesuffix("x").split("x"))
    if "." in token or "e" in token:
        return float(token)
    return int(token)


def _match_label(labels: dict[str, str], tokens: list[str], index: int) -> tuple[str, int] | None:
    """The parameter whose label starts at ``index`` (longest first) and the index after it."""
    for end in range(len(tokens), index, -1):
        parameter = labels.get("-".join(tokens[index:end]))
        if parameter is not None:
            return parameter, end
    return None


def _starts_argument(labels: dict[str, str], tokens: list[str], index: int) -> bool:
    if tokens[index] == "no" and index + 1 < len(tokens):
        index += 1
    return _match_label(labels, tokens, index) is not None


def _read_arguments(target: _Callable, tokens: list[str]) -> dict[str, _Value] | None:
    signature, labels = target.signature, target.labels
    values: dict[str, _Value] = {}
    index = 0
    while not target.is_zoo and index < len(tokens) and len(values) < len(signature.positional):
        if not (tokens[index][0].isdigit() or tokens[index] == _MINUS):
            break
        read = _read_value(tokens, index)
        if read is None or read[1] == index:
            return None
        values[signature.positional[len(values)]], index = read
    while index < len(tokens):
        negated = tokens[index] == "no"
        found = _match_label(labels, tokens, index + 1 if negated else index)
        if found is None or found[0] in values:
            return None
        parameter, index = found
        if negated:
            values[parameter] = False
        elif index == len(tokens) or _starts_argument(labels, tokens, index):
            values[parameter] = True
        else:
            read = _read_value(tokens, index)
            if read is None or read[1] == index:
                return None
            values[parameter], index = read
    return values


def _value_text(value: _Value) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(str(item) for item in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, _Dtype):
        return f"torch.{value.name}"
    return repr(value)


def _call_text(target: _Callable, values: dict[str, _Value]) -> str:
    """The call as ``render.code.call_text`` writes it: required arguments positionally while none is missing."""
    texts = []
    positional = not target.is_zoo
    for name, default in target.signature.parameters:
        if name not in values:
            positional = False  # a later argument after a missing one must be a keyword
            continue
        value = _value_text(values[name])
        if positional and default is REQUIRED and name not in target.signature.keyword_only:
            texts.append(value)
        else:
            positional = False
            texts.append(f"{name}={value}")
    return f"{target.name}({', '.join(texts)})"

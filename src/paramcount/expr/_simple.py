"""The direct reading: the text most people type, one call of a catalog layer whose arguments are plain
literals (``nn.Conv2d(256, 512, 3, bias=False)``), read with a few string operations.

The parser, the whitelist check and the evaluator would reach the same ``build`` call for such a text, in
about eight times the time (``compile`` alone costs three times this whole reading). The reading accepts
only what it can prove is that call, and declines (returns None) everything else, which then takes the
full way:

- ASCII text ``head(arguments)`` with only spaces, tabs and line breaks around the pieces;
- ``head`` is ``Layer``, ``nn.Layer`` or ``torch.nn.Layer`` for a catalog layer (never a zoo model);
- each argument is a literal or ``name=literal`` with ``name`` in the layer's signature, no keyword twice
  and no positional argument after a keyword (both are syntax errors), at most ``MAX_ARGUMENTS`` of them;
- a literal is ``True``, ``False``, ``None``, a decimal int without leading zeros or ``_`` that fits the
  int64 cap, a float such as ``0.1``, ``1e-05`` or ``-2.5`` (finite), either with an optional ``-``, or
  a quoted word of letters, digits and ``_`` (``'reflect'``).

Whatever the full way would refuse before a layer is built (a cap, a name, the syntax) is outside this
set, so the two agree on every text the reading accepts: the same tree, or the same ``ArgumentError`` from
``build``. ``tests/test_expr.py`` checks that over generated texts built to sit on the edges of the set.
"""

from __future__ import annotations

from math import isfinite

from paramcount.layers._registry import registered
from paramcount.limits import MAX_INT_BITS, MAX_INT_DIGITS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.tree import Value

__all__ = ["MAX_ARGUMENTS", "read_simple_call"]

MAX_ARGUMENTS: Final = 64
"""More arguments than any layer takes; past it the full way applies its node cap."""

_SPACE: Final = " \t\r\n"
_CONSTANTS: Final[dict[str, Value]] = {"True": True, "False": False, "None": None}


class _Declined:
    """The type of ``_DECLINED``, what ``_literal`` returns for text that is not one of the literals read
    here (None is a literal)."""


_DECLINED: Final = _Declined()


def read_simple_call(text: str) -> tuple[str, list[Value], list[tuple[str, Value]]] | None:
    """``(kind, positional, keywords)`` of a plain layer call, the arguments ``build`` takes; None when the
    text is anything else."""
    if not text.isascii():
        return None
    head, opened, rest = text.partition("(")
    inner, closed, tail = rest.rpartition(")")
    if not opened or not closed or tail.strip(_SPACE):
        return None
    kind = head.strip(_SPACE)
    if kind.startswith("torch.nn."):
        kind = kind[9:]
    elif kind.startswith("nn."):
        kind = kind[3:]
    elif kind.islower():  # a bare lower-case name may be a zoo model: the full way decides
        return None
    spec = registered(kind)
    if spec is None:
        return None
    positional: list[Value] = []
    keywords: list[tuple[str, Value]] = []
    if not inner.strip(_SPACE):
        return kind, positional, keywords
    pieces = inner.split(",")
    if len(pieces) > MAX_ARGUMENTS:
        return None
    names = spec.signature.names
    given: set[str] = set()
    for piece in pieces:
        name, equals, literal = piece.partition("=")
        token = literal.strip(_SPACE) if equals else name.strip(_SPACE)
        if token.isdigit() and token[0] != "0" and len(token) < MAX_INT_DIGITS:  # the usual case: a size
            value: Value = int(token)  # fewer than 19 digits: within the int64 cap
        else:
            read = _literal(token)
            if isinstance(read, _Declined):
                return None
            value = read
        if equals:
            name = name.strip(_SPACE)
            if name not in names or name in given:
                return None
            given.add(name)
            keywords.append((name, value))
        elif keywords:
            return None
        else:
            positional.append(value)
    return kind, positional, keywords


def _literal(token: str) -> Value | _Declined:
    """The value of one literal token, or ``_DECLINED``."""
    if token in _CONSTANTS:
        return _CONSTANTS[token]
    if len(token) >= 2 and token[0] in "'\"" and token[-1] == token[0]:
        word = token[1:-1]
        return word if not word or word.replace("_", "a").isalnum() else _DECLINED
    negative = token[:1] == "-"
    number = _number(token[1:] if negative else token)
    if isinstance(number, _Declined):
        return number
    return -number if negative else number


def _number(text: str) -> int | float | _Declined:
    """An unsigned int (``512``) or float (``1.5``, ``.5``, ``1.``, ``1e-05``, ``2.5E+3``) of ASCII digits
    without ``_``, or ``_DECLINED``."""
    if text.isdigit():  # ASCII digits only: the text is ASCII
        if (text[0] == "0" and text != "0") or len(text) > MAX_INT_DIGITS:  # 007 is a syntax error
            return _DECLINED
        number = int(text)
        return number if number.bit_length() <= MAX_INT_BITS else _DECLINED
    mantissa, exponent_mark, exponent = text.replace("E", "e").partition("e")
    whole, dot, fraction = mantissa.partition(".")
    if not (dot or exponent_mark) or not (whole or fraction):
        return _DECLINED
    if (whole and not whole.isdigit()) or (fraction and not fraction.isdigit()):
        return _DECLINED
    if exponent_mark and not (exponent[1:] if exponent[:1] in ("-", "+") else exponent).isdigit():
        return _DECLINED
    value = float(text)
    return value if isfinite(value) else _DECLINED

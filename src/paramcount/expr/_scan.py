"""Step 2, the scan: one linear pass over the text, before the parser sees it, refuses deep bracket nesting
(``MAX_DEPTH``) and integer literals too long for an int64 (strings and comments skipped)."""

from __future__ import annotations

import re

from paramcount.errors import LimitError
from paramcount.limits import MAX_DEPTH, MAX_INT_BITS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

__all__ = ["scan"]

_MAX_INT_DIGITS: Final = len(str(2**MAX_INT_BITS - 1))

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


def scan(text: str) -> bool:
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

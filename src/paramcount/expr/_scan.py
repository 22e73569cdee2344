"""Step 2, the scan: one linear pass over the text, before the parser sees it, refuses deep bracket nesting
(``MAX_DEPTH``) and integer literals too long for an int64 (strings and comments skipped)."""

from __future__ import annotations

from paramcount.errors import LimitError
from paramcount.limits import MAX_DEPTH, MAX_INT_DIGITS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

__all__ = ["scan"]

_OPEN: Final = frozenset("([{")
_CLOSE: Final = frozenset(")]}")
_DIGITS: Final = frozenset("0123456789")
_LINE_ENDS: Final = "\r\n"


def scan(text: str) -> bool:
    """Refuse deep bracket nesting and over-long integer literals in one linear pass (strings and comments
    skipped). Returns whether the brackets balance and every string closes: then the text can be parsed
    inside a pair of parentheses, which lets line breaks and indentation appear anywhere.
    """
    depth = 0
    balanced = True
    position = 0
    length = len(text)
    while position < length:
        char = text[position]
        if char in _OPEN:
            depth += 1
            if depth > MAX_DEPTH:
                raise LimitError("bracket nesting", MAX_DEPTH, unit="levels", column=position + 1)
        elif char in _CLOSE:
            depth -= 1
            balanced = balanced and depth >= 0
        elif char == "'" or char == '"':
            position = _string_end(text, position)
            if position < 0:
                return False
            continue
        elif char == "#":
            position = _line_end(text, position)
            continue
        elif char in _DIGITS or (char == "." and text[position + 1 : position + 2] in _DIGITS):
            end = _word_end(text, position + 1, dots=True)
            if char != ".":  # a fraction is never an int
                _check_literal(text[position:end], position)
            position = end
            continue
        elif char == "_" or (char.isalnum() and not char.isdecimal()):  # a name: its digits are not a number
            position = _word_end(text, position + 1, dots=False)
            continue
        position += 1
    return balanced and depth == 0


def _word_end(text: str, position: int, *, dots: bool) -> int:
    """The end of a run of word characters (letters, digits, ``_``; and ``.`` in a number)."""
    length = len(text)
    while position < length:
        char = text[position]
        if not (char == "_" or char.isalnum() or (dots and char == ".")):
            break
        position += 1
    return position


def _line_end(text: str, position: int) -> int:
    """Where a comment starting at ``position`` ends: the next line break, or the end of the text."""
    ends = [found for found in (text.find(char, position) for char in _LINE_ENDS) if found >= 0]
    return min(ends, default=len(text))


def _string_end(text: str, start: int) -> int:
    """Just past the string literal opening at ``start``, or -1 when it never closes. A backslash escapes
    the next character; a one-quote string ends at a line break; an unclosed triple quote is read as an
    empty string and a new opening quote, as Python's tokenizer would get there too."""
    quote = text[start]
    length = len(text)
    if text.startswith(quote * 3, start):
        position = start + 3
        while position < length:
            if text[position] == "\\":
                position += 2
            elif text.startswith(quote * 3, position):
                return position + 3
            else:
                position += 1
        return start + 2  # ``''`` then a quote that opens another string
    position = start + 1
    while position < length:
        char = text[position]
        if char == "\\":
            if position + 1 == length:
                return -1
            position += 2
        elif char == quote:
            return position + 1
        elif char in _LINE_ENDS:
            return -1
        else:
            position += 1
    return -1


def _check_literal(token: str, start: int) -> None:
    """A decimal integer literal is refused past 19 digits (no int64 is longer), before the parser spends
    time converting it."""
    if token.isascii() and token.replace("_", "").isdigit():
        digits = len(token) - token.count("_")
        if digits > MAX_INT_DIGITS:
            raise LimitError("integer literal", MAX_INT_DIGITS, digits, unit="digits", column=start + 1)

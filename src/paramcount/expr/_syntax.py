"""Step 3, the parse: ``compile(text, …, "eval", PyCF_ONLY_AST)``, which is what ``ast.parse`` does; what the
parser refuses turned into an ``ExpressionError`` (or a ``LimitError`` when it ran out of room), and
``Positions``, which turns the parser's positions into the 1-based character columns every later message
reports."""

from __future__ import annotations

import ast
import warnings

from paramcount.errors import ExpressionError, LimitError, short_repr
from paramcount.limits import MAX_SYNTAX_DEPTH

__all__ = ["Positions", "parse_syntax"]


class Positions:
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


def parse_syntax(text: str, *, wrapped: bool, call: bool = False) -> tuple[ast.Expression, Positions]:
    """The syntax tree of ``text`` (inside a pair of parentheses when ``wrapped``; as the arguments of a call
    of ``_`` when ``call``) and its ``Positions``."""
    opening = "_(" if call else "(" if wrapped else ""
    source = f"{opening}{text}\n)" if opening else text
    positions = Positions(source, shift=len(opening), length=len(text))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning/DeprecationWarning about the user's text
            # What ast.parse does: a syntax tree, never code.
            tree: ast.Expression = compile(source, "<unknown>", "eval", ast.PyCF_ONLY_AST)  # type: ignore[assignment]
    except SyntaxError as error:
        raise _syntax_error(error, positions) from None
    except ValueError as error:  # e.g. null characters, on some Python versions
        raise ExpressionError(f"invalid text ({short_repr(str(error))})") from None
    except (RecursionError, MemoryError):  # the parser's own stack: long chains such as - - - … 1
        raise LimitError("expression nesting", MAX_SYNTAX_DEPTH, unit="levels") from None
    return tree, positions


def _syntax_error(error: SyntaxError, positions: Positions) -> ExpressionError:
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

"""Terminal text: one layout of styled segments, two sinks — plain (no imports) and rich (TTY only)."""

from __future__ import annotations

from paramcount.render.sections import LIBRARY_HINTS, Code, Hints, Lines, Paragraph, Section, Segment, Table, sections
from paramcount.report import Report

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO

__all__ = ["layout", "render_plain", "rich_text", "write_rich"]

Line = tuple[Segment, ...]

_RICH_STYLES = {
    "title": "bold",
    "heading": "bold cyan",
    "total": "bold green",
    "number": "green",
    "symbol": "yellow",
    "muted": "dim",
    "code": "bright_black",
}


_UNITS = frozenset({"B", "kB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "TiB"})


def _words(text: str) -> list[str]:
    """The words a line may break between: a size's unit stays with its number (``0 B``, ``4.72 MB,``)."""
    words: list[str] = []
    for word in text.split():
        if words and word.rstrip(".,;:)") in _UNITS:
            words[-1] += " " + word
        else:
            words.append(word)
    return words


def _wrap(text: str, width: int, indent: str) -> list[str]:
    lines, current = [], ""
    for word in _words(text):
        if current and len(indent) + len(current) + 1 + len(word) > width:
            lines.append(indent + current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(indent + current)
    return lines


def _table(table: Table) -> list[Line]:
    widths = [len(cell) for cell in table.header]
    for row in table.rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]

    def cells(row: tuple[str, ...]) -> str:
        parts = [
            cell.rjust(width) if index in table.right_aligned else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        return "  " + "  ".join(parts).rstrip()

    lines: list[Line] = [(Segment(cells(table.header), "muted"),)]
    lines.extend((Segment(cells(row)),) for row in table.rows)
    return lines


def _section(section: Section, width: int) -> list[Line]:
    lines: list[Line] = [(Segment(section.title, "title" if section.key == "answer" else "heading"),)]
    for block in section.blocks:
        if isinstance(block, Paragraph):
            if len(block.segments) == 1:
                lines.extend(
                    (Segment(text, block.segments[0].style),) for text in _wrap(block.segments[0].text, width, "  ")
                )
            else:
                lines.append((Segment("  "), *block.segments))
        elif isinstance(block, Lines):
            lines.extend((Segment("  "), *line) for line in block.lines)
        elif isinstance(block, Table):
            lines.extend(_table(block))
        elif isinstance(block, Code):
            lines.extend((Segment("    " + text, "code"),) for text in block.text.rstrip("\n").split("\n"))
    return lines


def layout(report: Report, width: int = 100, depth: int = 3, hints: Hints = LIBRARY_HINTS) -> list[Line]:
    """The whole answer as lines of styled segments, sections separated by a blank line."""
    lines: list[Line] = []
    for section in sections(report, depth=depth, hints=hints):
        if lines:
            lines.append(())
        lines.extend(_section(section, width))
    return lines


def render_plain(report: Report, width: int = 100, depth: int = 3, hints: Hints = LIBRARY_HINTS) -> str:
    """Plain text: what a pipe or a file gets."""
    lines = layout(report, width, depth, hints)
    return "\n".join("".join(segment.text for segment in line).rstrip() for line in lines) + "\n"


def _rich_lines(report: Report, width: int, depth: int, hints: Hints) -> list[Any]:
    from rich.text import Text

    texts = []
    for line in layout(report, width, depth, hints):
        text = Text()
        for segment in line:
            text.append(segment.text, style=_RICH_STYLES.get(segment.style, ""))
        texts.append(text)
    return texts


def write_rich(
    report: Report, stream: TextIO, width: int | None = None, depth: int = 3, hints: Hints = LIBRARY_HINTS
) -> None:
    """The same lines with colour, through rich (imported only here, only on a TTY)."""
    from rich.console import Console

    console = Console(file=stream, width=width, highlight=False, soft_wrap=True)
    for text in _rich_lines(report, width or console.width, depth, hints):
        console.print(text)


def rich_text(report: Report, width: int = 100, depth: int = 3) -> Any:
    """The same lines as one rich renderable (what ``Report.__rich__`` hands to ``rich.print``)."""
    from rich.console import Group

    return Group(*_rich_lines(report, width, depth, LIBRARY_HINTS))

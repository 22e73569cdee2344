"""Terminal text: one layout of styled segments, two sinks — plain (no imports) and rich (TTY only)."""

from __future__ import annotations

from paramcount.render.sections import Code, Lines, Paragraph, Section, Segment, Table, sections
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


def _wrap(text: str, width: int, indent: str) -> list[str]:
    lines, current = [], ""
    for word in text.split():
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


def layout(report: Report, width: int = 100, depth: int = 3) -> list[Line]:
    """The whole answer as lines of styled segments, sections separated by a blank line."""
    lines: list[Line] = []
    for section in sections(report, depth=depth):
        if lines:
            lines.append(())
        lines.extend(_section(section, width))
    return lines


def render_plain(report: Report, width: int = 100, depth: int = 3) -> str:
    """Plain text: what a pipe or a file gets."""
    lines = layout(report, width, depth)
    return "\n".join("".join(segment.text for segment in line).rstrip() for line in lines) + "\n"


def _rich_lines(report: Report, width: int, depth: int) -> list[Any]:
    from rich.text import Text

    texts = []
    for line in layout(report, width, depth):
        text = Text()
        for segment in line:
            text.append(segment.text, style=_RICH_STYLES.get(segment.style, ""))
        texts.append(text)
    return texts


def write_rich(report: Report, stream: TextIO, width: int | None = None, depth: int = 3) -> None:
    """The same lines with colour, through rich (imported only here, only on a TTY)."""
    from rich.console import Console

    console = Console(file=stream, width=width, highlight=False, soft_wrap=True)
    for text in _rich_lines(report, width or console.width, depth):
        console.print(text)


def rich_text(report: Report, width: int = 100, depth: int = 3) -> Any:
    """The same lines as one rich renderable (what ``Report.__rich__`` hands to ``rich.print``)."""
    from rich.console import Group

    return Group(*_rich_lines(report, width, depth))

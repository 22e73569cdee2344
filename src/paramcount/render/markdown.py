"""Markdown: the same sections, formatted as GitHub-flavoured Markdown."""

from __future__ import annotations

from paramcount.render.sections import LIBRARY_HINTS, Code, Hints, Lines, Paragraph, Section, Table, sections
from paramcount.report import Report

__all__ = ["render_markdown"]


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|")


def _table(table: Table) -> list[str]:
    align = ["---:" if index in table.right_aligned else "---" for index in range(len(table.header))]
    lines = [
        "| " + " | ".join(_escape(cell) or " " for cell in table.header) + " |",
        "| " + " | ".join(align) + " |",
    ]
    lines.extend("| " + " | ".join(_escape(cell.strip()) for cell in row) + " |" for row in table.rows)
    return lines


def _section(section: Section) -> list[str]:
    heading = "# " if section.key == "answer" else "## "
    out = [heading + section.title, ""]
    for block in section.blocks:
        if isinstance(block, Paragraph):
            out.append("".join(segment.text for segment in block.segments).strip())
        elif isinstance(block, Lines):
            out.append("```text")
            out.extend("".join(segment.text for segment in line).rstrip() for line in block.lines)
            out.append("```")
        elif isinstance(block, Table):
            out.extend(_table(block))
        elif isinstance(block, Code):
            out.extend([f"```{block.language}", block.text.rstrip("\n"), "```"])
        out.append("")
    return out


def render_markdown(report: Report, depth: int = 3, hints: Hints = LIBRARY_HINTS) -> str:
    lines: list[str] = []
    for section in sections(report, depth=depth, hints=hints):
        lines.extend(_section(section))
    return "\n".join(lines).rstrip() + "\n"

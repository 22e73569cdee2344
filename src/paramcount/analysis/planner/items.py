"""The plain data every memory figure is made of (defined in ``paramcount.analysis.memory``, which the
single-layer report imports without loading the planner)."""

from __future__ import annotations

from paramcount.analysis.memory import MemoryBreakdown, MemoryItem

TYPE_CHECKING = False
if TYPE_CHECKING:
    from paramcount.analysis.memory import Category

__all__ = ["Category", "MemoryBreakdown", "MemoryItem"]

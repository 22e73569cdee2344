"""``noun``: a count's noun in the singular or the plural, for every layer that writes a count into text
(renderers, and the few facts and labels written as text below them). It imports nothing of paramcount."""

from __future__ import annotations

__all__ = ["noun"]


def noun(count: int, singular: str) -> str:
    """``singular`` for a count of one, else its plural (``parameter``/``parameters``): "1 parameter", "0 files"."""
    return singular if count == 1 else singular + "s"

"""The torch.nn layer catalog: one declaration per class, grouped by family."""

from paramcount.layers._registry import build, known_layers, lookup

__all__ = ["build", "known_layers", "lookup"]

"""The torch.nn layer catalog: one declaration per class, grouped by family."""

from paramcount.layers._registry import REQUIRED, Signature, build, known_layers, lookup

__all__ = ["REQUIRED", "Signature", "build", "known_layers", "lookup"]

"""The torch.nn layer catalog: one declaration per class, grouped by family."""

from paramcount.layers._registry import build, known_layers, lookup
from paramcount.layers._signature import REQUIRED, Signature

__all__ = ["REQUIRED", "Signature", "build", "known_layers", "lookup"]

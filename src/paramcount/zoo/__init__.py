"""The model zoo: architectures addressable by name (``resnet50``, ``vit_b_16`` …)."""

from paramcount.zoo._registry import build_model, known_models, lookup_model
from paramcount.zoo.weights import with_weights

__all__ = ["build_model", "known_models", "lookup_model", "with_weights"]

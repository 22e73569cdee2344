"""The model zoo: architectures addressable by name (``resnet50``, ``vit_b_16`` …)."""

from paramcount.zoo._registry import build_model, known_models, lookup_model

__all__ = ["build_model", "known_models", "lookup_model"]

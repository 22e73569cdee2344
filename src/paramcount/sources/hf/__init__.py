"""The Hugging Face config door: ``config.json`` → the same Module tree, without transformers."""

from paramcount.sources.hf._registry import from_config, supported_model_types

__all__ = ["from_config", "supported_model_types"]

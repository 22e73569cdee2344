"""The Hugging Face config door: ``config.json`` → the same Module tree, without transformers."""

from paramcount.sources.hf._config import parse_config_text
from paramcount.sources.hf._registry import build_config_tree, read_model, supported_model_types

__all__ = ["build_config_tree", "parse_config_text", "read_model", "supported_model_types"]

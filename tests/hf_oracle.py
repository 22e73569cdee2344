"""The Hugging Face oracle: build the model with real ``transformers`` on the meta device and compare.

A config dict (as in config.json) → ``AutoConfig.for_model`` → the architecture class, on ``meta``:
no weights are allocated. Tied tensors appear once in ``named_parameters()``, as in our trees.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import transformers

from paramcount.sources.hf import from_config
from paramcount.tree import iter_params, parameter_count

CONFIGS = Path(__file__).parents[1] / "src" / "paramcount" / "sources" / "hf" / "configs"


def transformers_model(config: dict[str, Any], architecture: str) -> torch.nn.Module:
    settings = {key: value for key, value in config.items() if key not in ("architectures", "transformers_version")}
    hf_config = transformers.AutoConfig.for_model(**settings)
    cls = getattr(transformers, architecture)
    with torch.device("meta"):
        model: torch.nn.Module = cls(hf_config)
    return model


def default_architecture(config: dict[str, Any], fallback: str) -> str:
    listed = config.get("architectures")
    return listed[0] if isinstance(listed, list) and listed else fallback


def assert_matches_transformers(config: dict[str, Any], architecture: str, *, check_names: bool = True) -> None:
    """Same total (tied counted once) and, unless told otherwise, the same parameter names and shapes in
    the same order as ``named_parameters()``."""
    theirs = transformers_model(config, architecture)
    ours = from_config(config, architecture=architecture)
    their_total = sum(p.numel() for p in theirs.parameters())
    assert parameter_count(ours) == their_total, f"{architecture}: ours {parameter_count(ours):,} vs {their_total:,}"
    if check_names:
        our_shapes = [(name, param.sizes) for name, param in iter_params(ours)]
        their_shapes = [(name, tuple(p.shape)) for name, p in theirs.named_parameters()]
        assert our_shapes == their_shapes

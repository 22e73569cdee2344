"""The Hugging Face oracle: build the model with real ``transformers`` on the meta device and compare.

A config dict (as in config.json) → ``AutoConfig.for_model`` → the architecture class, on ``meta``:
no weights are allocated. Tied tensors appear once in ``named_parameters()``, as in our trees.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import transformers

from paramcount.sources.hf import build_config_tree
from paramcount.tree import Module, iter_buffers, iter_params, parameter_count

CONFIGS = Path(__file__).parents[1] / "src" / "paramcount" / "sources" / "hf" / "configs"


def transformers_config(config: dict[str, Any]) -> Any:
    """transformers' config object for a config dict, its defaults filled in."""
    settings = {key: value for key, value in config.items() if key not in ("architectures", "transformers_version")}
    return transformers.AutoConfig.for_model(**settings)


def transformers_model(config: dict[str, Any], architecture: str) -> torch.nn.Module:
    hf_config = transformers_config(config)
    with torch.device("meta"):
        model: torch.nn.Module = transformers_class(architecture)(hf_config)
    return model


def transformers_class(architecture: str) -> Any:
    """transformers' class of that name; a remote-code class name that differs from transformers' only in case
    (MPTForCausalLM) is transformers' class, as paramcount counts it."""
    return getattr(transformers, architecture, None) or next(
        getattr(transformers, name) for name in dir(transformers) if name.lower() == architecture.lower()
    )


def default_architecture(config: dict[str, Any], fallback: str) -> str:
    listed = config.get("architectures")
    return listed[0] if isinstance(listed, list) and listed else fallback


def assert_matches_transformers(config: dict[str, Any], architecture: str, *, check_names: bool = True) -> None:
    """Same total (tied counted once) and, unless told otherwise, the same parameter names and shapes in
    the same order as ``named_parameters()``."""
    theirs = transformers_model(config, architecture)
    ours = build_config_tree(config, architecture=architecture)
    assert_same_parameters(ours, theirs, architecture, check_names=check_names)


def assert_same_parameters(
    ours: Module, theirs: torch.nn.Module, architecture: str, *, check_names: bool = True
) -> None:
    """``assert_matches_transformers`` for a tree and a model already built."""
    their_total = sum(p.numel() for p in theirs.parameters())
    assert parameter_count(ours) == their_total, f"{architecture}: ours {parameter_count(ours):,} vs {their_total:,}"
    if check_names:
        our_shapes = [(name, param.sizes) for name, param in iter_params(ours)]
        their_shapes = [(name, tuple(p.shape)) for name, p in theirs.named_parameters()]
        assert our_shapes == their_shapes


def shipped(name: str) -> dict[str, Any]:
    """A config shipped in ``src/paramcount/sources/hf/configs`` by file name."""
    data: dict[str, Any] = json.loads((CONFIGS / name).read_text(encoding="utf-8"))
    return data


def assert_buffers_match(config: dict[str, Any], architecture: str) -> None:
    """Same buffers as ``named_buffers()``: names, shapes, order, and persistence (in ``state_dict`` or not)."""
    theirs = transformers_model(config, architecture)
    state = theirs.state_dict()
    expected = [(name, tuple(buffer.shape), name in state) for name, buffer in theirs.named_buffers()]
    ours = build_config_tree(config, architecture=architecture)
    assert [(name, buffer.sizes, buffer.persistent) for name, buffer in iter_buffers(ours)] == expected


def assert_same_model(config: dict[str, Any], architecture: str) -> None:
    """Parameters as ``assert_matches_transformers`` compares them, then the buffers."""
    assert_matches_transformers(config, architecture)
    assert_buffers_match(config, architecture)


def counted_class(config: dict[str, Any]) -> str:
    """The class ``build_config_tree`` counts by default: the config's ``architectures``, else the builder's default."""
    from paramcount.sources.hf._registry import spec_for

    return default_architecture(config, spec_for(config["model_type"]).default)


def other_classes(names: tuple[str, ...]) -> list[tuple[str, str]]:
    """``(config file, class)`` for every other class the builder of each shipped config can count."""
    from paramcount.sources.hf._registry import spec_for

    return [
        (name, architecture)
        for name in names
        for architecture in spec_for(shipped(name)["model_type"]).architectures
        if architecture != default_architecture(shipped(name), "")
    ]

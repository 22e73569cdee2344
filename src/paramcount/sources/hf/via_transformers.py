"""Counting a config through ``transformers`` itself, on the meta device, for model types paramcount has
no builder for. Optional: only when torch and transformers are installed; never downloads anything and
never runs remote code (``trust_remote_code`` stays off). The class name comes from user input, so it must
be a plain identifier naming a ``PreTrainedModel`` subclass that transformers exports.
"""

from __future__ import annotations

import re
from pathlib import Path

from paramcount._record import replace
from paramcount.errors import ConfigError, Remedy
from paramcount.provenance import FromConfig
from paramcount.sources.hf._registry import read_config
from paramcount.sources.live import from_module
from paramcount.tree import Module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["available", "count_via_transformers"]

_CLASS_NAME = re.compile(r"[A-Z][A-Za-z0-9]{0,80}")


def available() -> bool:
    """True when torch and transformers can be imported (checked without importing them)."""
    from importlib.util import find_spec

    return find_spec("torch") is not None and find_spec("transformers") is not None


def count_via_transformers(
    source: str | Path, *, architecture: str | None = None, location: str | None = None
) -> tuple[Module, FromConfig]:
    """The tree transformers builds for a config on the meta device, and where it came from (``location``:
    the hub id or path, as for ``read_model``)."""
    if not available():
        needs = " needs torch and transformers installed (pip install transformers torch)"
        raise ConfigError((Remedy("via_transformers", "{}", "counting with transformers"), needs))
    data, name = read_config(source)
    listed = data.get("architectures")
    chosen = architecture or (listed[0] if isinstance(listed, list) and listed and isinstance(listed[0], str) else None)
    import torch
    import transformers

    settings: dict[str, Any] = {k: v for k, v in data.items() if k not in ("architectures", "auto_map")}
    try:
        config = transformers.AutoConfig.for_model(**settings)
    except (ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"{name}: transformers cannot read this config ({error})") from None
    if chosen is None:
        cls: Any = transformers.AutoModel
        with torch.device("meta"):
            model = cls.from_config(config)
    else:
        if not _CLASS_NAME.fullmatch(chosen):
            raise ConfigError(f"{name}: {chosen!r} is not a class name", key_path="architectures")
        try:
            cls = getattr(transformers, chosen, None)
        except ImportError as error:  # transformers' lazy import failed: a torchvision built for another torch …
            cause = error.__cause__ or error
            reason = f"{type(cause).__name__}: {next(iter(str(cause).splitlines()), '')}"
            raise ConfigError(f"{name}: transformers cannot import {chosen} here ({reason})") from None
        if not (isinstance(cls, type) and issubclass(cls, transformers.PreTrainedModel)):
            raise ConfigError(f"{name}: transformers has no model class {chosen!r}", key_path="architectures")
        with torch.device("meta"):
            model = cls(config)
    model_type = str(data.get("model_type", "?"))
    tree = replace(from_module(model), attributes=(("model_type", model_type),))  # for the planner, as read_model
    return tree, FromConfig(location, model_type, type(model).__name__, counted_by="transformers")

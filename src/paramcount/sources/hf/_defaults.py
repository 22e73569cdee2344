"""transformers' configuration defaults, applied when a config is read, so every builder sees what
``AutoConfig.for_model`` would hold: a key the file leaves out takes its config class's default.

The table ``defaults.json`` is generated from transformers' configuration classes by
``tools/generate_hf_defaults.py`` (it names the transformers version); the counting path only reads it.
What it applies, as ``PreTrainedConfig`` does:

- a key set through an ``attribute_map`` alias (T5's ``hidden_size`` sets ``d_model``) is set under its own name too,
  and what transformers derives from it before applying the alias keeps the default's value (T5's
  ``num_hidden_layers`` leaves ``num_decoder_layers`` at 6);
- a key still absent (not one written as null: the builders read null as transformers' ``__post_init__`` does,
  e.g. ``num_key_value_heads: null`` means one key/value head per query head) takes the class default;
- a nested config (``text_config``, ``vision_config``) is completed by the class of its own ``model_type`` (or the
  class the parent fixes); an absent or null one is what transformers builds in its place, the sub-config class's
  defaults under the parent's keyword arguments (LLaVA's CLIP tower at 336 pixels) and under the top-level keys the
  parent moves into it (``from_parent``: Qwen2-VL's flat configs state the text model's sizes at the top level).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["DEFAULTS", "attribute", "complete", "defaults_table"]

DEFAULTS = Path(__file__).with_name("defaults.json")


@cache
def defaults_table() -> dict[str, Any]:
    """The generated table: ``{"transformers_version": …, "model_types": {type: entry}}``."""
    table: dict[str, Any] = json.loads(DEFAULTS.read_text(encoding="utf-8"))
    return table


def complete(data: Mapping[str, Any], model_type: str) -> dict[str, Any]:
    """``data`` with the defaults of ``model_type``'s config class filled in, nested configs too; a type without
    an entry is returned as written."""
    entry = defaults_table()["model_types"].get(model_type)
    completed = dict(data)
    if entry is None:
        return completed
    for alias, target in entry["aliases"].items():
        if alias in data and target not in data:
            completed[target] = data[alias]
            for key, value in entry["set_before_alias"].get(alias, {}).items():
                completed.setdefault(key, value)
    for key, value in entry["defaults"].items():
        if key not in completed:
            completed[key] = value
    for key, sub in entry["sub_configs"].items():
        raw = data.get(key)
        if raw is None and not sub["optional"]:
            lifted = {name: data[name] for name in sub.get("from_parent", ()) if name in data}
            completed[key] = complete({**sub["when_absent"], **lifted}, sub["model_type"])
        elif isinstance(raw, dict):
            kind = raw.get("model_type", sub["model_type"]) if not sub["fixed"] else sub["model_type"]
            completed[key] = complete(raw, kind) if isinstance(kind, str) else raw
    return completed


def attribute(model_type: str, key: str) -> str:
    """The key transformers stores ``key`` under for ``model_type`` (``n_embd`` for GPT-2's ``hidden_size``)."""
    entry = defaults_table()["model_types"].get(model_type)
    return str(entry["aliases"].get(key, key)) if entry is not None else key

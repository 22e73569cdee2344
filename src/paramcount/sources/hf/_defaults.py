"""transformers' configuration defaults, applied when a config is read, so every builder sees what
``AutoConfig.for_model`` would hold: a key the file leaves out takes its config class's default.

The table ``defaults.json`` is generated from transformers' configuration classes by
``tools/generate_hf_defaults.py`` (it names the transformers version); the counting path only reads it.
What it applies, as ``PreTrainedConfig`` does:

- a key of an ``attribute_map`` may be written under either spelling: the one the config class declares as a field
  (the one its default is keyed by: GPT-2's ``n_embd``, Qwen3-MoE's ``num_experts``) or the other (``hidden_size``;
  ``num_local_experts``, which transformers 5 itself writes for Qwen3-MoE). The value is held under the field's
  spelling, which the builders read. transformers sets the fields first and the other spelling after them, so a
  config giving both takes the other's value, and what ``__post_init__`` derives from the field in between keeps
  the field's value (T5's ``num_hidden_layers`` leaves ``num_decoder_layers`` at ``num_layers``, 6 by default);
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
    from collections.abc import Iterator, Mapping
    from typing import Any

__all__ = ["DEFAULTS", "attribute", "complete", "defaults_table", "spellings"]

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
    for field, other in spellings(entry):
        if other in data:
            completed[field] = data[other]
            for key, value in entry["set_before_alias"].get(other, {}).items():
                completed.setdefault(key, data.get(field, value))
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


def spellings(entry: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """``(field, other)`` for each pair of an entry's ``aliases`` (its class's ``attribute_map``): the spelling the
    class declares as a dataclass field, which the defaults are keyed by (the attribute, GPT-2's ``n_embd``, unless
    the alias is the field, Qwen3-MoE's ``num_experts``), and the other, which transformers sets after the fields."""
    for alias, target in entry["aliases"].items():
        yield (alias, target) if alias in entry["defaults"] else (target, alias)


def attribute(model_type: str, key: str) -> str:
    """The key ``complete`` holds ``key`` under for ``model_type`` (``n_embd`` for GPT-2's ``hidden_size``)."""
    entry = defaults_table()["model_types"].get(model_type)
    if entry is None:
        return key
    return next((field for field, other in spellings(entry) if key in (field, other)), key)

"""Write ``src/paramcount/sources/hf/defaults.json``: the defaults of transformers' configuration classes.

For every ``model_type`` paramcount has a builder for, and every type those use as a sub-config by default
(``siglip_vision_model`` under ``gemma3``), the table holds what the config class declares:

- ``defaults``: each dataclass field's default that is not None (``PreTrainedConfig.default_config_fields``);
  a None default is a value ``__post_init__`` derives from other keys (``head_dim``, ``num_key_value_heads``),
  which the builders derive as transformers does;
- ``aliases``: the class's ``attribute_map`` (``hidden_size`` → ``n_embd`` for GPT-2): a config may write either
  spelling. One of the two is a dataclass field, keyed so in ``defaults`` (``n_embd``; Qwen3-MoE's alias
  ``num_experts``), and the other is set after the fields, so it wins (``_defaults.spellings``); checked here;
- ``set_before_alias``: keys ``__post_init__`` derives from the field before the other spelling is applied (it
  reaches the attribute last), so they keep the field's value: T5's ``num_hidden_layers`` sets ``num_layers`` but
  ``num_decoder_layers`` stays 6. Found by building the class with the other spelling and with the field set to
  the same value and keeping what differs; checked to be the field's default;
- ``sub_configs``: for each nested config (``text_config``, ``vision_config``) the type it gets when the file
  does not name one, whether that type is fixed by the class (``Gemma3TextConfig``) or taken from the nested
  ``model_type`` (LLaVA's ``AutoConfig``), and the keyword arguments transformers passes when the nested
  config is absent (``SubConfigSpec.init_kwargs``: LLaVA's CLIP tower at 336 pixels), and ``from_parent``, the
  top-level keys the class moves into an absent sub-config (Qwen2-VL's flat configs), only where there are some.

The counting path reads this file and never imports transformers. Rerun after changing the pinned transformers
version (pyproject.toml) or adding a builder; ``tests/sources/hf/test_defaults.py`` fails while the file is
stale. Run: ``PYTHONPATH=tests/_site python tools/generate_hf_defaults.py`` (needs transformers and torch installed; the
``tests/_site`` start-up hook keeps the test extra's torchvision from breaking transformers' imports).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).parents[1] / "src" / "paramcount" / "sources" / "hf" / "defaults.json"


def _plain(value: object) -> object:
    """``value`` as JSON can hold it, or a ``ValueError`` (a default factory is called first)."""
    if callable(value):
        value = value()
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value!r} is not JSON")
    json.dumps(value, allow_nan=False)
    return value


def _entry(model_type: str) -> dict[str, Any]:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    cls: Any = CONFIG_MAPPING[model_type]
    defaults: dict[str, object] = {}
    sub_keys = set(cls.sub_configs_defaults)
    for key, value in cls.default_config_fields().items():
        if key in sub_keys:
            continue
        try:
            defaults[key] = _plain(value)
        except (TypeError, ValueError):
            continue  # not a value a config.json can hold (a callable, a dtype): nothing a builder reads
    sub_configs: dict[str, dict[str, Any]] = {}
    for key, spec in cls.sub_configs_defaults.items():
        if key == "backbone_config":
            continue
        sub_configs[key] = {
            "model_type": spec.model_type,
            "fixed": spec.config_class.__name__ != "AutoConfig",
            "when_absent": _plain(dict(spec.init_kwargs)),
            "optional": spec.optional,
        }
        lifted = _from_parent(cls, key, spec.config_class)
        if lifted:
            sub_configs[key]["from_parent"] = lifted
    entry: dict[str, Any] = {"class": cls.__name__, "defaults": defaults, "aliases": dict(cls.attribute_map)}
    entry["set_before_alias"] = _set_before_alias(cls, entry)
    entry["sub_configs"] = sub_configs
    return entry


def _from_parent(cls: Any, key: str, sub_cls: Any) -> list[str]:
    """The top-level keys ``cls`` moves into the sub-config ``key`` when that is absent, or ``[]``. Qwen2-VL's
    ``__post_init__`` builds a missing ``text_config`` from the keyword arguments named in the text config class's
    signature (its own fields, which are not fields of ``cls``), so its flat published configs hold the text model's
    sizes at the top level. Found by giving ``cls`` a ``hidden_size`` other than the sub-config class's default and
    seeing it arrive in the sub-config."""
    import dataclasses
    import inspect

    if sub_cls.__name__ == "AutoConfig" or "hidden_size" in cls.default_config_fields():
        return []
    probe = 2 * sub_cls.default_config_fields().get("hidden_size", 0) + 2
    if getattr(getattr(cls(hidden_size=probe), key), "hidden_size", None) != probe:
        return []
    own = {field.name for field in dataclasses.fields(cls)} | {"self"}
    return [name for name in inspect.signature(sub_cls.__init__).parameters if name not in own]


def _set_before_alias(cls: Any, entry: dict[str, Any]) -> dict[str, dict[str, object]]:
    """``{other: {key: value}}``: what the class holds for ``key`` when the ``other`` spelling of an attribute is
    given rather than its field, where that differs (probed with twice the field's default, a size every class
    accepts). Raises where ``_defaults.spellings`` would take the wrong spelling for the field, or a key differs by
    more than keeping the field's default (the reader copies the field's value)."""
    import dataclasses

    from huggingface_hub.errors import StrictDataclassError

    from paramcount.sources.hf._defaults import spellings

    fields = {field.name for field in dataclasses.fields(cls)}
    defaults = entry["defaults"]
    found: dict[str, dict[str, object]] = {}
    for field, other in spellings(entry):
        if other in fields:
            raise RuntimeError(f"{cls.__name__}: {other!r} is the field of its attribute_map pair, not {field!r}")
        default = defaults.get(field)
        if isinstance(default, bool) or not isinstance(default, int):
            continue
        try:
            by_other = cls(**{other: 2 * default}).to_dict()
            direct = cls(**{field: 2 * default}).to_dict()
        except (ValueError, StrictDataclassError):  # the class ties the size to another key (gpt_neo's layers)
            continue
        differing = {key: _plain(value) for key, value in by_other.items() if value != direct.get(key)}
        if any(value != default for value in differing.values()):
            raise RuntimeError(f"{cls.__name__}: {other!r} leaves {differing} other than {field!r}'s default")
        if differing:
            found[other] = differing
    return found


def generate() -> dict[str, Any]:
    """The table for the installed transformers and paramcount's builders."""
    import torch  # noqa: F401  (transformers' vision utilities need torch's operators registered first)
    import transformers

    from paramcount.sources.hf import supported_model_types

    entries: dict[str, Any] = {}
    pending = list(supported_model_types())
    while pending:
        model_type = pending.pop()
        if model_type in entries:
            continue
        entries[model_type] = entry = _entry(model_type)
        pending.extend(sub["model_type"] for sub in entry["sub_configs"].values())
    return {"transformers_version": transformers.__version__, "model_types": dict(sorted(entries.items()))}


def render(table: dict[str, Any]) -> str:
    return json.dumps(table, indent=1, sort_keys=False, allow_nan=False) + "\n"


if __name__ == "__main__":
    OUTPUT.write_text(render(generate()), encoding="utf-8")
    print(f"wrote {OUTPUT}")

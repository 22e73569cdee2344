"""Configs written by transformers itself count as the model built from them, and so do both spellings of a key.

A config class's ``attribute_map`` gives some keys two spellings: Qwen3-MoE's ``num_experts`` is stored as
``num_local_experts``, GPT-2's ``hidden_size`` as ``n_embd``. ``to_json_string`` (and ``save_pretrained``) write
the stored one; the hub's older files often the other. For every supported ``model_type``: a config with each such
key and the usual sizes off the class's default, written by transformers, equals the model transformers builds from
that config on the meta device (total, names, shapes); written under the other spellings, and with both spellings
disagreeing, it counts as transformers reads it (the spelling set last wins, ``_defaults.spellings``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import torch
from transformers.models.auto.configuration_auto import CONFIG_MAPPING

import paramcount
from hf_oracle import assert_matches_transformers, assert_same_parameters, transformers_class
from paramcount.sources.hf import supported_model_types
from paramcount.sources.hf._registry import spec_for

SIZES = ("intermediate_size", "num_hidden_layers", "num_key_value_heads", "vocab_size")
"""Sizes set off their defaults besides the ``attribute_map`` keys (hidden sizes and heads of the other types are
left alone: halving them breaks some class's ties between them, Falcon's 71 heads, Mamba-2's expand)."""


def _off_default(cls: Any) -> dict[str, Any]:
    """Keyword arguments setting each integer ``attribute_map`` attribute of ``cls`` and its ``SIZES`` off their
    defaults: halved (heads and widths alike, so head sizes still divide), one more where halving gives the default
    or 0, a token id one lower, a vocabulary one larger (a pad id may be its last row)."""
    fields = cls.default_config_fields()
    keys = {target: fields.get(target, fields.get(alias)) for alias, target in cls.attribute_map.items()}
    keys.update({key: fields.get(key) for key in SIZES if key not in cls.attribute_map})
    chosen: dict[str, Any] = {}
    for key, default in keys.items():
        if isinstance(default, bool) or not isinstance(default, int):
            continue
        value = default - 1 if "token" in key else default + 1 if key == "vocab_size" else default // 2
        chosen[key] = value if value not in (0, default) else default + 1
    if cls.model_type == "gpt_neo":  # its attention_types must cover num_layers
        chosen["attention_types"] = [[["global", "local"], chosen["num_layers"] // 2]]
    return chosen


def written_by_transformers(kind: str) -> Any:
    """transformers' config of ``kind``, its nested configs' keys off their defaults too."""
    cls = CONFIG_MAPPING[kind]
    settings = _off_default(cls)
    for key, sub in cls.sub_configs_defaults.items():
        if key != "backbone_config" and sub.model_type is not None:
            nested = _off_default(CONFIG_MAPPING[sub.model_type])
            settings[key] = {**dict(sub.init_kwargs), **nested, "model_type": sub.model_type}
    return cls(**settings)


@pytest.mark.parametrize("kind", supported_model_types())
def test_config_written_by_transformers_counts_as_its_model(kind: str) -> None:
    config = written_by_transformers(kind)
    architecture = spec_for(kind).default
    with torch.device("meta"):
        theirs = transformers_class(architecture)(config)
    result = paramcount.from_config_text(config.to_json_string(), architecture=architecture)
    assert_same_parameters(result.tree, theirs, architecture)


def respelled(data: dict[str, Any], *, both: bool) -> dict[str, Any]:
    """``data`` as transformers wrote it, each integer attribute of an ``attribute_map`` (nested configs' too) under
    its alias instead, or with ``both``: the alias keeping the value and the attribute holding twice it."""
    out = {key: respelled(value, both=both) if isinstance(value, dict) else value for key, value in data.items()}
    kind = data.get("model_type")
    mapped: dict[str, str] = (
        CONFIG_MAPPING[kind].attribute_map if isinstance(kind, str) and kind in CONFIG_MAPPING else {}
    )
    for alias, target in mapped.items():
        value = data.get(target)
        if isinstance(value, int) and not isinstance(value, bool):
            out[alias] = value
            if both:
                out[target] = 2 * value
            else:
                out.pop(target, None)  # Whisper maps two aliases to one attribute
    return out


def _aliased(kind: str) -> bool:
    """Whether ``kind``'s configuration class or a nested one's maps an integer attribute."""
    cls = CONFIG_MAPPING[kind]
    classes = [cls, *(CONFIG_MAPPING[sub.model_type] for sub in cls.sub_configs_defaults.values() if sub.model_type)]
    return any(set(_off_default(each)) & set(each.attribute_map.values()) for each in classes)


ALIASED = [kind for kind in supported_model_types() if _aliased(kind)]


@pytest.mark.parametrize("both", [False, True], ids=["other-spelling", "both-spellings"])
@pytest.mark.parametrize("kind", ALIASED)
def test_either_spelling_counts_as_transformers_reads_it(kind: str, both: bool) -> None:
    written = json.loads(written_by_transformers(kind).to_json_string())
    data = respelled(written, both=both)
    assert data != written
    assert_matches_transformers(data, spec_for(kind).default)


def test_both_spellings_keep_what_transformers_derives_from_the_field_first() -> None:
    """T5 sets ``num_decoder_layers`` from its field ``num_layers`` (4) before ``num_hidden_layers`` (3) replaces it."""
    assert_matches_transformers({"model_type": "t5", "num_layers": 4, "num_hidden_layers": 3}, "T5Model")

"""Web parameters → the library's ``PlanOptions`` and input shape: one web parameter per library argument.

The API receives typed values (FastAPI has checked them); the planner page's form sends text, where an empty
field means "not given". Both go through ``plan_options``; anything the planner refuses raises its own
``ParamcountError`` (400, with the option's name in the message).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paramcount.analysis.planner import ACCELERATORS, OPTIMIZERS, PlanOptions
from paramcount.analysis.planner.options import ATTENTION_IMPLEMENTATIONS, KV_DTYPES
from paramcount.analysis.shapes.propagate import parse_shape
from paramcount.dtypes import FORMATS
from paramcount.errors import ArgumentError

__all__ = ["DTYPES", "PLAN_FIELDS", "input_shape", "option_fields", "plan_options", "planner_choices"]

PLAN_FIELDS = (
    "dtype",
    "optimizer",
    "mixed_precision",
    "lora_rank",
    "lora_targets",
    "quantization",
    "gradient_checkpointing",
    "attention",
    "zero",
    "tp",
    "pp",
    "gpus",
    "seq_len",
    "batch",
    "gpu",
    "kv_dtype",
)
"""``PlanOptions``'s fields, in its order: the web parameters of ``/api/memory`` and the planner page
(``sequence_parallel`` is the command line's only)."""

_INTEGERS = frozenset({"lora_rank", "zero", "tp", "pp", "gpus", "seq_len", "batch"})
_BOOLEANS = frozenset({"gradient_checkpointing"})
DTYPES = ("float32", "bfloat16", "float16", "float8_e4m3fn", "float8_e5m2", "int8")
"""The storage dtypes the planner form offers (any of ``FORMATS`` is accepted by the API)."""

Field = str | int | bool | None


def _integer(name: str, value: Field) -> int:
    if isinstance(value, bool):
        raise ArgumentError(name, f"must be an integer, got {value!r}", name)
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not text.isascii() or not text.lstrip("-").isdigit() or len(text) > 20:
        raise ArgumentError(name, f"must be an integer, got {text[:40]!r}", name)
    return int(text)


def _boolean(value: Field) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in ("1", "true", "on", "yes"))


def plan_options(fields: Mapping[str, Field]) -> PlanOptions | None:
    """The options the fields give (blank text and None mean "not given"), or None when none is given."""
    given: dict[str, Any] = {}
    for name in PLAN_FIELDS:
        value = fields.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if name in _BOOLEANS:
            if _boolean(value):
                given[name] = True
        elif name in _INTEGERS:
            given[name] = _integer(name, value)
        elif name == "lora_targets":
            text = str(value).strip()
            given[name] = text if text == "all-linear" else tuple(part.strip() for part in text.split(","))
        else:
            given[name] = str(value).strip()
    return PlanOptions(**given) if given else None


def option_fields(options: PlanOptions | None) -> dict[str, str]:
    """The web parameters that give ``options`` (those that differ from the defaults), as text."""
    if options is None:
        return {}
    return {
        name: ",".join(map(str, value)) if isinstance(value, tuple) else str(value).lower()
        for name, value in options.changed()
    }


def input_shape(text: str | None) -> tuple[int, ...] | None:
    """The input shape typed as ``1,3,224,224`` (or ``1x3x224x224``), or None when blank."""
    if text is None or not text.strip():
        return None
    return parse_shape(text.replace("x", ",").replace("×", ","))


def planner_choices() -> dict[str, tuple[tuple[str, str], ...]]:
    """(value, label) pairs for the planner form's selects."""
    return {
        "optimizer": tuple((spec.name, spec.label) for spec in OPTIMIZERS),
        "mixed_precision": (("bf16", "bf16"), ("fp16", "fp16")),
        "dtype": tuple((name, name) for name in DTYPES),
        "quantization": tuple((storage.name, storage.name) for storage in FORMATS),
        "gpu": tuple((device.name, device.name) for device in ACCELERATORS),
        "zero": (("1", "ZeRO-1"), ("2", "ZeRO-2"), ("3", "ZeRO-3 / FSDP")),
        "attention": tuple((name, name) for name in ATTENTION_IMPLEMENTATIONS if name != "sdpa"),
        "kv_dtype": tuple((name, name) for name in KV_DTYPES),
    }

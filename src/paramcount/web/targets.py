"""What an answer page answers: a query, and for memory and output-size pages the plan or the input shape.

Three kinds of slug, each built on the parameter slug of ``slugs.py``::

    parameters-conv2d-256-512-kernel-3                 How many parameters does Conv2d(256, 512, 3) have?
    memory-meta-llama-llama-3.1-8b                     How much memory does … need to run? (the defaults)
    memory-meta-llama-llama-3.1-8b-with-optimizer-adamw-mixed-precision-bf16-seq-len-2048
                                                       … need to train with AdamW (bf16 mixed precision …)?
    output-conv2d-3-64-kernel-3-input-1x3x256x256      What does Conv2d(3, 64, 3) output for a 1×3×256×256 input?

After ``-with-`` come the planner options that differ from ``PlanOptions()``, in its field order, each as its
label (the field name with ``-``) and value: a number, a name from the option's own vocabulary (optimizers,
storage formats, accelerators, lower-cased; matched longest first, so ``adamw-8bit`` and ``h100-80gb`` read
whole), or nothing for a flag (``gradient-checkpointing``). As for parameter slugs, a slug is handed out only
when decoding it gives back the same options, and decoding yields values the library validates again.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from paramcount.analysis.planner import ACCELERATORS, OPTIMIZERS, PlanOptions
from paramcount.analysis.shapes.propagate import parse_shape
from paramcount.dtypes import FORMATS
from paramcount.errors import ParamcountError
from paramcount.provenance import FromConfig, FromExpression, FromZoo
from paramcount.render.code import expression_text
from paramcount.report import Report
from paramcount.web.slugs import PARAMETERS, hub_slug, query_for, slug_for

__all__ = ["MEMORY", "OUTPUT", "Target", "memory_slug", "output_slug", "parameters_slug", "slug_of", "target_for"]

MEMORY = "memory-"
OUTPUT = "output-"
_WITH = "-with-"
_INPUT = "-input-"

_FLAGS = ("gradient_checkpointing",)
_NUMBERS = ("lora_rank", "zero", "tp", "pp", "gpus", "seq_len", "batch")
_NAMES = ("dtype", "optimizer", "mixed_precision", "quantization", "gpu")
_ENCODED = frozenset((*_FLAGS, *_NUMBERS, *_NAMES))


@dataclass(frozen=True, slots=True)
class Target:
    """One answer page's question: ``query`` for the library, with a plan or an input shape for its kind."""

    kind: str
    """``parameters``, ``memory`` or ``output``."""
    query: str
    plan: PlanOptions | None = None
    input_shape: tuple[int, ...] | None = None


@cache
def _vocabulary(option: str) -> dict[str, str]:
    """Lower-cased value → canonical name, for the options whose values are names."""
    names: tuple[str, ...] = {
        "optimizer": tuple(spec.name for spec in OPTIMIZERS),
        "mixed_precision": ("bf16", "fp16"),
        "gpu": tuple(device.name for device in ACCELERATORS),
    }.get(option, tuple(storage.name for storage in FORMATS))
    return {name.lower(): name for name in names}


def parameters_slug(report: Report, architecture: str | None = None) -> str | None:
    """The parameter-count slug of a report, or None (a container, a pasted config, another architecture)."""
    if architecture is not None:
        return None
    provenance = report.provenance
    if isinstance(provenance, FromConfig):
        return hub_slug(provenance.location) if provenance.location is not None else None
    if isinstance(provenance, FromExpression | FromZoo):
        expression = report.expression
        return slug_for(expression_text(expression), None if isinstance(expression, str) else expression)
    return None


def _option_tokens(options: PlanOptions) -> list[str] | None:
    tokens: list[str] = []
    for name, value in options.changed():
        if name not in _ENCODED:
            return None  # lora_targets other than the default: not said in a slug
        label = name.replace("_", "-")
        if name in _FLAGS:
            tokens.append(label)
        elif isinstance(value, int):
            tokens += [label, str(value)]
        else:
            tokens += [label, str(value).lower()]
    return tokens


def slug_of(report: Report, kind: str, architecture: str | None = None) -> str | None:
    """The slug of ``report`` read as a page of ``kind``, or None when it has no page."""
    base = parameters_slug(report, architecture)
    if base is None or kind == "parameters":
        return base
    if kind == "output":
        return output_slug(base, report.shapes.input_shape) if report.shapes is not None else None
    return memory_slug(base, report.plan.options) if report.plan is not None else None


def output_slug(base: str, input_shape: tuple[int, ...]) -> str | None:
    """The output-size slug for the layer of parameter slug ``base`` and an input shape."""
    if not input_shape:
        return None
    slug = f"{OUTPUT}{base.removeprefix(PARAMETERS)}{_INPUT}{'x'.join(map(str, input_shape))}"
    found = target_for(slug)
    return slug if found is not None and found.input_shape == input_shape else None


def memory_slug(base: str, options: PlanOptions) -> str | None:
    """The memory slug for the model of parameter slug ``base`` under ``options`` (None: not expressible)."""
    tokens = _option_tokens(options)
    if tokens is None:
        return None
    slug = MEMORY + base.removeprefix(PARAMETERS) + (_WITH + "-".join(tokens) if tokens else "")
    found = target_for(slug)
    if found is None or found.plan != options or found.query != query_for(base):
        return None
    return slug


def target_for(slug: str) -> Target | None:
    """The question a slug asks, or None when it is not one of ours (or names invalid options)."""
    if slug.startswith(PARAMETERS):
        query = query_for(slug)
        return None if query is None else Target("parameters", query)
    try:
        if slug.startswith(OUTPUT):
            return _output(slug.removeprefix(OUTPUT))
        if slug.startswith(MEMORY):
            return _memory(slug.removeprefix(MEMORY))
    except ParamcountError:
        return None
    return None


def _output(rest: str) -> Target | None:
    body, separator, shape = rest.rpartition(_INPUT)
    query = query_for(PARAMETERS + body) if separator else None
    if query is None or not all(size.isdigit() for size in shape.split("x")):
        return None
    return Target("output", query, input_shape=parse_shape(shape.replace("x", ",")))


def _memory(rest: str) -> Target | None:
    body, separator, options = rest.partition(_WITH)
    query = query_for(PARAMETERS + body)
    if query is None:
        return None
    fields = _read_options(options.split("-")) if separator else {}
    return None if fields is None else Target("memory", query, plan=PlanOptions(**fields))


def _read_options(tokens: list[str]) -> dict[str, Any] | None:
    labels = {name.replace("_", "-"): name for name in _ENCODED}
    fields: dict[str, Any] = {}
    index = 0
    while index < len(tokens):
        name = next((labels[label] for label in _longest(labels, tokens, index)), None)
        if name is None or name in fields:
            return None
        index += name.count("_") + 1
        if name in _FLAGS:
            fields[name] = True
        elif name in _NUMBERS:
            if index >= len(tokens) or not tokens[index].isdigit():
                return None
            fields[name] = int(tokens[index])
            index += 1
        else:
            found = next(iter(_longest(_vocabulary(name), tokens, index)), None)
            if found is None:
                return None
            fields[name] = _vocabulary(name)[found]
            index += found.count("-") + 1
    return fields


def _longest(known: dict[str, str], tokens: list[str], index: int) -> list[str]:
    """The keys of ``known`` that the tokens from ``index`` spell, longest first (at most one)."""
    for end in range(len(tokens), index, -1):
        candidate = "-".join(tokens[index:end])
        if candidate in known:
            return [candidate]
    return []

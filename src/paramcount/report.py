"""The Report: everything an answer says, as frozen plain data. Renderers read only this.

``Report.to_dict()`` is the JSON schema (versioned by ``schema_version``); the JSON renderer is
``json.dumps(report.to_dict())`` and nothing else.
"""

from __future__ import annotations

from paramcount._record import Record
from paramcount.analysis.counts import Counts, TensorRow
from paramcount.analysis.explain import Explanation
from paramcount.analysis.memory import DtypeChoice, DtypeTotal, FormatMemory, TrainingPlan
from paramcount.analysis.structure import Block, ModuleRow
from paramcount.provenance import Provenance

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from paramcount.analysis.flops import FlopsEstimate
    from paramcount.analysis.planner import Fit, KVCache, KVCapacity, MemoryPlan
    from paramcount.analysis.shape_types import ShapeReport

__all__ = ["SCHEMA_VERSION", "Appearance", "Comparison", "Report"]

SCHEMA_VERSION = 1


class Comparison(Record):
    """A neighbouring configuration and its total (a variant or a related question)."""

    label: str
    expression: str
    total: int
    delta: int
    note: str = ""


class Appearance(Record):
    """Where a layer's configuration occurs in a zoo model (``exact`` False: same weight, other bias)."""

    model: str
    path: str
    times: int
    expression: str
    total: int
    exact: bool


class Report(Record):
    """Everything one answer says about one tree, as frozen plain data: made by ``Result.report()`` (api.py)
    from the analyses' records, read by every renderer (text, Markdown, HTML, JSON) and the web.

    What was asked and where the tree came from (``query``, ``provenance``, ``kind``, ``expression``); the
    counts and their per-module formulas (``counts``, ``explanation``, ``reading``); memory (``dtypes``,
    ``stored_dtype``, ``parameter_memory``, ``by_dtype``, ``training``, and ``plan`` for the options asked);
    the whole-model structure (``modules``, ``blocks``, ``embedding_parameters``, ``active``); neighbours
    (``variants``, ``related``, ``appears_in``); shapes and compute when asked (``shapes``, ``compute``); and
    ``code`` that rebuilds the tree in PyTorch. ``to_dict()`` is the JSON form.
    """

    query: str
    provenance: Provenance
    """Where the tree came from: the door (``provenance.origin``, the JSON ``origin``) and the source's facts."""
    kind: str
    expression: str
    counts: Counts
    explanation: Explanation
    reading: str
    parameter_memory: tuple[FormatMemory, ...]
    stored_parameter_bytes: int
    stored_buffer_bytes: int
    dtypes: tuple[str, ...]
    stored_dtype: DtypeChoice
    """The dtype the parameters are stored in and why: the rule every surface uses (``choose_dtype``)."""
    training: tuple[TrainingPlan, ...]
    variants: tuple[Comparison, ...]
    related: tuple[Comparison, ...]
    modules: tuple[ModuleRow, ...]
    code: str
    embedding_parameters: int = 0
    active: int | None = None
    """Parameters used per token (mixture of experts); None for dense models."""
    blocks: tuple[Block, ...] = ()
    appears_in: tuple[Appearance, ...] = ()
    plan: MemoryPlan | None = None
    """The memory plan for the options asked (``--optimizer``, ``--gpu`` …); for configs, inference by default."""
    optimizer: str | None = None
    """The plan's optimizer as its table names it (``AdamW``); None without a plan or an optimizer."""
    shapes: ShapeReport | None = None
    """Output shapes and MACs per module for an input shape (``--input``)."""
    compute: tuple[FlopsEstimate, ...] = ()
    """Forward and training FLOPs per step for ``--seq-len``/``--batch-size`` (estimates, 2·N·D and 6·N·D)."""
    by_dtype: tuple[DtypeTotal, ...] = ()
    """Tensors, elements and bytes per dtype (for a checkpoint: its data on disk, quantised types included)."""

    @property
    def origin(self) -> str:
        """The door: ``expression``, ``zoo``, ``config``, ``module``, or a checkpoint's format (``safetensors``,
        ``gguf``, ``onnx``, ``pytorch``): ``provenance.origin``."""
        return self.provenance.origin

    def to_dict(self) -> dict[str, Any]:
        """The JSON answer: one key per fact, a helper per section below (the schema ``SCHEMA_VERSION``)."""
        counts = self.counts
        return {
            "schema_version": SCHEMA_VERSION,
            "query": self.query,
            "origin": self.provenance.origin,
            "location": self.provenance.location,
            "kind": self.kind,
            "expression": self.expression,
            "total": counts.total,
            "trainable": counts.trainable,
            "non_trainable": counts.non_trainable,
            "buffers": counts.buffers,
            "embedding_parameters": self.embedding_parameters,
            "non_embedding_parameters": counts.total - self.embedding_parameters,
            "active": self.active,
            "facts": dict(self.provenance.facts()),
            "parameters": [_tensor(row, with_trainable=True) for row in counts.parameters],
            "buffer_tensors": [_tensor(row, with_trainable=False) for row in counts.buffer_tensors],
            "tied": [_fields(t, "name", "tied_to", "count") for t in counts.tied_tensors],
            "explanation": _explanation(self.explanation, self.reading),
            "memory": _memory(self),
            "appears_in": [
                _fields(a, "model", "path", "times", "expression", "total", "exact") for a in self.appears_in
            ],
            "shapes": _shapes(self.shapes),
            "compute": [_fields(e, "label", "flops", "symbolic", "substituted", "source") for e in self.compute],
            "variants": [_comparison(c) for c in self.variants],
            "related": [_comparison(c) for c in self.related],
            "modules": [
                _fields(r, "path", "kind", "depth", "times", "own", "total", "trainable") for r in self.modules
            ],
            "blocks": [_fields(b, "path", "kind", "parameters", "times") for b in self.blocks],
            "code": self.code,
        }


def _fields(record: object, *names: str) -> dict[str, Any]:
    """``{name: record.name}`` for ``names``, in that order (the JSON's key order)."""
    return {name: getattr(record, name) for name in names}


def _explanation(explanation: Explanation, reading: str) -> dict[str, Any]:
    return {
        "modules": [
            {
                **_fields(formula, "path", "kind", "times", "symbolic", "substituted", "subtotal"),
                "terms": [
                    {
                        **_fields(term, "name", "symbolic", "substituted"),
                        "factors": list(term.factors),
                        "value": term.value,
                    }
                    for term in formula.terms
                ],
            }
            for formula in explanation.modules
        ],
        "total": explanation.total,
        "reading": reading,
    }


def _memory(report: Report) -> dict[str, Any]:
    return {
        "dtypes": list(report.dtypes),
        "stored": {
            "dtype": report.stored_dtype.dtype,
            "dtype_reason": report.stored_dtype.reason,
            "parameter_bytes": report.stored_parameter_bytes,
            "buffer_bytes": report.stored_buffer_bytes,
        },
        "by_dtype": [_fields(d, "dtype", "tensors", "count", "bytes") for d in report.by_dtype],
        "parameters": [_fields(m, "format", "bits", "bytes", "note") for m in report.parameter_memory],
        "plan": _plan(report.plan),
        "training": [_training(plan) for plan in report.training],
    }


def _training(plan: TrainingPlan) -> dict[str, Any]:
    return {
        "name": plan.name,
        "bytes": plan.bytes,
        "items": [_fields(i, "label", "count", "bits", "bytes") for i in plan.items],
        "assumptions": list(plan.assumptions),
    }


def _tensor(row: TensorRow, *, with_trainable: bool) -> dict[str, Any]:
    data = {"name": row.name, "shape": list(row.shape), "count": row.count, "dtype": row.dtype}
    if with_trainable:
        data["trainable"] = row.trainable
    return data


def _comparison(comparison: Comparison) -> dict[str, Any]:
    return _fields(comparison, "label", "expression", "total", "delta", "note")


def _items(items: Any) -> list[dict[str, Any]]:
    return [_fields(i, "label", "count", "bits", "per", "bytes", "category", "exact") for i in items]


def _activations(plan: MemoryPlan) -> dict[str, Any] | None:
    found = plan.activations
    if found is None:
        return None
    tensors = [("layer", tensor) for tensor in found.per_layer] + [("model", tensor) for tensor in found.model]
    return {
        **_fields(
            found,
            "structure",
            "attention",
            "kernel",
            "dtype",
            "layers",
            "checkpointing",
            "per_layer_bytes",
            "saved_bytes",
        ),
        "tensors": [
            {
                "scope": scope,
                **_fields(tensor, "key", "module", "what", "shape", "elements", "dtype", "bytes", "split", "saved"),
            }
            for scope, tensor in tensors
        ],
    }


def _plan(plan: MemoryPlan | None) -> dict[str, Any] | None:
    if plan is None:
        return None
    return {
        **_fields(plan, "mode", "dtype", "dtype_reason", "devices"),
        "items": _items(plan.items),
        "total_bytes": plan.total_bytes,
        "per_device": _items(plan.per_device),
        "per_device_bytes": plan.per_device_bytes,
        "exact": plan.exact,
        "assumptions": list(plan.assumptions),
        "activations": _activations(plan),
        "fit": _fit(plan.fit),
        "kv_cache": _kv_cache(plan.kv_cache),
        "kv_cache_expanded": _kv_cache(plan.kv_cache_expanded),
        "kv_capacity": _kv_capacity(plan.kv_capacity),
    }


def _fit(fit: Fit | None) -> dict[str, Any] | None:
    if fit is None:
        return None
    return {
        "accelerator": fit.accelerator.name,
        "memory_bytes": fit.accelerator.memory_bytes,
        **_fields(fit, "fits", "headroom_bytes", "devices_needed", "devices_needed_fully_sharded"),
    }


def _kv_cache(cache: KVCache | None) -> dict[str, Any] | None:
    if cache is None:
        return None
    return {
        "form": cache.form,
        "runtime": cache.runtime,
        "tensors": list(cache.tensors),
        **_fields(cache, "batch", "seq_len", "dtype", "bits", "window", "bytes"),
        "layers": [
            {"type": g.layer_type, "layers": g.layers, "tokens": g.tokens, "widths": list(g.widths), "bytes": g.bytes}
            for g in cache.groups
        ],
    }


def _kv_capacity(capacity: KVCapacity | None) -> dict[str, Any] | None:
    if capacity is None:
        return None
    return {
        **_fields(
            capacity,
            "accelerator",
            "memory_bytes",
            "other_bytes",
            "free_bytes",
            "batch",
            "max_context",
            "max_tokens",
            "seq_len",
            "max_batch",
        ),
        "not_included": list(capacity.not_included),
    }


def _shape_list(shape: tuple[int, ...] | None) -> list[int] | None:
    return None if shape is None else list(shape)


def _shapes(report: ShapeReport | None) -> dict[str, Any] | None:
    if report is None:
        return None
    return {
        "input_shape": list(report.input_shape),
        "output_shape": _shape_list(report.output_shape),
        "total_macs": report.total_macs,
        "total_flops": report.total_flops,
        "convention": report.convention,
        "complete": report.is_complete,
        "not_modelled": list(report.not_modelled),
        "modules": [
            {
                **_fields(m, "path", "kind", "times"),
                "input_shape": _shape_list(m.input_shape),
                "output_shape": _shape_list(m.output_shape),
                **_fields(m, "macs", "flops", "status", "note"),
                "steps": [_fields(s, "name", "symbolic", "substituted", "value") for s in m.steps],
            }
            for m in report.modules
        ],
    }

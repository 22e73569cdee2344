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
    from paramcount.analysis.planner import KVCache, KVCapacity, MemoryPlan
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
            "tied": [{"name": t.name, "tied_to": t.tied_to, "count": t.count} for t in counts.tied_tensors],
            "explanation": _explanation(self.explanation, self.reading),
            "memory": _memory(self),
            "appears_in": [_appearance(a) for a in self.appears_in],
            "shapes": _shapes(self.shapes),
            "compute": [_estimate(e) for e in self.compute],
            "variants": [_comparison(c) for c in self.variants],
            "related": [_comparison(c) for c in self.related],
            "modules": [_module_row(r) for r in self.modules],
            "blocks": [
                {"path": b.path, "kind": b.kind, "parameters": b.parameters, "times": b.times} for b in self.blocks
            ],
            "code": self.code,
        }


def _explanation(explanation: Explanation, reading: str) -> dict[str, Any]:
    return {
        "modules": [
            {
                "path": formula.path,
                "kind": formula.kind,
                "times": formula.times,
                "symbolic": formula.symbolic,
                "substituted": formula.substituted,
                "subtotal": formula.subtotal,
                "terms": [
                    {
                        "name": term.name,
                        "symbolic": term.symbolic,
                        "substituted": term.substituted,
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
        "by_dtype": [
            {"dtype": d.dtype, "tensors": d.tensors, "count": d.count, "bytes": d.bytes} for d in report.by_dtype
        ],
        "parameters": [
            {"format": m.format, "bits": m.bits, "bytes": m.bytes, "note": m.note} for m in report.parameter_memory
        ],
        "plan": _plan(report.plan),
        "training": [_training(plan) for plan in report.training],
    }


def _training(plan: TrainingPlan) -> dict[str, Any]:
    return {
        "name": plan.name,
        "bytes": plan.bytes,
        "items": [{"label": i.label, "count": i.count, "bits": i.bits, "bytes": i.bytes} for i in plan.items],
        "assumptions": list(plan.assumptions),
    }


def _appearance(appearance: Appearance) -> dict[str, Any]:
    return {
        "model": appearance.model,
        "path": appearance.path,
        "times": appearance.times,
        "expression": appearance.expression,
        "total": appearance.total,
        "exact": appearance.exact,
    }


def _estimate(estimate: FlopsEstimate) -> dict[str, Any]:
    return {
        "label": estimate.label,
        "flops": estimate.flops,
        "symbolic": estimate.symbolic,
        "substituted": estimate.substituted,
        "source": estimate.source,
    }


def _module_row(row: ModuleRow) -> dict[str, Any]:
    return {
        "path": row.path,
        "kind": row.kind,
        "depth": row.depth,
        "times": row.times,
        "own": row.own,
        "total": row.total,
        "trainable": row.trainable,
    }


def _tensor(row: TensorRow, *, with_trainable: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": row.name,
        "shape": list(row.shape),
        "count": row.count,
        "dtype": row.dtype,
    }
    if with_trainable:
        data["trainable"] = row.trainable
    return data


def _comparison(comparison: Comparison) -> dict[str, Any]:
    return {
        "label": comparison.label,
        "expression": comparison.expression,
        "total": comparison.total,
        "delta": comparison.delta,
        "note": comparison.note,
    }


def _items(items: Any) -> list[dict[str, Any]]:
    return [
        {
            "label": i.label,
            "count": i.count,
            "bits": i.bits,
            "per": i.per,
            "bytes": i.bytes,
            "category": i.category,
            "exact": i.exact,
        }
        for i in items
    ]


def _activations(plan: MemoryPlan) -> dict[str, Any] | None:
    found = plan.activations
    if found is None:
        return None
    tensors = [("layer", tensor) for tensor in found.per_layer] + [("model", tensor) for tensor in found.model]
    return {
        "structure": found.structure,
        "attention": found.attention,
        "kernel": found.kernel,
        "dtype": found.dtype,
        "layers": found.layers,
        "checkpointing": found.checkpointing,
        "per_layer_bytes": found.per_layer_bytes,
        "saved_bytes": found.saved_bytes,
        "tensors": [
            {
                "scope": scope,
                "key": tensor.key,
                "module": tensor.module,
                "what": tensor.what,
                "shape": tensor.shape,
                "elements": tensor.elements,
                "dtype": tensor.dtype,
                "bytes": tensor.bytes,
                "split": tensor.split,
                "saved": tensor.saved,
            }
            for scope, tensor in tensors
        ],
    }


def _plan(plan: MemoryPlan | None) -> dict[str, Any] | None:
    if plan is None:
        return None
    fit = plan.fit
    return {
        "mode": plan.mode,
        "dtype": plan.dtype,
        "dtype_reason": plan.dtype_reason,
        "devices": plan.devices,
        "items": _items(plan.items),
        "total_bytes": plan.total_bytes,
        "per_device": _items(plan.per_device),
        "per_device_bytes": plan.per_device_bytes,
        "exact": plan.exact,
        "assumptions": list(plan.assumptions),
        "activations": _activations(plan),
        "fit": None
        if fit is None
        else {
            "accelerator": fit.accelerator.name,
            "memory_bytes": fit.accelerator.memory_bytes,
            "fits": fit.fits,
            "headroom_bytes": fit.headroom_bytes,
            "devices_needed": fit.devices_needed,
            "devices_needed_fully_sharded": fit.devices_needed_fully_sharded,
        },
        "kv_cache": _kv_cache(plan.kv_cache),
        "kv_cache_expanded": _kv_cache(plan.kv_cache_expanded),
        "kv_capacity": _kv_capacity(plan.kv_capacity),
    }


def _kv_cache(cache: KVCache | None) -> dict[str, Any] | None:
    if cache is None:
        return None
    return {
        "form": cache.form,
        "runtime": cache.runtime,
        "tensors": list(cache.tensors),
        "batch": cache.batch,
        "seq_len": cache.seq_len,
        "dtype": cache.dtype,
        "bits": cache.bits,
        "window": cache.window,
        "bytes": cache.bytes,
        "layers": [
            {"type": g.layer_type, "layers": g.layers, "tokens": g.tokens, "widths": list(g.widths), "bytes": g.bytes}
            for g in cache.groups
        ],
    }


def _kv_capacity(capacity: KVCapacity | None) -> dict[str, Any] | None:
    if capacity is None:
        return None
    return {
        "accelerator": capacity.accelerator,
        "memory_bytes": capacity.memory_bytes,
        "other_bytes": capacity.other_bytes,
        "free_bytes": capacity.free_bytes,
        "batch": capacity.batch,
        "max_context": capacity.max_context,
        "max_tokens": capacity.max_tokens,
        "seq_len": capacity.seq_len,
        "max_batch": capacity.max_batch,
        "not_included": list(capacity.not_included),
    }


def _shapes(report: ShapeReport | None) -> dict[str, Any] | None:
    if report is None:
        return None
    return {
        "input_shape": list(report.input_shape),
        "output_shape": None if report.output_shape is None else list(report.output_shape),
        "total_macs": report.total_macs,
        "total_flops": report.total_flops,
        "convention": report.convention,
        "complete": report.is_complete,
        "not_modelled": list(report.not_modelled),
        "modules": [
            {
                "path": m.path,
                "kind": m.kind,
                "times": m.times,
                "input_shape": None if m.input_shape is None else list(m.input_shape),
                "output_shape": None if m.output_shape is None else list(m.output_shape),
                "macs": m.macs,
                "flops": m.flops,
                "status": m.status,
                "note": m.note,
                "steps": [
                    {"name": s.name, "symbolic": s.symbolic, "substituted": s.substituted, "value": s.value}
                    for s in m.steps
                ],
            }
            for m in report.modules
        ],
    }

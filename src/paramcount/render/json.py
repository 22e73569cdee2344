"""JSON: the Report as plain dicts, lists, ints and strings (the schema, versioned by ``schema_version``),
serialised with ``json.dumps``.

The schema lives here rather than on the Report because some of its values are text the renderers make
from the Report's data: the canonical expressions, the reading and the verification program. Every JSON
surface (``--json``, the batch, the web API and the static site's JSON twins) calls ``report_dict``.
"""

from __future__ import annotations

import json

from paramcount.provenance import FromConfig, FromFile
from paramcount.render.assumptions import assumption_data, assumption_text, dtype_reason
from paramcount.render.code import expression_text, program_text
from paramcount.render.readings import reading_text
from paramcount.report import SECTIONS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from paramcount.analysis.counts import TensorRow
    from paramcount.analysis.measured import ActivationMemory
    from paramcount.analysis.memory import Assumption
    from paramcount.analysis.planner import KVCache, KVCapacity, MemoryPlan
    from paramcount.analysis.shapes.types import ShapeReport, TrainingFlops
    from paramcount.provenance import Provenance, SectionTotal
    from paramcount.report import Comparison, Report

__all__ = ["SCHEMA_VERSION", "render_json", "report_dict"]

SCHEMA_VERSION = 1


def render_json(report: Report, *, indent: int | None = 2) -> str:
    return json.dumps(report_dict(report), indent=indent, ensure_ascii=False)


def report_dict(report: Report) -> dict[str, Any]:
    """The JSON schema of ``report``; the keys of optional parts it did not compute (``SECTIONS`` less
    ``report.sections``) are left out, so an absent key never reads as "found empty"."""
    data = _whole_dict(report)
    for name in SECTIONS:
        if name not in report.sections:
            del (data["memory"] if name == "training" else data)[name]
    return data


def _whole_dict(report: Report) -> dict[str, Any]:
    counts = report.counts
    return {
        "schema_version": SCHEMA_VERSION,
        "query": report.query,
        "origin": report.provenance.origin,
        "location": report.provenance.location,
        "kind": report.kind,
        "expression": expression_text(report.expression),
        "total": counts.total,
        "trainable": counts.trainable,
        "non_trainable": counts.non_trainable,
        "buffers": counts.buffers,
        "embedding_parameters": report.embedding_parameters,
        "non_embedding_parameters": counts.total - report.embedding_parameters,
        "active": report.active,
        "facts": dict(report.provenance.facts()),
        "checkpoint": _checkpoint(report.provenance),
        "parameters": [_tensor(row, with_trainable=True) for row in counts.parameters],
        "buffer_tensors": [_tensor(row, with_trainable=False) for row in counts.buffer_tensors],
        "tied": [{"name": t.name, "tied_to": t.tied_to, "count": t.count} for t in counts.tied_tensors],
        "explanation": {
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
                for formula in report.explanation.modules
            ],
            "total": report.explanation.total,
            "reading": reading_text(report.reading),
        },
        "memory": {
            "dtypes": list(report.dtypes),
            "stored": {
                "dtype": report.stored_dtype.dtype,
                "dtype_reason": dtype_reason(report.stored_dtype),
                "dtype_rule": report.stored_dtype.rule,
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
            "training": [
                {
                    "name": plan.name,
                    "bytes": plan.bytes,
                    "items": [
                        {"label": i.label, "count": i.count, "bits": i.bits, "bytes": i.bytes} for i in plan.items
                    ],
                    **_assumptions(plan.assumptions),
                }
                for plan in report.training
            ],
        },
        "appears_in": [
            {
                "model": a.model,
                "path": a.path,
                "times": a.times,
                "expression": a.expression,
                "total": a.total,
                "exact": a.exact,
            }
            for a in report.appears_in
        ],
        "shapes": _shapes(report.shapes),
        "compute": [
            {
                "label": e.label,
                "flops": e.flops,
                "symbolic": e.symbolic,
                "substituted": e.substituted,
                "source": e.source,
            }
            for e in report.compute
        ],
        "variants": [_comparison(c) for c in report.variants],
        "related": [_comparison(c) for c in report.related],
        "modules": [
            {
                "path": r.path,
                "kind": r.kind,
                "depth": r.depth,
                "times": r.times,
                "own": r.own,
                "total": r.total,
                "trainable": r.trainable,
            }
            for r in report.modules
        ],
        "blocks": [
            {"path": b.path, "kind": b.kind, "parameters": b.parameters, "times": b.times} for b in report.blocks
        ],
        "code": program_text(report),
        "activations": _measured_activations(report.activations),
        "raw_shapes": [{"path": r.path, "kind": r.kind, "reason": r.reason} for r in report.raw_shapes],
        "notes": list(report.notes),
    }


def _measured_activations(activations: ActivationMemory | None) -> dict[str, Any] | None:
    if activations is None:
        return None
    return {
        "saved_bytes": activations.saved_bytes,
        "saved_tensors": activations.saved_tensors,
        "output_bytes": activations.output_bytes,
        "torchinfo_bytes": activations.torchinfo_bytes,
        "input_bytes": activations.input_bytes,
        "device": activations.device,
    }


def _checkpoint(provenance: Provenance) -> dict[str, Any] | None:
    """A checkpoint's sections and differences from its config; a hub id's differences when its weights were
    compared (``sections`` empty: the hub path reads safetensors headers alone)."""
    if isinstance(provenance, FromConfig) and provenance.weights:
        sections: tuple[SectionTotal, ...] = ()
    elif isinstance(provenance, FromFile):
        sections = provenance.sections
    else:
        return None
    return {
        "sections": [
            {"section": s.section, "group": s.group, "tensors": s.tensors, "count": s.count, "bytes": s.bytes}
            for s in sections
        ],
        "config_differences": [
            {
                "name": d.name,
                "difference": d.difference,
                "config_shape": None if d.config_shape is None else list(d.config_shape),
                "weights_shape": None if d.weights_shape is None else list(d.weights_shape),
                "weights_dtype": d.weights_dtype,
            }
            for d in provenance.differences
        ],
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
        "expression": expression_text(comparison.expression),
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
    encoder = [("encoder layer", tensor) for tensor in (found.encoder.per_layer if found.encoder else ())]
    tensors = (
        [("layer", tensor) for tensor in found.per_layer] + encoder + [("model", tensor) for tensor in found.model]
    )
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
                "only": tensor.only,
            }
            for scope, tensor in tensors
        ],
    }


def _module_activations(plan: MemoryPlan) -> dict[str, Any] | None:
    found = plan.module_activations
    if found is None:
        return None
    return {
        "input_shape": list(found.input_shape),
        "dtype": found.dtype,
        "kernels": found.kernels,
        "saved_bytes": found.saved_bytes,
        "tensors": [
            {
                "key": tensor.key,
                "module": tensor.module,
                "what": tensor.what,
                "shape": tensor.shape,
                "elements": tensor.elements,
                "dtype": tensor.dtype,
                "bytes": tensor.bytes,
            }
            for tensor in found.tensors
        ],
    }


def _plan(plan: MemoryPlan | None) -> dict[str, Any] | None:
    if plan is None:
        return None
    fit = plan.fit
    return {
        "mode": plan.mode,
        "dtype": plan.dtype,
        "dtype_reason": dtype_reason(plan.dtype_choice),
        "dtype_rule": plan.dtype_choice.rule,
        "devices": plan.devices,
        "items": _items(plan.items),
        "total_bytes": plan.total_bytes,
        "per_device": _items(plan.per_device),
        "per_device_bytes": plan.per_device_bytes,
        "exact": plan.exact,
        **_assumptions(plan.assumptions),
        "activations": _activations(plan),
        "module_activations": _module_activations(plan),
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


def _assumptions(assumptions: tuple[Assumption, ...]) -> dict[str, Any]:
    """Each assumption's sentence (``assumptions``) and, in the same order, its kind and values."""
    return {
        "assumptions": [assumption_text(a) for a in assumptions],
        "assumptions_data": [assumption_data(a) for a in assumptions],
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
        "states": [
            {
                "mixer": state.mixer,
                "layers": state.layers,
                "conv_shape": list(state.conv_shape),
                "conv_dtype": state.conv_dtype,
                "conv_bytes": state.conv_bytes,
                "recurrent": state.recurrent_name,
                "recurrent_shape": list(state.recurrent_shape),
                "recurrent_dtype": state.recurrent_dtype,
                "recurrent_bytes": state.recurrent_bytes,
                "bytes": state.bytes,
            }
            for state in cache.states
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
        "bounded_by": list(capacity.bounded_by),
    }


def _shapes(report: ShapeReport | None) -> dict[str, Any] | None:
    if report is None:
        return None
    return {
        "input_shape": list(report.input_shape),
        "output_shape": None if report.output_shape is None else list(report.output_shape),
        "total_macs": report.total_macs,
        "total_flops": report.total_flops,
        "tokens": report.tokens,
        "total_backward_macs": report.total_backward_macs,
        "checkpointed_macs": report.checkpointed_macs,
        "masked_macs": report.masked_macs,
        "training_flops": None if report.training is None else _training_flops(report.training),
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
                "backward_macs": m.backward_macs,
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


def _training_flops(training: TrainingFlops) -> dict[str, Any]:
    return {
        "forward": training.forward,
        "backward": training.backward,
        "total": training.total,
        "recompute": training.recompute,
        "total_checkpointed": training.total_checkpointed,
        "forward_per_token": training.forward_per_token,
        "total_per_token": training.total_per_token,
    }

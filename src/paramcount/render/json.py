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
    from paramcount.analysis.planner import KVCache, KVCapacity, MemoryPlan, StateTensor
    from paramcount.analysis.shapes.types import ShapeReport, TrainingFlops
    from paramcount.provenance import Provenance, SectionTotal
    from paramcount.report import Comparison, Report

__all__ = ["SCHEMA_VERSION", "render_json", "report_dict"]

SCHEMA_VERSION = 1
_SAVED_TENSOR = "key module what shape elements dtype bytes"


def render_json(report: Report, *, indent: int | None = 2) -> str:
    return json.dumps(report_dict(report), indent=indent, ensure_ascii=False)


def report_dict(report: Report) -> dict[str, Any]:
    """The JSON schema of ``report``; the keys of optional parts it did not compute (``SECTIONS`` less
    ``report.sections``) are left out, so an absent key never reads as "found empty"."""
    data = _whole_dict(report)
    for name in SECTIONS:
        if name not in report.sections:
            for key in _SECTION_KEYS.get(name, (name,)):
                del (data["memory"] if name == "training" else data)[key]
    return data


_SECTION_KEYS = {"modules": ("modules", "blocks")}
"""The keys of a section not named as it is (``training`` is ``memory.training``)."""


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
        "explanation": _explanation(report),
        "memory": {
            "dtypes": list(report.dtypes),
            "stored": {
                "dtype": report.stored_dtype.dtype,
                "dtype_reason": dtype_reason(report.stored_dtype),
                "dtype_rule": report.stored_dtype.rule,
                "quantization": report.stored_dtype.quantization,
                "parameter_bytes": report.stored_parameter_bytes,
                "buffer_bytes": report.stored_buffer_bytes,
            },
            "by_dtype": [_pick(d, "dtype tensors count bytes") for d in report.by_dtype],
            "parameters": [_pick(m, "format bits bytes note") for m in report.parameter_memory],
            "plan": _plan(report.plan),
            "training": [
                {
                    "name": plan.name,
                    "bytes": plan.bytes,
                    "items": [_pick(i, "label count bits bytes") for i in plan.items],
                    **_assumptions(plan.assumptions),
                }
                for plan in report.training
            ],
        },
        "appears_in": [_pick(a, "model path times expression total exact") for a in report.appears_in],
        "shapes": _shapes(report.shapes),
        "compute": [_pick(e, "label flops symbolic substituted source") for e in report.compute],
        "variants": [_comparison(c) for c in report.variants],
        "related": [_comparison(c) for c in report.related],
        "modules": [_pick(r, "path kind depth times own total trainable") for r in report.modules],
        "blocks": [_pick(b, "path kind parameters times") for b in report.blocks],
        "code": program_text(report),
        "activations": _measured_activations(report.activations),
        "raw_shapes": [_pick(r, "path kind reason") for r in report.raw_shapes],
        "notes": [*report.notes, *([assumption_text(report.compute_basis)] if report.compute_basis else [])],
    }


def _explanation(report: Report) -> dict[str, Any] | None:
    """The formula per module and the reading; None when the report has not computed them."""
    explanation, reading = report.explanation, report.reading
    if explanation is None or reading is None:
        return None
    return {
        "modules": [
            {
                **_pick(formula, "path kind times symbolic substituted subtotal"),
                "terms": [
                    {**_pick(term, "name symbolic substituted"), "factors": list(term.factors), "value": term.value}
                    for term in formula.terms
                ],
            }
            for formula in explanation.modules
        ],
        "total": explanation.total,
        "reading": reading_text(reading),
    }


def _measured_activations(activations: ActivationMemory | None) -> dict[str, Any] | None:
    if activations is None:
        return None
    return _pick(activations, "saved_bytes saved_tensors output_bytes torchinfo_bytes input_bytes device")


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
        "sections": [_pick(s, "section group tensors count bytes") for s in sections],
        "config_differences": [
            {
                **_pick(d, "name difference"),
                "config_shape": _list_or_none(d.config_shape),
                "weights_shape": _list_or_none(d.weights_shape),
                "weights_dtype": d.weights_dtype,
            }
            for d in provenance.differences
        ],
    }


def _tensor(row: TensorRow, *, with_trainable: bool) -> dict[str, Any]:
    data: dict[str, Any] = {"name": row.name, "shape": list(row.shape), **_pick(row, "count dtype")}
    if with_trainable:
        data["trainable"] = row.trainable
    return data


def _comparison(comparison: Comparison) -> dict[str, Any]:
    return {
        "label": comparison.label,
        "expression": expression_text(comparison.expression),
        **_pick(comparison, "total delta note"),
    }


def _pick(record: Any, names: str) -> dict[str, Any]:
    """``record``'s fields named in ``names`` (space-separated), each under its own name: the schema keys
    that are a field's name and value unchanged."""
    return {name: getattr(record, name) for name in names.split()}


def _list_or_none(shape: tuple[int, ...] | None) -> list[int] | None:
    return None if shape is None else list(shape)


def _items(items: Any) -> list[dict[str, Any]]:
    return [_pick(i, "label count bits per bytes category exact") for i in items]


def _activations(plan: MemoryPlan) -> dict[str, Any] | None:
    found = plan.activations
    if found is None:
        return None
    encoder = [("encoder layer", tensor) for tensor in (found.encoder.per_layer if found.encoder else ())]
    tensors = (
        [("layer", tensor) for tensor in found.per_layer] + encoder + [("model", tensor) for tensor in found.model]
    )
    return {
        **_pick(found, "structure attention kernel dtype layers checkpointing per_layer_bytes saved_bytes"),
        "tensors": [
            {"scope": scope, **_pick(tensor, _SAVED_TENSOR + " split saved only")} for scope, tensor in tensors
        ],
    }


def _module_activations(plan: MemoryPlan) -> dict[str, Any] | None:
    found = plan.module_activations
    if found is None:
        return None
    return {
        "input_shape": list(found.input_shape),
        **_pick(found, "dtype kernels saved_bytes"),
        "tensors": [_pick(tensor, _SAVED_TENSOR) for tensor in found.tensors],
    }


def _plan(plan: MemoryPlan | None) -> dict[str, Any] | None:
    if plan is None:
        return None
    fit = plan.fit
    return {
        **_pick(plan, "mode dtype"),
        "dtype_reason": dtype_reason(plan.dtype_choice),
        "dtype_rule": plan.dtype_choice.rule,
        "quantization": plan.dtype_choice.quantization,
        "devices": plan.devices,
        "items": _items(plan.items),
        "total_bytes": plan.total_bytes,
        "per_device": _items(plan.per_device),
        **_pick(plan, "per_device_bytes exact"),
        **_assumptions(plan.assumptions),
        "activations": _activations(plan),
        "module_activations": _module_activations(plan),
        "fit": None
        if fit is None
        else {
            "accelerator": fit.accelerator.name,
            "memory_bytes": fit.accelerator.memory_bytes,
            **_pick(fit, "fits headroom_bytes devices_needed devices_needed_fully_sharded"),
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
        **_pick(cache, "form runtime"),
        "tensors": list(cache.tensors),
        **_pick(cache, "batch seq_len dtype bits window bytes"),
        "layers": [
            {"type": g.layer_type, "layers": g.layers, "tokens": g.tokens, "widths": list(g.widths), "bytes": g.bytes}
            for g in cache.groups
        ],
        "states": [
            {
                **_pick(state, "mixer layers"),
                **_state_tensor("conv", state.conv),
                "recurrent": state.recurrent.name,
                **_state_tensor("recurrent", state.recurrent),
                "bytes": state.bytes,
            }
            for state in cache.states
        ],
    }


def _state_tensor(key: str, state: StateTensor) -> dict[str, Any]:
    """A state-space layer's state under the schema's ``conv_*`` or ``recurrent_*`` keys."""
    return {f"{key}_shape": list(state.shape), f"{key}_dtype": state.dtype, f"{key}_bytes": state.bytes}


def _kv_capacity(capacity: KVCapacity | None) -> dict[str, Any] | None:
    if capacity is None:
        return None
    return {
        **_pick(
            capacity, "accelerator memory_bytes other_bytes free_bytes batch max_context max_tokens seq_len max_batch"
        ),
        "not_included": list(capacity.not_included),
        "bounded_by": list(capacity.bounded_by),
        "position_limit": capacity.position_limit,
        "configured_context": capacity.configured_context,
    }


def _shapes(report: ShapeReport | None) -> dict[str, Any] | None:
    if report is None:
        return None
    return {
        "input_shape": list(report.input_shape),
        "output_shape": _list_or_none(report.output_shape),
        **_pick(report, "total_macs total_flops tokens total_backward_macs checkpointed_macs masked_macs"),
        "training_flops": None if report.training is None else _training_flops(report.training),
        "convention": report.convention,
        "complete": report.is_complete,
        "not_modelled": list(report.not_modelled),
        "modules": [
            {
                **_pick(m, "path kind times"),
                "input_shape": _list_or_none(m.input_shape),
                "output_shape": _list_or_none(m.output_shape),
                **_pick(m, "macs backward_macs flops status note"),
                "steps": [_pick(s, "name symbolic substituted value") for s in m.steps],
            }
            for m in report.modules
        ],
    }


def _training_flops(training: TrainingFlops) -> dict[str, Any]:
    return _pick(training, "forward backward total recompute total_checkpointed forward_per_token total_per_token")

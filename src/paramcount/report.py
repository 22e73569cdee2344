"""The Report: everything an answer says, as frozen plain data. Renderers read only this.

``Report.to_dict()`` is the JSON schema (versioned by ``schema_version``); the JSON renderer is
``json.dumps(report.to_dict())`` and nothing else.
"""

from __future__ import annotations

from paramcount._record import Record
from paramcount.analysis.counts import Counts, TensorRow
from paramcount.analysis.explain import Explanation
from paramcount.analysis.memory import DtypeChoice, FormatMemory, TrainingPlan
from paramcount.analysis.models import Block, ModuleRow, RawModule

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from paramcount.analysis.flops import FlopsEstimate
    from paramcount.analysis.measured import ActivationMemory
    from paramcount.analysis.planner import MemoryPlan
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
    query: str
    origin: str
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
    facts: tuple[tuple[str, str], ...] = ()
    appears_in: tuple[Appearance, ...] = ()
    plan: MemoryPlan | None = None
    """The memory plan for the options asked (``--optimizer``, ``--gpu`` …); for configs, inference by default."""
    shapes: ShapeReport | None = None
    """Output shapes and MACs per module for an input shape (``--input``)."""
    compute: tuple[FlopsEstimate, ...] = ()
    """Forward and training FLOPs per step for ``--seq-len``/``--batch-size`` (estimates, 2·N·D and 6·N·D)."""
    """What the door knew (``model_type``, ``architecture``, ``torch_dtype``, ``zoo``)."""
    activations: ActivationMemory | None = None
    """Measured by ``summary()`` given an input: what one training step keeps for the backward pass."""
    raw_shapes: tuple[RawModule, ...] = ()
    """Modules whose tensors keep raw shapes (a live module's class the catalog could not build), and why."""
    notes: tuple[str, ...] = ()
    """What the reader must know about how the answer was obtained (a forward that ran on the CPU …)."""
    depth: int = 3
    """How deep the module tables go when the Report displays itself (``summary(depth=…)``)."""

    def __str__(self) -> str:
        """The answer as plain text (``print(paramcount.summary(model))``)."""
        from paramcount.render.text import render_plain

        return render_plain(self, depth=self.depth)

    def __rich__(self) -> object:
        """The answer in colour when rich prints it (``rich.print(report)``)."""
        from paramcount.render.text import rich_text

        return rich_text(self, depth=self.depth)

    def _repr_html_(self) -> str:
        """The answer in a Jupyter notebook, as the web answer page shows it."""
        from paramcount.render.html import notebook_html

        return notebook_html(self, depth=self.depth)

    def to_dict(self) -> dict[str, Any]:
        counts = self.counts
        return {
            "schema_version": SCHEMA_VERSION,
            "query": self.query,
            "origin": self.origin,
            "kind": self.kind,
            "expression": self.expression,
            "total": counts.total,
            "trainable": counts.trainable,
            "non_trainable": counts.non_trainable,
            "buffers": counts.buffers,
            "embedding_parameters": self.embedding_parameters,
            "non_embedding_parameters": counts.total - self.embedding_parameters,
            "active": self.active,
            "facts": dict(self.facts),
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
                    for formula in self.explanation.modules
                ],
                "total": self.explanation.total,
                "reading": self.reading,
            },
            "memory": {
                "dtypes": list(self.dtypes),
                "stored": {
                    "dtype": self.stored_dtype.dtype,
                    "dtype_reason": self.stored_dtype.reason,
                    "parameter_bytes": self.stored_parameter_bytes,
                    "buffer_bytes": self.stored_buffer_bytes,
                },
                "parameters": [
                    {"format": m.format, "bits": m.bits, "bytes": m.bytes, "note": m.note}
                    for m in self.parameter_memory
                ],
                "plan": _plan(self.plan),
                "training": [
                    {
                        "name": plan.name,
                        "bytes": plan.bytes,
                        "items": [
                            {"label": i.label, "count": i.count, "bits": i.bits, "bytes": i.bytes} for i in plan.items
                        ],
                        "assumptions": list(plan.assumptions),
                    }
                    for plan in self.training
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
                for a in self.appears_in
            ],
            "shapes": _shapes(self.shapes),
            "compute": [
                {
                    "label": e.label,
                    "flops": e.flops,
                    "symbolic": e.symbolic,
                    "substituted": e.substituted,
                    "source": e.source,
                }
                for e in self.compute
            ],
            "variants": [_comparison(c) for c in self.variants],
            "related": [_comparison(c) for c in self.related],
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
                for r in self.modules
            ],
            "blocks": [
                {"path": b.path, "kind": b.kind, "parameters": b.parameters, "times": b.times} for b in self.blocks
            ],
            "code": self.code,
            "activations": _activations(self.activations),
            "raw_shapes": [{"path": r.path, "kind": r.kind, "reason": r.reason} for r in self.raw_shapes],
            "notes": list(self.notes),
        }


def _activations(activations: ActivationMemory | None) -> dict[str, Any] | None:
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

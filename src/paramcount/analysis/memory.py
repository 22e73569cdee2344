"""Memory of the parameters per storage format, and training memory itemised per optimizer.

Exact bytes (ints). Training figures count weights, gradients and optimizer states only — activations
depend on the input and are not included; each plan states its assumptions.
"""

from __future__ import annotations

from dataclasses import dataclass

from paramcount.analysis.counts import Counts
from paramcount.dtypes import BITS, bytes_for

__all__ = ["FormatMemory", "MemoryItem", "TrainingPlan", "parameter_memory", "stored_bytes", "training_plans"]

PARAMETER_FORMATS: tuple[tuple[str, int], ...] = (
    ("float32", 32),
    ("float16 / bfloat16", 16),
    ("float8 / int8", 8),
    ("int4", 4),
)


@dataclass(frozen=True, slots=True)
class FormatMemory:
    format: str
    bits: int
    bytes: int
    note: str = ""


@dataclass(frozen=True, slots=True)
class MemoryItem:
    label: str
    count: int
    bits: int
    bytes: int


@dataclass(frozen=True, slots=True)
class TrainingPlan:
    name: str
    items: tuple[MemoryItem, ...]
    assumptions: tuple[str, ...]

    @property
    def bytes(self) -> int:
        return sum(item.bytes for item in self.items)


def parameter_memory(counts: Counts) -> tuple[FormatMemory, ...]:
    """The parameters (not buffers) stored in each common format."""
    return tuple(
        FormatMemory(
            name,
            bits,
            bytes_for(counts.total, bits),
            "plus per-group scales in real 4-bit formats" if bits == 4 else "",
        )
        for name, bits in PARAMETER_FORMATS
    )


def stored_bytes(counts: Counts) -> tuple[int, int]:
    """``(parameter bytes, buffer bytes)`` at each tensor's own dtype (float32 unless set otherwise)."""
    parameters = sum(bytes_for(row.count, BITS[row.dtype]) for row in counts.parameters)
    buffers = sum(bytes_for(row.count, BITS[row.dtype]) for row in counts.buffer_tensors)
    return parameters, buffers


def _item(label: str, count: int, bits: int) -> MemoryItem:
    return MemoryItem(label, count, bits, bytes_for(count, bits))


def training_plans(counts: Counts) -> tuple[TrainingPlan, ...]:
    """Adam/AdamW, SGD with momentum and plain SGD in float32, and Adam in mixed precision.

    Gradients and optimizer states exist only for trainable parameters; frozen parameters are held as
    weights only. Buffers are held at their own dtype.
    """
    trainable, frozen = counts.trainable, counts.non_trainable
    # torch's Adam keeps a float32 scalar `step` per parameter tensor (torch/optim/adam.py, 2.13).
    steps = _item("step counters (float32 scalar per tensor)", sum(1 for row in counts.parameters if row.trainable), 32)
    buffer_item = [MemoryItem("buffers", counts.buffers, 0, stored_bytes(counts)[1])] if counts.buffers else []
    frozen_note = (f"{frozen:,} frozen parameters are held as weights only",) if frozen else ()
    fp32_weights = _item("weights (float32)", counts.total, 32)
    common = ("activations, temporary buffers and framework overhead are not included", *frozen_note)
    return (
        TrainingPlan(
            "Adam / AdamW, float32",
            (
                fp32_weights,
                _item("gradients (float32)", trainable, 32),
                _item("first moment exp_avg (float32)", trainable, 32),
                _item("second moment exp_avg_sq (float32)", trainable, 32),
                steps,
                *buffer_item,
            ),
            (
                "16 bytes per trainable parameter, plus 4 bytes per trainable tensor for the step count",
                *common,
            ),
        ),
        TrainingPlan(
            "SGD with momentum, float32",
            (
                fp32_weights,
                _item("gradients (float32)", trainable, 32),
                _item("momentum_buffer (float32)", trainable, 32),
                *buffer_item,
            ),
            ("12 bytes per trainable parameter", *common),
        ),
        TrainingPlan(
            "SGD, float32",
            (fp32_weights, _item("gradients (float32)", trainable, 32), *buffer_item),
            ("8 bytes per trainable parameter", *common),
        ),
        TrainingPlan(
            "Adam / AdamW, mixed precision (bf16/fp16 weights, fp32 master copy)",
            (
                _item("weights (16-bit)", counts.total, 16),
                _item("gradients (16-bit)", trainable, 16),
                _item("master weights (float32)", trainable, 32),
                _item("first moment (float32)", trainable, 32),
                _item("second moment (float32)", trainable, 32),
                steps,
                *buffer_item,
            ),
            ("16 bytes per trainable parameter: 2 + 2 + 4 + 4 + 4, plus the step counts", *common),
        ),
    )

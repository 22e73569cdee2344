"""Memory of the parameters per storage format, and training memory itemised per optimizer.

Exact bytes (ints). ``parameter_memory`` and ``training_plans`` are the short answers the single-layer report
shows (weights, gradients and optimizer states for four common regimes). The full planner — every storage
format, every optimizer, mixed precision, LoRA/QLoRA, activations, KV cache, ZeRO/tensor/pipeline
parallelism and the accelerator fit — is ``paramcount.analysis.planner`` (``plan_memory(tree, counts,
PlanOptions(...))``), imported only when asked for; the plain data of both (``MemoryItem``, ``MemoryBreakdown``)
lives here.
"""

from __future__ import annotations

from paramcount._record import Record
from paramcount.analysis.counts import Counts
from paramcount.dtypes import bytes_for, tensor_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal, TypeAlias

__all__ = [
    "Category",
    "DtypeTotal",
    "FormatMemory",
    "MemoryBreakdown",
    "MemoryItem",
    "TrainingPlan",
    "dtype_totals",
    "parameter_memory",
    "stored_bytes",
]

if TYPE_CHECKING:
    Category: TypeAlias = Literal["", "weights", "gradients", "optimizer", "buffers", "activations", "kv_cache"]
"""What an item is, which decides how parallelism splits it (ZeRO shards optimizer states at stage 1,
gradients at 2, weights at 3; activations and the KV cache follow the batch and the model split)."""


class MemoryItem(Record):
    """One line of a breakdown: ``count`` elements at ``bits`` per ``per`` elements, ``bytes`` exact.

    ``bits``/``per`` is the rate in lowest terms (Q4_0: 9 bits per 2 weights = 4.5 bits per weight), 0 when the
    line has no single rate (activations, mixed dtypes); ``bytes`` is always the exact figure, rounded up once
    per stored array, never recomputed from the rate."""

    label: str
    count: int
    bits: int
    bytes: int
    per: int = 1
    category: Category = ""
    exact: bool = True
    """False for estimates (activations, whole-model averages of mixed GGUF types, even parallel splits)."""


class MemoryBreakdown(Record):
    """Items and the assumptions behind them (STYLE 2.3)."""

    items: tuple[MemoryItem, ...]
    assumptions: tuple[str, ...] = ()

    @property
    def bytes(self) -> int:
        return sum(item.bytes for item in self.items)

    @property
    def exact(self) -> bool:
        return all(item.exact for item in self.items)


PARAMETER_FORMATS: tuple[tuple[str, int], ...] = (
    ("float32", 32),
    ("float16 / bfloat16", 16),
    ("float8 / int8", 8),
    ("int4", 4),
)


class FormatMemory(Record):
    format: str
    bits: int
    bytes: int
    note: str = ""


class TrainingPlan(Record):
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
    """``(parameter bytes, buffer bytes)`` at each tensor's own dtype (float32 unless set otherwise; a
    quantised ggml type by its block layout)."""
    parameters = sum(tensor_bytes(row.dtype, row.count) for row in counts.parameters)
    buffers = sum(tensor_bytes(row.dtype, row.count) for row in counts.buffer_tensors)
    return parameters, buffers


class DtypeTotal(Record):
    """The tensors stored in one dtype (parameters and buffers, tied copies once): for a checkpoint, the bytes
    its data takes on disk."""

    dtype: str
    tensors: int
    count: int
    bytes: int


def dtype_totals(counts: Counts) -> tuple[DtypeTotal, ...]:
    """Tensors, elements and bytes per dtype, the largest share of bytes first."""
    found: dict[str, list[int]] = {}
    for row in counts.parameters + counts.buffer_tensors:
        total = found.setdefault(row.dtype, [0, 0, 0])
        total[0] += 1
        total[1] += row.count
        total[2] += tensor_bytes(row.dtype, row.count)
    rows = [DtypeTotal(dtype, tensors, count, size) for dtype, (tensors, count, size) in found.items()]
    return tuple(sorted(rows, key=lambda row: (-row.bytes, row.dtype)))

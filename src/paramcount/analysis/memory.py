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
from paramcount.dtypes import BITS, bytes_for, storage_format, tensor_bytes
from paramcount.tree import DTYPES_STATED, STORED_DATA, Module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Final, Literal, TypeAlias

__all__ = [
    "Assumption",
    "Category",
    "DtypeChoice",
    "DtypeTotal",
    "FormatMemory",
    "MemoryBreakdown",
    "MemoryItem",
    "TrainingPlan",
    "choose_dtype",
    "dtype_totals",
    "parameter_memory",
    "stored_bytes",
]

if TYPE_CHECKING:
    Category: TypeAlias = Literal["", "weights", "gradients", "optimizer", "buffers", "activations", "kv_cache"]
    Split: TypeAlias = Literal["zero", "tp", "pp"]
"""What an item is, which decides how parallelism splits it (ZeRO shards optimizer states at stage 1,
gradients at 2, weights at 3; activations and the KV cache follow the batch and the model split)."""


class Assumption(Record):
    """One assumption behind a memory figure, as data: what it says (``kind``) and the numbers and names it
    needs (``values``); ``paramcount.render.assumptions`` writes the sentence. A value is a number, a flag, a
    name, a tuple of names or numbers, or assumptions (a kind that lists others)."""

    kind: str
    values: tuple[tuple[str, object], ...] = ()

    @classmethod
    def of(cls, kind: str, **values: object) -> Assumption:
        return cls(kind, tuple(values.items()))


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
    tensors: tuple[tuple[tuple[int, ...], int], ...] = ()
    """The shape and copies of each tensor behind the line, every element at ``bits``: ZeRO's per-device line is
    then the largest shard FSDP2 gives a device, ⌈rows / devices⌉ rows of each; empty: an even split, an
    estimate."""
    tensor_bits: tuple[int, ...] = ()
    """A line without a single rate (tensors in several dtypes, ``bits`` 0): each tensor's bits, in ``tensors``'
    order, so that ZeRO shards each in its own dtype; empty: every tensor at ``bits``."""
    kept_whole: tuple[Split, ...] = ()
    """The splits that leave the line whole on every device. An optimizer's 0-d ``step`` per parameter tensor:
    ``zero`` and ``tp`` (FSDP2 gives every device a shard of every parameter, a tensor-parallel device its slice
    of each, and torch.optim keeps a ``step`` for each); pipeline stages hold their layers' tensors only."""


class MemoryBreakdown(Record):
    """Items and the assumptions behind them (STYLE 2.3)."""

    items: tuple[MemoryItem, ...]
    assumptions: tuple[Assumption, ...] = ()

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
    assumptions: tuple[Assumption, ...]

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


if TYPE_CHECKING:
    DtypeRule: TypeAlias = Literal[
        "given",
        "tensors",
        "tensors-most",
        "quantised",
        "config",
        "config-quantised",
        "checkpoint-quantised",
        "torch-default",
    ]
"""Which branch of ``choose_dtype`` chose the dtype; ``paramcount.render.assumptions.dtype_why`` says it."""


class DtypeChoice(Record):
    """The dtype the parameters are stored in, and which rule chose it (``rule``; rendered, "bfloat16: the
    dtype the config stores")."""

    dtype: str
    rule: DtypeRule
    source: Literal["argument", "tensors", "config", "default"]
    quantization: str | None = None
    """The format the config's ``quantization_config`` stores the weights in (``fp8-block128``, ``mxfp4``), where
    it applies; ``dtype`` is then the dtype of the other tensors."""

    @property
    def casts(self) -> bool:
        """The tensors are cast to ``dtype`` (``module.to(dtype)``): it was given or the config stores it."""
        return self.source in ("argument", "config")


def choose_dtype(
    root: Module, weights: Mapping[str, int], requested: str | None = None, *, quantised: bool = True
) -> DtypeChoice:
    """The one default-dtype rule of every answer (text, JSON, web, memory plans).

    ``requested`` (a canonical dtype name) if given; else float16 when weights are stored quantised (a GGUF
    file: llama.cpp keeps its KV cache in f16 by default); else the tensors' own dtype, the most common by
    parameters, when they state one: float32 counts only where the door read every tensor's dtype
    (``DTYPES_STATED``: a checkpoint, a live module), elsewhere it is the tree's default, not a statement; else,
    when a config's ``quantization_config`` names a format (``quantised``: unless the caller plans training,
    which keeps the dtype), that format with the other tensors in the config's dtype or, if it states none, the
    dtype the format's checkpoints keep them in; else the dtype a config stores (``torch_dtype`` or ``dtype``);
    else float32, torch's default. ``weights``: parameters per tensor dtype (or quantised storage type)."""
    if requested is not None:
        return DtypeChoice(requested, "given", "argument")
    floating = {name: count for name, count in weights.items() if name in BITS}  # not a GGUF's Q4_K
    if len(floating) < len(weights):  # whatever its float tensors (an F16 output.weight is not "most")
        return DtypeChoice("float16", "quantised", "default")
    attributes = dict(root.attributes)
    every = attributes.get(DTYPES_STATED) is True
    stated = {name: count for name, count in floating.items() if every or name != "float32"}
    if stated:
        dominant = max(stated, key=lambda name: stated[name])
        return DtypeChoice(dominant, "tensors-most" if len(floating) > 1 else "tensors", "tensors")
    configured = attributes.get("torch_dtype")
    found = storage_format(configured) if isinstance(configured, str) else None
    dtype = found.name if found is not None and found.role == "dtype" else None
    layout = attributes.get("quantization") if quantised else None
    stored = storage_format(layout) if isinstance(layout, str) else None
    if stored is not None and dtype is not None:
        return DtypeChoice(dtype, "config-quantised", "config", stored.name)
    if stored is not None and stored.checkpoint_dtype:
        return DtypeChoice(stored.checkpoint_dtype, "checkpoint-quantised", "config", stored.name)
    if dtype is not None:
        return DtypeChoice(dtype, "config", "config")
    return DtypeChoice("float32", "torch-default", "default")


FLOATING: Final = frozenset({"float64", "float32", "float16", "bfloat16"})


def stored_bits(tensor_dtype: str, dtype: str, cast: bool) -> int:
    """Bits per element of a tensor of ``tensor_dtype`` once the model is in ``dtype``: ``module.to(dtype)``
    (``cast``) converts floating tensors and leaves integer ones (``num_batches_tracked``) as they are."""
    if cast and tensor_dtype in FLOATING:
        found = storage_format(dtype)
        return found.value_bits if found is not None else BITS[dtype]
    return BITS[tensor_dtype]


def _stored(row_dtype: str, count: int, dtype: str, cast: bool) -> int:
    """Bytes of one tensor as stored: a quantised ggml type by its block layout, else ``stored_bits``."""
    if row_dtype not in BITS:
        return tensor_bytes(row_dtype, count)
    return bytes_for(count, stored_bits(row_dtype, dtype, cast))


def stored_bytes(counts: Counts, choice: DtypeChoice | None = None) -> tuple[int, int]:
    """``(parameter bytes, buffer bytes)`` as stored: at each tensor's own dtype (float32 unless set
    otherwise; a quantised ggml type by its block layout), floating ones cast to ``choice.dtype`` when it was
    given or the config stores it."""
    dtype, cast = (choice.dtype, choice.casts) if choice is not None else ("float32", False)
    parameters = sum(_stored(row.dtype, row.count, dtype, cast) for row in counts.parameters)
    buffers = sum(_stored(row.dtype, row.count, dtype, cast) for row in counts.buffer_tensors)
    return parameters, buffers


class DtypeTotal(Record):
    """The tensors stored in one dtype (parameters and buffers, tied copies once): for a checkpoint, the bytes
    its data takes on disk."""

    dtype: str
    tensors: int
    count: int
    bytes: int


def dtype_totals(counts: Counts, root: Module | None = None) -> tuple[DtypeTotal, ...]:
    """Tensors, elements and bytes per dtype, the largest share of bytes first; elements and bytes as a
    checkpoint holds them when ``root`` (the tree of ``counts``) says that is not each tensor once
    (``STORED_DATA``: a view saved beside its base adds no bytes)."""
    found: dict[str, list[int]] = {}
    for row in counts.parameters + counts.buffer_tensors:
        total = found.setdefault(row.dtype, [0, 0, 0])
        total[0] += 1
        total[1] += row.count
        total[2] += tensor_bytes(row.dtype, row.count)
    for dtype, count, size in _stored_data(root):
        if dtype in found:
            found[dtype][1:] = [count, size]
    rows = [DtypeTotal(dtype, tensors, count, size) for dtype, (tensors, count, size) in found.items()]
    return tuple(sorted(rows, key=lambda row: (-row.bytes, row.dtype)))


def _stored_data(root: Module | None) -> list[tuple[str, int, int]]:
    """The root's ``STORED_DATA`` entries, ``(dtype, elements, bytes)``; none when it has none."""
    stored = dict(root.attributes).get(STORED_DATA) if root is not None else None
    found = []
    for item in stored if isinstance(stored, tuple) else ():
        match item:
            case (str() as dtype, int() as count, int() as size):
                found.append((dtype, count, size))
    return found

"""The parameters as the planner sees them, and the weight-side lines of a plan.

``parameter_uses`` walks the collapsed tree once (a block repeated 126 times is one entry with ``times=126``)
and records, for each parameter tensor, what the formats and LoRA need: its shape, whether it belongs to a
Linear layer and in which layout, whether it sits inside a repeated stack of blocks, and whether it is the
output head. From these: the dtype the plan uses and why (``resolve_dtype``), the weights stored in a
quantised format (``quantized_weights``) and the LoRA adapters (``lora_adapters``).
"""

from __future__ import annotations

from paramcount._record import Record
from paramcount.analysis.planner.items import MemoryItem
from paramcount.dtypes import BITS, StorageFormat, normalized_name, storage_format, tensor_bytes
from paramcount.errors import ArgumentError, did_you_mean
from paramcount.tree import Module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Final, Literal

__all__ = [
    "LINEAR_KINDS",
    "DtypeChoice",
    "ParamUse",
    "lora_adapters",
    "parameter_uses",
    "quantized_weights",
    "resolve_dtype",
    "stored_weights",
]

LINEAR_KINDS: Final[dict[str, Literal["out_in", "in_out"]]] = {
    "Linear": "out_in",
    "NonDynamicallyQuantizableLinear": "out_in",
    "FalconLinear": "out_in",
    "Conv1D": "in_out",
}
"""Module kinds that are linear layers, and how their weight is laid out: torch's Linear stores
(out_features, in_features); transformers' GPT-2 ``Conv1D`` stores (in, out)."""


class ParamUse(Record):
    """One parameter tensor of the collapsed tree, standing for ``times`` identical copies."""

    path: str
    module_path: str
    module_name: str
    module_kind: str
    name: str
    sizes: tuple[int, ...]
    times: int
    trainable: bool
    dtype: str
    in_stack: bool
    """Inside a numbered child of a container (a block of ``layers.0-31``)."""
    is_head: bool = False
    """The output head: a Linear outside the stacks whose outputs are the rows of an embedding table."""

    @property
    def count(self) -> int:
        total = 1
        for size in self.sizes:
            total *= size
        return total

    @property
    def is_linear_weight(self) -> bool:
        return self.module_kind in LINEAR_KINDS and self.name == "weight" and len(self.sizes) == 2

    @property
    def matrix(self) -> tuple[int, int]:
        """``(rows, columns)`` = (outputs, inputs) for linear weights; (first dim, the rest) otherwise."""
        if not self.sizes:
            return 1, 1
        if self.is_linear_weight and LINEAR_KINDS[self.module_kind] == "in_out":
            return self.sizes[1], self.sizes[0]
        return self.sizes[0], self.count // self.sizes[0] if self.sizes[0] else 0


def _walk(root: Module) -> Iterable[tuple[str, str, Module, int, bool]]:
    """``(path, local name, module, times, in_stack)`` for every module of the collapsed tree."""
    stack: list[tuple[str, str, Module, int, bool]] = [("", root.name, root, 1, False)]
    while stack:
        path, name, module, times, in_stack = stack.pop()
        yield path, name, module, times, in_stack
        members = []
        for child in module.children:
            label = child.name if child.repeat == 1 else f"{child.name}-{int(child.name) + child.repeat - 1}"
            child_path = f"{path}.{label}" if path else label
            numbered = child.name.isdigit()
            members.append((child_path, child.name, child, times * child.repeat, in_stack or numbered))
        stack.extend(reversed(members))


def _linear_shape(module: Module) -> tuple[int, int] | None:
    """``(outputs, inputs)`` of a linear module's weight, tied or not."""
    weight = next((param for param in module.params if param.name == "weight"), None)
    if module.kind not in LINEAR_KINDS or weight is None or len(weight.sizes) != 2:
        return None
    rows, columns = weight.sizes
    return (columns, rows) if LINEAR_KINDS[module.kind] == "in_out" else (rows, columns)


def output_heads(root: Module) -> dict[str, tuple[int, int]]:
    """Output heads by module path → (outputs, inputs): Linear layers outside the stacks of blocks whose weight
    is tied to another tensor or has the shape of a lookup table (a 2-d parameter of a non-linear module,
    such as an embedding, outside the stacks): the vocabulary projection of a language model."""
    tables: set[tuple[int, int]] = set()
    linear: dict[str, tuple[tuple[int, int], bool]] = {}
    for path, _, module, _, in_stack in _walk(root):
        if in_stack:
            continue
        shape = _linear_shape(module)
        if shape is not None:
            weight = next(param for param in module.params if param.name == "weight")
            linear[path] = (shape, weight.tied_to is not None)
        else:
            tables.update((param.sizes[0], param.sizes[1]) for param in module.params if len(param.sizes) == 2)
    return {path: shape for path, (shape, tied) in linear.items() if tied or shape in tables}


def parameter_uses(root: Module) -> tuple[ParamUse, ...]:
    """Every parameter tensor once (tied copies skipped), in ``named_parameters()`` order, repeats as ``times``."""
    found: list[ParamUse] = []
    heads = output_heads(root)
    for path, name, module, times, in_stack in _walk(root):
        for param in module.params:
            if param.tied_to is not None:
                continue
            found.append(
                ParamUse(
                    f"{path}.{param.name}" if path else param.name,
                    path,
                    name,
                    module.kind,
                    param.name,
                    param.sizes,
                    times,
                    param.trainable,
                    param.dtype,
                    in_stack,
                    is_head=path in heads,
                )
            )
    return tuple(found)


class DtypeChoice(Record):
    """The dtype a plan stores weights in, and why (a short reason, as data)."""

    dtype: str
    reason: str
    source: Literal["argument", "tensors", "config", "default"]


def resolve_dtype(root: Module, uses: tuple[ParamUse, ...], requested: str | None) -> DtypeChoice:
    """``requested`` (already canonical) if given; else the tensors' own dtype when they state one other than
    float32 (the tree's default, indistinguishable from "not stated"); else float16 when weights are stored
    quantised (a GGUF file: llama.cpp keeps its KV cache in f16 by default); else the config's ``torch_dtype``;
    else float32."""
    if requested is not None:
        return DtypeChoice(requested, f"{requested}: given as dtype", "argument")
    weights: dict[str, int] = {}
    for use in uses:
        if use.dtype in BITS:  # a quantised storage type (a GGUF's Q4_K) is no dtype to compute in
            weights[use.dtype] = weights.get(use.dtype, 0) + use.count * use.times
    stated = {name: count for name, count in weights.items() if name != "float32"}
    if stated:
        dominant = max(stated, key=lambda name: stated[name])
        mixed = " (the dtype of most parameters)" if len(weights) > 1 else ""
        return DtypeChoice(dominant, f"{dominant}: the tensors' own dtype{mixed}", "tensors")
    if any(use.dtype not in BITS for use in uses):
        reason = "float16: llama.cpp's default for its KV cache (the weights are quantised)"
        return DtypeChoice("float16", reason, "default")
    configured = dict(root.attributes).get("torch_dtype")
    if isinstance(configured, str):
        found = storage_format(configured)
        if found is not None and found.role == "dtype":
            return DtypeChoice(found.name, f"{found.name}: the config's torch_dtype", "config")
    return DtypeChoice("float32", "float32: the default (no dtype given, stored or configured)", "default")


def stored_weights(uses: tuple[ParamUse, ...]) -> MemoryItem | None:
    """The weights in the types they are stored in, when some are quantised (a GGUF file's ``Q4_K`` …): the
    file's real bytes per tensor (each type's block layout), not a nominal format's average; None otherwise."""
    if all(use.dtype in BITS for use in uses):
        return None
    dtypes = sorted({use.dtype for use in uses})
    return MemoryItem(
        f"weights as stored ({', '.join(dtypes)})",
        sum(use.count * use.times for use in uses),
        0,
        sum(use.times * tensor_bytes(use.dtype, use.count) for use in uses),
        category="weights",
    )


def dtype_bits(dtype: str) -> int:
    found = storage_format(dtype)
    return found.value_bits if found is not None else BITS[dtype]


def quantizes(fmt: StorageFormat, use: ParamUse) -> bool:
    """Whether a deployed ``fmt`` stores ``use`` quantised (``StorageFormat.applies_to``)."""
    if fmt.applies_to == "all":
        return True
    if fmt.applies_to == "matrices":
        return len(use.sizes) >= 2
    if not use.is_linear_weight or use.is_head:
        return False
    return fmt.applies_to == "linear" or use.in_stack


def quantized_weights(uses: tuple[ParamUse, ...], fmt: StorageFormat, dtype: str) -> tuple[MemoryItem, ...]:
    """The weights with ``fmt`` applied where it applies; the rest at ``dtype`` (1-d tensors of GGUF formats
    at float32, as llama.cpp stores them)."""
    quantized = [use for use in uses if quantizes(fmt, use)]
    rest = [use for use in uses if not quantizes(fmt, use)]
    rate = fmt.bits_per_weight
    items = [
        MemoryItem(
            f"weights in {fmt.name} ({fmt.note.split(';')[0]})",
            sum(use.count * use.times for use in quantized),
            rate.numerator,
            sum(use.times * fmt.tensor_bytes(use.count, *use.matrix) for use in quantized),
            rate.denominator,
            "weights",
            fmt.exact,
        )
    ]
    rest_dtype = "float32" if fmt.applies_to == "matrices" else dtype
    if rest:
        count = sum(use.count * use.times for use in rest)
        bits = dtype_bits(rest_dtype)
        items.append(
            MemoryItem(f"other weights ({rest_dtype})", count, bits, -(-count * bits // 8), category="weights")
        )
    return tuple(items)


class Adapter(Record):
    """One LoRA-adapted Linear (standing for ``times`` copies): A is (r × in), B is (out × r)."""

    module_path: str
    inputs: int
    outputs: int
    times: int


def lora_targets(uses: tuple[ParamUse, ...], targets: tuple[str, ...]) -> tuple[Adapter, ...]:
    """The Linear layers PEFT would adapt: a module matches a target when its dotted path equals it or ends
    with ``.target`` (peft ``check_target_module_exists``); ``all-linear`` is every Linear but the output head."""
    linear = [use for use in uses if use.is_linear_weight]
    every = normalized_name(targets[0]) == "alllinear" and len(targets) == 1
    chosen = []
    for use in linear:
        if every:
            matched = not use.is_head
        else:
            matched = any(use.module_path == target or use.module_path.endswith(f".{target}") for target in targets)
        if matched:
            rows, columns = use.matrix
            chosen.append(Adapter(use.module_path, columns, rows, use.times))
    if not every:
        _check_targets(linear, targets)
    return tuple(chosen)


def _check_targets(linear: list[ParamUse], targets: tuple[str, ...]) -> None:
    import difflib

    names = sorted({use.module_name for use in linear})
    for target in targets:
        if not any(use.module_path == target or use.module_path.endswith(f".{target}") for use in linear):
            close = difflib.get_close_matches(target, names, n=3)
            listing = f"; Linear layers here: {', '.join(names[:12])}" if names and not close else ""
            raise ArgumentError(
                "lora_targets", f"{target!r:.40} matches no Linear layer{did_you_mean(close)}{listing}", "lora_targets"
            )


LORA_ADAPTER_DTYPE: Final = "float32"
"""peft casts 16-bit adapter weights to float32 by default (``autocast_adapter_dtype=True``)."""


def lora_adapters(adapters: tuple[Adapter, ...], rank: int) -> MemoryItem:
    """The adapter weights: r·(in + out) per adapted Linear, in float32."""
    count = sum(adapter.times * rank * (adapter.inputs + adapter.outputs) for adapter in adapters)
    return MemoryItem(
        f"LoRA adapters A (r × in) and B (out × r), r={rank}, {sum(a.times for a in adapters):,} Linear layers "
        f"({LORA_ADAPTER_DTYPE})",
        count,
        32,
        4 * count,
        category="weights",
    )

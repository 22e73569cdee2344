"""The parameters as the planner sees them, and the weight-side lines of a plan.

``parameter_uses`` walks the collapsed tree once (a block repeated 126 times is one entry with ``times=126``)
and records, for each parameter tensor, what the formats and LoRA need: its shape, whether it belongs to a
Linear layer and in which layout, whether it sits inside a repeated stack of blocks, and whether it is the
output head. From these: the dtype the plan uses and why (``resolve_dtype``), the weights stored in a
quantised format (``quantized_weights``) and the LoRA adapters (``lora_adapters``).
"""

from __future__ import annotations

from paramcount._cache import per_tree
from paramcount._record import Record, replace
from paramcount.analysis.memory import DtypeChoice, MemoryItem, choose_dtype
from paramcount.dtypes import BITS, StorageFormat, normalized_name, storage_format, tensor_bytes
from paramcount.errors import ArgumentError, did_you_mean
from paramcount.tree import EXPERTS_TRANSPOSED, Module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Final, Literal

__all__ = [
    "LINEAR_KINDS",
    "PEFT_DEFAULT_TARGETS",
    "DtypeChoice",
    "LoraTargets",
    "ParamUse",
    "default_lora_targets",
    "lora_adapters",
    "parameter_uses",
    "quantized_weights",
    "resolve_dtype",
    "stored_weights",
    "unquantised_experts",
]

LINEAR_KINDS: Final[dict[str, Literal["out_in", "in_out"]]] = {
    "Linear": "out_in",
    "NonDynamicallyQuantizableLinear": "out_in",
    "FalconLinear": "out_in",
    "Conv1D": "in_out",
}
"""Module kinds that are linear layers, and how their weight is laid out: torch's Linear stores
(out_features, in_features); transformers' GPT-2 ``Conv1D`` stores (in, out)."""

EXPERTS_IN_OUT: Final = frozenset({"GptOssExperts", "Llama4TextExperts"})
"""Fused experts whose 3-d weights transformers 5.24 stores (experts, in, out); the others (``MixtralExperts``,
``Qwen3MoeExperts``, ``DeepseekV3Experts`` …) store (experts, out, in), each expert's slice a Linear weight."""


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
    experts: int = 0
    """For a 3-d weight of fused experts (transformers 5's ``gate_up_proj``, ``down_proj``): how many experts it
    stacks, each slice one expert's Linear weight; 0 for any other tensor."""
    experts_in_out: bool = False
    """Fused experts stored (experts, in, out) (``EXPERTS_IN_OUT``, or marked ``EXPERTS_TRANSPOSED``)."""

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
        if self.experts:  # one expert's slice
            _, first, second = self.sizes
            return (second, first) if self.experts_in_out else (first, second)
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


@per_tree
def parameter_uses(root: Module) -> tuple[ParamUse, ...]:
    """Every parameter tensor once (tied copies skipped), in ``named_parameters()`` order, repeats as ``times``."""
    found: list[ParamUse] = []
    heads = output_heads(root)
    for path, name, module, times, in_stack in _walk(root):
        attributes = dict(module.attributes)
        stacked = attributes.get("num_experts")
        stacked = stacked if isinstance(stacked, int) else 0
        in_out = module.kind in EXPERTS_IN_OUT or attributes.get(EXPERTS_TRANSPOSED) is True
        for param in module.params:
            if param.tied_to is not None:
                continue
            fused = len(param.sizes) == 3 and param.sizes[0] == stacked
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
                    experts=stacked if fused else 0,
                    experts_in_out=fused and in_out,
                )
            )
    return tuple(found)


def resolve_dtype(
    root: Module, uses: tuple[ParamUse, ...], requested: str | None, *, quantised: bool = True
) -> DtypeChoice:
    """The plan's dtype by the rule of every answer (``paramcount.analysis.memory.choose_dtype``)."""
    weights: dict[str, int] = {}
    for use in uses:
        weights[use.dtype] = weights.get(use.dtype, 0) + use.count * use.times
    return choose_dtype(root, weights, requested, quantised=quantised)


def stored_weights(uses: tuple[ParamUse, ...], *, mixed: bool = False) -> MemoryItem | None:
    """The weights in the types they are stored in, when some are quantised (a GGUF file's ``Q4_K`` …): the
    file's real bytes per tensor (each type's block layout), not a nominal format's average; with ``mixed`` (the
    tensors keep their own dtypes, none was given), also when they are stored in several dtypes (float16
    weights beside an int64 shape), each tensor's shape and bits then kept for ZeRO's shards; None otherwise."""
    dtypes = sorted({use.dtype for use in uses})
    typed = all(dtype in BITS for dtype in dtypes)
    if typed and not (mixed and len(dtypes) > 1):
        return None
    return MemoryItem(
        f"weights as stored ({', '.join(dtypes)})",
        sum(use.count * use.times for use in uses),
        0,
        sum(use.times * tensor_bytes(use.dtype, use.count) for use in uses),
        category="weights",
        tensors=tuple((use.sizes, use.times) for use in uses) if typed else (),
        tensor_bits=tuple(BITS[use.dtype] for use in uses) if typed else (),
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
    if fmt.applies_to == "gpt_oss_experts":  # transformers' replace_with_mxfp4_linear swaps GptOssMLP's experts
        return use.experts > 0 and use.module_kind == "GptOssExperts"
    if use.experts:  # GPTQ, AWQ and FP8 quantise each expert as a Linear; bitsandbytes replaces nn.Linear only
        return fmt.family != "bitsandbytes"
    if not use.is_linear_weight or use.is_head:
        return False
    if fmt.family == "transformers":  # replace_with_fp8_linear swaps modules whose type is nn.Linear exactly
        return use.module_kind == "Linear"
    return fmt.applies_to == "linear" or use.in_stack


def _per_expert(use: ParamUse) -> ParamUse:
    """A fused experts' weight as the Linear weights (out × in) that quantised checkpoints store, each quantised
    on its own: one per expert, two for ``gate_up_proj`` (the gate and up projections, Mixtral's ``w1`` and
    ``w3``), so per-input and per-tensor overheads count as often as there are Linear layers."""
    if not use.experts:
        return use
    rows, columns = use.matrix
    halves = 2 if use.name == "gate_up_proj" else 1
    return replace(use, sizes=(rows // halves, columns), times=use.times * use.experts * halves, experts=0)


def unquantised_experts(uses: tuple[ParamUse, ...], fmt: StorageFormat) -> int:
    """Parameters of fused experts that ``fmt`` leaves in the model's dtype (bitsandbytes: they are not
    ``nn.Linear`` layers), for the plan's note."""
    return sum(use.count * use.times for use in uses if use.experts and not quantizes(fmt, use))


def quantized_weights(uses: tuple[ParamUse, ...], fmt: StorageFormat, dtype: str) -> tuple[MemoryItem, ...]:
    """The weights with ``fmt`` applied where it applies; the rest at ``dtype`` (1-d tensors of GGUF formats
    at float32, as llama.cpp stores them). The values and their per-block scales are one line, at the
    format's bits per weight; each overhead that depends on the shape (LLM.int8's per-row scales, GPTQ's
    per-column ``g_idx``, a per-tensor FP8 scale) is a line of its own."""
    quantized = [_per_expert(use) for use in uses if quantizes(fmt, use)]
    rest = [use for use in uses if not quantizes(fmt, use)]
    rate = fmt.bits_per_weight
    shaped = fmt.shaped_overheads
    shaped_bytes = [
        sum(use.times * fmt.overhead_bytes(overhead, use.count, *use.matrix) for use in quantized)
        for overhead in shaped
    ]
    items = [
        MemoryItem(
            f"weights in {fmt.name} ({fmt.note.split(';')[0]})",
            sum(use.count * use.times for use in quantized),
            rate.numerator,
            sum(use.times * fmt.tensor_bytes(use.count, *use.matrix) for use in quantized) - sum(shaped_bytes),
            rate.denominator,
            "weights",
            fmt.exact,
        )
    ]
    for overhead, bytes_ in zip(shaped, shaped_bytes, strict=True):
        entries = sum(use.times * fmt.entries(overhead, use.count, *use.matrix) for use in quantized)
        label = f"{fmt.name} {overhead.label}, one per {UNIT_NAMES[overhead.unit]} of each quantised weight"
        items.append(MemoryItem(label, entries, overhead.bits, bytes_, category="weights"))
    rest_dtype = "float32" if fmt.applies_to == "matrices" else dtype
    if rest:
        count = sum(use.count * use.times for use in rest)
        bits = dtype_bits(rest_dtype)
        items.append(
            MemoryItem(f"other weights ({rest_dtype})", count, bits, -(-count * bits // 8), category="weights")
        )
    return tuple(items)


UNIT_NAMES: Final = {"row": "output row", "column": "input feature", "tensor": "tensor"}


class Adapter(Record):
    """One LoRA-adapted Linear (standing for ``times`` copies): A is (r × in), B is (out × r)."""

    module_path: str
    inputs: int
    outputs: int
    times: int


PEFT_DEFAULT_TARGETS: Final[dict[str, tuple[str, ...]]] = {
    "t5": ("q", "v"),
    "mt5": ("q", "v"),
    "bart": ("q_proj", "v_proj"),
    "gpt2": ("c_attn",),
    "bloom": ("query_key_value",),
    "blip-2": ("q", "v", "q_proj", "v_proj"),
    "opt": ("q_proj", "v_proj"),
    "gptj": ("q_proj", "v_proj"),
    "gpt_neox": ("query_key_value",),
    "gpt_neo": ("q_proj", "v_proj"),
    "bert": ("query", "value"),
    "roberta": ("query", "value"),
    "xlm-roberta": ("query", "value"),
    "electra": ("query", "value"),
    "deberta-v2": ("query_proj", "value_proj"),
    "deberta": ("in_proj",),
    "layoutlm": ("query", "value"),
    "llama": ("q_proj", "v_proj"),
    "llama4": ("q_proj", "v_proj"),
    "chatglm": ("query_key_value",),
    "gpt_bigcode": ("c_attn",),
    "mpt": ("Wqkv",),
    "RefinedWebModel": ("query_key_value",),
    "RefinedWeb": ("query_key_value",),
    "falcon": ("query_key_value",),
    "btlm": ("c_proj", "c_attn"),
    "codegen": ("qkv_proj",),
    "mistral": ("q_proj", "v_proj"),
    "mixtral": ("q_proj", "v_proj"),
    "stablelm": ("q_proj", "v_proj"),
    "phi": ("q_proj", "v_proj", "fc1", "fc2"),
    "gemma": ("q_proj", "v_proj"),
    "gemma2": ("q_proj", "v_proj"),
    "gemma3_text": ("q_proj", "v_proj"),
    "qwen2": ("q_proj", "v_proj"),
    "qwen3": ("q_proj", "v_proj"),
    "nemotron_h": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "rwkv": ("key", "value", "receptance", "output"),
    "rwkv7": ("r_proj", "k_proj", "v_proj", "o_proj", "key", "value"),
}
"""What ``LoraConfig(target_modules=None)`` adapts, by ``model_type``: peft 0.21.2
``TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING`` (peft/utils/constants.py), checked against it in the
tests. Its ``gemma4`` entry, a regular expression over the language model's q_proj and v_proj, is left out:
gemma4 plans use all-linear, as every model type peft has no entry for does."""

ALL_LINEAR: Final = "all-linear"


class LoraTargets(Record):
    """The target names a LoRA plan uses and why (``rule``: given, peft's default for ``model_type``, or
    all-linear where peft has none)."""

    names: tuple[str, ...]
    rule: Literal["given", "peft-default", "all-linear"]
    given: bool = False
    """Named by the user (each name must then match a Linear layer) rather than a default."""
    model_type: str | None = None


def default_lora_targets(root: Module) -> LoraTargets:
    """peft's default targets for ``root``'s model type, else all-linear (where peft would ask for them)."""
    model_type = dict(root.attributes).get("model_type")
    if isinstance(model_type, str) and model_type in PEFT_DEFAULT_TARGETS:
        return LoraTargets(PEFT_DEFAULT_TARGETS[model_type], "peft-default", model_type=model_type)
    return LoraTargets((ALL_LINEAR,), "all-linear")


def lora_targets(uses: tuple[ParamUse, ...], targets: tuple[str, ...], *, check: bool = True) -> tuple[Adapter, ...]:
    """The Linear layers PEFT would adapt: a module matches a target when its dotted path equals it or ends
    with ``.target`` (peft ``check_target_module_exists``); ``all-linear`` is every Linear but the output head.
    ``check``: a target that matches nothing is an error (a typo in a given name); peft's defaults name
    modules a model may lack (phi's fc1), so they are not checked one by one."""
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
    if not linear:
        raise ArgumentError(
            "lora_rank",
            "LoRA adapts Linear layers and this model has none (LoRA for convolutions is not modelled)",
            "lora_rank",
        )
    if not every and check:
        _check_targets(linear, targets)
    if not chosen:
        raise ArgumentError(
            "lora_targets", f"{', '.join(targets)!r:.60} match no Linear layer of this model", "lora_targets"
        )
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
        tensors=tuple(
            (sizes, adapter.times)
            for adapter in adapters
            for sizes in ((rank, adapter.inputs), (adapter.outputs, rank))
        ),
    )

"""``plan_memory``: the whole memory picture of a tree under ``PlanOptions``, itemised, per device, and
checked against an accelerator.

A plan is built in layers that each add items: the weights (in the plan's dtype, 16-bit under mixed
precision, or a quantised format), the buffers, and for training the gradients, float32 master weights
(mixed precision), the optimizer's states for every trainable tensor (LoRA adapters only, under LoRA) and
the activations; for inference the KV cache. ``items`` is one model replica on one device; ``per_device``
applies the parallelism: ZeRO stage 1/2/3 shards states/gradients/weights over the data-parallel devices,
tensor and pipeline parallelism split the model, activations and the KV cache follow the micro-batch.
"""

from __future__ import annotations

import math
from functools import cache

from paramcount._cache import per_frozen, per_tree
from paramcount._record import Record, replace
from paramcount.analysis.counts import Counts, count_tree
from paramcount.analysis.memory import Assumption, MemoryBreakdown, MemoryItem, TrainingPlan, stored_bits
from paramcount.analysis.planner.optimizers import SHARED_8BIT_MAP_BYTES, OptimizerSpec, state_entries
from paramcount.analysis.planner.options import (
    MAX_DEVICES,
    MIXED_PRECISION,
    PlanOptions,
    find_accelerator,
    find_format,
    find_optimizer,
)
from paramcount.analysis.planner.weights import (
    LORA_ADAPTER_DTYPE,
    Adapter,
    DtypeChoice,
    LoraTargets,
    ParamUse,
    default_lora_targets,
    dtype_bits,
    lora_adapters,
    lora_targets,
    parameter_uses,
    quantized_weights,
    resolve_dtype,
    stored_weights,
    unquantised_experts,
)
from paramcount.dtypes import BITS, StorageFormat, bytes_for, tensor_bytes
from paramcount.errors import ArgumentError
from paramcount.tree import NO_KV_CACHE, Module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final, Literal

    from paramcount.analysis.memory import Split
    from paramcount.analysis.planner.accelerators import Accelerator
    from paramcount.analysis.planner.activations import ActivationPlan
    from paramcount.analysis.planner.kv import KVCache, KVCapacity, StateGroup
    from paramcount.analysis.planner.module_activations import ModuleActivations
    from paramcount.analysis.planner.transformer import TransformerDims
    from paramcount.analysis.shapes.types import ShapeReport  # annotations only: not on the start-up path

__all__ = ["Fit", "MemoryPlan", "fit_on", "plan_memory"]

SHARDED_FROM_STAGE: Final = {"optimizer": 1, "gradients": 2, "weights": 3}
"""ZeRO (Rajbhandari et al. 2020, §5): stage 1 partitions optimizer states (with the float32 master
weights), stage 2 also gradients, stage 3 also the 16-bit parameters; FSDP full sharding is stage 3."""

TORCH_TRANSFORMERS: Final = frozenset(
    {"Transformer", "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer", "TransformerDecoderLayer"}
)
"""torch.nn's transformer modules (torch/nn/modules/transformer.py, torch 2.13): no argument of their forward takes
past keys and values, so each call recomputes them all and nothing is cached. A tree's module of these kinds is
torch's own (the live door names another class of the same name by its module)."""

MODEL_SPLIT: Final = frozenset({"weights", "gradients", "optimizer"})
"""Categories tensor and pipeline parallelism divide (evenly: an estimate)."""

FACTORS: Final = frozenset({"row_var", "col_var"})
"""Adafactor's factored second moment, which ZeRO leaves whole on every device (``REPLICATED``)."""
REPLICATED: Final[tuple[Split, ...]] = ("zero",)
"""On FSDP2's sharded parameters (DTensors), torch.optim.Adafactor's ``p.grad.new_zeros(row_shape)`` makes a tensor
of another shape than the parameter's, which DTensor replicates (torch 2.13, measured in the tests); bitsandbytes'
``torch.zeros((blocks,))`` of an 8-bit state's absmax is a plain tensor of the whole parameter's blocks
(``DTensor.numel()`` is the global one) on every device."""
PER_PROCESS: Final[tuple[Split, ...]] = ("zero", "tp", "pp")
"""bitsandbytes' quantisation maps: each process's optimizer builds its own (``Optimizer8bit.fill_qmap``)."""

PER_TENSOR: Final[tuple[Split, ...]] = ("zero", "tp")
"""The splits that keep an optimizer's 0-d state per parameter tensor (``step``) whole on every device: each
data-parallel device holds a shard of every parameter (FSDP2) and each tensor-parallel device its slice of each,
and torch.optim keeps one per tensor it is given; a pipeline stage holds its layers' only."""


class Fit(Record):
    """The plan's per-device bytes against one accelerator's memory."""

    accelerator: Accelerator
    per_device_bytes: int
    fits: bool
    headroom_bytes: int
    """Memory left on each device (negative: how much is missing)."""
    devices_needed: int | None
    """Fewest devices with the plan's tp, pp and ZeRO stage (more data-parallel devices shard more only under
    ZeRO); None when no number of devices makes it fit."""
    devices_needed_fully_sharded: int | None
    """The same under ZeRO-3 / FSDP (weights, gradients and states sharded)."""


class MemoryPlan(Record):
    """The memory of a tree under ``options``: ``items`` for one replica on one device, ``per_device`` for
    each of ``devices`` devices, every assumption written out, and the fit when ``options.gpu`` is set."""

    mode: Literal["inference", "training"]
    items: tuple[MemoryItem, ...]
    per_device: tuple[MemoryItem, ...]
    assumptions: tuple[Assumption, ...]
    dtype_choice: DtypeChoice
    """The plan's dtype and the rule that chose it."""
    devices: int
    options: PlanOptions
    dims: TransformerDims | None = None
    fit: Fit | None = None
    kv_cache: KVCache | None = None
    """The KV cache of ``items`` (one replica), per layer type, as transformers keeps it (inference)."""
    kv_cache_expanded: KVCache | None = None
    """Latent attention only: the same cache expanded per head, as transformers 4.x and DeepSeek's code keep it."""
    kv_capacity: KVCapacity | None = None
    """Inference on a ``gpu``: the longest context and the most sequences whose cache fits (an estimate)."""
    activations: ActivationPlan | None = None
    """The saved tensors per operation behind the activation lines (training of a modelled layer layout)."""
    module_activations: ModuleActivations | None = None
    """The saved tensors per operation and storage behind the activation lines (training on an input shape)."""

    @property
    def dtype(self) -> str:
        return self.dtype_choice.dtype

    @property
    def total_bytes(self) -> int:
        return sum(item.bytes for item in self.items)

    @property
    def per_device_bytes(self) -> int:
        return sum(item.bytes for item in self.per_device)

    @property
    def exact(self) -> bool:
        return all(item.exact for item in self.items)


class _Training(Record):
    """What the weight layer hands the training layers: the trainable tensors and the bits of their parts."""

    trainable: tuple[ParamUse, ...]
    gradient_dtype: str
    state_dtype: str
    master_weights: bool
    """Float32 master copy of the trainable weights (mixed precision)."""
    own_dtypes: tuple[str, ...] = ()
    """The trainable tensors' dtypes, when gradients and full states are each in its parameter's own dtype (a
    checkpoint in several dtypes, trained as loaded); empty: ``gradient_dtype`` and ``state_dtype``."""


def _item(
    label: str, uses: tuple[ParamUse, ...], bits: int, category: Literal["weights", "gradients", "optimizer"]
) -> MemoryItem:
    """``uses`` each at ``bits``, with their shapes for ZeRO's shards."""
    count = _total(uses)
    return MemoryItem(label, count, bits, -(-count * bits // 8), 1, category, tensors=_shapes(uses))


@per_frozen
def _shapes(uses: tuple[ParamUse, ...]) -> tuple[tuple[tuple[int, ...], int], ...]:
    return tuple((use.sizes, use.times) for use in uses)


@per_frozen
def _total(uses: tuple[ParamUse, ...]) -> int:
    """Elements of ``uses``, once per tuple: a tree's uses and trainable tensors are one tuple per tree."""
    return sum(use.count * use.times for use in uses)


@per_tree
def _trainable(tree: Module) -> tuple[ParamUse, ...]:
    """The tensors training updates (frozen ones left out), once per tree."""
    return tuple(use for use in parameter_uses(tree) if use.trainable)


def _is_language_model(tree: Module) -> bool:
    """A stack of attention blocks with a vocabulary head: the models llama.cpp's per-tensor rules name."""
    from paramcount.analysis.planner.transformer import transformer_dimensions  # only for such notes

    dims = transformer_dimensions(tree)
    return dims is not None and dims.vocab is not None


def _format_notes(fmt: StorageFormat, tree: Module, uses: tuple[ParamUse, ...], dtype: str) -> list[Assumption]:
    """The format's note, with what it does to a language model's tensors only when ``tree`` is one, and the
    fused experts it leaves unquantised, if any."""
    language_model_note = fmt.language_model_note if fmt.language_model_note and _is_language_model(tree) else ""
    notes = [
        Assumption.of(
            "format", name=fmt.name, note=fmt.note, language_model_note=language_model_note, source=fmt.source
        )
    ]
    left = unquantised_experts(uses, fmt)
    if left:
        kind = "format-experts" if fmt.family == "bitsandbytes" else "format-experts-gpt-oss"
        notes.append(Assumption.of(kind, name=fmt.name, parameters=left, dtype=dtype))
    return notes


def _weights(
    tree: Module,
    uses: tuple[ParamUse, ...],
    options: PlanOptions,
    dtype: str,
    layout: str | None = None,
    *,
    own_dtypes: bool = False,
) -> tuple[list[MemoryItem], list[Assumption]]:
    """The weight lines: in ``options.quantization``, else in the format the config stores them in (``layout``,
    ``DtypeChoice.quantization``), else as a checkpoint's quantised tensors are (or, with ``own_dtypes``, its
    tensors in several dtypes, as the parameters' "Stored in" line counts them), else in one dtype."""
    name = options.quantization or layout
    if name is not None:
        fmt = find_format("quantization", name)
        return list(quantized_weights(uses, fmt, dtype)), _format_notes(fmt, tree, uses, dtype)
    given = options.dtype is not None or options.mixed_precision is not None
    stored = None if given else stored_weights(uses, mixed=own_dtypes)
    if stored is not None:
        quantised = any(use.dtype not in BITS for use in uses)
        return [stored], [Assumption.of("checkpoint-weights" if quantised else "checkpoint-dtypes")]
    weight_dtype = MIXED_PRECISION[options.mixed_precision] if options.mixed_precision else dtype
    bits = dtype_bits(weight_dtype)
    return [_item(f"weights ({weight_dtype})", uses, bits, "weights")], []


def _lora_targets(tree: Module, options: PlanOptions) -> LoraTargets:
    if isinstance(options.lora_targets, tuple):
        return LoraTargets(options.lora_targets, "given", given=True)
    return default_lora_targets(tree)


def _adapted(adapters: tuple[Adapter, ...]) -> tuple[tuple[str, int], ...]:
    """The adapted Linear layers by name and copies (``q_proj`` 32, ``v_proj`` 32), in the order they come."""
    found: dict[str, int] = {}
    for adapter in adapters:
        name = adapter.module_path.rsplit(".", 1)[-1]
        found[name] = found.get(name, 0) + adapter.times
    return tuple(found.items())


def _adapter_uses(
    uses: tuple[ParamUse, ...], options: PlanOptions, targets: LoraTargets
) -> tuple[list[MemoryItem], tuple[ParamUse, ...], tuple[Adapter, ...]]:
    rank = options.lora_rank or 0
    adapters = lora_targets(uses, targets.names, check=targets.given)
    pseudo: list[ParamUse] = []
    for adapter in adapters:
        for name, sizes in (("lora_A.weight", (rank, adapter.inputs)), ("lora_B.weight", (adapter.outputs, rank))):
            pseudo.append(
                ParamUse(
                    f"{adapter.module_path}.{name}",
                    adapter.module_path,
                    name,
                    "Linear",
                    "weight",
                    sizes,
                    adapter.times,
                    True,
                    LORA_ADAPTER_DTYPE,
                    True,
                )
            )
    return [lora_adapters(adapters, rank)], tuple(pseudo), adapters


def _training_setup(
    tree: Module, uses: tuple[ParamUse, ...], options: PlanOptions, dtype: str, *, own_dtypes: bool
) -> tuple[list[MemoryItem], _Training, list[Assumption]]:
    weights, notes = _weights(tree, uses, options, dtype, own_dtypes=own_dtypes)
    if options.lora_rank is not None:
        targets = _lora_targets(tree, options)
        adapters, trainable, adapted = _adapter_uses(uses, options, targets)
        layers = sum(adapter.times for adapter in adapted)
        notes.append(
            Assumption.of(
                "lora",
                rank=options.lora_rank,
                targets=targets.names,
                targets_rule=targets.rule,
                model_type=targets.model_type,
                layers=layers,
                adapted=_adapted(adapted),
            )
        )
        return weights + adapters, _Training(trainable, LORA_ADAPTER_DTYPE, LORA_ADAPTER_DTYPE, False), notes
    trainable = _trainable(tree)
    frozen = _total(uses) - _total(trainable)
    if frozen:
        notes.append(Assumption.of("frozen", frozen=frozen))
    if options.mixed_precision is not None:
        half = MIXED_PRECISION[options.mixed_precision]
        notes.append(Assumption.of("mixed-precision", mode=options.mixed_precision, half=half))
        return weights, _Training(trainable, half, "float32", True), notes
    dtypes = tuple(sorted({use.dtype for use in trainable}))
    if own_dtypes and len(dtypes) > 1 and all(found in BITS for found in dtypes):
        # torch trains a model loaded as stored in its own dtypes: p.grad and torch.zeros_like(p) take p's
        notes.append(Assumption.of("state-dtypes", dtypes=dtypes))
        return weights, _Training(trainable, dtype, dtype, False, dtypes), notes
    notes.append(Assumption.of("state-dtype", dtype=dtype))
    return weights, _Training(trainable, dtype, dtype, False), notes


@per_frozen
def _optimizer_items(
    spec: OptimizerSpec, trainable: tuple[ParamUse, ...], state_bits: int | None
) -> tuple[MemoryItem, ...]:
    """The optimizer's states summed per state over ``trainable``, once per tree, optimizer and state bits (the
    regimes of a report, the plans of one model for many sequence lengths, share them); ``state_bits`` None:
    each parameter's own dtype's (a state of several has no single rate: bits 0)."""
    totals: dict[str, list[int]] = {}
    whole: dict[str, tuple[Split, ...]] = {}
    shapes: dict[str, list[tuple[tuple[int, ...], int]]] = {}
    widths: dict[str, list[int]] = {}
    for use in trainable:
        if spec.matrices_only and len(use.sizes) != 2:
            continue
        bits = BITS[use.dtype] if state_bits is None else state_bits
        for state in spec.states:
            for entry in state_entries(state, use.sizes, bits):
                found = totals.setdefault(entry.label, [0, 0, entry.bits])
                found[0] += entry.count * use.times
                found[1] += entry.bytes * use.times
                found[2] = found[2] if found[2] == entry.bits else 0
                if state.kind == "scalar":
                    whole[entry.label] = PER_TENSOR
                elif entry.label in FACTORS:
                    whole[entry.label] = REPLICATED
                elif entry.count == use.count:  # shaped like the parameter (torch.zeros_like(p))
                    shapes.setdefault(entry.label, []).append((use.sizes, use.times))
                    widths.setdefault(entry.label, []).append(entry.bits)
                elif state.kind == "blockwise_8bit":  # an absmax: torch.zeros of p.numel()'s blocks
                    whole[entry.label] = REPLICATED
    items = [
        MemoryItem(
            f"optimizer state {label}",
            count,
            bits,
            bytes_,
            1,
            "optimizer",
            tensors=tuple(shapes.get(label, ())),
            tensor_bits=() if bits else tuple(widths.get(label, ())),  # several dtypes: each tensor's own
            kept_whole=whole.get(label, ()),
        )
        for label, (count, bytes_, bits) in totals.items()
    ]
    if any("uint8" in label for label in totals):
        items.append(
            MemoryItem(
                "8-bit quantisation maps (2 × 256 float32, shared)",
                512,
                32,
                SHARED_8BIT_MAP_BYTES,
                category="optimizer",
                kept_whole=PER_PROCESS,
            )
        )
    return tuple(items)


@per_frozen
def _optimizer_note(spec: OptimizerSpec) -> Assumption:
    return Assumption.of("optimizer", optimizer=spec.label, note=spec.note, source=spec.source)


def _training_items(
    tree: Module, uses: tuple[ParamUse, ...], options: PlanOptions, dtype: str, *, own_dtypes: bool = False
) -> tuple[list[MemoryItem], list[Assumption]]:
    """Weights, gradients and optimizer states; ``own_dtypes``: the tensors keep the dtypes they are stored in
    (none was given or configured), as the weights of an inference plan do."""
    spec = find_optimizer(options.optimizer or "")
    items, setup, notes = _training_setup(tree, uses, options, dtype, own_dtypes=own_dtypes)
    count = _total(setup.trainable)
    gradients = setup.gradient_dtype
    if setup.own_dtypes:
        size = sum(use.times * tensor_bytes(use.dtype, use.count) for use in setup.trainable)
        label = f"gradients ({', '.join(setup.own_dtypes)})"
        widths = tuple(BITS[use.dtype] for use in setup.trainable)  # p.grad takes p's dtype
        shapes = _shapes(setup.trainable)
        items.append(MemoryItem(label, count, 0, size, category="gradients", tensors=shapes, tensor_bits=widths))
    else:
        items.append(_item(f"gradients ({gradients})", setup.trainable, dtype_bits(gradients), "gradients"))
    if setup.master_weights:
        items.append(_item("master weights (float32)", setup.trainable, 32, "optimizer"))
    state_bits = None if setup.own_dtypes else dtype_bits(setup.state_dtype)
    items.extend(_optimizer_items(spec, setup.trainable, state_bits))
    if spec.matrices_only:
        others = sum(use.count * use.times for use in setup.trainable if len(use.sizes) != 2)
        notes.append(Assumption.of("matrices-only", optimizer=spec.label, others=others))
    notes.append(_optimizer_note(spec))
    return items, notes


def _buffers(counts: Counts, choice: DtypeChoice, options: PlanOptions) -> list[MemoryItem]:
    """Buffers at their own dtype; floating ones at the plan's dtype when it was given or configured, as
    ``module.to(dtype)`` casts them (integer buffers such as ``num_batches_tracked`` keep theirs)."""
    if not counts.buffers:
        return []
    dtype = MIXED_PRECISION[options.mixed_precision] if options.mixed_precision else choice.dtype
    total = sum(bytes_for(row.count, stored_bits(row.dtype, dtype, choice.casts)) for row in counts.buffer_tensors)
    label = f"buffers (floating ones in {dtype})" if choice.casts else "buffers (their own dtypes)"
    return [MemoryItem(label, counts.buffers, 0, total, category="buffers")]


COMPUTE_DTYPES: Final = ("float32", "bfloat16", "float16")


def activation_dtype(options: PlanOptions, dtype: str) -> str:
    """The dtype activations are kept in: the 16-bit type under mixed precision (the model run in it, as when it
    is loaded in that dtype), else the weights' dtype when torch computes in it, else bfloat16."""
    if options.mixed_precision is not None:
        return MIXED_PRECISION[options.mixed_precision]
    return dtype if dtype in COMPUTE_DTYPES else "bfloat16"


def _activations(
    tree: Module, dims: TransformerDims, options: PlanOptions, dtype: str, tp: int
) -> tuple[MemoryBreakdown, ActivationPlan | None]:
    from paramcount.analysis.planner.activations import MEGATRON_SPLIT, activation_items, activation_plan

    compute = activation_dtype(options, dtype)
    plan = activation_plan(
        tree,
        dims,
        batch=options.batch,
        seq_len=options.seq_len or 0,
        dtype=compute,
        attention=options.attention,
        checkpointing=options.gradient_checkpointing,
        source_len=dims.cross.source if dims.cross is not None else None,
    )
    if plan is not None:
        notes = [*plan.assumptions, Assumption.of("activations-dtype", dtype=compute)]
        if tp > 1:
            split = {"tp": tp, "sequence_parallel": options.sequence_parallel, "source": MEGATRON_SPLIT}
            notes.append(Assumption.of("activations-split", **split))
        if plan.checkpointing:
            notes.append(Assumption.of("checkpointing"))
        items = activation_items(plan, tp=tp, sequence_parallel=options.sequence_parallel)
        return MemoryBreakdown(items, tuple(notes)), plan
    from paramcount.analysis.planner.transformer import (  # with a sequence
        mixer_layers,
        transformer_activations,
        vision_layers,
    )
    from paramcount.analysis.shapes.propagate import IMAGE_TOKEN_INPUTS, propagate

    mixers = mixer_layers(tree)
    positions, patches = _image_positions(tree)  # an image's positions, not the sequence length asked for
    seq_len = positions or options.seq_len or 0
    towers = vision_layers(tree, propagate(tree, (options.batch, seq_len))) if tree.kind in IMAGE_TOKEN_INPUTS else ()
    estimate = transformer_activations(
        vision=tuple(tower for tower in towers if _trains(tree, options, tower.stack)),
        seq_len=seq_len,
        batch=options.batch,
        hidden=dims.hidden,
        heads=dims.heads,
        scores=options.attention == "eager",
        mixers=mixers if mixers is not None and mixers.stack == dims.stack else None,
        layers=dims.layers,
        element_bytes=BITS[compute] // 8,
        recompute="full" if options.gradient_checkpointing else "none",
        tp=tp,
        sequence_parallel=options.sequence_parallel,
        vocab=dims.vocab,
    )
    image = Assumption.of(
        "activations-image-positions", positions=positions, patches=patches, seq_len=options.seq_len or 0
    )
    said = (Assumption.of("activations-layout"), *estimate.assumptions, *((image,) if positions else ()))
    return MemoryBreakdown(estimate.items, said), None


def _image_positions(tree: Module) -> tuple[int, int]:
    """The positions a vision transformer's layers run per image, whatever the sequence, and its patches among them
    (``flops.image_positions``): its activations need no sequence length. Only a Hugging Face model's tree (its root
    names its ``model_type``) is one the activation planner models, so no other loads the FLOPs module and the
    shape rules (a single layer's plain answer would take ~70 M more instructions)."""
    if not any(key == "model_type" for key, _ in tree.attributes):
        return 0, 0
    from paramcount.analysis.flops import image_positions

    return image_positions(tree)


def _trains(tree: Module, options: PlanOptions, path: str) -> bool:
    """Whether weights under ``path`` train (a LoRA adapter, else a trainable parameter): a frozen image tower, which
    reads the pixels, leaves autograd nothing to keep."""
    uses = parameter_uses(tree)
    inside = f"{path}."
    if options.lora_rank is not None:
        adapters = lora_targets(uses, _lora_targets(tree, options).names, check=False)
        return any(adapter.module_path.startswith(inside) for adapter in adapters)
    return any(use.trainable and use.module_path.startswith(inside) for use in uses)


def _kv_dtype(options: PlanOptions, dtype: str) -> str:
    """The KV cache's dtype: ``kv_dtype``, else the 16-bit dtype under mixed precision, else the model's."""
    if options.kv_dtype is not None:
        return options.kv_dtype
    return MIXED_PRECISION[options.mixed_precision] if options.mixed_precision else dtype


def _kv(
    dims: TransformerDims, options: PlanOptions, dtype: str, tp: int, pp: int, batch: int, seq_len: int
) -> tuple[KVCache, KVCache | None]:
    """The cache as transformers keeps it and, for latent attention, the expanded per-head form."""
    from paramcount.analysis.planner.kv import (  # only with a sequence
        cross_attention_cache,
        expanded_latent_cache,
        kv_cache,
        latent_cache,
    )

    kv_dtype = _kv_dtype(options, dtype)
    bits = dtype_bits(kv_dtype)
    if dims.kv_lora_rank is not None and dims.qk_rope_head_dim is not None:
        latent = latent_cache(
            batch=batch,
            seq_len=seq_len,
            layers=dims.layers,
            kv_lora_rank=dims.kv_lora_rank,
            qk_rope_head_dim=dims.qk_rope_head_dim,
            bits=bits,
            dtype=kv_dtype,
            pp=pp,
        )
        heads = dims.heads or 1
        expanded = expanded_latent_cache(
            batch=batch,
            seq_len=seq_len,
            layers=dims.layers,
            heads=heads,
            key_head_dim=dims.key_width // heads,
            value_head_dim=dims.value_width // heads,
            bits=bits,
            dtype=kv_dtype,
            tp=tp,
            pp=pp,
        )
        return latent, expanded
    known = _kv_heads_known(dims)
    kv_heads = dims.kv_heads if known and dims.kv_heads is not None else 1
    head_dim = dims.head_dim if known and dims.head_dim is not None else dims.key_width
    value_dim = dims.value_width // kv_heads if dims.value_width % kv_heads == 0 else dims.value_width
    cache = kv_cache(
        batch=batch,
        seq_len=seq_len,
        layers=len(dims.layer_types) or dims.layers,
        kv_heads=kv_heads,
        head_dim=head_dim,
        bits=bits,
        dtype=kv_dtype,
        value_head_dim=value_dim,
        sliding_window=dims.sliding_window,
        layer_types=dims.layer_types or None,
        states=dims.states,
        state_dtype=activation_dtype(options, dtype),
        tp=tp,
        pp=pp,
    )
    if dims.cross is not None:
        cache = cross_attention_cache(cache, dims.cross, kv_heads=dims.kv_heads if known else None, tp=tp, pp=pp)
    return cache, None


def _kv_heads_known(dims: TransformerDims) -> bool:
    """The keys' width is kv_heads · head_dim (else the cache holds the projection widths as one head)."""
    return dims.kv_heads is not None and dims.head_dim is not None and dims.key_width == dims.kv_heads * dims.head_dim


def _sequence_items(
    tree: Module, dims: TransformerDims | None, options: PlanOptions, dtype: str, tp: int, pp: int
) -> tuple[list[MemoryItem], list[Assumption], ActivationPlan | None]:
    """Activations (training) or the KV cache (inference) for the options' sequence, on one device."""
    what = "activations" if options.training else "kv"
    if not options.training and (why := _no_cache(tree, dims)) is not None:
        return [], [why], None
    seq_len = options.seq_len
    if seq_len is None and options.training:
        seq_len = _image_positions(tree)[0] or None  # a vision transformer runs its image's positions whatever
    if seq_len is None:
        return [], [Assumption.of(f"{what}-no-sequence")], None
    if dims is None:
        return [], [Assumption.of(f"{what}-no-stack")], None
    notes = [Assumption.of("transformer-sizes", stack=dims.stack, notes=dims.notes)] if dims.notes else []
    if options.training:
        part, activations = _activations(tree, dims, options, dtype, tp)
        return list(part.items), notes + list(part.assumptions), activations
    cache, _ = _kv(dims, options, dtype, tp, pp, options.batch, seq_len)
    notes.append(Assumption.of("inference-activations"))
    notes.extend(cache.assumptions)
    notes.extend(_states_note(state) for state in cache.states)
    if dims.layers and not _kv_heads_known(dims):
        notes.append(Assumption.of("kv-heads-unknown", key_width=dims.key_width, value_width=dims.value_width))
    return list(cache.items), notes, None


def _no_cache(tree: Module, dims: TransformerDims | None) -> Assumption | None:
    """Why the model keeps no KV cache (a Hugging Face encoder; torch.nn's transformer layers, as the model or as
    the blocks of its stack), None when it keeps one or nothing says."""
    why = dict(tree.attributes).get(NO_KV_CACHE)
    if isinstance(why, str):
        return Assumption.of("kv-none", why=why)
    if dims is None:
        kinds = frozenset({tree.kind})
    else:
        from paramcount.analysis.planner.transformer import layer_kinds

        kinds = layer_kinds(tree)
    if kinds and kinds <= TORCH_TRANSFORMERS:
        return Assumption.of("kv-none-torch", modules=tuple(sorted(kinds)))
    return None


def _states_note(state: StateGroup) -> Assumption:
    return Assumption.of(
        "kv-states",
        layers=state.layers,
        mixer=state.mixer,
        kernel=state.conv.shape[-1],
        dtype=state.conv.dtype,
        recurrent=state.recurrent.name,
    )


def _first_shard(item: MemoryItem, devices: int) -> int | None:
    """The bytes of ``item`` on the device FSDP2 gives the most: ``fully_shard`` splits each parameter on dim 0
    into ``devices`` chunks of ⌈rows / devices⌉ rows (torch.chunk: the last devices get fewer, or none), so the
    first device holds ⌈rows / devices⌉ · (the other sizes) elements of every tensor (a 0-d one whole), each in its
    own dtype. None when the line has no shapes or a tensor no whole number of bytes per element."""
    widths = item.tensor_bits or (item.bits,) * len(item.tensors)
    if not item.tensors or item.per != 1 or any(bits % 8 or not bits for bits in widths):
        return None
    return sum(
        bits // 8 * copies * (math.prod(sizes[1:]) * -(-sizes[0] // devices) if sizes else 1)
        for (sizes, copies), bits in zip(item.tensors, widths, strict=True)
    )


def _split(item: MemoryItem, options: PlanOptions, data_parallel: int, zero: int) -> MemoryItem:
    """``item`` on one device: tensor and pipeline parallelism divide it evenly (an estimate); ZeRO, alone, leaves
    a device FSDP2's largest shard of each tensor where the line's shapes are known, else an even share."""
    if item.category not in MODEL_SPLIT:
        return item
    model = (1 if "tp" in item.kept_whole else options.tp) * (1 if "pp" in item.kept_whole else options.pp)
    sharded = data_parallel > 1 and zero >= SHARDED_FROM_STAGE[item.category] and "zero" not in item.kept_whole
    if not sharded:
        return item if model == 1 else replace(item, bytes=-(-item.bytes // model), exact=False)
    largest = _first_shard(item, data_parallel) if model == 1 else None
    if largest is not None:
        return replace(item, bytes=largest)
    return replace(item, bytes=-(-item.bytes // (model * data_parallel)), exact=False)


def _per_device(
    items: tuple[MemoryItem, ...], sequence: tuple[MemoryItem, ...], options: PlanOptions, data_parallel: int, zero: int
) -> tuple[MemoryItem, ...]:
    model = tuple(
        _split(item, options, data_parallel, zero) for item in items if item.category not in ("activations", "kv_cache")
    )
    return model + sequence


def _short_tensors(items: tuple[MemoryItem, ...], options: PlanOptions) -> int:
    """The most tensors of a line ZeRO shards whose dim 0 has fewer rows than the data-parallel devices."""
    devices = options.data_parallel
    sharded = [
        item for item in items if item.category in MODEL_SPLIT and options.zero >= SHARDED_FROM_STAGE[item.category]
    ]
    return max(
        (sum(copies for sizes, copies in item.tensors if sizes and sizes[0] < devices) for item in sharded), default=0
    )


def _parallel_notes(options: PlanOptions, items: tuple[MemoryItem, ...]) -> list[Assumption]:
    notes = []
    scalars = sum(item.count for item in items if item.kept_whole == PER_TENSOR)
    if options.zero:
        notes.append(Assumption.of("zero", stage=options.zero, data_parallel=options.data_parallel))
        if scalars:
            notes.append(Assumption.of("zero-scalars", count=scalars))
        replicated = [item for item in items if item.kept_whole == REPLICATED]
        factors = sum(item.count for item in replicated if item.label.removeprefix("optimizer state ") in FACTORS)
        if factors:
            notes.append(Assumption.of("zero-factored", count=factors))
        if absmax := sum(item.count for item in replicated) - factors:
            notes.append(Assumption.of("zero-absmax", count=absmax))
        short = _short_tensors(items, options) if options.tp * options.pp == 1 else 0
        if short:
            notes.append(Assumption.of("zero-short", count=short, data_parallel=options.data_parallel))
    if (options.zero or options.tp * options.pp > 1) and any(item.kept_whole == PER_PROCESS for item in items):
        notes.append(Assumption.of("per-process-maps"))
    if options.tp * options.pp > 1:
        split = {"tp": options.tp, "pp": options.pp, "sequence_parallel": options.sequence_parallel}
        notes.append(Assumption.of("model-parallel", **split))
        if options.tp > 1 and scalars:
            notes.append(Assumption.of("tp-scalars", count=scalars))
    return notes


def _module_activations(
    tree: Module, shapes: ShapeReport, dtype: str
) -> tuple[list[MemoryItem], list[Assumption], ModuleActivations | None]:
    """The tensors autograd keeps per operation on the input's shapes; the old estimate where a kind is not
    modelled."""
    from paramcount.analysis.planner.module_activations import module_activation_items, module_activations

    found = module_activations(tree, shapes.input_shape, dtype)
    if isinstance(found, tuple):
        items, notes = _shape_activations(shapes, dtype)
        return items, [*notes, Assumption.of("per-operation-unmodelled", kinds=found)], None
    return module_activation_items(found), list(found.assumptions), found


def _shape_activations(shapes: ShapeReport, dtype: str) -> tuple[list[MemoryItem], list[Assumption]]:
    """Activations of a model that is not a transformer stack, from the shapes of an actual input: the outputs
    of every leaf layer, kept for the backward pass (an estimate)."""
    paths = [module.path for module in shapes.modules]
    leaves = [
        module
        for module in shapes.modules
        if module.output_shape is not None
        and not any(other.startswith(f"{module.path}.") or (not module.path and other) for other in paths)
    ]
    if not leaves:
        return [], [Assumption.of("activations-shapes-unfollowed")]
    elements = sum(math.prod(module.output_shape or ()) * module.times for module in leaves)
    bits = BITS[dtype]
    bound = "" if shapes.is_complete else " (a lower bound: some modules are not modelled)"
    item = MemoryItem(
        f"activations: outputs of {len(leaves)} layers for input {tuple(shapes.input_shape)}{bound}",
        elements,
        bits,
        bytes_for(elements, bits),
        category="activations",
        exact=False,
    )
    return [item], [Assumption.of("activations-shapes", dtype=dtype)]


NOT_INCLUDED: Final = Assumption.of("not-included")


def _dtype(tree: Module, requested: str | None, quantised: bool = True) -> tuple[DtypeChoice, Assumption]:
    """The plan's dtype and the note that says why (``quantised``: the config's quantised layout counts)."""
    choice = resolve_dtype(tree, parameter_uses(tree), requested, quantised=quantised)
    if choice.quantization is not None:
        return choice, Assumption.of("dtype", dtype=choice.dtype, rule=choice.rule, quantization=choice.quantization)
    return choice, Assumption.of("dtype", dtype=choice.dtype, rule=choice.rule)


@per_frozen
def _stored_dtype(tree: Module, training: bool) -> tuple[DtypeChoice, Assumption]:
    """``_dtype`` of a plan that names no dtype, once per tree and mode: training keeps the dtype, not the
    quantised layout a config's ``quantization_config`` names (its weights are trained unquantised)."""
    return _dtype(tree, None, not training)


def _check_split(tree: Module, tp: int, pp: int) -> None:
    """Refuse a model split that Megatron-LM and vLLM cannot make of a transformer: ``tp`` must give each device
    whole attention heads (and divide the key/value heads or be a multiple of them: vLLM replicates them), ``pp``
    whole layers. Models without a stack of attention blocks are split as estimated, without a check."""
    from paramcount.analysis.planner.transformer import transformer_dimensions

    dims = transformer_dimensions(tree)
    if dims is None:
        return
    if dims.heads and dims.heads % tp:
        raise ArgumentError(
            "tp", f"must divide the {dims.heads} attention heads (each device holds whole heads), got {tp}", "tp"
        )
    if dims.kv_heads and dims.kv_heads % tp and tp % dims.kv_heads:
        raise ArgumentError(
            "tp",
            f"must divide the {dims.kv_heads} key/value heads or be a multiple of them (vLLM replicates them), "
            f"got {tp}",
            "tp",
        )
    layers = len(dims.layer_types) or dims.layers
    if pp > layers:
        raise ArgumentError("pp", f"must be at most the {layers} layers (a stage holds whole layers), got {pp}", "pp")


def plan_memory(
    tree: Module, counts: Counts | None = None, options: PlanOptions | None = None, shapes: ShapeReport | None = None
) -> MemoryPlan:
    """Plan the memory of ``tree`` under ``options`` (default: inference in the tree's dtype).

    Args:
        tree: the model.
        counts: ``count_tree(tree)`` if already computed (its buffers are used); computed when None.
        options: what to plan for, validated when built.
        shapes: ``propagate(tree, input_shape)``, whose layer outputs estimate the activations when training a
            model that is not a transformer stack.

    Returns:
        A ``MemoryPlan`` with the items, the per-device items, assumptions, the dtype used and why, and the
        fit against ``options.gpu``.
    """
    options = options or PlanOptions()
    if options.tp * options.pp > 1:
        _check_split(tree, options.tp, options.pp)
    counts = counts if counts is not None else count_tree(tree)
    uses = parameter_uses(tree)
    choice, dtype_note = _stored_dtype(tree, options.training) if options.dtype is None else _dtype(tree, options.dtype)
    if options.training:
        items, notes = _training_items(tree, uses, options, choice.dtype, own_dtypes=not choice.casts)
    else:
        items, notes = _weights(tree, uses, options, choice.dtype, choice.quantization, own_dtypes=not choice.casts)
    items.extend(_buffers(counts, choice, options))
    dims = None
    serving = not options.training and options.gpu is not None
    images = options.training and shapes is None and _image_positions(tree)[0] > 0  # no sequence needed to train
    if options.seq_len is not None or serving or images:  # the transformer formulas are loaded only when needed
        from paramcount.analysis.planner.kv import cross_attention
        from paramcount.analysis.planner.transformer import cache_dimensions

        # the cache and the activation estimate also cover state-space layers; an encoder-decoder's cache and
        # activations the encoder's output
        dims = cache_dimensions(tree)
        cross = None if dims is None else cross_attention(tree, shapes.input_shape if shapes is not None else None)
        if dims is not None and cross is not None:  # else the model's own dims, computed once per tree
            dims = replace(dims, cross=cross)
    activations = None
    per_operation = None
    if options.training and shapes is not None and dims is None:
        compute = activation_dtype(options, choice.dtype)
        sequence, sequence_notes, per_operation = _module_activations(tree, shapes, compute)
        per_device_sequence = list(sequence)
    else:
        sequence, sequence_notes, activations = _sequence_items(tree, dims, options, choice.dtype, 1, 1)
        per_device_sequence = sequence
        if options.tp * options.pp > 1:  # the model split changes the per-device activations and cache
            per_device_sequence, per_device_notes, _ = _sequence_items(
                tree, dims, options, choice.dtype, options.tp, options.pp
            )
            sequence_notes.extend(note for note in per_device_notes if note not in sequence_notes)
    model_items = tuple(items)
    all_items = model_items + tuple(sequence)
    per_device = _per_device(model_items, tuple(per_device_sequence), options, options.data_parallel, options.zero)
    assumptions = (dtype_note, *notes, *sequence_notes, *_parallel_notes(options, model_items), NOT_INCLUDED)
    caches: tuple[KVCache | None, KVCache | None] = (None, None)
    if dims is not None and options.seq_len is not None and not options.training and _no_cache(tree, dims) is None:
        caches = _kv(dims, options, choice.dtype, 1, 1, options.batch, options.seq_len)
    plan = MemoryPlan(
        mode="training" if options.training else "inference",
        items=all_items,
        per_device=per_device,
        assumptions=assumptions,
        dtype_choice=choice,
        devices=options.data_parallel * options.tp * options.pp,
        options=options,
        dims=dims,
        kv_cache=caches[0],
        kv_cache_expanded=caches[1],
        activations=activations,
        module_activations=per_operation,
    )
    if options.gpu is None:
        return plan
    device = find_accelerator("gpu", options.gpu)
    memory = Assumption.of("accelerator", name=device.name, basis=device.basis, source=device.source)
    serves = serving and dims is not None and _no_cache(tree, dims) is None
    capacity = _capacity(tree, plan, dims, choice.dtype, device) if serves and dims is not None else None
    return replace(
        plan,
        fit=fit_on(plan, device, tuple(per_device_sequence)),
        assumptions=(*assumptions, memory),
        kv_capacity=capacity,
    )


def _capacity(tree: Module, plan: MemoryPlan, dims: TransformerDims, dtype: str, device: Accelerator) -> KVCapacity:
    """How much KV cache fits on ``device`` beside the plan's other per-device bytes."""
    from paramcount.analysis.planner.kv import HYBRID, LINEAR, WINDOWED, kv_capacity

    options = plan.options
    types = set(dims.layer_types)
    bounded = (("window",) if types & WINDOWED else ()) + (("states",) if types & {LINEAR, HYBRID} else ())

    def cache_bytes(batch: int, tokens: int) -> int:
        return _kv(dims, options, dtype, options.tp, options.pp, batch, tokens)[0].bytes

    capacity = kv_capacity(
        accelerator=device.name,
        memory_bytes=device.memory_bytes,
        other_bytes=sum(item.bytes for item in plan.per_device if item.category != "kv_cache"),
        batch=options.batch,
        seq_len=options.seq_len,
        cache_bytes=cache_bytes,
        bounded_by=bounded,
    )
    if not capacity.max_context:
        return capacity
    limit = _position_limit(tree, options.batch, capacity.max_context)
    if limit is not None:
        return replace(capacity, max_context=limit, position_limit=limit)
    configured = dict(tree.attributes).get("max_position_embeddings")
    if isinstance(configured, int) and capacity.max_context > configured:
        return replace(capacity, configured_context=configured)
    return capacity


def _position_limit(tree: Module, batch: int, tokens: int) -> int | None:
    """The longest sequence below ``tokens`` that the model's learned position tables hold, None when ``tokens``
    fit them (or the model reads no tokens): the shape walk refuses a longer one and says what fits."""
    from paramcount.analysis.shapes.propagate import propagate
    from paramcount.errors import ParamcountError

    limit = None
    while True:
        try:
            propagate(tree, (batch, tokens))
        except ParamcountError as error:
            positions = getattr(error, "positions", None)
            if positions is None or not 0 < positions < tokens:
                return limit
            limit = tokens = positions
        else:
            return limit


def _needed(plan: MemoryPlan, sequence: tuple[MemoryItem, ...], memory: int, zero: int) -> int | None:
    """Fewest devices (a multiple of tp · pp) whose per-device bytes fit in ``memory``, by bisection over the
    data-parallel degree (per-device bytes never grow with it)."""
    options = plan.options
    model = tuple(item for item in plan.items if item.category not in ("activations", "kv_cache"))

    def size(data_parallel: int) -> int:
        return sum(item.bytes for item in _per_device(model, sequence, options, data_parallel, zero))

    largest = MAX_DEVICES // (options.tp * options.pp)
    if size(largest) > memory:
        return None
    low, high = 1, largest
    while low < high:
        middle = (low + high) // 2
        if size(middle) <= memory:
            high = middle
        else:
            low = middle + 1
    return low * options.tp * options.pp


def fit_on(plan: MemoryPlan, device: Accelerator, sequence: tuple[MemoryItem, ...] | None = None) -> Fit:
    """Whether ``plan`` fits on ``device``, and how many devices it needs (with its own parallelism, and fully
    sharded). ``sequence``: the per-device activation/KV items (taken from ``plan.per_device`` when None)."""
    if sequence is None:
        sequence = tuple(item for item in plan.per_device if item.category in ("activations", "kv_cache"))
    per_device = plan.per_device_bytes
    return Fit(
        accelerator=device,
        per_device_bytes=per_device,
        fits=per_device <= device.memory_bytes,
        headroom_bytes=device.memory_bytes - per_device,
        devices_needed=_needed(plan, sequence, device.memory_bytes, plan.options.zero),
        devices_needed_fully_sharded=_needed(plan, sequence, device.memory_bytes, 3),
    )


def weights_in_format(tree: Module, name: str, *, dtype: str | None = None) -> MemoryBreakdown:
    """The parameters of ``tree`` stored in format ``name`` where the format applies (the rest at ``dtype``,
    default: the tree's dtype), with the format's note and source as the assumption."""
    fmt = find_format("format", name)
    uses = parameter_uses(tree)
    choice = resolve_dtype(tree, uses, PlanOptions(dtype=dtype).dtype)
    note = tuple(_format_notes(fmt, tree, uses, choice.dtype))
    if fmt.role == "dtype":
        return MemoryBreakdown((_item(f"weights ({fmt.name})", uses, fmt.value_bits, "weights"),), note)
    return MemoryBreakdown(quantized_weights(uses, fmt, choice.dtype), note)


COMMON_REGIMES: tuple[tuple[str, str | None], ...] = (
    ("adamw", None),
    ("sgd-momentum", None),
    ("sgd", None),
    ("adamw", "bf16"),
)
"""The training regimes a single-layer answer shows: (optimizer, mixed precision)."""


@cache
def _regimes() -> tuple[tuple[PlanOptions, str], ...]:
    """Each of ``COMMON_REGIMES`` as options, with its optimizer's label, built once: every single-layer report
    plans the same four (the options are frozen)."""
    return tuple(
        (PlanOptions(optimizer=optimizer, mixed_precision=mixed), find_optimizer(optimizer).label)
        for optimizer, mixed in COMMON_REGIMES
    )


def training_plans(tree: Module, counts: Counts | None = None) -> tuple[TrainingPlan, ...]:
    """Weights, gradients and optimizer states for the common regimes, each computed by ``plan_memory``."""
    found = []
    for options, label in _regimes():
        plan = plan_memory(tree, counts, options)
        mixed = options.mixed_precision
        name = f"{label}, mixed precision ({mixed}, float32 master weights)" if mixed else f"{label}, {plan.dtype}"
        found.append(TrainingPlan(name, plan.items, plan.assumptions))
    return tuple(found)

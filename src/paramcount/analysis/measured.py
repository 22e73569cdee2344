"""Shapes, compute and activation memory of a live ``nn.Module``, measured by running its forward on ``meta``.

Where the other analyses derive shapes and MACs from the tree by rule, a live module can simply be run: on
the ``meta`` device every operation computes its output's shape and nothing is allocated, so a 70B model
runs on a laptop. One forward pass is watched three ways at once:

- forward pre/post hooks on every module give its input and output shapes, in call order;
- ``torch.utils.flop_counter.FlopCounterMode`` counts the FLOPs of matrix products, convolutions and
  attention (``F.scaled_dot_product_attention`` included, wherever it is called), so a module's FLOPs are the
  counter's growth between its two hooks;
- ``torch.autograd.graph.saved_tensors_hooks`` sees every tensor autograd keeps for the backward pass: the
  activation memory of one training step is the bytes of their distinct storages, parameters and buffers
  excluded. That is a measurement of the user's model, whatever its layers, not an estimate.

Which model runs: a model already on ``meta`` runs as it is; a model with real weights is copied to ``meta``
without allocating (``copy.deepcopy`` with every parameter and buffer pre-mapped to an empty meta twin, so
the user's model is never moved or changed). Its training flags are set to train mode for the run and put
back. A forward that cannot run on meta (it reads tensor values: ``.item()``, data-dependent indexing) runs
on the real model on the CPU only when the caller allows it (``device="cpu"``), and the result says so.
"""

from __future__ import annotations

from paramcount._record import Record
from paramcount._words import noun
from paramcount.analysis.shapes.types import ModuleShape, ShapeReport
from paramcount.errors import ArgumentError, ShapeError
from paramcount.tree import Module, iter_modules_collapsed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import Any, Final

    from paramcount.analysis.planner import MemoryPlan

__all__ = [
    "MEASURED_CONVENTION",
    "ActivationMemory",
    "Measurement",
    "example_inputs",
    "measure_forward",
    "with_measured_activations",
]

MEASURED_CONVENTION: Final = (
    "measured with torch.utils.flop_counter.FlopCounterMode during one forward pass: matrix products, "
    "convolutions and attention (F.scaled_dot_product_attention included), 2 FLOPs per multiply-accumulate, "
    "MACs = FLOPs / 2; bias additions, activations, normalisation, pooling, softmax and other elementwise "
    "operations are not counted"
)

DEVICES: Final = ("meta", "cpu")
"""Where a forward may run: ``meta`` only, or ``cpu`` (meta first, the real model on the CPU if meta fails)."""


class ActivationMemory(Record):
    """What one training step keeps for the backward pass, measured, beside torchinfo's estimate.

    ``saved_bytes`` is exact for the measured forward: the distinct storages autograd saved (a view shares
    its base's storage and is counted once), parameters and buffers excluded, the input included when a
    layer saves it. torchinfo's "Forward/backward pass size" is ``2 × output_bytes``: the outputs of the
    leaf modules that hold parameters, each counted twice "for gradients"; it misses what parameter-free
    layers save (ReLU masks, pooling indices, attention probabilities, dropout masks), counts outputs that
    nothing saves, and ignores tensors two layers share."""

    saved_bytes: int
    saved_tensors: int
    """Distinct storages saved."""
    output_bytes: int
    """Σ output bytes of the parameter-holding leaf modules, one term per call (torchinfo's sum, once)."""
    input_bytes: int
    device: str
    """Where the measured forward ran: ``meta`` or ``cpu``."""

    @property
    def torchinfo_bytes(self) -> int:
        """torchinfo 1.8's "Forward/backward pass size": every such output twice."""
        return 2 * self.output_bytes


class Measurement(Record):
    """One measured forward pass: shapes and compute per module call, and the activation memory."""

    shapes: ShapeReport
    activations: ActivationMemory
    notes: tuple[str, ...] = ()
    """What the reader must know (the forward ran on the CPU because meta could not run it …)."""


def example_inputs(
    input_size: Sequence[int] | Sequence[Sequence[int]], dtypes: Sequence[Any] | None, device: str
) -> tuple[Any, ...]:
    """Empty tensors of ``input_size`` (one shape or a sequence of shapes) in ``dtypes`` (default float32)
    on ``device``: on ``meta`` they hold no memory; on the CPU they are zeros."""
    import torch

    if not isinstance(input_size, tuple | list):
        raise ArgumentError("input_size", f"must be a shape or a list of shapes, got {input_size!r:.40}", "input_size")
    nested = any(isinstance(size, tuple | list) for size in input_size)  # (2, 3.0) is one shape, wrongly typed
    sizes: list[Any] = list(input_size) if nested else [input_size]
    chosen = list(dtypes) if dtypes is not None else [torch.float32] * len(sizes)
    if len(chosen) != len(sizes):
        inputs = f"{len(sizes)} {noun(len(sizes), 'input')}"
        raise ArgumentError("dtypes", f"gives {len(chosen)} dtypes for {inputs}", "dtypes")
    for dtype in chosen:
        if not isinstance(dtype, torch.dtype):
            raise ArgumentError("dtypes", f"must be torch dtypes (torch.long), got {dtype!r:.40}", "dtypes")
    tensors = []
    for size, dtype in zip(sizes, chosen, strict=True):
        if not isinstance(size, tuple | list) or not all(
            isinstance(value, int) and not isinstance(value, bool) and value >= 0 for value in size
        ):
            raise ArgumentError("input_size", f"must hold non-negative integers, got {size!r:.40}", "input_size")
        tensors.append(torch.zeros(tuple(size), dtype=dtype, device=device))
    return tuple(tensors)


def measure_forward(
    model: Any, tree: Module, args: tuple[Any, ...], kwargs: dict[str, Any], *, device: str = "meta"
) -> Measurement:
    """Run ``model(*args, **kwargs)`` once on ``meta`` (no weights allocated) and measure it.

    Args:
        model: the ``nn.Module`` (never changed: a model with real weights runs as a meta copy).
        tree: its tree (``sources.live.from_module``): kinds and repeated blocks for the rows.
        args, kwargs: the inputs; tensors are replaced by meta tensors of their shape and dtype.
        device: ``"meta"``, or ``"cpu"`` to allow a real forward on the CPU when meta cannot run it.

    Raises:
        ShapeError: the forward failed: at the given input, or on meta only (with the advice to allow the CPU).
    """
    if device not in DEVICES:
        raise ArgumentError("device", f"must be 'meta' or 'cpu', got {device!r:.40}", "device")
    import torch

    try:
        meta_model = _on_meta(model)
        meta_args, meta_kwargs = _to_meta((args, kwargs))
        return _run(meta_model, tree, meta_args, meta_kwargs, "meta", ())
    except (RuntimeError, NotImplementedError, TypeError, ValueError, IndexError) as error:
        reason = _first_line(error)
        if device == "meta" and not _meta_only(error):
            raise ShapeError(
                f"the forward pass fails at the given input ({reason}); check its shape and dtype", ""
            ) from None
        if device == "meta":
            raise ShapeError(
                f"the forward pass cannot run on the meta device ({reason}); pass device='cpu' to run "
                "it on real tensors on the CPU at the given input",
                "",
            ) from None
    if any(tensor.device.type != "cpu" for tensor in _tensors_of(model)):
        raise ShapeError("device='cpu' needs the model on the CPU for the forward that meta could not run", "")
    note = (
        f"the forward pass could not run on the meta device ({reason}); it ran on the CPU with real tensors "
        "at the given input, as device='cpu' allows"
    )
    real_args, real_kwargs = _to_cpu((args, kwargs))
    try:
        with torch.device("cpu"):
            return _run(model, tree, real_args, real_kwargs, "cpu", (note,))
    except (RuntimeError, NotImplementedError, TypeError, ValueError, IndexError) as error:
        raise ShapeError(f"the forward pass failed on the CPU too ({_first_line(error)})", "") from None


def _meta_only(error: BaseException) -> bool:
    """Whether the forward failed because meta tensors hold no values (``.item()``, a data-dependent shape, an op
    without a meta kernel, a CPU tensor made inside ``forward``), which a real forward would not: torch's
    messages then name the meta device or say the op is not implemented. Anything else (mismatched shapes or
    dtypes) fails on every device, and the CPU would not help."""
    return isinstance(error, NotImplementedError) or "meta" in str(error).lower()


def _first_line(error: BaseException) -> str:
    text = str(error).strip().split("\n")[0] or type(error).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _tensors_of(model: Any) -> Iterator[Any]:
    yield from model.parameters()
    yield from model.buffers()


def _on_meta(model: Any) -> Any:
    """``model`` itself when all its tensors are on meta; else a meta copy made without allocating."""
    import copy

    import torch

    tensors = list(_tensors_of(model))
    if all(tensor.device.type == "meta" for tensor in tensors):
        return model
    memo: dict[int, Any] = {}
    for tensor in tensors:
        if id(tensor) not in memo:
            twin = torch.empty_like(tensor, device="meta")
            if isinstance(tensor, torch.nn.Parameter):
                twin = torch.nn.Parameter(twin, requires_grad=tensor.requires_grad)
            memo[id(tensor)] = twin
    return copy.deepcopy(model, memo)


def _map_tensors(value: Any, convert: Any) -> Any:
    """``value`` with each tensor in its tuples, lists and dicts converted once: a tensor given twice stays one
    tensor (self-attention's ``mha(x, x, x)`` projects one input once, and saves it once)."""
    import torch

    converted: dict[int, Any] = {}

    def walk(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            if id(value) not in converted:
                converted[id(value)] = convert(value)
            return converted[id(value)]
        if isinstance(value, tuple | list):
            return type(value)(walk(item) for item in value)
        if isinstance(value, dict):
            return {key: walk(item) for key, item in value.items()}
        return value

    return walk(value)


def _to_meta(value: Any) -> Any:
    import torch

    return _map_tensors(
        value, lambda tensor: torch.empty_like(tensor, device="meta").requires_grad_(tensor.requires_grad)
    )


def _to_cpu(value: Any) -> Any:
    """Meta inputs (from ``input_size``) become CPU zeros; real ones stay."""
    import torch

    def convert(tensor: Any) -> Any:
        return torch.zeros_like(tensor, device="cpu") if tensor.device.type == "meta" else tensor

    return _map_tensors(value, convert)


def _first_tensor(value: Any) -> Any:
    """The first tensor of an output (torchinfo reads a tuple's first member the same way)."""
    import torch

    if isinstance(value, torch.Tensor):
        return value
    items = value.values() if isinstance(value, dict) else value if isinstance(value, tuple | list) else ()
    for item in items:
        found = _first_tensor(item)
        if found is not None:
            return found
    return None


class _Call:
    """One module call as the hooks see it."""

    __slots__ = ("flops", "flops_before", "input_shape", "kind", "leaf", "output_bytes", "output_shape", "path")

    def __init__(self, path: str, kind: str, input_shape: tuple[int, ...] | None, flops_before: int, leaf: bool):
        self.path, self.kind, self.input_shape = path, kind, input_shape
        self.flops_before, self.leaf = flops_before, leaf
        self.output_shape: tuple[int, ...] | None = None
        self.output_bytes = 0
        self.flops = 0


def _run(
    model: Any, tree: Module, args: tuple[Any, ...], kwargs: dict[str, Any], device: str, notes: tuple[str, ...]
) -> Measurement:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    kinds = _kinds(tree)
    calls: list[_Call] = []
    stack: list[_Call] = []
    counter = FlopCounterMode(display=False)
    excluded = {id(tensor.untyped_storage()) for tensor in _tensors_of(model)}
    kept = [tensor.untyped_storage() for tensor in _tensors_of(model)]  # their ids stay theirs during the run
    saved: dict[int, Any] = {}

    def pack(tensor: Any) -> Any:
        storage = tensor.untyped_storage()
        if id(storage) not in excluded:
            saved.setdefault(id(storage), storage)
        return tensor

    handles = []
    for path, module in model.named_modules():
        owns_parameters = next(module.parameters(), None) is not None
        leaf = next(module.children(), None) is None and owns_parameters

        def before(module: Any, inputs: Any, path: str = path, leaf: bool = leaf) -> None:
            first = _first_tensor(inputs)
            shape = None if first is None else tuple(int(size) for size in first.shape)
            call = _Call(path, kinds.get(path, type(module).__name__), shape, counter.get_total_flops(), leaf)
            calls.append(call)
            stack.append(call)

        def after(module: Any, inputs: Any, output: Any) -> None:
            call = stack.pop()
            first = _first_tensor(output)
            if first is not None:
                call.output_shape = tuple(int(size) for size in first.shape)
                call.output_bytes = first.numel() * first.element_size()
            call.flops = counter.get_total_flops() - call.flops_before

        handles.append(module.register_forward_pre_hook(before))
        handles.append(module.register_forward_hook(after))
    modes = [(module, module.training) for module in model.modules()]
    try:
        model.train()
        with torch.enable_grad(), counter, torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            output = model(*args, **kwargs)
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes:
            module.training = training
    del kept
    total_flops = counter.get_total_flops()
    first = _first_tensor(output)
    input_tensor = _first_tensor((args, kwargs))
    activations = ActivationMemory(
        saved_bytes=sum(storage.nbytes() for storage in saved.values()),
        saved_tensors=len(saved),
        output_bytes=sum(call.output_bytes for call in calls if call.leaf),
        input_bytes=sum(tensor.numel() * tensor.element_size() for tensor in _all_tensors((args, kwargs))),
        device=device,
    )
    shapes = ShapeReport(
        modules=_rows(calls, _labels(tree)),
        input_shape=() if input_tensor is None else tuple(int(size) for size in input_tensor.shape),
        output_shape=None if first is None else tuple(int(size) for size in first.shape),
        total_macs=total_flops // 2,
        total_flops=total_flops,
        convention=MEASURED_CONVENTION,
    )
    return Measurement(shapes, activations, notes)


def _all_tensors(value: Any) -> list[Any]:
    found: list[Any] = []
    _map_tensors(value, found.append)
    return found


def _kinds(tree: Module) -> dict[str, str]:
    """Expanded module path → the tree's kind (the catalog's name, or the qualified class of a raw module)."""
    from paramcount.tree import iter_modules

    return {path: module.kind for path, module in iter_modules(tree)}


def _labels(tree: Module) -> dict[str, str]:
    """Expanded path → the path with repeated blocks collapsed (``h.3.attn`` → ``h.0-11.attn``)."""
    labels: dict[str, str] = {}
    for label, _module, _times in iter_modules_collapsed(tree):
        _expand(label.split("."), 0, [], label, labels)
    return labels


def _expand(parts: list[str], index: int, done: list[str], label: str, labels: dict[str, str]) -> None:
    if index == len(parts):
        labels[".".join(done)] = label
        return
    first, _, last = parts[index].partition("-")
    if last and first.isdigit() and last.isdigit():
        for number in range(int(first), int(last) + 1):
            _expand(parts, index + 1, [*done, str(number)], label, labels)
    else:
        _expand(parts, index + 1, [*done, parts[index]], label, labels)


def _rows(calls: list[_Call], labels: dict[str, str]) -> tuple[ModuleShape, ...]:
    """One row per distinct (module, shapes, MACs): the copies of a repeated block and a module called
    several times with the same shapes share a row, ``times`` saying how many calls it stands for."""
    rows: dict[tuple[object, ...], ModuleShape] = {}
    for call in calls:
        label = labels.get(call.path, call.path)
        key = (label, call.kind, call.input_shape, call.output_shape, call.flops)
        found = rows.get(key)
        if found is None:
            rows[key] = ModuleShape(label, call.kind, call.input_shape, call.output_shape, call.flops // 2, call.flops)
        else:
            rows[key] = ModuleShape(
                label, call.kind, call.input_shape, call.output_shape, found.macs, found.flops, times=found.times + 1
            )
    return tuple(rows.values())


def with_measured_activations(
    plan: MemoryPlan, activations: ActivationMemory, input_shape: tuple[int, ...]
) -> MemoryPlan:
    """A training ``plan`` with the measured activations as its activation item (in place of any estimate),
    on every device of a data-parallel plan, and its fit re-checked with them."""
    from paramcount._record import replace
    from paramcount.analysis.memory import Assumption
    from paramcount.analysis.planner import MemoryItem, fit_on

    if plan.mode != "training":
        return plan
    tensors = f"{activations.saved_tensors:,} {noun(activations.saved_tensors, 'tensor')}"
    item = MemoryItem(
        f"activations: {tensors} saved for the backward pass at input {input_shape}",
        0,
        0,
        activations.saved_bytes,
        category="activations",
    )
    note = Assumption.of("activations-measured", device=activations.device)
    items = (*(i for i in plan.items if i.category != "activations"), item)
    per_device = (*(i for i in plan.per_device if i.category != "activations"), item)
    assumptions = (*tuple(a for a in plan.assumptions if not a.kind.startswith("activations")), note)
    measured = replace(plan, items=items, per_device=per_device, assumptions=assumptions)
    if plan.fit is None:
        return measured
    return replace(measured, fit=fit_on(measured, plan.fit.accelerator, (item,)))

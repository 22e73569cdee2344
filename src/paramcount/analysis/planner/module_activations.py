"""Activation memory of a model run on an input shape (a CNN): the tensors autograd saves, per operation.

``module_activations(tree, input_shape, dtype)`` follows the shape walk's dataflow (``propagate(...,
links=[])``: which tensor each module call reads and returns) and applies, to each call, what torch's autograd
keeps for that operation in training mode (each rule names the autograd node): ``Conv2d`` and ``Linear``
keep their input (``ConvolutionBackward0``, ``AddmmBackward0``), ``BatchNorm2d`` its input and the batch mean
and inverse standard deviation (``NativeBatchNormBackward0``), ``ReLU`` its result (in place: the input's own
storage), the in-place ``ReLU6``/``Hardswish``/``SiLU``/``Hardsigmoid`` a copy of their input (autograd saves
the original of an in-place op), ``MaxPool2d`` its input and the int64 indices, ``Dropout`` its mask,
``LayerNorm`` its input, mean and 1/std, blocks their own products (squeeze-and-excitation, ConvNeXt's layer
scale), ViT's ``nn.MultiheadAttention`` what the SDPA flash kernel keeps, Swin's window attention its
products' operands and softmax, and the cross-entropy loss on the
logits the ``log_softmax`` result, the targets and the total weight. Tensors are
counted once per storage (an in-place op's result is its input's storage; the input that two layers read is
one tensor), parameters and buffers never. ``tests/analysis/test_module_activations.py`` compares the total
with ``torch.autograd.graph.saved_tensors_hooks`` on torchvision's models.

Kernels (as ``activations.py``): ``"cuda"`` keeps batch-norm statistics in float32 and dropout masks as bool;
``"cpu"`` keeps both in the input's dtype.
"""

from __future__ import annotations

from paramcount._record import Record, replace
from paramcount.analysis.memory import Assumption, MemoryItem
from paramcount.analysis.planner.activations import SavedTensor
from paramcount.dtypes import BITS
from paramcount.tree import Module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Final, TypeAlias

    from paramcount.analysis.planner.activations import Kernels
    from paramcount.analysis.shapes.propagate import FlowLink
    from paramcount.analysis.shapes.types import Shape

    Saved: TypeAlias = list[tuple[str, str, "str | Shape", str]]
    """(key, what, the storage: ``INPUT``, ``OUTPUT`` or a new tensor's shape, dtype: ``compute``, ``stats``,
    ``mask`` or a dtype's name)."""
    LeafRule: TypeAlias = Callable[[Module, "Shape", "Shape"], Saved]

__all__ = ["ModuleActivations", "module_activation_items", "module_activations"]

INPUT: Final = "input"
OUTPUT: Final = "output"


def _inplace(module: Module) -> bool:
    try:
        return bool(module.arg("inplace"))
    except KeyError:
        return False


def _weighted(module: Module, given: Shape, output: Shape) -> Saved:
    return [("input", f"{module.kind} input (for the weight's gradient)", INPUT, "compute")]


def _batch_norm(module: Module, given: Shape, output: Shape) -> Saved:
    stats = (given[1],)
    return [
        ("input", "BatchNorm input (NativeBatchNormBackward0)", INPUT, "compute"),
        ("save_mean", "BatchNorm batch mean (save_mean)", stats, "stats"),
        ("save_invstd", "BatchNorm batch 1/std (save_invstd)", stats, "stats"),
    ]


def _relu(module: Module, given: Shape, output: Shape) -> Saved:
    return [("result", "ReLU result (ReluBackward0; in place: the input's storage)", OUTPUT, "compute")]


def _keeps_input(what: str) -> LeafRule:
    """An activation whose backward reads its input; in place, autograd saves a copy of the original input."""

    def rule(module: Module, given: Shape, output: Shape) -> Saved:
        if _inplace(module):
            return [("input_copy", f"{module.kind} input, copied before the in-place op ({what})", given, "compute")]
        return [("input", f"{module.kind} input ({what})", INPUT, "compute")]

    return rule


def _keeps_result(what: str) -> LeafRule:
    def rule(module: Module, given: Shape, output: Shape) -> Saved:
        return [("result", f"{module.kind} result ({what})", OUTPUT, "compute")]

    return rule


def _max_pool(module: Module, given: Shape, output: Shape) -> Saved:
    return [
        ("input", "MaxPool input (MaxPool2DWithIndicesBackward0)", INPUT, "compute"),
        ("indices", "MaxPool indices (int64)", output, "int64"),
    ]


def _adaptive_pool(module: Module, given: Shape, output: Shape) -> Saved:
    if all(size == 1 for size in output[2:]):  # torch computes a 1×1 output as input.mean((-1, -2)): no tensor
        return []
    return [("input", "AdaptiveAvgPool input (AdaptiveAvgPool2DBackward0)", INPUT, "compute")]


def _pool(module: Module, given: Shape, output: Shape) -> Saved:
    return [("input", f"{module.kind} input (its backward reads it)", INPUT, "compute")]


def _dropout(module: Module, given: Shape, output: Shape) -> Saved:
    probability = module.arg("p")
    if probability == 0:
        return []
    return [("mask", "dropout mask (MulBackward0 on CPU, NativeDropoutBackward0 on CUDA)", given, "mask")]


def _stochastic_depth(module: Module, given: Shape, output: Shape) -> Saved:
    """torchvision's ``stochastic_depth``: ``input * noise`` with a noise of one value per sample (``row``) or
    one for the batch, in the input's dtype, when ``p`` > 0."""
    if module.arg("p") == 0:
        return []
    noise = (given[0], *(1 for _ in given[1:])) if module.arg("mode") == "row" else tuple(1 for _ in given)
    return [("noise", "stochastic-depth noise (MulBackward0)", noise, "compute")]


def _layer_norm(module: Module, given: Shape, output: Shape) -> Saved:
    """``F.layer_norm`` over the last dimension (``LayerNorm2d``: over the channels, channels-last): its input
    and one mean and one 1/std per normalised row (``NativeLayerNormBackward0``)."""
    rows = (*given[:1], *given[2:], 1) if module.kind == "LayerNorm2d" else (*given[:-1], 1)
    return [
        ("input", f"{module.kind} input (NativeLayerNormBackward0)", INPUT, "compute"),
        ("mean", f"{module.kind} mean", rows, "stats"),
        ("rstd", f"{module.kind} 1/std", rows, "stats"),
    ]


def _nothing(module: Module, given: Shape, output: Shape) -> Saved:
    return []


LEAF_RULES: Final[dict[str, LeafRule]] = {
    **{kind: _weighted for kind in ("Conv1d", "Conv2d", "Conv3d", "Linear")},
    **{kind: _batch_norm for kind in ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d")},
    "ReLU": _relu,
    "ReLU6": _keeps_input("HardtanhBackward0"),
    "Hardtanh": _keeps_input("HardtanhBackward0"),
    "Hardswish": _keeps_input("HardswishBackward0"),
    "Hardsigmoid": _keeps_input("HardsigmoidBackward0"),
    "SiLU": _keeps_input("SiluBackward0"),
    "GELU": _keeps_input("GeluBackward0"),
    "Sigmoid": _keeps_result("SigmoidBackward0"),
    "Tanh": _keeps_result("TanhBackward0"),
    "MaxPool2d": _max_pool,
    "AdaptiveAvgPool2d": _adaptive_pool,
    "AvgPool2d": _pool,
    "Dropout": _dropout,
    "StochasticDepth": _stochastic_depth,
    "LayerNorm": _layer_norm,
    "LayerNorm2d": _layer_norm,
    "Permute": _nothing,
    "Flatten": _nothing,
    "Identity": _nothing,
}
"""What each leaf layer's autograd node keeps (measured with ``saved_tensors_hooks``; see the module's doc)."""

VIEWS: Final = frozenset({"Flatten", "Identity", "Permute"})
"""Layers whose output is their input's storage (a view, or the tensor itself)."""

BLOCKS: Final = frozenset(
    {"Sequential", "ResNet", "BasicBlock", "Bottleneck", "VGG", "AlexNet", "Conv2dNormActivation"}
    | {"InvertedResidual", "MobileNetV2", "MobileNetV3", "EfficientNet", "MBConv", "SqueezeExcitation"}
    | {"DenseNet", "_DenseBlock", "_DenseLayer", "_Transition", "ConvNeXt", "CNBlock"}
    | {"VisionTransformer", "Encoder", "EncoderBlock", "MLPBlock"}
    | {"SwinTransformer", "SwinTransformerBlock", "PatchMerging", "MLP"}
)
"""Blocks modelled: their own operations keep nothing (residual additions and concatenations: ``AddBackward0``
and ``CatBackward0`` keep no tensor; flatten is a view; ``F.adaptive_avg_pool2d(x, (1, 1))`` is a mean, which
keeps only sizes) or what ``_block_saves`` lists."""


class ModuleActivations(Record):
    """The tensors one training forward keeps for backward on ``input_shape``, per operation and storage."""

    input_shape: Shape
    dtype: str
    kernels: Kernels
    tensors: tuple[SavedTensor, ...]
    """One per distinct storage (its copies in repeated blocks folded: ``elements`` and ``bytes`` cover all)."""
    assumptions: tuple[Assumption, ...] = ()
    """What the figures assume, as data (``paramcount.render.assumptions`` writes the sentences)."""

    @property
    def saved_bytes(self) -> int:
        return sum(tensor.bytes for tensor in self.tensors)


def _dtype(kind: str, compute: str, kernels: Kernels) -> str:
    if kind == "compute":
        return compute
    if kind == "stats":
        return "float32" if kernels == "cuda" else compute
    if kind == "mask":
        return "bool" if kernels == "cuda" else compute
    return kind


def _size(shape: Shape) -> int:
    count = 1
    for size in shape:
        count *= size
    return count


def _text(shape: Shape) -> str:
    return "×".join(str(size) for size in shape) if shape else "scalar"


class _Saved(Record):
    key: str
    module: str
    what: str
    shape: Shape
    dtype: str
    times: int


def _block_saves(link: FlowLink, inside: dict[str, FlowLink]) -> list[tuple[int | str, _Saved]]:
    """What a block's own operations keep (beside its children's): (the flow it is, or a new tensor's key,
    the tensor)."""
    kind, path = link.module.kind, link.path

    def child(name: str) -> FlowLink:
        return inside[f"{path}.{name}" if path else name]

    def kept(
        flow: int | None, shape: Shape | None, key: str, what: str, dtype: str = "compute"
    ) -> tuple[int | str, _Saved]:
        name = f"{path}.{key}" if path else key
        return flow if flow is not None else name, _Saved(name, path, what, shape or (), dtype, link.times)

    if kind == "SqueezeExcitation":  # scale * input: MulBackward0 keeps both operands
        scale = child("scale_activation")
        return [
            kept(scale.output, scale.output_shape, "scale", "SE scale, an operand of scale · input (MulBackward0)"),
            kept(link.input, link.input_shape, "input", "SE input, an operand of scale · input (MulBackward0)"),
        ]
    if kind == "CNBlock":  # layer_scale * block(x): the parameter's other operand
        block = child("block")
        return [kept(block.output, block.output_shape, "layer_scale.input", "layer-scale input (MulBackward0)")]
    if kind == "DenseNet":  # F.relu(features, inplace=True) keeps its result, the features' own storage
        features = child("features")
        return [kept(features.output, features.output_shape, "relu.result", "ReLU result (ReluBackward0)")]
    if kind == "ShiftedWindowAttention":
        return _window_saves(child("qkv"), link, kept)
    if kind != "MultiheadAttention":
        return []
    # F.multi_head_attention_forward on one input (self-attention, need_weights=False, no dropout) on the SDPA
    # flash kernel: the in-projection's input (with batch_first and a batch above 1, a contiguous copy of the
    # transposed input), q, k and v (views of one contiguous storage), the float32 logsumexp; the kernel's
    # output is the out-projection's input (that Linear's line).
    given = link.input_shape
    first = bool(link.module.arg("batch_first"))
    batch, tokens = (given[0], given[1]) if first else (given[1], given[0])
    copied = first and batch > 1
    what = "in-projection input (AddmmBackward0)" + ("; a copy of the transposed input" if copied else "")
    heads = link.module.arg("num_heads")
    return [
        kept(None if copied else link.input, given, "in_proj.input", what),
        kept(None, (3, *given), "qkv", "query, key and value, one storage (the SDPA kernel's inputs)"),
        kept(None, (batch, heads if isinstance(heads, int) else 0, tokens), "logsumexp",
             "logsumexp of the scores (SDPA flash kernel)", "float32"),
    ]  # fmt: skip


def _window_saves(
    qkv: FlowLink, link: FlowLink, kept: Callable[..., tuple[int | str, _Saved]]
) -> list[tuple[int | str, _Saved]]:
    """torchvision's ``shifted_window_attention`` beside its two Linear layers (whose inputs, the windows and
    the attention output, are their own lines): ``q * scale`` and the copies ``matmul`` makes of ``k.T`` and
    ``v`` (non-contiguous views of the qkv output) for ``BmmBackward0``, and the softmax result."""
    windows, tokens, channels = qkv.input_shape
    heads = link.module.arg("num_heads")
    per_head = (windows, tokens, channels)
    return [
        kept(None, per_head, "q_scaled", "query times its scale (BmmBackward0 of q·kᵀ)"),
        kept(None, per_head, "k_transposed", "kᵀ, copied by matmul (BmmBackward0 of q·kᵀ)"),
        kept(None, (windows, heads if isinstance(heads, int) else 0, tokens, tokens), "softmax",
             "softmax result (SoftmaxBackward0, and BmmBackward0 of attention·v)"),
        kept(None, per_head, "v", "v, copied by matmul (BmmBackward0 of attention·v)"),
    ]  # fmt: skip


def _block_views(link: FlowLink, inside: dict[str, FlowLink]) -> list[tuple[int, FlowLink]]:
    """Tensors a block hands on as views of another (the flow, the call whose output it views): ViT's head
    reads ``x[:, 0]``, a view that keeps the encoder's whole output alive."""
    if link.module.kind != "VisionTransformer":
        return []
    heads, encoder = (
        inside[f"{link.path}.heads" if link.path else "heads"],
        inside[f"{link.path}.encoder" if link.path else "encoder"],
    )
    return [(heads.input, encoder)]


def _attention_modelled(link: FlowLink) -> bool:
    module = link.module
    same = all(module.arg(name) in (None, module.arg("embed_dim")) for name in ("kdim", "vdim"))
    plain = not module.arg("add_bias_kv") and not module.arg("add_zero_attn")
    return same and plain and module.arg("dropout") == 0 and "need_weights=False" in link.options


ARGUMENTS: Final = {
    "Dropout": ("p",),
    "StochasticDepth": ("p", "mode"),
    "MultiheadAttention": ("embed_dim", "num_heads", "kdim", "vdim", "dropout", "batch_first", "add_bias_kv",
                           "add_zero_attn"),
    "ShiftedWindowAttention": ("num_heads", "attention_dropout", "dropout"),
}  # fmt: skip
"""The constructor arguments a rule reads; a module whose door could not recover one is not modelled."""


def _known(module: Module, name: str) -> bool:
    try:
        module.arg(name)
    except KeyError:
        return False
    return True


def _modelled(link: FlowLink) -> bool:
    kind = link.module.kind
    if not all(_known(link.module, name) for name in ARGUMENTS.get(kind, ())):
        return False
    if kind == "MultiheadAttention":
        return _attention_modelled(link)
    if kind == "ShiftedWindowAttention":  # dropout on the probabilities or the output would keep masks
        return link.module.arg("attention_dropout") == 0 and link.module.arg("dropout") == 0
    return kind in (BLOCKS if link.module.children else LEAF_RULES)


def module_activations(
    tree: Module, input_shape: Shape, dtype: str, *, kernels: Kernels = "cuda"
) -> ModuleActivations | tuple[str, ...]:
    """The saved tensors of one training forward of ``tree`` on ``input_shape``, with the cross-entropy loss
    on its logits when it returns ``(N, classes)``; or the kinds whose saved tensors are not modelled."""
    from paramcount.analysis.shapes.propagate import propagate

    links: list[FlowLink] = []
    report = propagate(tree, input_shape, links=links)
    missing = sorted({link.module.kind for link in links if not _modelled(link)})
    if missing or not report.is_complete or report.output_shape is None:
        return tuple(missing) or ("(the shapes are not complete)",)
    alias: dict[int, int] = {}
    produced: dict[int, int] = {}
    inside: dict[str, FlowLink] = {}
    saved: dict[int | str, _Saved] = {}
    views: list[tuple[int, FlowLink]] = []

    def storage(flow: int) -> int:
        return alias.get(flow, flow)

    for call, link in enumerate(links):  # a new tensor is one per call (a child may be called twice)
        module = link.module
        inside[link.path] = link
        if link.output is not None:
            if module.kind in VIEWS or _inplace(module):
                alias[link.output] = storage(link.input)
            else:
                produced.setdefault(storage(link.output), link.times)
        if module.children:
            views.extend(_block_views(link, inside))
            for which, tensor in _block_saves(link, inside):
                saved.setdefault(storage(which) if isinstance(which, int) else f"{which}@{call}", tensor)
            continue
        given, output = link.input_shape, link.output_shape or ()
        for key, what, role, kind in LEAF_RULES[module.kind](module, given, output):
            name = f"{link.path}.{key}"
            identity: int | str = f"{name}@{call}"
            shape = given
            if role == INPUT:
                identity = storage(link.input)
            elif role == OUTPUT:
                identity, shape = storage(link.output if link.output is not None else link.input), output
            elif not isinstance(role, str):
                shape = role
            saved.setdefault(identity, _Saved(name, link.path, what, shape, kind, link.times))
    for view, base in views:  # a saved view keeps its base's whole storage
        found = saved.pop(storage(view), None)
        if found is not None and base.output is not None and base.output_shape is not None:
            saved.setdefault(storage(base.output), replace(found, shape=base.output_shape))
    tensors = [_tensor(identity, found, produced, dtype, kernels) for identity, found in saved.items()]
    tensors.extend(_loss(report.output_shape, dtype))
    notes = (Assumption.of("activations-per-operation", input_shape=tuple(input_shape), dtype=dtype, kernels=kernels),)
    return ModuleActivations(tuple(input_shape), dtype, kernels, tuple(tensors), notes)


def _tensor(identity: int | str, found: _Saved, produced: dict[int, int], dtype: str, kernels: Kernels) -> SavedTensor:
    """One saved storage, over all the copies of the block that makes it (the copies of a repeated block each
    make their own; a storage made outside them, such as a repeated block's first input, exists once)."""
    copies = produced.get(identity, found.times) if isinstance(identity, int) else found.times
    count = _size(found.shape) * copies
    kind = _dtype(found.dtype, dtype, kernels)
    text = _text(found.shape) + (f" ×{copies}" if copies > 1 else "")
    return SavedTensor(found.key, found.module, found.what, text, count, kind, count * BITS[kind] // 8, "none")


def _loss(logits: Shape, dtype: str) -> list[SavedTensor]:
    """Cross-entropy on ``(N, classes)`` logits: ``log_softmax`` keeps its result, ``nll_loss`` the targets
    (int64) and the total weight (a 0-d tensor)."""
    if len(logits) != 2:
        return []
    count = _size(logits)
    width = BITS[dtype] // 8
    return [
        SavedTensor("loss.log_softmax", "loss", "log_softmax result (LogSoftmaxBackward0, NllLossBackward0)",
                    _text(logits), count, dtype, count * width, "none"),
        SavedTensor("loss.target", "loss", "targets (NllLossBackward0)", _text(logits[:1]), logits[0], "int64",
                    logits[0] * 8, "none"),
        SavedTensor("loss.total_weight", "loss", "total weight, a 0-d tensor (NllLossBackward0)", "scalar", 1,
                    dtype, width, "none"),
    ]  # fmt: skip


def module_activation_items(plan: ModuleActivations) -> list[MemoryItem]:
    """One memory line per kind of saved tensor (what keeps it), in the order they first appear."""
    groups: dict[tuple[str, str], list[int]] = {}
    for tensor in plan.tensors:
        what = tensor.what.split(" (")[0]
        found = groups.setdefault((what, tensor.dtype), [0, 0, 0])
        found[0] += 1
        found[1] += tensor.elements
        found[2] += tensor.bytes
    return [
        MemoryItem(
            f"activations: {what} ({dtype}, {tensors} tensor{'s' if tensors > 1 else ''})",
            count,
            BITS[dtype],
            size,
            category="activations",
        )
        for (what, dtype), (tensors, count, size) in groups.items()
    ]

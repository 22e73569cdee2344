"""Dataflow of composite modules, declared as data: what a block's ``forward`` does with its children.

A zoo or Hugging Face block (``Bottleneck``, ``LlamaDecoderLayer``) has no catalog rule: its computation is
its children's, wired by its ``forward``. That wiring is written here as a tuple of steps over named tensors,
read top to bottom the way the ``forward`` reads::

    RESIDUAL_BOTTLENECK = dataflow(
        run("conv1"), run("bn1"), run("relu"), ..., run("downsample", "x0", optional=True),
        add("x", "x0"), run("relu"),
    )

The input is ``"x0"`` (and is also the first ``"x"``); the output is ``"x"`` unless the dataflow names
another. Each step records its children's rows through the walk (``Call.child``), and a step that multiplies
tensors itself (the attention products) adds its MACs, its formula and its backward MACs to the block's own.

Steps check what torch would refuse (a residual of two different shapes, a sequence longer than the position
table) and raise ``ShapeError`` at the block. An unknown input (``None``) flows through as unknown: the
children are still listed, as ``input unknown``.
"""

from __future__ import annotations

from paramcount._record import Record, replace
from paramcount.analysis.flops import macs_step
from paramcount.analysis.shapes.common import NotModelledError, elements, int_arg
from paramcount.analysis.shapes.types import Flow, Outcome, Shape, ShapeStep, format_shape
from paramcount.tree import Module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeAlias

    from paramcount.analysis.shapes.types import Call, Rule

    Values: TypeAlias = dict[str, Flow | None]

__all__ = [
    "Map",
    "Step",
    "Tally",
    "activation",
    "add",
    "add_param",
    "also",
    "attention",
    "broadcast",
    "chain",
    "child_of",
    "concat",
    "dataflow",
    "dropout",
    "flatten",
    "global_pool",
    "in_order",
    "last_size",
    "member",
    "merge_heads",
    "multiply",
    "multiply_param",
    "param_sizes",
    "pool",
    "positions",
    "prepend",
    "reshape",
    "run",
    "scores",
    "select",
    "split_heads",
    "squeeze",
    "table_positions",
    "to_tokens",
    "transpose",
]


class Tally:
    """The block's own arithmetic, gathered while its steps run."""

    __slots__ = ("backward", "macs", "masked", "notes", "steps")

    def __init__(self) -> None:
        self.macs = 0
        self.backward = 0
        self.masked = 0
        self.steps: list[ShapeStep] = []
        self.notes: list[str] = []

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


class Step(Record):
    """One line of a block's ``forward``; subclasses say what it does in ``apply``."""

    def apply(self, call: Call, values: Values, tally: Tally) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


def dataflow(*steps: Step, output: str = "x", note: str = "") -> Rule:
    """A shape rule that runs ``steps`` on the input (named ``x0`` and ``x``) and returns ``output``."""

    def rule(call: Call, flow: Flow) -> Outcome:
        values: Values = {"x0": flow, "x": flow}
        tally = Tally()
        for step in steps:
            step.apply(call, values, tally)
            if flow.context:  # inside a decoder, every tensor carries the encoder's output along
                for name, value in values.items():
                    if value is not None and not value.context:
                        values[name] = replace(value, context=flow.context)
        notes = " ".join(note_ for note_ in (note, *tally.notes) if note_)
        result = values[output]
        return Outcome(result, tally.macs, tuple(tally.steps), notes, backward_macs=tally.backward,
                       masked_macs=tally.masked)  # fmt: skip

    return rule


def in_order(call: Call, flow: Flow) -> Outcome:
    """``Sequential.forward`` for a subclass of it (``Conv2dNormActivation``, ``MLPBlock``) or a module whose
    ``forward`` runs its children in the order they are registered."""
    return Outcome(call.run_members(flow))


# --- reading the tree -------------------------------------------------------------------------------------


def child_of(module: Module, name: str) -> Module | None:
    for child in module.children:
        if child.name == name:
            return child
    return None


def param_sizes(module: Module, name: str) -> tuple[int, ...]:
    """The sizes of ``module``'s own tensor ``name`` (a modelling-code module has shapes, not arguments)."""
    for tensor in (*module.params, *module.buffers):
        if tensor.name == name:
            return tensor.sizes
    raise NotModelledError(f"it has no tensor {name!r}")


def last_size(module: Module, name: str = "weight") -> int:
    sizes = param_sizes(module, name)
    if not sizes:
        raise NotModelledError(f"its tensor {name!r} has no dimensions")
    return sizes[-1]


def broadcast(call: Call, left: Shape, right: Shape, what: str) -> Shape:
    """torch's broadcasting of two shapes, or a ``ShapeError`` saying which operation refused them."""
    rank = max(len(left), len(right))
    padded_left = (1,) * (rank - len(left)) + left
    padded_right = (1,) * (rank - len(right)) + right
    sizes = []
    for a, b in zip(padded_left, padded_right, strict=True):
        if a != b and 1 not in (a, b):
            raise call.fail(f"cannot {what} {format_shape(left)} and {format_shape(right)} (sizes must match)")
        sizes.append(b if a == 1 else a)
    return tuple(sizes)


# --- steps ---------------------------------------------------------------------------------------------------


class _Run(Step):
    child: str
    source: str
    target: str
    optional: bool
    options: frozenset[str]

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        if child_of(call.module, self.child) is None:
            if not self.optional:
                raise NotModelledError(f"it has no member {self.child!r}")
            values[self.target] = values[self.source]
            return
        values[self.target] = call.child(self.child, values[self.source], options=self.options)


def run(child: str, source: str = "x", target: str = "", *, optional: bool = False, options: str = "") -> Step:
    """``target = self.<child>(source)``; an ``optional`` child that the module lacks passes ``source`` on
    (``downsample`` of a ResNet block that keeps its shape)."""
    return _Run(child, source, target or source, optional, frozenset({options}) if options else frozenset())


class _Chain(Step):
    child: str
    source: str
    target: str
    checkpointed: bool

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        values[self.target] = call.chain(self.child, values[self.source], checkpointed=self.checkpointed)


def chain(child: str, source: str = "x", target: str = "", *, checkpointed: bool = False) -> Step:
    """``for layer in self.<child>: source = layer(source)`` (a ``ModuleList`` iterated by ``forward``);
    ``checkpointed``: transformers' gradient checkpointing recomputes each layer."""
    return _Chain(child, source, target or source, checkpointed)


class _Elementwise(Step):
    target: str
    left: str
    right: str
    what: str
    saves: bool

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        left, right = values[self.left], values[self.right]
        if left is None or right is None:
            values[self.target] = None
            return
        shape = broadcast(call, left.shape, right.shape, self.what)
        grad = left.grad or right.grad
        if self.saves and grad:
            call.saved(0)
        values[self.target] = Flow(shape, grad=grad)


def add(target: str, left: str, right: str = "", *, what: str = "add") -> Step:
    """``target = left + right`` (a residual connection: broadcasting as torch does; no MACs; autograd saves
    nothing for it)."""
    return _Elementwise(target, left, right or target, what, saves=False)


def multiply(target: str, left: str, right: str) -> Step:
    """``target = left * right`` (a gate: SwiGLU's ``act(gate) * up``, squeeze-excitation's scale; no MACs;
    autograd saves each operand the other's gradient needs)."""
    return _Elementwise(target, left, right, "multiply", saves=True)


class _Activation(Step):
    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        if values["x"] is not None:
            call.saved(0)


def activation() -> Step:
    """``x = act(x)``: the activation function the config names, called as a function, not a module (wav2vec 2.0's
    convolution layers): elementwise, the shape kept, no MACs; autograd saves its input (GELU) or output (ReLU)."""
    return _Activation()


class _Dropout(Step):
    setting: str

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        probability = call.setting(self.setting)
        if isinstance(probability, int | float) and probability > 0:
            call.saved(0)


def dropout(setting: str) -> Step:
    """``x = dropout(x)`` with the probability of the config's ``setting``: in training, autograd saves its mask
    when the probability is above 0 (on the CPU ``input * mask``, on CUDA ``native_dropout``); at 0 torch
    returns the input and saves nothing. The shape is kept; no MACs."""
    return _Dropout(setting)


class _Concat(Step):
    target: str
    sources: tuple[str, ...]
    dim: int

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flows = [values[name] for name in self.sources]
        known = [flow for flow in flows if flow is not None]
        if len(known) != len(flows):
            values[self.target] = None
            return
        first = known[0].shape
        dim = self.dim % len(first)
        for other in known[1:]:
            shape = other.shape
            if len(shape) != len(first) or shape[:dim] + shape[dim + 1 :] != first[:dim] + first[dim + 1 :]:
                raise call.fail(f"cannot concatenate {format_shape(first)} and {format_shape(shape)} in dim {dim}")
        size = sum(flow.shape[dim] for flow in known)
        values[self.target] = Flow((*first[:dim], size, *first[dim + 1 :]), grad=any(flow.grad for flow in known))


def concat(target: str, *sources: str, dim: int = 1) -> Step:
    """``target = torch.cat([sources…], dim)``."""
    return _Concat(target, sources, dim)


class Map(Step):
    """``target = map(source)`` for one tensor, no MACs: subclasses say how in ``map``; an unknown input gives an
    unknown output."""

    source: str
    target: str

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow = values[self.source]
        values[self.target] = None if flow is None else self.map(call, flow)

    def map(self, call: Call, flow: Flow) -> Flow:  # pragma: no cover - abstract
        raise NotImplementedError


class _Reshape(Map):
    how: Callable[[Call, Shape], Shape]

    def map(self, call: Call, flow: Flow) -> Flow:
        return Flow(self.how(call, flow.shape), grad=flow.grad)


def reshape(how: Callable[[Call, Shape], Shape], source: str = "x", target: str = "") -> Step:
    """``target = source`` with the shape ``how(call, shape)`` gives (a view, a pooling, a selection; no MACs):
    ``how`` raises ``call.fail`` for a shape it cannot take."""
    return _Reshape(source, target or source, how)


def _tokens(call: Call, shape: Shape) -> Shape:
    if len(shape) < 3:
        raise call.fail(f"expects a (batch, channels, spatial…) feature map, got {format_shape(shape)}")
    return (shape[0], elements(shape[2:]), shape[1])


def to_tokens(source: str = "x", target: str = "") -> Step:
    """``x.flatten(2).transpose(1, 2)``: a (N, C, H, W) feature map as (N, H·W, C) tokens (patch embeddings)."""
    return reshape(_tokens, source, target)


def _transposed(call: Call, shape: Shape) -> Shape:
    if len(shape) < 2:
        raise call.fail(f"transposes the last two dimensions of {format_shape(shape)}")
    return (*shape[:-2], shape[-1], shape[-2])


def transpose(source: str = "x", target: str = "") -> Step:
    """``x.transpose(-2, -1)``: a (batch, length, channels) sequence as (batch, channels, length) for a
    convolution over time, and back."""
    return reshape(_transposed, source, target)


def _first(call: Call, shape: Shape) -> Shape:
    if len(shape) < 2 or shape[1] == 0:
        raise call.fail(f"takes the first token of dimension 1, got {format_shape(shape)}")
    return (shape[0], *shape[2:])


def _flattened(call: Call, shape: Shape) -> Shape:
    if not shape:
        raise call.fail("flattens a 0-D tensor")
    return (shape[0], elements(shape[1:]))


def flatten(source: str = "x", target: str = "") -> Step:
    """``torch.flatten(x, 1)``: everything after the batch dimension in one."""
    return reshape(_flattened, source, target)


def _pooled(call: Call, shape: Shape) -> Shape:
    if len(shape) < 3:
        raise call.fail(f"pools a (batch, channels, spatial…) feature map, got {format_shape(shape)}")
    return (*shape[:2], *(1 for _ in shape[2:]))


def global_pool(source: str = "x", target: str = "") -> Step:
    """``F.adaptive_avg_pool2d(x, (1, 1))`` (or ``F.relu`` then that, the functional tail of DenseNet and
    MobileNetV2): every spatial size becomes 1; no MACs."""
    return reshape(_pooled, source, target)


def pool(source: str, target: str, kernel: int, stride: int, padding: int = 0) -> Step:
    """``F.avg_pool2d`` or ``F.max_pool2d(source, kernel, stride, padding)`` (floor mode, square kernel): each
    spatial size becomes ⌊(size + 2·padding - kernel)/stride⌋ + 1; no MACs."""

    def pooled(call: Call, shape: Shape) -> Shape:
        if len(shape) != 4:
            raise call.fail(f"pools a (N, C, H, W) feature map, got {format_shape(shape)}")
        sizes = tuple((size + 2 * padding - kernel) // stride + 1 for size in shape[2:])
        if min(sizes) < 1:
            raise call.fail(f"pools {format_shape(shape)} with a {kernel}×{kernel} kernel to an empty map")
        return (*shape[:2], *sizes)

    return reshape(pooled, source, target)


def select(source: str = "x", target: str = "") -> Step:
    """``x[:, 0]``: the first token (a class token, a pooler's input)."""
    return reshape(_first, source, target)


def _positions(call: Call, shape: Shape) -> Shape:
    if len(shape) < 2:
        raise call.fail(f"expects a (batch, sequence, …) input, got {format_shape(shape)}")
    return (1, shape[1])


def positions(source: str = "x0", target: str = "positions") -> Step:
    """The position ids ``arange(L)[None]`` of shape (1, L) for a (batch, L, …) input (token positions hold
    no gradient)."""
    return reshape(_positions, source, target)


class _Prepend(Map):
    param: str

    def map(self, call: Call, flow: Flow) -> Flow:
        width = last_size(call.module, self.param)
        shape = flow.shape
        if len(shape) != 3 or shape[2] != width:
            raise call.fail(f"prepends its {self.param} of width {width} to {format_shape(shape)}")
        return Flow((shape[0], shape[1] + 1, width), grad=True)


def prepend(param: str, source: str = "x", target: str = "") -> Step:
    """``torch.cat([self.<param>.expand(N, -1, -1), x], dim=1)``: one learned token before the sequence."""
    return _Prepend(source, target or source, param)


def _squeezed(call: Call, shape: Shape) -> Shape:
    return shape[:-1] if shape and shape[-1] == 1 else shape


def squeeze(source: str = "x", target: str = "") -> Step:
    """``x.squeeze(-1)``: the last dimension dropped when it is 1 (a one-logit head's scores per token)."""
    return reshape(_squeezed, source, target)


class _TablePositions(Step):
    table: str
    target: str

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        table = child_of(call.module, self.table)
        if table is None:
            raise NotModelledError(f"it has no member {self.table!r}")
        values[self.target] = Flow((1, int_arg(table, "num_embeddings")))


def table_positions(table: str, target: str = "positions") -> Step:
    """``self.position_ids`` covering every row of the position table ``table``, (1, rows): a vision tower adds
    its whole table to the patches (CLIP, SigLIP), so an image of another size does not fit."""
    return _TablePositions(table, target)


class _Also(Step):
    name: str
    source: str
    target: str

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow, other = values[self.target], values[self.source]
        if flow is not None and other is not None:
            values[self.target] = replace(flow, others=(*flow.others, (self.name, other.shape)))


def also(name: str, source: str, target: str = "x") -> Step:
    """The output is a tuple: ``target``'s tensor, then ``source``'s as its member ``name`` (``pooler_output``)."""
    return _Also(name, source, target)


class _Member(Map):
    name: str

    def map(self, call: Call, flow: Flow) -> Flow:
        shape = dict(flow.others).get(self.name) if self.name else flow.shape
        if shape is None:
            raise NotModelledError(f"its input has no member {self.name!r}")
        return Flow(shape, grad=flow.grad)


def member(name: str, source: str = "x", target: str = "") -> Step:
    """``outputs.<name>``: a member of the tuple a child returned (``pooler_output``); ``""`` names its first tensor,
    ``outputs[0]``."""
    return _Member(source, target or source, name)


class _WithParam(Map):
    param: str
    what: str

    def map(self, call: Call, flow: Flow) -> Flow:
        shape = broadcast(
            call, flow.shape, param_sizes(call.module, self.param), f"{self.what} the input and {self.param}:"
        )
        if self.what == "multiply":  # autograd saves each operand for the other's gradient (an add saves nothing)
            call.saved(0)
        return Flow(shape, grad=True)


def add_param(param: str, source: str = "x", target: str = "") -> Step:
    """``x + self.<param>`` (a learned position embedding): broadcast, no MACs."""
    return _WithParam(source, target or source, param, "add")


def multiply_param(param: str, source: str = "x", target: str = "") -> Step:
    """``self.<param> * x`` (ConvNeXt's layer scale): broadcast, no MACs."""
    return _WithParam(source, target or source, param, "multiply")


def split_heads(source: str, size_from: str) -> Step:
    """``x.view(*x.shape[:-1], -1, head_dim)`` with ``head_dim`` the size of child ``size_from``'s weight (a
    per-head norm); nothing when the module has no such child."""

    def split(call: Call, shape: Shape) -> Shape:
        norm = child_of(call.module, size_from)
        if norm is None:
            return shape
        size = last_size(norm)
        if shape[-1] % size:
            raise call.fail(f"splits width {shape[-1]} into heads of {size_from}'s size {size}, which fails")
        return (*shape[:-1], shape[-1] // size, size)

    return reshape(split, source)


def merge_heads(source: str, size_from: str) -> Step:
    """The inverse of ``split_heads`` (heads and head_dim back into one width), when it split."""

    def merge(call: Call, shape: Shape) -> Shape:
        return shape if child_of(call.module, size_from) is None else (*shape[:-2], shape[-2] * shape[-1])

    return reshape(merge, source)


class _Attention(Step):
    query: str
    key: str
    value: str
    target: str
    causal: bool

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        query, key, value = values[self.query], values[self.key], values[self.value]
        if query is None or key is None or value is None:
            values[self.target] = None
            return
        shapes = (query.shape, key.shape, value.shape)
        if any(len(shape) < 2 for shape in shapes) or key.shape[:-1] != value.shape[:-1]:
            raise call.fail("expects query, key and value of shape (batch…, length, width) with one length for key "
                            f"and value, got {', '.join(format_shape(shape) for shape in shapes)}")  # fmt: skip
        if query.shape[:-2] != key.shape[:-2]:
            raise call.fail(f"expects query and key with the same batch, got {format_shape(query.shape)} and "
                            f"{format_shape(key.shape)}")  # fmt: skip
        query_width, key_width, value_width = query.shape[-1], key.shape[-1], value.shape[-1]
        if key_width == 0 or query_width % key_width:
            raise call.fail(f"expects a query width ({query_width}) that is a multiple of the key width "
                            f"({key_width}): whole query heads per key/value head")  # fmt: skip
        groups = query_width // key_width
        output_width = value_width * groups
        batch, length, source = elements(query.shape[:-2]), query.shape[-2], key.shape[-2]
        scores, scores_step = macs_step(("batch", "L", "S", "heads·head_dim"), (batch, length, source, query_width))
        mixed, mixed_step = macs_step(("batch", "L", "S", "heads·v_head_dim"), (batch, length, source, output_width))
        tally.macs += scores + mixed
        call.saved(mixed)  # attention·V saves its operands last (the softmax's output saved before it)
        tally.steps += [replace(scores_step, name="MACs (QKᵀ)"), replace(mixed_step, name="MACs (attention·V)")]
        # Backward: each product's gradient with respect to each operand that needs one.
        weights_grad = query.grad or key.grad
        tally.backward += scores * (int(query.grad) + int(key.grad)) + mixed * (int(weights_grad) + int(value.grad))
        if self.causal and length == source:
            hidden = batch * (length * (length - 1) // 2) * (query_width + output_width)
            tally.masked += hidden
            tally.note("Causal: QKᵀ and attention·V are counted over all L×S positions, as eager attention and "
                       "FlopCounterMode count them; L·(L-1)/2 of each L² are masked.")  # fmt: skip
        else:
            tally.note("QKᵀ and attention·V over all L×S positions.")
        shape = (*query.shape[:-1], output_width)
        values[self.target] = Flow(shape, grad=weights_grad or value.grad)


class _Scores(Step):
    query: str
    key: str
    what: str

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        query, key = values[self.query], values[self.key]
        if query is None or key is None:
            return
        if len(query.shape) < 2 or len(key.shape) < 2 or query.shape[-1] != key.shape[-1]:
            raise call.fail(f"multiplies {self.what} of {format_shape(query.shape)} and {format_shape(key.shape)} "
                            "(the widths, heads·head_dim, must match)")  # fmt: skip
        batch = elements(broadcast(call, query.shape[:-2], key.shape[:-2], f"multiply {self.what} of"))
        sizes = (batch, query.shape[-2], key.shape[-2], query.shape[-1])
        macs, step = macs_step(("batch", "L", "S", "heads·head_dim"), sizes)
        tally.macs += macs
        call.saved(macs)
        tally.steps.append(replace(step, name=f"MACs ({self.what})"))
        tally.backward += macs * (int(query.grad) + int(key.grad))


def scores(query: str, key: str, *, what: str) -> Step:
    """``query · keyᵀ`` over heads, added to the attention scores (DeBERTa's content-to-position and
    position-to-content terms): MACs ``batch·L·S·heads·head_dim``, a key without the batch (one table for every
    sequence) repeated over it."""
    return _Scores(query, key, what)


def attention(query: str = "q", key: str = "k", value: str = "v", target: str = "x", *, causal: bool) -> Step:
    """``softmax(q·kᵀ)·v`` over heads: MACs ``batch·L·S·heads·head_dim`` for QKᵀ and
    ``batch·L·S·heads·v_head_dim`` for attention·V. Widths are heads·head_dim; key/value heads shared by
    query heads (GQA/MQA) are expanded first (``repeat_kv``), so the products run over every query head."""
    return _Attention(query, key, value, target, causal)

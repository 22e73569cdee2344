"""Shape propagation: the output shape, MACs and FLOPs of every module for one input shape, without torch.

``propagate(tree, (1, 3, 224, 224))`` walks the tree the way the modules' ``forward`` methods would run: a
``Sequential`` feeds each child the previous child's output, a layer's rule (looked up by ``kind`` in
``RULES``, never by name matching) computes its output shape with torch's documented formula, shown step by
step, and checks what torch's forward checks; a shape that torch would refuse raises ``ShapeError`` at the
module where it happens (``features.3: Conv2d expects 64 input channels, got 128``).

What cannot be known is reported, not guessed: a kind without a rule (a zoo or Hugging Face block, a layer
that takes two inputs) is a row with status ``not modelled`` and no output shape, the modules inside it and
after it are ``not reached`` / ``input unknown``, and the totals are then lower bounds. ``ModuleList`` and
``ModuleDict`` have no ``forward`` in torch and are reported as such.

A child repeated ``n`` times (``layers.0-31``) is walked once when its output equals its input (every copy
then sees the same shape) and copy by copy otherwise, so a 126-layer stack costs one layer.

The input shape is the shape of the tensor handed to ``forward``, batch first as torch spells it
(``(N, C, H, W)``; a recurrent layer without ``batch_first`` reads ``(L, N, H_in)``). Element types are not
tracked: the input is taken to be what the first layer needs (indices for an Embedding, floating point
otherwise).
"""

from __future__ import annotations

from paramcount._record import Record, replace
from paramcount.analysis.flops import FLOPS_PER_MAC, MATMUL_CONVENTION
from paramcount.analysis.shapes import (
    audio,
    decoders,
    encoders,
    hybrids,
    modern_encoders,
    multimodal,
    qwen_vl,
    seq2seq,
    state_space,
    vision_language,
)
from paramcount.analysis.shapes.common import NotModelledError, elements
from paramcount.analysis.shapes.conv import RULES as _CONV_RULES
from paramcount.analysis.shapes.layers import RULES as _LAYER_RULES
from paramcount.analysis.shapes.sequence import RULES as _SEQUENCE_RULES
from paramcount.analysis.shapes.spatial import RULES as _SPATIAL_RULES
from paramcount.analysis.shapes.types import (
    INPUT_UNKNOWN,
    MODELLED,
    NO_FORWARD,
    NO_GRADIENT,
    NOT_CALLED,
    NOT_MODELLED,
    NOT_REACHED,
    Flow,
    ModuleShape,
    Outcome,
    Shape,
    ShapeReport,
    ShapeStep,
    TrainingFlops,
    format_shape,
)
from paramcount.analysis.shapes.vision import RULES as _VISION_RULES
from paramcount.errors import LimitError, ShapeError
from paramcount.tree import Module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.analysis.shapes.types import Rule
    from paramcount.tree import Value

__all__ = [
    "BLOCK_RULES",
    "IMAGE_TOKEN_INPUTS",
    "MAX_INPUT_DIMS",
    "MAX_INPUT_ELEMENTS",
    "MAX_INPUT_SIZE",
    "NOT_MODELLED_REASONS",
    "RULES",
    "FlowLink",
    "ModuleShape",
    "ShapeReport",
    "ShapeStep",
    "parse_shape",
    "propagate",
    "token_input",
    "token_lengths",
]

MAX_INPUT_DIMS: Final = 8
"""Most dimensions an input shape may have (torch's layers take at most 5)."""
MAX_INPUT_SIZE: Final = 2**31
"""Largest size of one input dimension."""
MAX_INPUT_ELEMENTS: Final = 2**48
"""Most elements of the input, and of any tensor the walk computes (≈ 2.8·10¹⁴; larger is a typo)."""
MAX_SHAPE_TEXT_CHARS: Final = 200
"""Longest ``--input`` text read."""


def _sequential(call: _Call, flow: Flow) -> Outcome:
    return Outcome(call.run_members(flow))


RULES: Final[dict[str, Rule]] = {
    **_LAYER_RULES,
    **_CONV_RULES,
    **_SPATIAL_RULES,
    **_SEQUENCE_RULES,
}
"""Shape rule per catalog kind. ``Sequential`` is handled by the walk itself (it chains its children)."""

BLOCK_RULES: Final[dict[str, Rule]] = {
    **_VISION_RULES,
    **decoders.RULES,
    **encoders.RULES,
    **seq2seq.RULES,
    **state_space.RULES,
    **modern_encoders.RULES,
    **audio.RULES,
    **qwen_vl.RULES,
    **vision_language.RULES,
    **hybrids.RULES,
    **multimodal.RULES,
}
"""Shape rule per zoo and Hugging Face block kind: each block's dataflow, declared in ``vision.py``
(torchvision's classes) and ``decoders.py``, ``encoders.py``, ``seq2seq.py``, ``state_space.py``,
``hybrids.py``, ``modern_encoders.py``, ``audio.py``, ``qwen_vl.py``, ``vision_language.py``, ``multimodal.py``
(transformers' classes; multimodal.py's ``Gemma3Model``, the model with images, comes last and wins)."""
TOKEN_INPUTS: Final = (
    decoders.TOKEN_INPUTS
    | encoders.TOKEN_INPUTS
    | state_space.TOKEN_INPUTS
    | modern_encoders.TOKEN_INPUTS
    | multimodal.TOKEN_INPUTS
    | qwen_vl.TOKEN_INPUTS
    | vision_language.TOKEN_INPUTS
    | hybrids.TOKEN_INPUTS
    | seq2seq.TOKEN_INPUTS
)
"""Kinds whose forward reads token ids (batch, sequence): a tree rooted at one reports per-token figures."""
IMAGE_TOKEN_INPUTS: Final = multimodal.TOKEN_INPUTS | qwen_vl.TOKEN_INPUTS | vision_language.TOKEN_INPUTS
"""The vision-language kinds among them: each sequence holds one image's tokens, which an image tower computes."""
SEQUENCE_INPUTS: Final = (
    TOKEN_INPUTS | seq2seq.SOURCE_AND_TARGET_INPUTS | seq2seq.SPEECH_INPUTS | multimodal.TEXT_AND_IMAGE_INPUTS
)
"""Kinds whose input is token ids: the language models, the encoder-decoders, which read (batch, source)
or (batch, source, target), Whisper, which reads (batch, target), and CLIP/SigLIP, which read (batch, sequence)
beside as many images."""

_TWO_INPUTS: Final = "its forward takes two inputs; one input shape cannot describe the call"
_LOSS: Final = "a loss compares an input with a target; its forward takes both"
NOT_MODELLED_REASONS: Final[dict[str, str]] = {
    "Bilinear": f"{_TWO_INPUTS} (input1, input2)",
    "CosineSimilarity": f"{_TWO_INPUTS} (x1, x2)",
    "PairwiseDistance": f"{_TWO_INPUTS} (x1, x2)",
    **{f"MaxUnpool{n}d": f"{_TWO_INPUTS} (input and the indices returned by MaxPool{n}d)" for n in (1, 2, 3)},
    "TransformerDecoderLayer": f"{_TWO_INPUTS} (tgt, memory)",
    "TransformerDecoder": f"{_TWO_INPUTS} (tgt, memory)",
    "Transformer": f"{_TWO_INPUTS} (src, tgt)",
    "RNNBase": "torch's RNNBase has no forward (its subclasses RNN, LSTM and GRU do)",
    "ParameterList": "torch refuses to call a ParameterList: it only holds tensors",
    "ParameterDict": "torch refuses to call a ParameterDict: it only holds tensors",
    "RNNCellBase": "torch's RNNCellBase has no forward (its subclasses RNNCell, LSTMCell and GRUCell do)",
    **{
        kind: _LOSS
        for kind in (
            "AdaptiveLogSoftmaxWithLoss", "BCELoss", "BCEWithLogitsLoss", "CTCLoss", "CosineEmbeddingLoss",
            "CrossEntropyLoss", "GaussianNLLLoss", "HingeEmbeddingLoss", "HuberLoss", "KLDivLoss", "L1Loss",
            "LinearCrossEntropyLoss", "MSELoss", "MarginRankingLoss", "MultiLabelMarginLoss",
            "MultiLabelSoftMarginLoss", "MultiMarginLoss", "NLLLoss", "NLLLoss2d", "PoissonNLLLoss",
            "SmoothL1Loss", "SoftMarginLoss", "TripletMarginLoss", "TripletMarginWithDistanceLoss",
        )
    },
}  # fmt: skip
"""Catalog kinds deliberately without a rule, with the reason the report gives."""

_NO_FORWARD_KINDS: Final = frozenset({"ModuleList", "ModuleDict"})


def propagate(root: Module, input_shape: tuple[int, ...], *, links: list[FlowLink] | None = None) -> ShapeReport:
    """The output shape, MACs and FLOPs of every module of ``root`` for an input of ``input_shape``.

    Args:
        root: the tree (any door's ``Module``).
        input_shape: the shape of the tensor passed to ``root.forward``, as torch spells it, batch first
            (``(1, 3, 224, 224)``); ``parse_shape`` reads it from ``"1,3,224,224"``.

    Returns:
        A ``ShapeReport``: one ``ModuleShape`` per module (repeated blocks collapsed where every copy sees the
        same shape), the final output shape, total MACs and FLOPs under ``MATMUL_CONVENTION``, and the paths
        that are not modelled. ``links``, when given, receives one ``FlowLink`` per modelled module call, in
        the order the calls return (children before their parent).

    Raises:
        ShapeError: the input does not fit a module (``.module_path`` names it), as torch's forward would
            refuse it, or a computed tensor exceeds ``MAX_INPUT_ELEMENTS``.
        LimitError: ``input_shape`` exceeds the caps (``MAX_INPUT_DIMS``, ``MAX_INPUT_SIZE``,
            ``MAX_INPUT_ELEMENTS``).
    """
    shape = _checked_shape(input_shape)
    walk = _Walk(root)
    visited = walk.visit(root, "", Flow(shape), times=1, key=())
    if links is not None:
        links.extend(_links(walk))
    rows = tuple(row for _, row in sorted(walk.rows, key=lambda item: item[0]))
    gaps = tuple(row.path for row in rows if row.status in (NOT_MODELLED, NO_FORWARD))
    output = visited.output
    cost = visited.cost
    tokens = elements(shape) if root.kind in TOKEN_INPUTS else None
    return ShapeReport(
        modules=rows,
        input_shape=shape,
        output_shape=None if output is None else output.shape,
        total_macs=cost.macs,
        total_flops=FLOPS_PER_MAC * cost.macs,
        convention=MATMUL_CONVENTION,
        not_modelled=gaps,
        other_outputs=() if output is None else output.others,
        is_complete=visited.complete,
        total_backward_macs=cost.backward,
        checkpointed_macs=cost.checkpointed,
        tokens=tokens,
        masked_macs=cost.masked,
        training=_training(cost, tokens) if visited.complete else None,
    )


def _links(walk: _Walk) -> list[FlowLink]:
    """The walk's calls with each flow object numbered in order of first appearance (the walk keeps the objects
    alive, so their identities are stable), with the final paths and copy counts of their rows."""
    numbers: dict[int, int] = {}

    def number(flow: Flow) -> int:
        return numbers.setdefault(id(flow), len(numbers))

    found = []
    for index, module, flow, output, options in walk.links:
        row = walk.rows[index][1]
        found.append(
            FlowLink(
                row.path,
                module,
                number(flow),
                None if output is None else number(output),
                flow.shape,
                None if output is None else output.shape,
                row.times,
                options,
            )
        )
    return found


def _training(cost: _Cost, tokens: int | None) -> TrainingFlops:
    forward, backward, recompute = (FLOPS_PER_MAC * macs for macs in (cost.macs, cost.backward, cost.checkpointed))
    total = forward + backward

    def per_token(flops: int) -> int | None:
        return flops // tokens if tokens and flops % tokens == 0 else None

    return TrainingFlops(forward, backward, total, recompute, total + recompute, per_token(forward), per_token(total))


def token_input(root: Module, batch: int, seq_len: int) -> tuple[int, int] | None:
    """The input shape ``(batch, seq_len)`` when ``root`` reads token ids (a Hugging Face language model, or an
    encoder-decoder with ``seq_len`` tokens on both sides), so ``--seq-len``/``--batch-size`` give its shapes
    and FLOPs without ``--input``; None for any other model."""
    return (batch, seq_len) if root.kind in SEQUENCE_INPUTS else None


def token_lengths(root: Module, shape: tuple[int, ...]) -> tuple[int, int] | None:
    """``(batch, seq_len)`` of token ids of ``shape`` when ``root`` reads them, as ``--batch-size``/``--seq-len``
    would give them (``token_input``'s inverse): a language model's (batch, sequence), an encoder-decoder's (batch,
    source[, target]) (its decoder's tokens: the target, else as long as the source), Whisper's (batch, target);
    None for any other model or shape, and for a shape with no tokens."""
    if root.kind not in SEQUENCE_INPUTS or 0 in shape:
        return None
    if len(shape) == 2 or (len(shape) == 3 and root.kind in seq2seq.SOURCE_AND_TARGET_INPUTS):
        return shape[0], shape[-1]
    return None


def parse_shape(text: str) -> tuple[int, ...]:
    """Read an input shape written as sizes separated by commas (``"1,3,224,224"``, spaces allowed).

    Args:
        text: what the user typed after ``--input``.

    Returns:
        The shape as a tuple of ints.

    Raises:
        ShapeError: the text is not a list of non-negative integers (``.module_path`` is ``""``).
        LimitError: more than ``MAX_INPUT_DIMS`` sizes, a size above ``MAX_INPUT_SIZE``, more than
            ``MAX_INPUT_ELEMENTS`` elements, or a text longer than 200 characters.
    """
    if len(text) > MAX_SHAPE_TEXT_CHARS:
        raise LimitError("input shape text", MAX_SHAPE_TEXT_CHARS, len(text), unit="characters")
    stripped = text.strip()
    if not stripped:
        raise ShapeError("input shape is empty; give sizes separated by commas, e.g. 1,3,224,224", "")
    items = stripped.split(",")
    if len(items) > MAX_INPUT_DIMS:
        raise LimitError("the number of input dimensions", MAX_INPUT_DIMS, len(items))
    sizes = []
    for position, item in enumerate(items, start=1):
        word = item.strip()
        if not word.isascii() or not word.isdigit():
            shown = repr(word) if len(word) <= 40 else repr(word[:37] + "...")
            raise ShapeError(
                f"input shape size {position} is {shown}; sizes are non-negative integers separated by commas, "
                "e.g. 1,3,224,224",
                "",
            )
        if len(word) > 12:  # far above MAX_INPUT_SIZE: refuse before converting
            raise LimitError(f"input size {position}", MAX_INPUT_SIZE)
        sizes.append(int(word))
    return _checked_shape(tuple(sizes))


def _checked_shape(given: tuple[int, ...] | list[int]) -> Shape:
    """The caps on an input shape, checked before any work (typed a tuple, but a caller passes what it holds: an
    int or a string is refused whole, not read as its characters)."""
    value: object = given
    if not isinstance(value, tuple | list) or any(
        isinstance(size, bool) or not isinstance(size, int) for size in value
    ):
        raise ShapeError(f"input shape must be a tuple of integers, got {value!r}"[:120], "")
    shape: Shape = tuple(value)
    if len(shape) > MAX_INPUT_DIMS:
        raise LimitError("the number of input dimensions", MAX_INPUT_DIMS, len(shape))
    for position, size in enumerate(shape, start=1):
        if size < 0:
            raise ShapeError(f"input shape size {position} is {size}; sizes must be non-negative", "")
        if size > MAX_INPUT_SIZE:
            raise LimitError(f"input size {position}", MAX_INPUT_SIZE, size)
    count = elements(shape)
    if count > MAX_INPUT_ELEMENTS:
        raise LimitError("the number of input elements", MAX_INPUT_ELEMENTS, count)
    return shape


class _Cost(Record):
    """What one copy of a module costs, children included: forward MACs, backward MACs, the forward MACs on
    causally masked positions, the forward MACs of the checkpointed layers inside it, and the forward MACs of the
    detached modules inside it (``Call.detach``: no backward, no recompute)."""

    macs: int = 0
    backward: int = 0
    masked: int = 0
    checkpointed: int = 0
    detached: int = 0

    def plus(self, other: _Cost, copies: int = 1) -> _Cost:
        return _Cost(
            self.macs + copies * other.macs,
            self.backward + copies * other.backward,
            self.masked + copies * other.masked,
            self.checkpointed + copies * other.checkpointed,
            self.detached + copies * other.detached,
        )


_NOTHING: Final = _Cost()


class _Visited(Record):
    output: Flow | None
    cost: _Cost
    """The cost of the modelled part, for one copy (children included)."""
    complete: bool

    @property
    def macs(self) -> int:
        return self.cost.macs


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class FlowLink(Record):
    """One module call with the tensors it reads and returns, named by number: a number stands for one tensor
    object of the walk (the same number in two links is the same tensor), so the dataflow between the calls
    can be followed (``propagate(..., links=[])``; the activation accounting uses it)."""

    path: str
    module: Module
    input: int
    output: int | None
    input_shape: Shape
    output_shape: Shape | None
    times: int
    """Copies the call stands for (as ``ModuleShape.times``)."""
    options: frozenset[str] = frozenset()
    """How the parent calls it, where it matters (``"need_weights=False"``)."""


class _Walk:
    """The mutable state of one propagation: the rows recorded so far, each with its sort key (the
    positions of its ancestors among their siblings, so rows sort into ``named_modules()`` order), and each
    call's input and output flow (``links``: the row's index, the module, the flows); the paths of the module
    copies whose output reaches no loss (``detached``, see ``Call.detach``) and whether the walk is inside one;
    ``unsaved``: the MACs of the product whose inputs are the last tensors saved for backward so far, when nothing
    that saves a tensor has run since (0 otherwise; see ``Call.saved``), the MACs torch's checkpoint early stop
    does not recompute when the checkpointed layer ends here; ``root``: the tree, whose attributes are a Hugging
    Face config's settings (``Call.setting``)."""

    __slots__ = ("detached", "inert", "links", "root", "rows", "trained", "unsaved")

    def __init__(self, root: Module) -> None:
        self.root = root
        self.unsaved = 0
        self.rows: list[tuple[tuple[int, ...], ModuleShape]] = []
        self.trained: dict[int, bool] = {}
        self.links: list[tuple[int, Module, Flow, Flow | None, frozenset[str]]] = []
        self.detached: set[str] = set()
        self.inert = False

    def trainable(self, module: Module) -> bool:
        """Whether ``module`` or a module inside it holds a trainable parameter (memoised by identity: the
        tree is alive and unchanged for the whole walk)."""
        known = self.trained.get(id(module))
        if known is None:
            known = any(param.trainable for param in module.params) or any(
                self.trainable(child) for child in module.children
            )
            self.trained[id(module)] = known
        return known

    def visit(
        self,
        module: Module,
        path: str,
        flow: Flow | None,
        *,
        times: int,
        key: tuple[int, ...],
        options: frozenset[str] = frozenset(),
    ) -> _Visited:
        """Run one module (one copy) on ``flow`` and record its row and its descendants' rows; a detached copy's
        (``Call.detach``) with no backward MACs."""
        if path not in self.detached or self.inert:
            return self._visit(module, path, flow, times=times, key=key, options=options)
        self.inert = True
        try:
            visited = self._visit(module, path, flow, times=times, key=key, options=options)
        finally:
            self.inert = False
        return replace(visited, cost=replace(visited.cost, detached=visited.cost.macs))

    def _visit(
        self, module: Module, path: str, flow: Flow | None, *, times: int, key: tuple[int, ...], options: frozenset[str]
    ) -> _Visited:
        if flow is None:
            self.unknown(module, path, times, key, INPUT_UNKNOWN, "its input is unknown (see the rows before it)")
            return _Visited(None, _NOTHING, complete=False)
        if module.kind in _NO_FORWARD_KINDS:
            note = f"torch's {module.kind} has no forward(); what runs depends on the code that iterates it"
            return self.gap(module, path, flow, times, key, NO_FORWARD, note)
        rule = _sequential if module.kind == "Sequential" else RULES.get(module.kind) or BLOCK_RULES.get(module.kind)
        if rule is None:
            reason = NOT_MODELLED_REASONS.get(module.kind, f"shapes through {module.kind} are not modelled")
            return self.gap(module, path, flow, times, key, NOT_MODELLED, reason)
        call = _Call(self, module, path, times, key, options)
        try:
            outcome = rule(call, flow)
        except NotModelledError as outside:
            self.rows = self.rows[: call.first_row]
            self.links = [link for link in self.links if link[0] < call.first_row]
            return self.gap(module, path, flow, times, key, NOT_MODELLED, str(outside))
        return self.record(call, flow, outcome)

    def record(self, call: _Call, flow: Flow, outcome: Outcome) -> _Visited:
        module, path = call.module, call.path
        for position, child in enumerate(module.children):
            if child.name not in call.visited:
                self.unknown(child, _join(path, _label(child)), call.times * child.repeat, (*call.key, position, 0),
                             NOT_REACHED, f"not run by the modelled {module.kind}.forward")  # fmt: skip
                call.complete = False
        output = outcome.output
        if output is not None:
            for name, shape in ((None, output.shape), *output.others):
                count = elements(shape)
                if count > MAX_INPUT_ELEMENTS:
                    what = "output" if name is None else name
                    limit = f"the limit is {MAX_INPUT_ELEMENTS:,}"
                    raise call.fail(f"{what} {format_shape(shape)} would hold {count:,} elements; {limit}")
            if output.others and not output.source:
                output = replace(output, source=f"{path or 'the root'} ({module.kind})")
            grad = output.grad or flow.grad or self.trainable(module)
            if grad != output.grad:
                output = replace(output, grad=grad)
        if not module.children and not call.saved_itself:  # one product, which saves its inputs, or a norm's save
            self.unsaved = outcome.macs
        backward = outcome.backward_macs
        if self.inert:  # its output reaches no loss: autograd computes no gradient through it
            backward = 0
        elif backward is None:  # the products are the module's weights': their gradient, and the input's
            weights = any(param.trainable for param in module.params)
            backward = outcome.macs * (int(weights) + int(flow.grad))
        own = _Cost(outcome.macs, backward, outcome.masked_macs)
        cost = call.children.plus(own)
        if NO_GRADIENT in call.options:  # its output is discarded: no backward inside it
            cost = replace(cost, backward=0, checkpointed=0)
            for index in range(call.first_row, len(self.rows)):
                key, row = self.rows[index]
                if row.backward_macs:
                    self.rows[index] = (key, replace(row, backward_macs=0))
        macs = cost.macs
        complete = call.complete and outcome.status == MODELLED and output is not None
        note = outcome.note or ("its output is unknown: see the rows inside it" if output is None else "")
        if path in self.detached:
            note = "; ".join(filter(None, (note, "its output reaches no loss: no backward, no recompute")))
        self.links.append((len(self.rows), module, flow, output, call.options))
        self.rows.append(
            (
                call.key,
                ModuleShape(
                    path=path,
                    kind=module.kind,
                    input_shape=flow.shape,
                    output_shape=None if output is None else output.shape,
                    macs=macs if complete else None,
                    flops=FLOPS_PER_MAC * macs if complete else None,
                    steps=outcome.steps,
                    note=note,
                    times=call.times,
                    other_outputs=() if output is None else output.others,
                    status=outcome.status,
                    backward_macs=cost.backward if complete else None,
                ),
            )
        )
        return _Visited(output, cost, complete)

    def gap(
        self, module: Module, path: str, flow: Flow, times: int, key: tuple[int, ...], status: str, note: str
    ) -> _Visited:
        """A module whose output is unknown: its row, and its descendants as not reached."""
        row = ModuleShape(path, module.kind, flow.shape, None, None, None, (), note, times, (), status)
        self.rows.append((key, row))
        which = "has no forward()" if status == NO_FORWARD else "is not modelled"
        inside = f"inside {path or 'the root'} ({module.kind}), which {which}"
        for position, child in enumerate(module.children):
            self.unknown(
                child, _join(path, _label(child)), times * child.repeat, (*key, position, 0), NOT_REACHED, inside
            )
        return _Visited(None, _NOTHING, complete=False)

    def unknown(self, module: Module, path: str, times: int, key: tuple[int, ...], status: str, note: str) -> None:
        """Rows with unknown shapes for ``module`` and everything inside it (repeats stay collapsed)."""
        stack = [(module, path, times, key)]
        while stack:
            current, current_path, current_times, current_key = stack.pop()
            self.rows.append(
                (
                    current_key,
                    ModuleShape(
                        current_path, current.kind, None, None, None, None, (), note, current_times, (), status
                    ),
                )
            )
            for position, child in enumerate(current.children):
                stack.append(
                    (
                        child,
                        _join(current_path, _label(child)),
                        current_times * child.repeat,
                        (*current_key, position, 0),
                    )
                )

    def alike(self, container: str, first: int, count: int) -> int:
        """How many of the ``count`` members of ``container`` from index ``first`` on are detached as the first
        is (``Call.detach``), so one row can stand for them."""
        detached = [_join(container, str(first + index)) in self.detached for index in range(count)]
        return detached.index(not detached[0]) if (not detached[0]) in detached else count

    def relabel(self, first: int, old: str, new: str, copies: int) -> None:
        """Rows recorded from index ``first`` on stand for ``copies`` identical copies: rename ``old`` → ``new``."""
        for index in range(first, len(self.rows)):
            key, row = self.rows[index]
            if row.path == old or row.path.startswith(old + "."):
                row = replace(row, path=new + row.path[len(old) :], times=row.times * copies)
            self.rows[index] = (key, row)


def _label(child: Module) -> str:
    """``"3"``, or ``"3-5"`` for a child standing for three copies."""
    return child.name if child.repeat == 1 else f"{child.name}-{int(child.name) + child.repeat - 1}"


class _Call:
    """What a rule sees (``shape_types.Call``): the module, and running its children through the walk."""

    __slots__ = (
        "children",
        "complete",
        "first_row",
        "key",
        "module",
        "options",
        "path",
        "recomputed",
        "saved_itself",
        "times",
        "visited",
        "walk",
    )

    def __init__(
        self, walk: _Walk, module: Module, path: str, times: int, key: tuple[int, ...], options: frozenset[str]
    ) -> None:
        self.walk = walk
        self.module = module
        self.path = path
        self.times = times
        self.key = key
        self.options = options
        self.children = _NOTHING
        self.complete = True
        self.visited: set[str] = set()
        self.first_row = len(walk.rows)
        self.recomputed = 0
        """The forward MACs gradient checkpointing recomputes when each member ``run_members`` runs is a
        checkpointed layer: each member's, less a detached member's, less what torch's early stop skips."""
        self.saved_itself = False
        """Whether the rule reported its own saves (``saved``), so the walk does not infer them."""

    def fail(self, message: str) -> ShapeError:
        return ShapeError(f"{self.module.kind} {message}", self.path)

    def _find(self, name: str) -> tuple[int, Module]:
        for position, child in enumerate(self.module.children):
            if child.name == name:
                return position, child
        raise NotModelledError(f"it has no member {name!r}")

    def child(self, name: str, flow: Flow | None, *, options: frozenset[str] = frozenset()) -> Flow | None:
        position, child = self._find(name)
        self.visited.add(name)
        visited = self.walk.visit(
            child, _join(self.path, name), flow, times=self.times, key=(*self.key, position, 0), options=options
        )
        self.children = self.children.plus(visited.cost)
        self.complete = self.complete and visited.complete
        return visited.output

    def detach(self, path: str) -> None:
        self.walk.detached.add(path)

    def saved(self, macs: int) -> None:
        self.walk.unsaved = macs
        self.saved_itself = True

    def setting(self, name: str) -> Value:
        return dict(self.walk.root.attributes).get(name)

    def skip(self, name: str, reason: str) -> None:
        position, child = self._find(name)
        self.visited.add(name)
        self.walk.unknown(child, _join(self.path, name), self.times, (*self.key, position, 0), NOT_CALLED, reason)

    def chain(
        self, name: str, flow: Flow | None, *, checkpointed: bool = False, calls: tuple[int, ...] = ()
    ) -> Flow | None:
        """Run a child container's members in order and record the container's own row; ``calls``: how many
        times each member runs in a row (ALBERT's shared layer groups), one count per copy."""
        inner = self._container(name, flow)
        if inner is None or flow is None:
            return None
        output = inner.run_members(flow, calls, checkpointed=checkpointed)
        note = f"its members run in order in {self.module.kind}.forward"
        if checkpointed:
            note += "; gradient checkpointing recomputes each of them in the backward pass"
        return self._close(inner, flow, Outcome(output, 0, (), note), checkpointed=checkpointed)

    def each(self, name: str, flow: Flow | None) -> Flow | None:
        """Run every member of the child container ``name`` on the same ``flow`` and record the container's row
        (a ``ModuleList`` whose members the parent's forward calls on one tensor each: Qwen3-VL's deepstack
        mergers); a member repeated ``n`` times is walked once, its row standing for the ``n`` calls. Returns
        the last member's output."""
        inner = self._container(name, flow)
        if inner is None or flow is None:
            return None
        output = None
        for index, child in enumerate(inner.module.children):
            inner.visited.add(child.name)
            path, key = _join(inner.path, _label(child)), (*inner.key, index, 0)
            visited = self.walk.visit(replace(child, repeat=1), path, flow, times=self.times * child.repeat, key=key)
            inner.children = inner.children.plus(visited.cost, child.repeat)
            inner.complete = inner.complete and visited.complete
            output = visited.output
        return self._close(
            inner, flow, Outcome(output, 0, (), f"{self.module.kind}.forward calls each member on one input")
        )

    def _container(self, name: str, flow: Flow | None) -> _Call | None:
        """The call of the child container ``name``; None, its rows recorded as input unknown, when ``flow`` is."""
        position, container = self._find(name)
        self.visited.add(name)
        inner = _Call(self.walk, container, _join(self.path, name), self.times, (*self.key, position, 0), frozenset())
        if flow is None:
            self.walk.unknown(container, inner.path, self.times, inner.key, INPUT_UNKNOWN, "its input is unknown")
            self.complete = False
            return None
        return inner

    def _close(self, inner: _Call, flow: Flow, outcome: Outcome, *, checkpointed: bool = False) -> Flow | None:
        """Record the container's row and add its cost (``checkpointed``: recomputed in the backward pass)."""
        visited = self.walk.record(inner, flow, outcome)
        cost = visited.cost
        if checkpointed:
            cost = replace(cost, checkpointed=inner.recomputed)
        self.children = self.children.plus(cost)
        self.complete = self.complete and visited.complete
        return visited.output

    def run_members(self, flow: Flow | None, calls: tuple[int, ...] = (), *, checkpointed: bool = False) -> Flow | None:
        """``Sequential.forward``: each member on the previous member's output. A member repeated ``n``
        times is walked once and labelled ``a-b`` as soon as a copy's output equals its input. ``calls``: the
        times each copy runs in a row (its output must equal its input to run again), its row's ``times``
        multiplied by that count; empty: once each. ``checkpointed``: each member is a checkpointed layer, whose
        recompute (``recomputed``) torch's default early stop ends once the layer has saved its last tensor again:
        a detached member is never recomputed, and a product after which nothing saves a tensor (Llama's
        ``down_proj`` before the residual add) is not run again."""
        index = 0
        for position, child in enumerate(self.module.children):
            self.visited.add(child.name)
            single = replace(child, repeat=1)
            done = 0
            while done < child.repeat:
                name = child.name if child.repeat == 1 else str(int(child.name) + done)
                path = _join(self.path, name)
                runs = calls[index] if calls else 1
                if runs == 0:
                    note = f"the forward that iterates {self.path} does not call it for this configuration"
                    self.walk.unknown(single, path, self.times, (*self.key, position, done), NOT_CALLED, note)
                    done, index = done + 1, index + 1
                    continue
                _check_not_tuple(flow, single, path)
                first = len(self.walk.rows)
                self.walk.unsaved = 0
                visited = self.walk.visit(single, path, flow, times=self.times * runs, key=(*self.key, position, done))
                skipped = 0 if visited.cost.detached else self.walk.unsaved
                if runs > 1 and visited.output is not None and flow is not None and visited.output.shape != flow.shape:
                    raise ShapeError(f"{single.kind} runs {runs} times in a row but changes its input's shape", path)
                remaining = child.repeat - done
                copies = remaining if remaining > 1 and visited.output == flow and not calls else 1
                if copies > 1:
                    copies = self.walk.alike(self.path, int(name), copies)
                if copies > 1:
                    self.walk.relabel(first, path, _join(self.path, f"{name}-{int(name) + copies - 1}"), copies)
                self.children = self.children.plus(visited.cost, copies * runs)
                if checkpointed:
                    self.recomputed += copies * runs * (visited.cost.macs - visited.cost.detached - skipped)
                self.complete = self.complete and visited.complete
                done += copies
                index += copies
                flow = visited.output
        return flow


def _check_not_tuple(flow: Flow | None, module: Module, path: str) -> None:
    """``Sequential`` hands a member's tuple (LSTM's ``(output, (h_n, c_n))``) to the next member as is;
    only Identity passes it on, every other layer refuses it."""
    if flow is None or not flow.others or module.kind == "Identity":
        return
    names = ", ".join(("output", *(name for name, _ in flow.others)))
    raise ShapeError(
        f"{module.kind} receives the tuple ({names}) that {flow.source} returns; Sequential passes it on as is, "
        f"and {module.kind} takes a single tensor",
        path,
    )

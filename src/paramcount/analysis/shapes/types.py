"""The data of shape propagation: what each module receives and returns, its MACs, and the arithmetic.

Kept apart from the walk (``propagate.py``) and the per-family rules so that the rules, the
walk and ``flops.py`` can all share the types without importing each other. Everything here is frozen
plain data of ints and strings; ``None`` means "not known" and always comes with a status and a note.
"""

from __future__ import annotations

from paramcount._record import Record
from paramcount.errors import ShapeError
from paramcount.tree import Module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Final, Protocol, TypeAlias

    from paramcount.tree import Value

__all__ = [
    "INPUT_UNKNOWN",
    "MODELLED",
    "NOT_CALLED",
    "NOT_MODELLED",
    "NOT_REACHED",
    "NO_FORWARD",
    "NO_GRADIENT",
    "Call",
    "Flow",
    "ModuleShape",
    "Outcome",
    "Rule",
    "Shape",
    "ShapeReport",
    "ShapeStep",
    "TrainingFlops",
    "format_shape",
]

Shape = tuple[int, ...]
"""A tensor shape as torch's ``tuple(tensor.shape)`` spells it."""

MODELLED: Final = "modelled"
"""The module's output shape and MACs were computed."""
NOT_MODELLED: Final = "not modelled"
"""No rule exists for the module's kind (a zoo or Hugging Face block, a two-input layer): a gap, not a zero."""
NO_FORWARD: Final = "no forward"
"""ModuleList / ModuleDict: torch gives them no ``forward``; what flows through them depends on user code."""
NOT_REACHED: Final = "not reached"
"""Inside a module that is not modelled (or has no forward): its input is unknown."""
INPUT_UNKNOWN: Final = "input unknown"
"""Comes after a module whose output is unknown, so its own input is unknown."""
NO_GRADIENT: Final = "no gradient"
"""A call option (``Call.child(..., options=...)``): the parent's forward discards the child's output (SigLIP's
image classifier and its tower's pooling head), so no gradient reaches it: its backward, and its children's, is
zero."""
NOT_CALLED: Final = "not called"
"""The parent's ``forward`` does not call it for this configuration (EfficientNet's ``stochastic_depth`` in a
block without a residual): known, not a gap."""


class ShapeStep(Record):
    """One line of arithmetic: ``name = symbolic = substituted = value``.

    ``name`` says what is computed (``H_out``, ``MACs``); the output-size formulas are torch's documented
    ones (see the rule that emits the step)."""

    symbolic: str
    substituted: str
    value: int
    name: str = ""


class ModuleShape(Record):
    """One module of the tree for one input shape.

    ``macs`` and ``flops`` are for one copy and include the module's children (a block's cost is read off
    its own row); ``times`` is how many identical copies (or calls of one shared module, as ALBERT calls its
    layer group) the row stands for, ancestors' repeats included,
    so a block repeated 32 times whose input equals its output is one row ``layers.0-31`` with
    ``times=32``. A block whose copies see different shapes (``Conv2d(8, 8, 3)`` repeated) has one row per
    copy. ``None`` shapes and MACs mean "not known"; ``status`` and ``note`` say why."""

    path: str
    kind: str
    input_shape: Shape | None
    output_shape: Shape | None
    macs: int | None
    flops: int | None
    steps: tuple[ShapeStep, ...] = ()
    note: str = ""
    times: int = 1
    other_outputs: tuple[tuple[str, Shape], ...] = ()
    """Further members of a tuple torch returns (``("h_n", …), ("c_n", …)`` for LSTM), by torch's names."""
    status: str = MODELLED
    backward_macs: int | None = None
    """MACs of the backward pass through this module (one copy, children included): each matrix product's
    gradient with respect to each operand that needs one (a weight that is trainable, an input that depends
    on one), each as many MACs as the forward product."""


class TrainingFlops(Record):
    """FLOPs of one training step on this input, under the same convention as the forward count.

    ``backward``: each matrix product's gradient with respect to each operand that needs one, as autograd
    computes it (a weight's gradient when it is trainable, an input's when it depends on a trainable weight),
    each as many FLOPs as the forward product: 2× the forward for the products inside the network; the first
    layer, whose input is the data, computes its weight gradient only. ``recompute``: gradient checkpointing
    runs the forward of each checkpointed layer again in the backward pass, up to the layer's last saved tensor
    (torch's default early stop: a last product after which nothing saves a tensor is not run again)."""

    forward: int
    backward: int
    total: int
    """forward + backward."""
    recompute: int
    total_checkpointed: int
    """forward + backward + recompute (transformers' ``gradient_checkpointing_enable()``)."""
    forward_per_token: int | None = None
    """Forward FLOPs per input token, when the model reads tokens and the count divides evenly."""
    total_per_token: int | None = None


class ShapeReport(Record):
    """Shapes, MACs and FLOPs of every module for one input shape, in ``named_modules()`` order.

    ``total_macs`` / ``total_flops`` count every modelled module (× its ``times``); when ``not_modelled``
    is non-empty they are lower bounds and ``output_shape`` may be ``None``."""

    modules: tuple[ModuleShape, ...]
    input_shape: Shape
    output_shape: Shape | None
    total_macs: int
    total_flops: int
    convention: str
    not_modelled: tuple[str, ...] = ()
    """Paths of the modules whose shapes are not modelled or that have no forward (the gaps)."""
    other_outputs: tuple[tuple[str, Shape], ...] = ()
    """Further members of the tuple the root returns (LSTM's ``h_n`` and ``c_n``)."""
    is_complete: bool = True
    """True when every module was modelled, so the totals are exact under the convention."""
    total_backward_macs: int = 0
    """MACs of one backward pass (see ``ModuleShape.backward_macs``)."""
    checkpointed_macs: int = 0
    """Forward MACs of the blocks that gradient checkpointing wraps (each layer of a Hugging Face model's layer
    stack) that a checkpointed training step computes a second time: each layer's up to its last saved tensor, as
    torch's checkpoint recomputes it with its default early stop."""
    tokens: int | None = None
    """Tokens in the input (batch · sequence) when the model reads token ids; None otherwise."""
    masked_macs: int = 0
    """MACs of the attention products (QKᵀ, attention·V) that fall on positions a causal mask hides: counted in
    the totals, as eager attention computes them, but skipped by a causal kernel that skips masked blocks."""
    training: TrainingFlops | None = None
    """The training step's FLOPs; None when some module is not modelled."""


class Flow(Record):
    """What one module hands to the next: a tensor of ``shape`` (and, when torch returns a tuple, its
    other members, which a following module in a ``Sequential`` would receive as well)."""

    shape: Shape
    others: tuple[tuple[str, Shape], ...] = ()
    source: str = ""
    """Path and kind of the module that returned the tuple (for the message when the tuple is misused)."""
    grad: bool = False
    """Whether the tensor depends on a trainable parameter (so autograd computes a gradient for it): the
    model's input does not; the output of a module with trainable parameters does."""
    context: tuple[tuple[str, Shape], ...] = ()
    """Tensors a decoder's layers read beside their input, by name (``encoder_hidden_states``, the encoder's
    output that cross-attention reads), handed along the layer stack unchanged."""


class Outcome(Record):
    """What a rule computes for one module: its output, its *own* MACs (children add theirs through
    ``Call.child``), the arithmetic behind them, and a note (an assumption or a convention)."""

    output: Flow | None
    macs: int = 0
    steps: tuple[ShapeStep, ...] = ()
    note: str = ""
    status: str = MODELLED
    backward_macs: int | None = None
    """The backward MACs of the module's own products; None: its products are its weights' (``macs``), so
    the walk counts the weights' gradient when they are trainable and the input's when the input needs one."""
    masked_macs: int = 0
    """Of ``macs``, those of causal attention products on masked positions (see ``ShapeReport``)."""


if TYPE_CHECKING:

    class Call(Protocol):
        """What a rule sees of the walk: the module, its path, and a way to run a child on a shape."""

        @property
        def module(self) -> Module: ...

        @property
        def path(self) -> str: ...

        @property
        def options(self) -> frozenset[str]:
            """How the parent calls this module, where it matters (``"need_weights=False"``)."""
            ...

        def child(self, name: str, flow: Flow | None, *, options: frozenset[str] = frozenset()) -> Flow | None:
            """Run the child called ``name`` on ``flow``; its row, MACs and errors are recorded by the walk."""
            ...

        def chain(
            self, name: str, flow: Flow | None, *, checkpointed: bool = False, calls: tuple[int, ...] = ()
        ) -> Flow | None:
            """Run the members of the child container ``name`` one after another (``ModuleList`` iterated by
            the parent's forward, like ``TransformerEncoder.layers``); ``checkpointed``: each member is a
            layer that gradient checkpointing recomputes (transformers' ``GradientCheckpointingLayer``);
            ``calls``: how many times in a row each member runs (ALBERT's shared layer groups)."""
            ...

        def each(self, name: str, flow: Flow | None) -> Flow | None:
            """Run every member of the child container ``name`` on the same ``flow`` (a ``ModuleList`` whose
            members the parent's forward calls on one tensor each, Qwen3-VL's deepstack mergers)."""
            ...

        def detach(self, path: str) -> None:
            """Record that the output of the module copy at ``path`` (walked later: a vision layer after the
            hidden state the projector reads) reaches no loss: autograd computes no gradient through it, so its
            rows' backward MACs are 0 and gradient checkpointing never recomputes it."""
            ...

        def saved(self, macs: int) -> None:
            """Record that the forward has just saved a tensor for backward (which torch's non-reentrant checkpoint
            recomputes up to, with its default early stop): ``macs``, the MACs of the product that saves its inputs
            before it runs (0: an operation without products, or one that saves after it runs). A module without
            children that does not call it is taken to end with its one product (or, without MACs, a save: a
            norm's input)."""
            ...

        def setting(self, name: str) -> Value:
            """The Hugging Face config's setting ``name`` (an attribute of the root), None when it has none."""
            ...

        def skip(self, name: str, reason: str) -> None:
            """Record that ``forward`` does not call the child ``name`` here, and why."""
            ...

        def run_members(self, flow: Flow | None) -> Flow | None:
            """``Sequential.forward``: each child on the previous child's output, in registration order."""
            ...

        def fail(self, message: str) -> ShapeError:
            """A ``ShapeError`` at this module, its kind leading the message: ``<path>: <kind> <message>``."""
            ...

    Rule: TypeAlias = Callable[[Call, Flow], Outcome]
    """A shape rule: the module's call and its input → the module's outcome."""


def format_shape(shape: Shape) -> str:
    """``(1, 3, 224, 224)`` as torch prints sizes in messages: ``[1, 3, 224, 224]``."""
    return "[" + ", ".join(str(size) for size in shape) + "]"

"""Optimizer state as data: which tensors each optimizer keeps per parameter, checked against torch 2.13.

Every row lists the state torch's optimizer holds after its first ``step()`` (``optimizer.state[p]``): full-size
tensors like ``exp_avg``, the 0-d float32 ``step`` counter most keep per parameter tensor, the scalar
extras (NAdam's ``mu_product``, ASGD's ``eta`` and ``mu``), Adafactor's factored second moment, and the
state of optimizers torch does not ship (Lion, bitsandbytes' 8-bit Adam), each with its source.

Full-size states take the dtype of the parameter in torch (``torch.zeros_like(p)``); under the mixed
precision convention (Megatron-LM, DeepSpeed ZeRO) they are float32. Scalars are always float32
(``torch.tensor(0.0, dtype=_get_scalar_dtype())``).
"""

from __future__ import annotations

from paramcount._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final, Literal, TypeAlias

__all__ = ["EXCLUDED_OPTIMIZERS", "OPTIMIZERS", "OptimizerSpec", "StateSpec", "state_entries"]

if TYPE_CHECKING:
    StateKind: TypeAlias = Literal["full", "scalar", "factored", "blockwise_8bit"]


class StateSpec(Record):
    """One entry of ``optimizer.state[p]``.

    - ``full``: a tensor shaped like the parameter, in the state dtype;
    - ``scalar``: a 0-d float32 tensor per parameter tensor;
    - ``factored``: Adafactor's second moment: for a ≥2-d parameter ``row_var`` (numel / shape[-1]) and
      ``col_var`` (numel / shape[-2]) in the state dtype, for a 1-d one a full ``variance``;
    - ``blockwise_8bit``: bitsandbytes' 8-bit state: uint8 values plus a float32 absmax per block of 256, or a
      float32 tensor when the parameter has fewer than 4,096 elements (``min_8bit_size``).
    """

    name: str
    kind: StateKind


class OptimizerSpec(Record):
    name: str
    label: str
    states: tuple[StateSpec, ...]
    source: str
    torch_class: str | None = None
    """The torch class and arguments that hold exactly these states (None: not in torch)."""
    aliases: tuple[str, ...] = ()
    note: str = ""
    matrices_only: bool = False
    """Keeps state for 2-d parameters only (Muon); the others are left to another optimizer."""


STEP = StateSpec("step", "scalar")
BLOCKWISE_8BIT_MIN_ELEMENTS: Final = 4096
"""bitsandbytes Optimizer8bit ``min_8bit_size``: smaller tensors keep 32-bit states."""
BLOCKWISE_8BIT_BLOCK: Final = 256
"""bitsandbytes Optimizer2State.init_state: ``blocksize = 256`` for the absmax of each 8-bit state."""
SHARED_8BIT_MAP_BYTES: Final = 2 * 256 * 4
"""The signed and unsigned dynamic quantisation maps (256 float32 each), shared by every 8-bit state."""


def _full(*names: str) -> tuple[StateSpec, ...]:
    return tuple(StateSpec(name, "full") for name in names)


_TORCH = "torch/optim (torch 2.13): state keys after one step()"


def _torch(
    name: str,
    label: str,
    torch_class: str,
    *full: str,
    step: bool = True,
    scalars: tuple[str, ...] = (),
    aliases: tuple[str, ...] = (),
    note: str = "",
) -> OptimizerSpec:
    """An optimizer of ``torch.optim`` whose state is, in ``optimizer.state[p]``'s order, the ``step`` counter
    (most keep one), the float32 ``scalars`` and the ``full``-size tensors."""
    states = ((STEP,) if step else ()) + tuple(StateSpec(scalar, "scalar") for scalar in scalars) + _full(*full)
    return OptimizerSpec(name, label, states, _TORCH, torch_class, aliases, note)


OPTIMIZERS: Final[tuple[OptimizerSpec, ...]] = (
    _torch("sgd", "SGD", "SGD(momentum=0)", step=False, note="no state at all"),
    _torch(
        "sgd-momentum",
        "SGD with momentum",
        "SGD(momentum=0.9)",
        "momentum_buffer",
        step=False,
        aliases=("momentum", "sgdm"),
    ),
    _torch("adam", "Adam", "Adam()", "exp_avg", "exp_avg_sq"),
    _torch("adamw", "AdamW", "AdamW()", "exp_avg", "exp_avg_sq"),
    _torch("adam-amsgrad", "Adam (amsgrad)", "Adam(amsgrad=True)", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
    _torch("adamw-amsgrad", "AdamW (amsgrad)", "AdamW(amsgrad=True)", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
    _torch("adamax", "Adamax", "Adamax()", "exp_avg", "exp_inf"),
    _torch("nadam", "NAdam", "NAdam()", "exp_avg", "exp_avg_sq", scalars=("mu_product",)),
    _torch("radam", "RAdam", "RAdam()", "exp_avg", "exp_avg_sq"),
    _torch("adagrad", "Adagrad", "Adagrad()", "sum"),
    _torch("adadelta", "Adadelta", "Adadelta()", "square_avg", "acc_delta"),
    _torch("rmsprop", "RMSprop", "RMSprop()", "square_avg"),
    _torch("rmsprop-momentum", "RMSprop with momentum", "RMSprop(momentum=0.9)", "square_avg", "momentum_buffer"),
    _torch("rmsprop-centered", "RMSprop (centered)", "RMSprop(centered=True)", "square_avg", "grad_avg"),
    _torch(
        "rmsprop-centered-momentum",
        "RMSprop (centered, momentum)",
        "RMSprop(momentum=0.9, centered=True)",
        "square_avg",
        "momentum_buffer",
        "grad_avg",
    ),
    _torch("rprop", "Rprop", "Rprop()", "prev", "step_size"),
    _torch("asgd", "ASGD", "ASGD()", "ax", scalars=("eta", "mu")),
    OptimizerSpec(
        "adafactor",
        "Adafactor",
        (STEP, StateSpec("second moment", "factored")),
        _TORCH + "; Shazeer & Stern 2018, Adafactor (factored second moments, no first moment with beta1=None)",
        "Adafactor()",
        note="torch.optim.Adafactor: row_var and col_var for ≥2-d parameters, a full variance for 1-d ones",
    ),
    OptimizerSpec(
        "muon",
        "Muon",
        _full("momentum_buffer"),
        _TORCH + "; Jordan et al. 2024, Muon",
        "Muon()",
        note="torch.optim.Muon takes 2-d parameters only (others are usually trained with AdamW, not modelled "
        "here); one momentum buffer, no step counter",
        matrices_only=True,
    ),
    OptimizerSpec(
        "lion",
        "Lion",
        _full("exp_avg"),
        "Chen et al. 2023, Symbolic Discovery of Optimization Algorithms (Lion keeps one momentum); lion-pytorch",
        note="not in torch; one momentum tensor, no step counter",
    ),
    OptimizerSpec(
        "adamw-8bit",
        "AdamW 8-bit (bitsandbytes)",
        (StateSpec("state1", "blockwise_8bit"), StateSpec("state2", "blockwise_8bit")),
        "bitsandbytes optim/optimizer.py Optimizer2State.init_state (block_wise=True, blocksize 256, "
        "min_8bit_size 4096); Dettmers et al. 2022, 8-bit Optimizers via Block-wise Quantization",
        aliases=("adam-8bit", "adam8bit", "adamw8bit", "bnb-adamw-8bit", "adamw-bnb-8bit"),
        note="two uint8 states + a float32 absmax per 256 elements each (≈ 2.03 bytes per parameter); tensors under "
        "4,096 elements keep float32 states; the step count is a Python int; the two 256-entry quantisation maps "
        "are shared",
    ),
)
"""Every optimizer the planner knows, with the torch call that reproduces it (checked in the tests)."""

EXCLUDED_OPTIMIZERS: Final = {
    "sparseadam": "SparseAdam needs sparse gradients (Embedding(sparse=True)), whose size depends on the rows a "
    "batch touches, so its gradient memory is not a function of the model",
    "lbfgs": "LBFGS keeps a history of up to history_size flattened update pairs that grows with the iterations "
    "run and needs a closure; its memory is not a per-parameter constant",
}
"""torch optimizers the planner does not model, with the reason (named when a user asks for one)."""


class StateEntry(Record):
    """The bytes of one state for one parameter tensor: ``count`` elements, ``bytes`` exact."""

    label: str
    count: int
    bytes: int
    bits: int


def state_entries(spec: StateSpec, sizes: tuple[int, ...], state_bits: int) -> tuple[StateEntry, ...]:
    """The tensors ``spec`` keeps for one parameter of shape ``sizes`` with full states of ``state_bits``."""
    count = 1
    for size in sizes:
        count *= size
    if spec.kind == "scalar":
        return (StateEntry(f"{spec.name} (float32 scalar per tensor)", 1, 4, 32),)
    if spec.kind == "full":
        return (StateEntry(spec.name, count, -(-count * state_bits // 8), state_bits),)
    if spec.kind == "factored":
        return _factored(sizes, count, state_bits)
    return _blockwise_8bit(spec.name, count)


def _factored(sizes: tuple[int, ...], count: int, state_bits: int) -> tuple[StateEntry, ...]:
    # torch.optim.Adafactor (2.13): row_shape[-1] = 1 and col_shape[-2] = 1 for p.dim() > 1.
    if len(sizes) < 2:
        return (StateEntry("variance", count, -(-count * state_bits // 8), state_bits),)
    rows = count // sizes[-1] if sizes[-1] else 0
    columns = count // sizes[-2] if sizes[-2] else 0
    return (
        StateEntry("row_var", rows, -(-rows * state_bits // 8), state_bits),
        StateEntry("col_var", columns, -(-columns * state_bits // 8), state_bits),
    )


def _blockwise_8bit(name: str, count: int) -> tuple[StateEntry, ...]:
    if count < BLOCKWISE_8BIT_MIN_ELEMENTS:
        return (StateEntry(f"{name} (float32: under 4,096 elements)", count, 4 * count, 32),)
    blocks = -(-count // BLOCKWISE_8BIT_BLOCK)
    return (
        StateEntry(f"{name} (uint8)", count, count, 8),
        StateEntry(f"{name} absmax (float32 per 256)", blocks, 4 * blocks, 32),
    )

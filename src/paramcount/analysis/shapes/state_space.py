"""Dataflow of transformers' state-space language models, Mamba and Mamba-2, as their slow torch path computes
them (``torch_forward`` of ``modeling_mamba.py`` / ``modeling_mamba2.py``, transformers 5.24): the path that runs
without the CUDA kernels (``mamba_ssm``, ``causal_conv1d``), on a CPU, for a forward pass without a cache.

Counting convention of the scan: the products it computes as matrix products (``matmul``, ``einsum``) are MACs,
as FlopCounterMode counts them; its elementwise work (the discretisation ``exp(Δ·A)``, ``Δ·B·x``, the state's
multiply-add per step, the cumulative sums, the gate) is not, as for a normalisation or an activation.

- Mamba: the recurrence runs token by token; each step reads the state out with ``state @ C``: batch · L ·
  intermediate · state_size MACs in all.
- Mamba-2 (structured state-space duality, chunked): the sequence is padded to whole chunks of ``chunk_size``
  Q (c chunks); per chunk ``C·Bᵀ`` (Q·Q·heads·state), its product with the inputs (Q·Q·heads·head_dim), the
  chunk's final state (Q·heads·head_dim·state), the states passed between chunks ((c+1)²·heads·head_dim·state)
  and their read-out (Q·heads·head_dim·state), each times batch · c.

The depthwise ``conv1d`` pads both sides by kernel − 1 and keeps the first L outputs: its MACs are those of the
L + kernel − 1 outputs torch computes. ``dt_proj`` (Mamba) is applied as ``weight @ x``: a linear layer's MACs.
"""

from __future__ import annotations

from paramcount._record import replace
from paramcount.analysis.flops import macs_step
from paramcount.analysis.shapes.common import NotModelledError
from paramcount.analysis.shapes.flow import add, chain, child_of, dataflow, param_sizes, run
from paramcount.analysis.shapes.transformers import in_features, rms_norm, tokens
from paramcount.analysis.shapes.types import Flow, Outcome, ShapeStep, format_shape

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.analysis.shapes.types import Call, Rule

__all__ = ["RULES", "TOKEN_INPUTS", "mamba2_mixer", "mamba_mixer", "scan_products"]


def _sequence(call: Call, flow: Flow) -> tuple[int, int]:
    if len(flow.shape) != 3:
        raise call.fail(f"expects (batch, sequence, hidden) hidden states, got {format_shape(flow.shape)}")
    return flow.shape[0], flow.shape[1]


def _convolved(call: Call, batch: int, length: int, channels: int, grad: bool) -> None:
    """``causal_conv1d_fn``: the depthwise conv1d on the (batch, channels, L) transposed projection."""
    call.child("conv1d", Flow((batch, channels, length), grad=grad))


def scan_products(
    sizes: dict[str, int], products: tuple[tuple[str, tuple[str, ...]], ...]
) -> tuple[int, tuple[ShapeStep, ...]]:
    """The MACs of a scan's products, each ``(name, symbols)`` with every symbol's size in ``sizes`` (a number
    stands for itself), and the steps that show them."""
    total, shown = 0, []
    for name, symbols in products:
        values = tuple(int(symbol) if symbol.isdigit() else sizes[symbol] for symbol in symbols)
        macs, step = macs_step(symbols, values)
        total += macs
        shown.append(replace(step, name=f"MACs ({name})"))
    return total, tuple(shown)


def mamba_mixer(call: Call, flow: Flow) -> Outcome:
    """``MambaMixer``: ``in_proj`` to the inner width twice (x and the gate z); the depthwise conv of x; ``x_proj``
    to the step rank and B and C (state_size each), each RMS-normalised where the mixer has ``dt_layernorm``,
    ``b_layernorm`` and ``c_layernorm`` (``JambaMambaMixer``); ``dt_proj`` to the inner width; the selective scan;
    the gate; ``out_proj``."""
    batch, length = _sequence(call, flow)
    inner, state = param_sizes(call.module, "A_log")
    projected = call.child("in_proj", flow)
    grad = projected is not None and projected.grad
    _convolved(call, batch, length, inner, grad)
    parameters = call.child("x_proj", Flow((batch, length, inner), grad=grad))
    rank = in_features(call, "dt_proj")
    if parameters is not None and parameters.shape[-1] != rank + 2 * state:
        raise call.fail(f"splits x_proj's {parameters.shape[-1]} features into dt_proj's {rank} and B and C of "
                        f"{state} each, which fails")  # fmt: skip
    for norm, width in (("dt_layernorm", rank), ("b_layernorm", state), ("c_layernorm", state)):
        if child_of(call.module, norm) is not None:
            call.child(norm, Flow((batch, length, width), grad=grad))
    call.child("dt_proj", Flow((batch, length, rank), grad=grad))
    sizes = {"batch": batch, "L": length, "intermediate": inner, "state": state}
    macs, steps = scan_products(sizes, (("scan: state @ C per step", ("batch", "L", "intermediate", "state")),))
    output = call.child("out_proj", Flow((batch, length, inner), grad=True))
    note = "the selective scan's state updates are elementwise (not counted); each step's read-out state @ C is"
    return Outcome(output, macs, steps, note, backward_macs=2 * macs)


def mamba2_mixer(call: Call, flow: Flow) -> Outcome:
    """``Mamba2Mixer``: ``in_proj`` to the gate (intermediate), x·B·C (convolved) and a step per head; the chunked
    scan over heads of ``head_dim``; the gated RMSNorm (or, in a ``FalconH1Mixer`` without ``norm``, the gate
    alone); ``out_proj``."""
    batch, length = _sequence(call, flow)
    attributes = dict(call.module.attributes)
    groups, chunk = attributes.get("n_groups"), attributes.get("chunk_size")
    if not isinstance(groups, int) or not isinstance(chunk, int) or groups < 1 or chunk < 1:
        raise NotModelledError("its n_groups and chunk_size are not known")
    heads = param_sizes(call.module, "A_log")[0]
    inner = in_features(call, "out_proj")
    projected = call.child("in_proj", flow)
    grad = projected is not None and projected.grad
    conv_channels = projected.shape[-1] - inner - heads if projected is not None else 0
    state, remainder = divmod(conv_channels - inner, 2 * groups)
    if projected is not None and (remainder or state < 1 or inner % heads):
        raise call.fail(f"splits in_proj's {projected.shape[-1]} features into the gate ({inner}), x·B·C with "
                        f"{groups} groups and a step per head ({heads}), which fails")  # fmt: skip
    _convolved(call, batch, length, conv_channels, grad)
    head_dim = inner // heads
    chunks = -(-length // chunk)
    sizes = {
        "batch": batch,
        "chunks": chunks,
        "(chunks+1)": chunks + 1,
        "Q": chunk,
        "heads": heads,
        "head_dim": head_dim,
        "state": state,
    }
    macs, steps = scan_products(
        sizes,
        (
            ("C·Bᵀ in each chunk", ("batch", "chunks", "Q", "Q", "heads", "state")),
            ("its product with x", ("batch", "chunks", "Q", "Q", "heads", "head_dim")),
            ("each chunk's state", ("batch", "chunks", "Q", "heads", "head_dim", "state")),
            ("states between chunks", ("batch", "(chunks+1)", "(chunks+1)", "heads", "head_dim", "state")),
            ("C·states", ("batch", "chunks", "Q", "heads", "head_dim", "state")),
        ),
    )
    scanned = Flow((batch, length, inner), grad=True)
    normed = scanned if child_of(call.module, "norm") is None else call.child("norm", scanned)
    output = call.child("out_proj", normed)
    note = (f"the sequence is padded to {chunks} whole chunk(s) of {chunk} tokens (Q) for the scan, whose "
            "exponentials and cumulative sums are elementwise (not counted); the gate scales the norm")  # fmt: skip
    return Outcome(output, macs, steps, note, backward_macs=2 * macs)


_BLOCK: Final = dataflow(run("norm"), run("mixer"), add("x", "x", "x0", what="add the residual"))
_MODEL: Final = dataflow(tokens(), run("embeddings", "x0", "x"), chain("layers", checkpointed=True), run("norm_f"))
_CAUSAL_LM: Final = dataflow(tokens(), run("backbone"), run("lm_head"))

RULES: Final[dict[str, Rule]] = {
    "MambaForCausalLM": _CAUSAL_LM,
    "MambaModel": _MODEL,
    "MambaBlock": _BLOCK,
    "MambaMixer": mamba_mixer,
    "MambaRMSNorm": rms_norm,
    "Mamba2ForCausalLM": _CAUSAL_LM,
    "Mamba2Model": _MODEL,
    "Mamba2Block": _BLOCK,
    "Mamba2Mixer": mamba2_mixer,
    "Mamba2RMSNorm": rms_norm,
    "MambaRMSNormGated": rms_norm,  # x · silu(gate), normalised per group: elementwise, no MACs
}
"""Shape rules of transformers' state-space classes, by kind."""

TOKEN_INPUTS: Final = frozenset({"MambaForCausalLM", "MambaModel", "Mamba2ForCausalLM", "Mamba2Model"})
"""State-space kinds whose forward reads token ids (batch, sequence)."""

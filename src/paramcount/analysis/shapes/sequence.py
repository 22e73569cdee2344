"""Shape rules of the sequence layers: RNN/LSTM/GRU and their cells, MultiheadAttention,
TransformerEncoderLayer and TransformerEncoder (torch/nn/modules/{rnn,activation,transformer}.py, 2.13).

Shapes are those of the torch docs: ``output`` is (L, N, D·H_out) — (N, L, D·H_out) with ``batch_first`` —
and ``h_n`` (D·num_layers, N, H_out), ``c_n`` (D·num_layers, N, hidden_size) for LSTM, where
``H_out = proj_size or hidden_size`` and D is 2 when bidirectional; unbatched inputs drop N.

MACs count every matrix product (the FlopCounterMode convention): per layer, direction and time step a
recurrent layer computes ``gates·hidden_size·(layer_input + H_out)`` (input and hidden matmuls) plus
``proj_size·hidden_size`` for an LSTM projection, with 1, 3 and 4 gates for RNN, GRU and LSTM. Attention
counts its input projections, ``QKᵀ`` and ``attention·V`` (each ``N·L·S·embed_dim``); ``out_proj`` is its
child. Dropout, activations and norms add nothing.

MultiheadAttention's forward takes query, key and value; from one input shape it is modelled as
self-attention (all three are the input), which is how TransformerEncoderLayer calls it, unless the parent hands
the key and value beside the query (``Flow.context["key_value"]``, batch and width as the query's).
"""

from __future__ import annotations

from paramcount._record import replace
from paramcount.analysis.flops import macs_step
from paramcount.analysis.shapes.common import flag_arg, int_arg, optional_int_arg
from paramcount.analysis.shapes.types import Flow, Outcome, Shape, ShapeStep, format_shape

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.analysis.shapes.types import Call, Rule

__all__ = ["RULES"]

_GATES: Final = {"RNN": 1, "GRU": 3, "LSTM": 4, "RNNCell": 1, "GRUCell": 3, "LSTMCell": 4}


def _width(call: Call, shape: Shape, unbatched: int, name: str, what: str) -> int:
    """The argument ``name`` (the input's width), after checking that ``shape`` has ``unbatched`` dimensions,
    or one more for a batch, and ends in that width."""
    if len(shape) not in (unbatched, unbatched + 1):
        raise call.fail(
            f"expects a {unbatched}-D (unbatched) or {unbatched + 1}-D (batched) input, got {format_shape(shape)}"
        )
    width = int_arg(call.module, name)
    if shape[-1] != width:
        raise call.fail(f"expects {width} {what} ({name}, the last dimension), got {shape[-1]}")
    return width


def _length_and_batch(shape: Shape, batch_first: bool) -> tuple[int, int]:
    """A sequence's (L, N) or (N, L) dimensions, or an unbatched (L, features)'s length and a batch of 1."""
    if len(shape) == 2:
        return shape[0], 1
    return (shape[1], shape[0]) if batch_first else (shape[0], shape[1])


def _recurrent(call: Call, flow: Flow) -> Outcome:
    module = call.module
    shape = flow.shape
    input_size = _width(call, shape, 2, "input_size", "input features")
    batched = len(shape) == 3
    length, batch = _length_and_batch(shape, flag_arg(module, "batch_first"))
    if length == 0:
        raise call.fail("expects a sequence length larger than 0")
    hidden = int_arg(module, "hidden_size")
    layers = int_arg(module, "num_layers")
    directions = 2 if flag_arg(module, "bidirectional") else 1
    projection = int_arg(module, "proj_size") if module.kind == "LSTM" else 0
    features = projection or hidden
    state: Shape = (directions * layers, batch, features) if batched else (directions * layers, features)
    others: tuple[tuple[str, Shape], ...] = (("h_n", state),)
    if module.kind == "LSTM":
        cell: Shape = (*state[:-1], hidden)
        others += (("c_n", cell),)
    macs, steps = _recurrent_macs(module.kind, length, batch, directions, layers, input_size, hidden, projection)
    output = Flow((*shape[:-1], directions * features), others, "")
    return Outcome(output, macs, steps)


def _recurrent_macs(
    kind: str, length: int, batch: int, directions: int, layers: int, input_size: int, hidden: int, projection: int
) -> tuple[int, tuple[ShapeStep, ...]]:
    gates = _GATES[kind]
    out_symbol, out_value = ("proj_size", projection) if projection else ("hidden_size", hidden)
    extra_symbol = " + proj_size·hidden_size" if projection else ""
    extra_value = projection * hidden
    steps: list[ShapeStep] = []
    total = 0
    for first in (True, False):
        if not first and layers == 1:
            break
        count = 1 if first else layers - 1
        in_symbol, in_value = ("input_size", input_size) if first else (f"D·{out_symbol}", directions * out_value)
        per_step = gates * hidden * (in_value + out_value) + extra_value
        value = count * length * batch * directions * per_step
        prefix = "" if first else "(num_layers - 1)·"
        symbolic = f"{prefix}L·N·D·({gates}·hidden_size·({in_symbol} + {out_symbol}){extra_symbol})"
        numbers = (
            f"{'' if first else f'{count}·'}{length}·{batch}·{directions}·({gates}·{hidden}·({in_value} + {out_value})"
        )
        numbers += f" + {projection}·{hidden})" if projection else ")"
        steps.append(ShapeStep(symbolic, numbers, value, "MACs (layer 0)" if first else "MACs (layers 1 and up)"))
        total += value
    return total, tuple(steps)


def _cell(call: Call, flow: Flow) -> Outcome:
    module = call.module
    shape = flow.shape
    input_size = _width(call, shape, 1, "input_size", "input features")
    hidden = int_arg(module, "hidden_size")
    gates = _GATES[module.kind]
    output: Shape = (*shape[:-1], hidden)
    others: tuple[tuple[str, Shape], ...] = (("c_1", output),) if module.kind == "LSTMCell" else ()
    rows = shape[0] if len(shape) == 2 else 1
    macs, step = macs_step(
        ("N", f"{gates}·hidden_size", "(input_size + hidden_size)"), (rows, gates * hidden, input_size + hidden)
    )
    return Outcome(Flow(output, others), macs, (step,), "hx defaults to zeros; the hidden matmul still runs")


def _keys(call: Call, flow: Flow, embed: int, batch_first: bool) -> int | None:
    """The length of the key and value a parent hands beside the query (``Flow.context["key_value"]``: SigLIP's
    pooling head attends its probe over the hidden states); None for self-attention."""
    memory = dict(flow.context).get("key_value")
    if memory is None:
        return None
    if len(memory) != len(flow.shape) or memory[-1] != embed:
        raise call.fail(f"expects key and value of width {embed} like the query, got {format_shape(memory)}")
    return memory[1] if len(memory) == 3 and batch_first else memory[0]


def _attention(call: Call, flow: Flow) -> Outcome:
    module = call.module
    shape = flow.shape
    embed = _width(call, shape, 2, "embed_dim", "features")
    for name in ("kdim", "vdim"):
        size = optional_int_arg(module, name)
        if size is not None and size != embed:
            raise call.fail(f"has {name}={size}, but the input used as key and value has {embed} features")
    batched = len(shape) == 3
    batch_first = flag_arg(module, "batch_first")
    length, batch = _length_and_batch(shape, batch_first)
    keys = _keys(call, flow, embed, batch_first)
    source = (keys or length) + flag_arg(module, "add_bias_kv") + flag_arg(module, "add_zero_attn")
    if keys is None:
        projection_macs, projection_step = macs_step(
            ("3", "L", "N", "embed_dim", "embed_dim"), (3, length, batch, embed, embed)
        )
    else:
        projection_macs, projection_step = macs_step(
            ("(L + 2·S_in)", "N", "embed_dim", "embed_dim"), (length + 2 * keys, batch, embed, embed)
        )
    scores_macs, scores_step = macs_step(("2", "N", "L", "S", "embed_dim"), (2, batch, length, source, embed))
    steps = (
        ShapeStep("L + add_bias_kv + add_zero_attn", f"{length} + {int(flag_arg(module, 'add_bias_kv'))} + "
                  f"{int(flag_arg(module, 'add_zero_attn'))}", source, "S"),
        replace(projection_step, name="MACs (q, k, v projections)"),
        replace(scores_step, name="MACs (QKᵀ and attention·V)"),
    )  # fmt: skip
    # F.multi_head_attention_forward applies out_proj to the (L·N, embed_dim) view of the attention output.
    call.child("out_proj", Flow((length * batch, embed) if batched else (length, embed), grad=True))
    others: tuple[tuple[str, Shape], ...] = ()
    if "need_weights=False" not in call.options:
        others = (("attn_output_weights", (batch, length, source) if batched else (length, source)),)
    note = "self-attention: query = key = value = the input" if keys is None else "key = value: the parent's tensor"
    # Backward: the projections' weights always, their input when it needs a gradient; both operands of each
    # attention product (they come from the trainable projections).
    backward = projection_macs * (1 + int(flow.grad)) + 2 * scores_macs
    return Outcome(Flow(shape, others), projection_macs + scores_macs, steps, note, backward_macs=backward)


def _encoder_layer(call: Call, flow: Flow) -> Outcome:
    """TransformerEncoderLayer.forward: ``x = norm1(x + sa(x)); x = norm2(x + ff(x))`` (``norm_first``:
    ``x = x + sa(norm1(x)); x = x + ff(norm2(x))``); sa is self-attention then dropout1, ff is
    linear1 → activation → dropout → linear2 → dropout2."""
    children = {child.name for child in call.module.children}
    norm_first = flag_arg(call.module, "norm_first")
    value: Flow | None = Flow(flow.shape, grad=flow.grad)
    if norm_first:
        value = call.child("norm1", value)
    value = call.child("self_attn", value, options=frozenset({"need_weights=False"}))
    value = call.child("dropout1", None if value is None else Flow(value.shape, grad=value.grad))
    value = call.child("norm2" if norm_first else "norm1", value)
    hidden = call.child("linear1", value)
    if "activation" in children:
        hidden = call.child("activation", hidden)
    hidden = call.child("dropout", hidden)
    hidden = call.child("linear2", hidden)
    hidden = call.child("dropout2", hidden)
    if not norm_first:
        hidden = call.child("norm2", hidden)
    return Outcome(None if hidden is None else Flow(hidden.shape, grad=hidden.grad))


def _encoder(call: Call, flow: Flow) -> Outcome:
    """TransformerEncoder.forward: each of ``layers`` in turn, then ``norm`` when there is one."""
    value = call.chain("layers", flow)
    if any(child.name == "norm" for child in call.module.children):
        value = call.child("norm", value)
    return Outcome(value)


RULES: dict[str, Rule] = {
    "RNN": _recurrent,
    "LSTM": _recurrent,
    "GRU": _recurrent,
    "RNNCell": _cell,
    "LSTMCell": _cell,
    "GRUCell": _cell,
    "MultiheadAttention": _attention,
    "TransformerEncoderLayer": _encoder_layer,
    "TransformerEncoder": _encoder,
}

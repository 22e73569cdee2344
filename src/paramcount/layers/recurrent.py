"""Recurrent family: RNN, LSTM, GRU and their cells (torch/nn/modules/rnn.py, torch 2.13)."""

from __future__ import annotations

from paramcount.layers._arguments import Arguments
from paramcount.layers._registry import Parts, layer
from paramcount.layers._signature import signature
from paramcount.tree import Dim, Param

# RNN, LSTM and GRU declare ``__init__(self, *args, **kwargs)`` and forward to
# ``RNNBase.__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
# proj_size, device, dtype)``; RNN first pops ``args[3]`` as ``nonlinearity``. The signatures below are the
# documented ``@overload`` ones, which bind every positional call the way torch does up to
# ``bidirectional``. (Torch would bind a further positional argument of RNN/GRU to ``proj_size``, where
# the overload documents ``device``; we follow the overload.)
_STACK_OPTIONS = {"bias": True, "batch_first": False, "dropout": 0.0, "bidirectional": False}
"""The keywords every stack takes after ``num_layers`` (and RNN's ``nonlinearity``), in torch's order."""
_RNN_SIGNATURE = signature(
    "input_size", "hidden_size", num_layers=1, nonlinearity="tanh", **_STACK_OPTIONS, device=None, dtype=None
)
_LSTM_SIGNATURE = signature(
    "input_size", "hidden_size", num_layers=1, **_STACK_OPTIONS, proj_size=0, device=None, dtype=None
)
_GRU_SIGNATURE = signature("input_size", "hidden_size", num_layers=1, **_STACK_OPTIONS, device=None, dtype=None)


def _strict_flag(a: Arguments, name: str) -> bool:
    # RNNBase checks ``isinstance(bias, bool)`` and ``isinstance(batch_first, bool)``: 0 and 1 are refused.
    value = a.raw(name)
    if not isinstance(value, bool):
        raise a.fail(f"{name} must be True or False, got {value!r}", name)
    return value


def _gates(multiplier: int, hidden: Dim) -> Dim:
    return hidden if multiplier == 1 else multiplier * hidden


def _stack(a: Arguments, multiplier: int, has_projection: bool) -> Parts:
    """RNNBase.__init__: validation in torch's order, then the per-layer, per-direction parameters."""
    a.number("dropout", minimum=0, maximum=1)  # the dropout>0 with num_layers=1 case only warns
    bias = _strict_flag(a, "bias")
    _strict_flag(a, "batch_first")
    inp = a.dim("input_size", minimum=1)
    hidden = a.dim("hidden_size", minimum=1)
    num_layers = a.integer("num_layers", minimum=1)
    directions = 2 if a.flag("bidirectional") else 1
    proj: Dim | None = None
    if has_projection:
        proj_size = a.integer("proj_size", minimum=0)
        if proj_size >= hidden.value:
            raise a.fail(
                f"proj_size must be smaller than hidden_size (proj_size={proj_size}, hidden_size={hidden.value})",
                "proj_size",
            )
        proj = Dim.of(proj_size, "proj_size") if proj_size > 0 else None
    gates = _gates(multiplier, hidden)
    real_hidden = proj or hidden  # h_t has proj_size features when projecting
    upper_input = real_hidden if directions == 1 else directions * real_hidden
    params: list[Param] = []
    for index in range(num_layers):
        for direction in range(directions):
            suffix = f"l{index}{'_reverse' if direction else ''}"
            layer_input = inp if index == 0 else upper_input
            params += [
                Param(f"weight_ih_{suffix}", (gates, layer_input)),
                Param(f"weight_hh_{suffix}", (gates, real_hidden)),
            ]
            if bias:
                params += [Param(f"bias_ih_{suffix}", (gates,)), Param(f"bias_hh_{suffix}", (gates,))]
            if proj is not None:
                params.append(Param(f"weight_hr_{suffix}", (proj, hidden)))
    return Parts(params=tuple(params))


# RNNBase(mode, ...) itself is exported and constructible; its mode picks the gate multiplier, and unlike the
# subclasses it lets any mode take a proj_size.
_MODE_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


@layer(
    "RNNBase",
    signature(
        "mode", "input_size", "hidden_size", num_layers=1, **_STACK_OPTIONS, proj_size=0, device=None, dtype=None
    ),
)
def rnn_base(a: Arguments) -> Parts:
    mode = a.raw("mode")
    if not isinstance(mode, str) or mode not in _MODE_GATES:
        # torch checks the mode after every other argument; the order only changes which error comes first.
        allowed = ", ".join(repr(name) for name in _MODE_GATES)
        raise a.fail(f"mode must be one of {allowed}, got {mode!r}", "mode")
    return _stack(a, _MODE_GATES[mode], has_projection=True)


@layer("RNN", _RNN_SIGNATURE)
def rnn(a: Arguments) -> Parts:
    a.choice("nonlinearity", ("tanh", "relu"))  # checked by RNN.__init__ before RNNBase's checks
    return _stack(a, 1, has_projection=False)


@layer("LSTM", _LSTM_SIGNATURE)
def lstm(a: Arguments) -> Parts:
    return _stack(a, 4, has_projection=True)


@layer("GRU", _GRU_SIGNATURE)
def gru(a: Arguments) -> Parts:
    return _stack(a, 3, has_projection=False)


def _cell(a: Arguments, multiplier: int | None) -> Parts:
    """RNNCellBase.__init__ checks nothing: sizes only have to be valid tensor sizes (>= 0).
    ``multiplier`` None: RNNCellBase's own ``num_chunks`` argument."""
    inp = a.dim("input_size")
    hidden = a.dim("hidden_size")
    if multiplier is None:
        # Only the product num_chunks·hidden_size has to be a valid size: (-1)·0 is.
        gates = Dim.of(a.integer("num_chunks"), "num_chunks") * hidden
        if gates.value < 0:
            raise a.fail(
                "num_chunks·hidden_size must be non-negative "
                f"(num_chunks={a.raw('num_chunks')}, hidden_size={hidden.value})",
                "num_chunks",
            )
    else:
        gates = _gates(multiplier, hidden)
    params = [Param("weight_ih", (gates, inp)), Param("weight_hh", (gates, hidden))]
    if a.flag("bias"):
        params += [Param("bias_ih", (gates,)), Param("bias_hh", (gates,))]
    return Parts(params=tuple(params))


@layer("RNNCellBase", signature("input_size", "hidden_size", "bias", "num_chunks", device=None, dtype=None))
def rnn_cell_base(a: Arguments) -> Parts:
    return _cell(a, None)


@layer("RNNCell", signature("input_size", "hidden_size", bias=True, nonlinearity="tanh", device=None, dtype=None))
def rnn_cell(a: Arguments) -> Parts:
    # RNNCell stores nonlinearity unchecked; an unknown value only fails in forward(), so it is accepted.
    return _cell(a, 1)


@layer("LSTMCell", signature("input_size", "hidden_size", bias=True, device=None, dtype=None))
def lstm_cell(a: Arguments) -> Parts:
    return _cell(a, 4)


@layer("GRUCell", signature("input_size", "hidden_size", bias=True, device=None, dtype=None))
def gru_cell(a: Arguments) -> Parts:
    return _cell(a, 3)

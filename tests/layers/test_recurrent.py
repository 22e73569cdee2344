from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Sequence

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from oracle import assert_matches_torch, assert_signature_matches, build_torch, to_torch_value
from paramcount.errors import ArgumentError
from paramcount.layers import build, lookup
from paramcount.tree import iter_params, parameter_count

TYPE_CHECKING = False
if TYPE_CHECKING:
    from paramcount.tree import Value


def assert_matches_torch_in_order(
    kind: str, positional: Sequence[Value] = (), keywords: dict[str, Value] | None = None
) -> None:
    """assert_matches_torch, plus torch's named_parameters() order (the oracle compares dicts)."""
    keywords = keywords or {}
    assert_matches_torch(kind, positional, keywords)
    torch_keywords = {name: to_torch_value(value) for name, value in keywords.items()}
    theirs = build_torch(kind, [to_torch_value(value) for value in positional], torch_keywords)
    ours = build(kind, positional, list(keywords.items()))
    assert [name for name, _ in iter_params(ours)] == [name for name, _ in theirs.named_parameters()]


# RNNBase warns (does not refuse) when dropout > 0 with a single layer; parity is about acceptance.
single_layer_dropout = pytest.mark.filterwarnings(
    "ignore:dropout option adds dropout after all but last recurrent layer:UserWarning"
)

sizes = st.integers(min_value=1, max_value=24)
dropouts = st.sampled_from([0.0, 0.25, 1.0, 0])


@st.composite
def stack_keywords(draw: st.DrawFn, kind: str) -> dict[str, Value]:
    """A random valid configuration of RNN / LSTM / GRU, every shape-affecting argument drawn."""
    hidden = draw(sizes)
    keywords: dict[str, Value] = {
        "num_layers": draw(st.integers(1, 3)),
        "bias": draw(st.booleans()),
        "batch_first": draw(st.booleans()),
        "dropout": draw(dropouts),
        "bidirectional": draw(st.booleans()),
    }
    if kind == "RNN":
        keywords["nonlinearity"] = draw(st.sampled_from(["tanh", "relu"]))
    if kind in ("LSTM", "RNNBase"):
        keywords["proj_size"] = draw(st.integers(0, hidden - 1))
    return {"input_size": draw(sizes), "hidden_size": hidden, **keywords}


@single_layer_dropout
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@given(data=st.data())
def test_stack_matches_torch(kind: str, data: st.DataObject) -> None:
    keywords = data.draw(stack_keywords(kind))
    assert_matches_torch_in_order(kind, (), keywords)


@single_layer_dropout
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@given(data=st.data())
def test_stack_binds_positional_arguments_like_torch(kind: str, data: st.DataObject) -> None:
    # RNN takes args[3] as nonlinearity and hands the rest to RNNBase; LSTM and GRU hand all to RNNBase.
    keywords = data.draw(stack_keywords(kind))
    names = [name for name in lookup(kind).signature.names if name in keywords]
    count = data.draw(st.integers(2, len(names)))
    positional = tuple(keywords.pop(name) for name in names[:count])
    assert_matches_torch_in_order(kind, positional, keywords)


# Values torch refuses, per argument; each example corrupts at most one argument of a valid configuration
# so every rule is exercised on its own, next to accepted configurations.
REFUSED: dict[str, list[Value]] = {
    "input_size": [0, -1],
    "hidden_size": [0, -3],
    "num_layers": [0, -1],
    "dropout": [-0.5, 1.5, True, "0.5", None],
    "bias": [1, 0, None],
    "batch_first": [0, "yes"],
    "nonlinearity": ["gelu", 1, None],
    "proj_size": [-1, 24, 25],
    "mode": ["RNN", "lstm", None],
}
modes = st.sampled_from(["LSTM", "GRU", "RNN_TANH", "RNN_RELU"])


@single_layer_dropout
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@given(data=st.data())
def test_stack_rejects_what_torch_rejects(kind: str, data: st.DataObject) -> None:
    keywords = data.draw(stack_keywords(kind))
    corrupt = data.draw(st.sampled_from([None, *(name for name in REFUSED if name in keywords)]))
    if corrupt is not None:
        keywords[corrupt] = data.draw(st.sampled_from(REFUSED[corrupt]))
    assert_matches_torch(kind, (), keywords)


@single_layer_dropout
@given(mode=modes, data=st.data())
def test_rnn_base_matches_torch(mode: str, data: st.DataObject) -> None:
    # RNNBase itself lets every mode take a proj_size (only the subclasses refuse it).
    keywords = data.draw(stack_keywords("RNNBase"))
    assert_matches_torch_in_order("RNNBase", (mode,), keywords)


@single_layer_dropout
@given(data=st.data())
def test_rnn_base_rejects_what_torch_rejects(data: st.DataObject) -> None:
    keywords = data.draw(stack_keywords("RNNBase"))
    keywords["mode"] = data.draw(modes)
    corrupt = data.draw(st.sampled_from([None, *(name for name in REFUSED if name in keywords)]))
    if corrupt is not None:
        keywords[corrupt] = data.draw(st.sampled_from(REFUSED[corrupt]))
    assert_matches_torch("RNNBase", (), keywords)


@given(
    inp=st.integers(-1, 16),
    hidden=st.integers(-1, 16),
    bias=st.booleans(),
    num_chunks=st.integers(-2, 5),
)
def test_rnn_cell_base_matches_torch(inp: int, hidden: int, bias: bool, num_chunks: int) -> None:
    # Only torch.empty refuses: a negative num_chunks passes when hidden_size is 0.
    assert_matches_torch("RNNCellBase", (inp, hidden, bias, num_chunks))


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
@given(inp=st.integers(0, 32), hidden=st.integers(0, 32), bias=st.booleans())
def test_cell_matches_torch(kind: str, inp: int, hidden: int, bias: bool) -> None:
    assert_matches_torch_in_order(kind, (inp, hidden), {"bias": bias})


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
@given(
    inp=st.integers(-2, 4),
    hidden=st.integers(-2, 4),
    bias=st.booleans(),
    nonlinearity=st.sampled_from(["tanh", "relu", "gelu"]),
)
def test_cell_rejects_what_torch_rejects(kind: str, inp: int, hidden: int, bias: bool, nonlinearity: str) -> None:
    # RNNCellBase checks nothing: only torch.empty refuses negative sizes. RNNCell stores nonlinearity
    # unchecked (an unknown one fails only in forward), so "gelu" is accepted.
    extra: tuple[Value, ...] = (nonlinearity,) if kind == "RNNCell" else ()
    assert_matches_torch(kind, (inp, hidden, bias, *extra))


def _rnnbase_parameters() -> list[tuple[str, object]]:
    """RNNBase.__init__'s parameters minus self and mode, with defaults (None for required)."""
    parameters = list(inspect.signature(torch.nn.RNNBase.__init__).parameters.values())[2:]
    return [(p.name, None if p.default is inspect.Parameter.empty else p.default) for p in parameters]


def _declared(kind: str) -> list[tuple[str, object]]:
    sig = lookup(kind).signature
    assert not sig.keyword_only
    assert sig.variadic is None
    return [(name, None if name in ("input_size", "hidden_size") else default) for name, default in sig.parameters]


def test_stack_signatures_are_rnnbases() -> None:
    # torch's RNN/LSTM/GRU take (*args, **kwargs) and forward them to RNNBase(mode, ...): LSTM is RNNBase
    # minus mode; GRU refuses proj_size; RNN refuses proj_size and pops args[3] as nonlinearity.
    base = _rnnbase_parameters()
    without_projection = [item for item in base if item[0] != "proj_size"]
    assert _declared("LSTM") == base
    assert _declared("GRU") == without_projection
    assert _declared("RNN") == [*without_projection[:3], ("nonlinearity", "tanh"), *without_projection[3:]]


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_stack_signatures_are_the_documented_overloads(kind: str) -> None:
    documented = typing.get_overloads(getattr(torch.nn, kind).__init__)[0]
    parameters = list(inspect.signature(documented).parameters.values())[1:]
    expected = [(p.name, None if p.default is inspect.Parameter.empty else p.default) for p in parameters]
    assert _declared(kind) == expected


@pytest.mark.parametrize("kind", ["RNNBase", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"])
def test_signature_is_torchs(kind: str) -> None:
    assert_signature_matches(kind)


def test_bidirectional_lstm_hand_derived() -> None:
    # LSTM(512, 1024, num_layers=2, bidirectional=True); gates = 4·1024 = 4096, two directions per layer.
    # layer 0, per direction: 4096·512 + 4096·1024 + 2·4096 = 2,097,152 + 4,194,304 + 8,192 = 6,299,648
    # layer 1, input 2·1024:  4096·2048 + 4096·1024 + 2·4096 = 8,388,608 + 4,194,304 + 8,192 = 12,591,104
    # total 2·(6,299,648 + 12,591,104) = 37,781,504
    module = build("LSTM", (512, 1024), [("num_layers", 2), ("bidirectional", True)])
    assert parameter_count(module) == 37_781_504
    shapes = {name: param.shape for name, param in iter_params(module)}
    assert [dim.symbol for dim in shapes["weight_ih_l1_reverse"]] == ["4·hidden_size", "2·hidden_size"]
    assert [dim.arithmetic for dim in shapes["weight_ih_l1_reverse"]] == ["4·1024", "2·1024"]


def test_projection_dims_read_well() -> None:
    module = build("LSTM", (16, 32, 2), [("bidirectional", True), ("proj_size", 8)])
    shapes = {name: [dim.symbol for dim in param.shape] for name, param in iter_params(module)}
    assert shapes["weight_ih_l1"] == ["4·hidden_size", "2·proj_size"]
    assert shapes["weight_hh_l0"] == ["4·hidden_size", "proj_size"]
    assert shapes["weight_hr_l1_reverse"] == ["proj_size", "hidden_size"]
    assert [dim.symbol for dim in build("GRUCell", (3, 5)).params[0].shape] == ["3·hidden_size", "input_size"]


def test_proj_size_message() -> None:
    message = "LSTM: proj_size must be smaller than hidden_size (proj_size=512, hidden_size=256)"
    with pytest.raises(ArgumentError, match=re.escape(message)) as info:
        build("LSTM", (128, 256), [("proj_size", 512)])
    assert info.value.argument == "proj_size"


def test_strict_bias_message() -> None:
    with pytest.raises(ArgumentError, match=re.escape("GRU: bias must be True or False, got 1")) as info:
        build("GRU", (4, 8, 1, 1))
    assert info.value.argument == "bias"


def test_nonlinearity_message() -> None:
    message = "RNN: nonlinearity must be one of 'tanh', 'relu', got 'gelu'"
    with pytest.raises(ArgumentError, match=re.escape(message)) as info:
        build("RNN", (4, 8, 2, "gelu"))
    assert info.value.argument == "nonlinearity"


def test_cell_base_dims_read_well() -> None:
    module = build("RNNCellBase", (3, 5, True, 4))
    assert [dim.symbol for dim in module.params[0].shape] == ["num_chunks·hidden_size", "input_size"]


def test_mode_message() -> None:
    message = "RNNBase: mode must be one of 'LSTM', 'GRU', 'RNN_TANH', 'RNN_RELU', got 'RNN'"
    with pytest.raises(ArgumentError, match=re.escape(message)) as info:
        build("RNNBase", ("RNN", 4, 8))
    assert info.value.argument == "mode"


def test_proj_size_only_for_lstm() -> None:
    # torch: "proj_size argument is only supported for LSTM, not RNN or GRU".
    with pytest.raises(ArgumentError, match=re.escape("GRU: unexpected keyword argument 'proj_size'")) as info:
        build("GRU", (4, 8), [("proj_size", 2)])
    assert info.value.argument == "proj_size"

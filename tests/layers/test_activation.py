from __future__ import annotations

import math
import re

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from oracle import assert_matches_torch, assert_signature_matches
from paramcount.errors import ArgumentError
from paramcount.layers import build, known_layers, lookup
from paramcount.tree import Ref

TYPE_CHECKING = False
if TYPE_CHECKING:
    from paramcount.tree import Value

# Hardtanh's deprecated min_value/max_value spellings warn in torch; the warning is not a rejection.
pytestmark = pytest.mark.filterwarnings("ignore:keyword argument `m.._value` is deprecated:FutureWarning")

ACTIVATIONS = [kind for kind in known_layers() if lookup(kind).builder.__module__.endswith(".activation")]

WITHOUT_INIT = ["Sigmoid", "Tanh", "LogSigmoid", "Softsign", "Tanhshrink", "Softmax2d"]

TYPICAL: dict[str, tuple[tuple[Value, ...], dict[str, Value]]] = {
    "Threshold": ((0.1, 20.0), {}),
    "PReLU": ((64,), {"init": 0.1, "dtype": Ref("torch.bfloat16")}),
    "GELU": ((), {"approximate": "tanh"}),
    "Softmax": ((), {"dim": -1}),
    "LogSoftmax": ((1,), {}),
    "Hardtanh": ((-2.0, 2.0, True), {}),
    "LeakyReLU": ((0.2, True), {}),
    "RReLU": ((0.1, 0.3), {}),
    "ELU": ((), {"alpha": 0.5, "inplace": True}),
    "Softplus": ((2.0, 10), {}),
}

# Numbers torch compares in its checks, NaN and infinities included, and None.
numbers = st.one_of(
    st.none(),
    st.integers(-3, 3),
    st.floats(-4, 4),
    st.sampled_from([math.nan, math.inf, -math.inf]),
)


def test_catalog_lists_every_activation() -> None:
    # Every class torch defines in modules/activation.py, but MultiheadAttention (the attention family).
    theirs = {
        name
        for name, cls in vars(torch.nn.modules.activation).items()
        if isinstance(cls, type) and issubclass(cls, torch.nn.Module) and cls.__module__.endswith(".activation")
    }
    assert set(ACTIVATIONS) == theirs - {"MultiheadAttention"}


@pytest.mark.parametrize("kind", ACTIVATIONS)
def test_signature_is_torchs(kind: str) -> None:
    assert_signature_matches(kind)


@pytest.mark.parametrize("kind", ACTIVATIONS)
def test_typical_arguments_match_torch(kind: str) -> None:
    positional, keywords = TYPICAL.get(kind, ((), {}))
    build(kind, positional, list(keywords.items()))  # accepted by us, not merely rejected by both
    assert_matches_torch(kind, positional, keywords)


@pytest.mark.parametrize("kind", WITHOUT_INIT)
def test_classes_without_init_refuse_arguments(kind: str) -> None:
    assert_matches_torch(kind, (1,))
    assert_matches_torch(kind, (), {"dim": 1})


@given(
    num_parameters=st.integers(-3, 4096),
    init=st.one_of(numbers, st.integers(-(2**70), 2**70), st.just((1,)), st.text(max_size=2)),
    dtype=st.sampled_from([None, Ref("torch.bfloat16"), Ref("torch.float64")]),
)
def test_prelu_matches_torch(num_parameters: int, init: Value, dtype: Value) -> None:
    assert_matches_torch("PReLU", (num_parameters,), {"init": init, "dtype": dtype})


@given(min_val=numbers, max_val=numbers, min_value=numbers, max_value=numbers)
def test_hardtanh_matches_torch(min_val: Value, max_val: Value, min_value: Value, max_value: Value) -> None:
    assert_matches_torch("Hardtanh", (min_val, max_val), {"min_value": min_value, "max_value": max_value})


def test_prelu_weight_is_num_parameters() -> None:
    (weight,) = build("PReLU", (2**40,)).params
    assert (weight.name, weight.sizes, weight.count) == ("weight", (2**40,), 2**40)
    assert weight.shape[0].symbol == "num_parameters"


def test_hardtanh_bounds_message() -> None:
    with pytest.raises(
        ArgumentError,
        match=re.escape("Hardtanh: max_val must be greater than min_val (max_val=-1.0, min_val=1.0)"),
    ) as info:
        build("Hardtanh", (1.0, -1.0))
    assert info.value.argument == "max_val"


def test_hardtanh_deprecated_spelling_message() -> None:
    with pytest.raises(
        ArgumentError,
        match=re.escape("Hardtanh: max_value must be greater than min_val (max_value=-2, min_val=-1.0)"),
    ) as info:
        build("Hardtanh", (), [("max_value", -2)])
    assert info.value.argument == "max_value"


def test_prelu_init_message() -> None:
    with pytest.raises(ArgumentError, match=re.escape("PReLU: init must be a number, got None")) as info:
        build("PReLU", (3, None))
    assert info.value.argument == "init"


def test_without_init_message() -> None:
    with pytest.raises(ArgumentError, match=re.escape("Sigmoid: takes no arguments (1 given)")) as info:
        build("Sigmoid", (1,))
    assert info.value.argument is None

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oracle import assert_matches_torch, assert_signature_matches
from paramcount.errors import ArgumentError
from paramcount.layers import build
from paramcount.tree import Ref, iter_modules, iter_params, parameter_count

TYPE_CHECKING = False
if TYPE_CHECKING:
    from paramcount.tree import Value

dtypes = st.sampled_from([None, Ref("torch.bfloat16")])
div_values = st.sampled_from([4.0, 1, 2, 3, 2.5, 0.5, 1e9])


@st.composite
def adaptive_arguments(draw: st.DrawFn) -> tuple[int, int, tuple[int, ...]]:
    """A valid (in_features, n_classes, cutoffs): unique sorted cutoffs in 1 … n_classes - 1."""
    classes = draw(st.integers(2, 40))
    cutoffs = draw(st.lists(st.integers(1, classes - 1), min_size=1, max_size=4, unique=True))
    return draw(st.integers(0, 64)), classes, tuple(sorted(cutoffs))


@given(arguments=adaptive_arguments(), div_value=div_values, head_bias=st.booleans(), dtype=dtypes)
def test_adaptive_log_softmax_matches_torch(
    arguments: tuple[int, int, tuple[int, ...]], div_value: float, head_bias: bool, dtype: Value
) -> None:
    keywords: dict[str, Value] = {"div_value": div_value, "head_bias": head_bias, "dtype": dtype}
    assert_matches_torch("AdaptiveLogSoftmaxWithLoss", arguments, keywords)


@given(
    in_features=st.integers(-1, 8),
    classes=st.integers(-1, 8),
    cutoffs=st.lists(st.integers(-1, 9), max_size=3).map(tuple),
    div_value=st.sampled_from([4.0, -2, -2.0, 0, 0.0, 1e-200, 1e200, float("inf")]),
)
def test_adaptive_log_softmax_rejects_what_torch_rejects(
    in_features: int, classes: int, cutoffs: tuple[int, ...], div_value: float
) -> None:
    keywords: dict[str, Value] = {"div_value": div_value}
    assert_matches_torch("AdaptiveLogSoftmaxWithLoss", (in_features, classes, cutoffs), keywords)


@given(
    in_features=st.integers(0, 64),
    classes=st.integers(0, 32),
    out_features=st.lists(st.integers(0, 4), max_size=3).map(tuple),
    bias=st.booleans(),
    label_smoothing=st.floats(0, 1),
    reduction=st.sampled_from(["mean", "sum", "none"]),
    dtype=dtypes,
)
def test_linear_cross_entropy_matches_torch(
    in_features: int,
    classes: int,
    out_features: tuple[int, ...],
    bias: bool,
    label_smoothing: float,
    reduction: str,
    dtype: Value,
) -> None:
    keywords: dict[str, Value] = {
        "out_features": out_features,
        "bias": bias,
        "label_smoothing": label_smoothing,
        "reduction": reduction,
        "ignore_index": -100,
        "dtype": dtype,
    }
    assert_matches_torch("LinearCrossEntropyLoss", (in_features, classes), keywords)


@given(
    in_features=st.integers(-2, 4),
    classes=st.integers(-2, 4),
    out_features=st.one_of(st.integers(0, 3), st.lists(st.integers(-2, 3), max_size=2).map(tuple)),
    label_smoothing=st.floats(-0.5, 1.5),
)
def test_linear_cross_entropy_rejects_what_torch_rejects(
    in_features: int, classes: int, out_features: Value, label_smoothing: float
) -> None:
    keywords: dict[str, Value] = {"out_features": out_features, "label_smoothing": label_smoothing}
    assert_matches_torch("LinearCrossEntropyLoss", (in_features, classes), keywords)


@pytest.mark.parametrize("kind", ["AdaptiveLogSoftmaxWithLoss", "LinearCrossEntropyLoss"])
def test_signature_is_torchs(kind: str) -> None:
    assert_signature_matches(kind)


def test_adaptive_log_softmax_count_by_hand() -> None:
    # head: 64·(100 + 2); cluster 0: 64·16 + 16·400 (64 // 4 = 16); cluster 1: 64·4 + 4·500 (64 // 16 = 4).
    module = build("AdaptiveLogSoftmaxWithLoss", (64, 1000, (100, 500)))
    assert parameter_count(module) == 64 * 102 + (64 * 16 + 16 * 400) + (64 * 4 + 4 * 500)
    kinds = {path: child.kind for path, child in iter_modules(module)}
    assert kinds == {
        "": "AdaptiveLogSoftmaxWithLoss",
        "head": "Linear",
        "tail": "ModuleList",
        "tail.0": "Sequential",
        "tail.0.0": "Linear",
        "tail.0.1": "Linear",
        "tail.1": "Sequential",
        "tail.1.0": "Linear",
        "tail.1.1": "Linear",
    }


def test_adaptive_log_softmax_dims_carry_symbols() -> None:
    module = build("AdaptiveLogSoftmaxWithLoss", (64, 1000, (100, 500)))
    shapes = {name: [dim.symbol for dim in param.shape] for name, param in iter_params(module)}
    assert shapes["head.weight"] == ["cutoffs[0] + len(cutoffs)", "in_features"]
    assert shapes["tail.1.0.weight"] == ["in_features/div_value^2", "in_features"]
    assert shapes["tail.1.1.weight"] == ["n_classes - cutoffs[1]", "in_features/div_value^2"]


def test_linear_cross_entropy_flattens_out_features() -> None:
    module = build("LinearCrossEntropyLoss", (5, 10), [("out_features", (4, 3)), ("bias", True)])
    weight = dict(iter_params(module))["linear.weight"]
    assert weight.sizes == (120, 5)
    assert weight.shape[0].symbol == "num_classes·out_features[0]·out_features[1]"


@pytest.mark.parametrize(
    ("cutoffs", "message"),
    [
        ((), "cutoffs must not be empty"),
        ((5, 2), "cutoffs must be sorted in increasing order, got (5, 2)"),
        ((2, 2), "cutoffs must be unique, got (2, 2)"),
        ((0, 2), "cutoffs must be positive, got (0, 2)"),
        ((2, 10), "cutoffs must be smaller than n_classes (cutoffs=(2, 10), n_classes=10)"),
        ((2.0,), "cutoffs must be a sequence of integers, got (2.0,)"),
    ],
)
def test_adaptive_log_softmax_cutoff_messages(cutoffs: tuple[Value, ...], message: str) -> None:
    with pytest.raises(ArgumentError, match=re.escape(f"AdaptiveLogSoftmaxWithLoss: {message}")) as info:
        build("AdaptiveLogSoftmaxWithLoss", (16, 10, cutoffs))
    assert info.value.argument == "cutoffs"


def test_adaptive_log_softmax_zero_div_value_message() -> None:
    with pytest.raises(
        ArgumentError,
        match=re.escape(
            "AdaptiveLogSoftmaxWithLoss: div_value gives no finite size for tail cluster 0 "
            "(in_features=16, div_value=0)"
        ),
    ) as info:
        build("AdaptiveLogSoftmaxWithLoss", (16, 10, (5,)), [("div_value", 0)])
    assert info.value.argument == "div_value"


def test_linear_cross_entropy_weight_tensor_message() -> None:
    with pytest.raises(
        ArgumentError,
        match=re.escape(
            "LinearCrossEntropyLoss: weight takes a tensor and tensors cannot be given in an expression, "
            "got (1.0, 2.0); leave it as None"
        ),
    ) as info:
        build("LinearCrossEntropyLoss", (8, 2), [("weight", (1.0, 2.0))])
    assert info.value.argument == "weight"

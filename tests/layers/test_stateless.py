from __future__ import annotations

import math
import re

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from oracle import assert_matches_torch, assert_signature_matches, build_torch, our_tensors, torch_tensors
from paramcount.errors import ArgumentError
from paramcount.layers import build, known_layers, lookup
from paramcount.tree import Ref, iter_modules, parameter_count

TYPE_CHECKING = False
if TYPE_CHECKING:
    from paramcount.tree import Value

# Warnings torch gives for deprecated spellings; a warning is not a rejection.
pytestmark = [
    pytest.mark.filterwarnings("ignore:`NLLLoss2d` has been deprecated:FutureWarning"),
    pytest.mark.filterwarnings("ignore:size_average and reduce args will be deprecated:UserWarning"),
]

STATELESS = [kind for kind in known_layers() if lookup(kind).builder.__module__.endswith(".stateless")]

DROPOUTS = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]
WEIGHTED_LOSSES = ["BCELoss", "MultiLabelSoftMarginLoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss"]

TYPICAL: dict[str, tuple[tuple[Value, ...], dict[str, Value]]] = {
    **{f"MaxPool{n}d": ((3,), {"stride": 2, "padding": 1}) for n in (1, 2, 3)},
    **{f"AvgPool{n}d": ((2,), {}) for n in (1, 2, 3)},
    **{f"LPPool{n}d": ((2, 3), {}) for n in (1, 2, 3)},
    **{f"AdaptiveAvgPool{n}d": ((1,), {}) for n in (1, 2, 3)},
    **{f"AdaptiveMaxPool{n}d": ((7,), {"return_indices": True}) for n in (1, 2, 3)},
    **{f"MaxUnpool{n}d": ((2,), {}) for n in (1, 2, 3)},
    **{f"{style}Pad{n}d": ((2,), {}) for style in ("Zero", "Reflection", "Replication", "Circular") for n in (1, 2, 3)},
    **{f"ConstantPad{n}d": ((1, 0.5), {}) for n in (1, 2, 3)},
    "FractionalMaxPool2d": ((3,), {"output_size": 13}),
    "FractionalMaxPool3d": ((3,), {"output_ratio": (0.5, 0.5, 0.5)}),
    "Dropout": ((0.1,), {}),
    "Fold": (((4, 5), 2), {}),
    "Unfold": ((2,), {"stride": 2}),
    "Unflatten": ((1, (2, 5)), {}),
    "PixelShuffle": ((2,), {}),
    "PixelUnshuffle": ((2,), {}),
    "ChannelShuffle": ((4,), {}),
    "Upsample": ((), {"scale_factor": 2, "mode": "bilinear", "align_corners": False}),
    "UpsamplingNearest2d": ((), {"size": (8, 8)}),
    "UpsamplingBilinear2d": ((), {"scale_factor": 2.0}),
    "CrossEntropyLoss": ((), {"ignore_index": 0, "label_smoothing": 0.1}),
    "KLDivLoss": ((), {"size_average": False, "log_target": True}),
    "HuberLoss": ((), {"delta": 0.5}),
    "MultiMarginLoss": ((2,), {}),
    "TripletMarginLoss": ((0.5,), {}),
    "TripletMarginWithDistanceLoss": ((), {"distance_function": Ref("torch.nn.functional.cosine_similarity")}),
}

numbers = st.one_of(
    st.none(),
    st.integers(-3, 3),
    st.floats(-2, 2),
    st.sampled_from([math.nan, math.inf, -math.inf, 10**400]),
)


def test_catalog_lists_every_loss() -> None:
    # Every *Loss class but the two with parameters (the loss family).
    losses = {name for name in dir(torch.nn) if name.endswith("Loss")}
    assert losses - set(STATELESS) == {"AdaptiveLogSoftmaxWithLoss", "LinearCrossEntropyLoss"}


@pytest.mark.parametrize("kind", STATELESS)
def test_signature_is_torchs(kind: str) -> None:
    assert_signature_matches(kind)


@pytest.mark.parametrize("kind", STATELESS)
def test_typical_arguments_match_torch(kind: str) -> None:
    positional, keywords = TYPICAL.get(kind, ((), {}))
    build(kind, positional, list(keywords.items()))  # accepted by us, not merely rejected by both
    assert_matches_torch(kind, positional, keywords)


@given(kind=st.sampled_from(DROPOUTS), p=st.one_of(numbers, st.just("0.5")), inplace=st.booleans())
def test_dropout_matches_torch(kind: str, p: Value, inplace: bool) -> None:
    assert_matches_torch(kind, (p, inplace))


sizes = st.one_of(st.none(), st.integers(-1, 3), st.floats(-1, 3))
size_tuples = st.lists(sizes, max_size=4).map(tuple)
ratios = st.one_of(st.none(), st.integers(-1, 2), st.floats(-0.5, 1.5), st.just(math.nan))


@given(
    kind=st.sampled_from(["FractionalMaxPool2d", "FractionalMaxPool3d"]),
    kernel_size=st.one_of(sizes, size_tuples),
    output_size=st.one_of(st.none(), st.integers(1, 5), size_tuples),
    output_ratio=st.one_of(ratios, st.lists(ratios, max_size=4).map(tuple)),
    random_samples=st.sampled_from([None, None, None, 3]),
)
def test_fractional_max_pool_matches_torch(
    kind: str, kernel_size: Value, output_size: Value, output_ratio: Value, random_samples: Value
) -> None:
    keywords: dict[str, Value] = {
        "output_size": output_size,
        "output_ratio": output_ratio,
        "_random_samples": random_samples,
    }
    assert_matches_torch(kind, (kernel_size,), keywords)


@given(size=st.one_of(sizes, size_tuples, st.lists(st.integers(-2, 8), max_size=4).map(tuple)))
def test_unflatten_matches_torch(size: Value) -> None:
    assert_matches_torch("Unflatten", (1, size))


@given(
    kind=st.sampled_from(["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]),
    scale_factor=st.one_of(numbers, st.lists(st.one_of(numbers, st.just((2,))), max_size=3).map(tuple)),
)
def test_upsample_matches_torch(kind: str, scale_factor: Value) -> None:
    assert_matches_torch(kind, (), {"scale_factor": scale_factor})


@given(delta=st.one_of(numbers, st.just("1"), st.just((1.0,))))
def test_huber_loss_matches_torch(delta: Value) -> None:
    assert_matches_torch("HuberLoss", (), {"delta": delta})


@given(p=st.one_of(numbers, st.sampled_from([1.0, 2.0, "1"])), weight=st.sampled_from([None, None, 1.0]))
def test_multi_margin_loss_matches_torch(p: Value, weight: Value) -> None:
    assert_matches_torch("MultiMarginLoss", (p,), {"weight": weight})


@given(kind=st.sampled_from(["TripletMarginLoss", "TripletMarginWithDistanceLoss"]), margin=numbers)
def test_triplet_margin_matches_torch(kind: str, margin: Value) -> None:
    assert_matches_torch(kind, (), {"margin": margin})


@pytest.mark.parametrize("kind", WEIGHTED_LOSSES)
@pytest.mark.parametrize("weight", [None, 1.0, (1.0, 2.0)])
def test_loss_weights_match_torch(kind: str, weight: Value) -> None:
    assert_matches_torch(kind, (), {"weight": weight})


def test_triplet_distance_default_is_a_submodule() -> None:
    ours = build("TripletMarginWithDistanceLoss")
    theirs = build_torch("TripletMarginWithDistanceLoss", [], {})
    assert [(path, m.kind) for path, m in iter_modules(ours)] == [
        (path, type(m).__name__) for path, m in theirs.named_modules()
    ]


def test_triplet_distance_module_counts_its_parameters() -> None:
    distance = build("Bilinear", (4, 4, 1))
    ours = build("TripletMarginWithDistanceLoss", (), [("distance_function", distance)])
    theirs = build_torch("TripletMarginWithDistanceLoss", [], {"distance_function": torch.nn.Bilinear(4, 4, 1)})
    assert our_tensors(ours) == torch_tensors(theirs)
    assert parameter_count(ours) == 4 * 4 + 1


def test_dropout_probability_message() -> None:
    with pytest.raises(ArgumentError, match=re.escape("Dropout2d: p must be between 0 and 1, got 1.5")) as info:
        build("Dropout2d", (1.5,))
    assert info.value.argument == "p"


def test_fractional_max_pool_messages() -> None:
    with pytest.raises(
        ArgumentError, match=re.escape("FractionalMaxPool2d: either output_size or output_ratio is required")
    ) as info:
        build("FractionalMaxPool2d", (3,))
    assert info.value.argument == "output_size"
    with pytest.raises(
        ArgumentError,
        match=re.escape("FractionalMaxPool3d: only one of output_size and output_ratio may be given"),
    ) as info:
        build("FractionalMaxPool3d", (3, 4, 0.5))
    assert info.value.argument == "output_ratio"


def test_tensor_argument_message() -> None:
    with pytest.raises(
        ArgumentError,
        match=re.escape(
            "BCEWithLogitsLoss: pos_weight must be None, got 2.0; tensors cannot be given in an expression"
        ),
    ) as info:
        build("BCEWithLogitsLoss", (), [("pos_weight", 2.0)])
    assert info.value.argument == "pos_weight"


def test_multi_margin_loss_p_message() -> None:
    with pytest.raises(ArgumentError, match=re.escape("MultiMarginLoss: p must be 1 or 2, got 3")) as info:
        build("MultiMarginLoss", (3,))
    assert info.value.argument == "p"

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oracle import assert_matches_torch, assert_signature_matches
from paramcount.errors import ArgumentError
from paramcount.layers import build
from paramcount.tree import Ref, iter_buffers

TYPE_CHECKING = False
if TYPE_CHECKING:
    from paramcount.tree import Value

NORM_BASE_KINDS = [
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "SyncBatchNorm",  # constructs without a process group; only forward needs one
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
]
ALL_KINDS = [*NORM_BASE_KINDS, "LayerNorm", "RMSNorm", "GroupNorm", "LocalResponseNorm", "CrossMapLRN2d"]

sizes = st.integers(min_value=0, max_value=64)
maybe_negative = st.integers(min_value=-3, max_value=3)
dtypes = st.sampled_from([None, Ref("torch.bfloat16"), Ref("torch.float64")])
shapes = st.one_of(sizes, st.lists(st.integers(0, 8), max_size=3).map(tuple))
maybe_negative_shapes = st.one_of(maybe_negative, st.lists(maybe_negative, max_size=3).map(tuple))


@pytest.mark.parametrize("kind", NORM_BASE_KINDS)
@given(
    features=sizes,
    affine=st.booleans(),
    track=st.booleans(),
    bias=st.booleans(),
    momentum=st.sampled_from([0.1, None, 0.5]),
    dtype=dtypes,
)
def test_norm_base_matches_torch(
    kind: str, features: int, affine: bool, track: bool, bias: bool, momentum: float | None, dtype: Value
) -> None:
    keywords: dict[str, Value] = {"affine": affine, "track_running_stats": track, "bias": bias}
    assert_matches_torch(kind, (features, 1e-3, momentum), {**keywords, "dtype": dtype})


@pytest.mark.parametrize("kind", NORM_BASE_KINDS)
@given(features=maybe_negative, affine=st.booleans(), track=st.booleans())
def test_norm_base_rejects_what_torch_rejects(kind: str, features: int, affine: bool, track: bool) -> None:
    assert_matches_torch(kind, (features,), {"affine": affine, "track_running_stats": track})


@given(shape=shapes, affine=st.booleans(), bias=st.booleans(), dtype=dtypes)
def test_layer_norm_matches_torch(shape: Value, affine: bool, bias: bool, dtype: Value) -> None:
    assert_matches_torch("LayerNorm", (shape,), {"elementwise_affine": affine, "bias": bias, "dtype": dtype})


@given(shape=maybe_negative_shapes, affine=st.booleans())
def test_layer_norm_rejects_what_torch_rejects(shape: Value, affine: bool) -> None:
    assert_matches_torch("LayerNorm", (shape,), {"elementwise_affine": affine})


@given(shape=shapes, affine=st.booleans(), eps=st.sampled_from([None, 1e-6]), dtype=dtypes)
def test_rms_norm_matches_torch(shape: Value, affine: bool, eps: float | None, dtype: Value) -> None:
    assert_matches_torch("RMSNorm", (shape, eps, affine), {"dtype": dtype})


@given(shape=maybe_negative_shapes, affine=st.booleans())
def test_rms_norm_rejects_what_torch_rejects(shape: Value, affine: bool) -> None:
    assert_matches_torch("RMSNorm", (shape,), {"elementwise_affine": affine})


@given(
    groups=st.integers(1, 8),
    per_group=st.integers(0, 8),
    affine=st.booleans(),
    bias=st.booleans(),
    dtype=dtypes,
)
def test_group_norm_matches_torch(groups: int, per_group: int, affine: bool, bias: bool, dtype: Value) -> None:
    keywords: dict[str, Value] = {"affine": affine, "bias": bias, "dtype": dtype}
    assert_matches_torch("GroupNorm", (groups, groups * per_group), keywords)


@given(groups=st.integers(-4, 4), channels=st.integers(-8, 8), affine=st.booleans())
def test_group_norm_rejects_what_torch_rejects(groups: int, channels: int, affine: bool) -> None:
    assert_matches_torch("GroupNorm", (groups, channels), {"affine": affine})


@pytest.mark.parametrize("kind", ["LocalResponseNorm", "CrossMapLRN2d"])
@given(size=st.integers(-4, 8), alpha=st.floats(0, 1), beta=st.floats(0, 2), k=st.integers(0, 3))
def test_local_response_norms_have_no_tensors(kind: str, size: int, alpha: float, beta: float, k: int) -> None:
    assert_matches_torch(kind, (size, alpha, beta, k))


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_signature_is_torchs(kind: str) -> None:
    assert_signature_matches(kind)


def test_batch_norm_counter_is_an_int64_scalar_under_a_dtype() -> None:
    module = build("BatchNorm2d", (8,), [("dtype", Ref("torch.float16"))])
    assert {name: buffer.dtype for name, buffer in iter_buffers(module)} == {
        "running_mean": "float16",
        "running_var": "float16",
        "num_batches_tracked": "int64",
    }


def test_layer_norm_dims_name_each_axis() -> None:
    module = build("LayerNorm", ((4, 16),))
    assert [dim.symbol for dim in module.params[0].shape] == ["normalized_shape[0]", "normalized_shape[1]"]


def test_group_norm_divisibility_message() -> None:
    with pytest.raises(
        ArgumentError,
        match=re.escape("GroupNorm: num_channels must be divisible by num_groups (num_channels=10, num_groups=3)"),
    ) as info:
        build("GroupNorm", (3, 10))
    assert info.value.argument == "num_channels"


def test_group_norm_zero_groups_message() -> None:
    with pytest.raises(ArgumentError, match=re.escape("GroupNorm: num_groups must be non-zero, got 0")) as info:
        build("GroupNorm", (0, 10))
    assert info.value.argument == "num_groups"


def test_layer_norm_negative_shape_message() -> None:
    with pytest.raises(
        ArgumentError, match=re.escape("LayerNorm: normalized_shape must be non-negative, got (4, -1)")
    ) as info:
        build("LayerNorm", ((4, -1),))
    assert info.value.argument == "normalized_shape"


def test_batch_norm_negative_features_message() -> None:
    with pytest.raises(
        ArgumentError, match=re.escape("BatchNorm1d: num_features must be non-negative, got -2")
    ) as info:
        build("BatchNorm1d", (-2,))
    assert info.value.argument == "num_features"

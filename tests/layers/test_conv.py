from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oracle import assert_matches_torch, assert_signature_matches
from paramcount.errors import ArgumentError
from paramcount.layers import build
from paramcount.tree import Ref, parameter_count

TYPE_CHECKING = False
if TYPE_CHECKING:
    from paramcount.tree import Value

    Call = tuple[tuple[Value, ...], dict[str, Value]]

CONVOLUTIONS = ["Conv1d", "Conv2d", "Conv3d"]
TRANSPOSED = ["ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]
PADDING_MODES = ["zeros", "reflect", "replicate", "circular"]


def spatial_dims(kind: str) -> int:
    return int(kind[-2])  # "Conv3d" → 3


def int_or_tuple(values: st.SearchStrategy[int], count: int) -> st.SearchStrategy[Value]:
    """What torch's _single/_pair/_triple expand: one int, or one int per spatial dimension."""
    return st.one_of(values, st.tuples(*[values] * count))


@st.composite
def valid_convolutions(draw: st.DrawFn, kind: str) -> Call:
    """Configurations torch builds, varying every argument that shapes a tensor or is checked."""
    count = spatial_dims(kind)
    groups = draw(st.integers(1, 4))
    # Channels are multiples of groups (zero included: torch builds a zero-element weight).
    inp = groups * draw(st.integers(0, 16))
    out = groups * draw(st.integers(0, 16))
    keywords: dict[str, Value] = {
        "stride": draw(int_or_tuple(st.integers(1, 3), count)),
        "dilation": draw(int_or_tuple(st.integers(1, 3), count)),
        "groups": groups,
        "bias": draw(st.booleans()),
        "dtype": draw(st.sampled_from([None, Ref("torch.bfloat16"), Ref("torch.float64")])),
    }
    if kind in TRANSPOSED:
        keywords["padding"] = draw(int_or_tuple(st.integers(0, 3), count))
        keywords["output_padding"] = draw(int_or_tuple(st.integers(0, 3), count))
    else:
        keywords["padding"] = draw(st.one_of(int_or_tuple(st.integers(0, 3), count), st.just("valid")))
        keywords["padding_mode"] = draw(st.sampled_from(PADDING_MODES))
        if draw(st.booleans()):
            keywords["stride"] = 1  # 'same' is only allowed with stride 1
            keywords["padding"] = "same"
    kernel = draw(int_or_tuple(st.integers(0, 7), count))
    return (inp, out, kernel), keywords


@st.composite
def questionable_convolutions(draw: st.DrawFn, kind: str) -> Call:
    """Possibly invalid configurations: negative or zero sizes, bad groups, bad strings and modes."""
    count = spatial_dims(kind)
    small = st.integers(-2, 6)
    keywords: dict[str, Value] = {
        "stride": draw(int_or_tuple(st.integers(-1, 3), count)),
        "dilation": draw(int_or_tuple(st.integers(-1, 3), count)),
        "groups": draw(st.integers(-1, 4)),
        "padding_mode": draw(st.sampled_from([*PADDING_MODES, "zero", "Zeros", ""])),
    }
    if kind in TRANSPOSED:
        keywords["padding"] = draw(int_or_tuple(st.integers(-2, 3), count))
        keywords["output_padding"] = draw(int_or_tuple(st.integers(-2, 3), count))
    else:
        padding_strings = st.sampled_from(["same", "valid", "SAME", "full", ""])
        keywords["padding"] = draw(st.one_of(int_or_tuple(st.integers(-2, 3), count), padding_strings))
    kernel = draw(int_or_tuple(st.integers(-1, 4), count))
    return (draw(small), draw(small), kernel), keywords


@pytest.mark.parametrize("kind", CONVOLUTIONS + TRANSPOSED)
@given(data=st.data())
def test_convolution_matches_torch(kind: str, data: st.DataObject) -> None:
    positional, keywords = data.draw(valid_convolutions(kind))
    assert_matches_torch(kind, positional, keywords)


@pytest.mark.parametrize("kind", CONVOLUTIONS + TRANSPOSED)
@given(data=st.data())
def test_convolution_rejects_what_torch_rejects(kind: str, data: st.DataObject) -> None:
    positional, keywords = data.draw(questionable_convolutions(kind))
    assert_matches_torch(kind, positional, keywords)


@pytest.mark.parametrize("kind", CONVOLUTIONS + TRANSPOSED)
def test_signature_is_torchs(kind: str) -> None:
    assert_signature_matches(kind)


def test_grouped_conv2d_count_and_formula() -> None:
    # weight: out_channels × in_channels/groups × kernel_h × kernel_w = 128 × 64/4 × 3 × 5 = 30,720;
    # bias: out_channels = 128; total 30,848.
    module = build("Conv2d", (64, 128, (3, 5)), [("groups", 4)])
    weight, bias = module.params
    assert [dim.symbol for dim in weight.shape] == [
        "out_channels",
        "in_channels/groups",
        "kernel_h",
        "kernel_w",
    ]
    assert [dim.arithmetic for dim in weight.shape] == ["128", "64/4", "3", "5"]
    assert [dim.symbol for dim in bias.shape] == ["out_channels"]
    assert parameter_count(module) == 30_848


def test_transposed_conv3d_weight_leads_with_in_channels() -> None:
    # weight: in_channels × out_channels/groups × kernel_d × kernel_h × kernel_w
    #       = 8 × 12/2 × 2 × 3 × 4 = 1,152; no bias.
    module = build("ConvTranspose3d", (8, 12, (2, 3, 4)), [("groups", 2), ("bias", False)])
    (weight,) = module.params
    assert [dim.symbol for dim in weight.shape] == [
        "in_channels",
        "out_channels/groups",
        "kernel_d",
        "kernel_h",
        "kernel_w",
    ]
    assert parameter_count(module) == 1_152


def test_conv1d_kernel_is_named_kernel_size() -> None:
    (weight, _) = build("Conv1d", (4, 6, 3)).params
    assert [dim.symbol for dim in weight.shape] == ["out_channels", "in_channels/groups", "kernel_size"]


@pytest.mark.parametrize(
    ("kind", "positional", "keywords", "message", "argument"),
    [
        (
            "Conv2d",
            (10, 12, 3),
            [("groups", 3)],
            "Conv2d: in_channels must be divisible by groups (in_channels=10, groups=3)",
            "groups",
        ),
        (
            "Conv1d",
            (4, 6, 3),
            [("groups", 4)],
            "Conv1d: out_channels must be divisible by groups (out_channels=6, groups=4)",
            "groups",
        ),
        ("Conv3d", (4, 4, 3), [("groups", 0)], "Conv3d: groups must be positive, got 0", "groups"),
        (
            "Conv2d",
            (4, 4, 3),
            [("stride", (1, 2)), ("padding", "same")],
            "Conv2d: padding='same' is not supported for strided convolutions (stride=(1, 2)); use stride=1",
            "padding",
        ),
        (
            "Conv2d",
            (4, 4, 3),
            [("padding", "full")],
            "Conv2d: padding must be 'valid', 'same', an int or a tuple of 2 ints, got 'full'",
            "padding",
        ),
        (
            "Conv1d",
            (4, 4, 3),
            [("padding_mode", "mirror")],
            "Conv1d: padding_mode must be one of 'zeros', 'reflect', 'replicate', 'circular', got 'mirror'",
            "padding_mode",
        ),
        (
            "ConvTranspose2d",
            (4, 4, 3),
            [("padding_mode", "reflect")],
            "ConvTranspose2d: only padding_mode='zeros' is supported, got 'reflect'",
            "padding_mode",
        ),
        ("Conv2d", (-1, 4, 3), [], "Conv2d: in_channels must be non-negative, got -1", "in_channels"),
    ],
)
def test_rejection_messages(
    kind: str, positional: tuple[Value, ...], keywords: list[tuple[str, Value]], message: str, argument: str
) -> None:
    with pytest.raises(ArgumentError, match=re.escape(message)) as info:
        build(kind, positional, keywords)
    assert info.value.argument == argument


def test_kernel_tuple_must_match_dimensions() -> None:
    # A documented-type rule beyond torch: torch's _pair((3, 3, 3)) keeps all three and builds a 5-d weight
    # that every Conv2d forward rejects.
    with pytest.raises(
        ArgumentError,
        match=re.escape("Conv2d: kernel_size must be an int or a tuple of 2 ints, got (3, 3, 3)"),
    ) as info:
        build("Conv2d", (4, 4, (3, 3, 3)))
    assert info.value.argument == "kernel_size"


def test_transposed_padding_takes_no_strings() -> None:
    # A documented-type rule beyond torch: ConvTranspose2d stores 'same' as ('s', 'a', 'm', 'e') and fails
    # at the first forward.
    with pytest.raises(
        ArgumentError,
        match=re.escape("ConvTranspose2d: padding must be an int or a tuple of 2 ints, got 'same'"),
    ) as info:
        build("ConvTranspose2d", (4, 4, 3), [("padding", "same")])
    assert info.value.argument == "padding"

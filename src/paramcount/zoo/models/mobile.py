"""The mobile convolutional networks of torchvision: MobileNet V2, MobileNet V3 (large and small) and
EfficientNet B0–B7.

Module and tensor names are torchvision's (``torchvision/models/mobilenetv2.py``, ``mobilenetv3.py``,
``efficientnet.py``), so ``iter_params`` gives what ``named_parameters()`` gives: ``features.4.block.2.fc1.bias``.
``InvertedResidual``, ``MBConv`` and ``SqueezeExcitation`` are tree nodes of that kind whose children are catalog
layers. EfficientNet's blocks are never equal: each holds a ``StochasticDepth`` whose probability grows with the
block's depth, as in torchvision; their ``block`` bodies are built through an LRU cache and shared.
"""

from __future__ import annotations

import math
from functools import lru_cache

from paramcount.errors import short_repr
from paramcount.layers._arguments import Arguments
from paramcount.layers._signature import Signature, signature
from paramcount.tree import Module
from paramcount.zoo._registry import model
from paramcount.zoo.models._blocks import (
    BATCH_NORM,
    BATCH_NORM_TF,
    conv_norm_activation,
    layer,
    make_divisible,
    new,
    numbered,
    read_num_classes,
    read_probability,
    squeeze_excitation,
)

__all__: list[str] = []

_MAX_WIDTH_MULT: Final = 64.0
"""Largest width multiplier accepted (torchvision has no cap; beyond this a model is a typo, not a model)."""


def _width_mult(a: Arguments) -> float:
    value = a.real("width_mult")
    if not 0 < value <= _MAX_WIDTH_MULT:
        raise a.fail(f"width_mult must be > 0 and <= {_MAX_WIDTH_MULT:g}, got {short_repr(value)}", "width_mult")
    return float(value)


# --- MobileNet V2 --------------------------------------------------------------------------------------------

_MOBILENET_V2_SETTING: Final = (
    # expand ratio t, output channels c, repeats n, first stride s (torchvision/models/mobilenetv2.py)
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def _inverted_residual_v2(inp: int, oup: int, stride: int, expand_ratio: int) -> Module:
    """MobileNetV2's ``InvertedResidual``: its ``conv`` Sequential holds an optional 1×1 expansion, the 3×3
    depthwise convolution, and a linear 1×1 projection with its batch norm."""
    hidden = round(inp * expand_ratio)
    layers: list[Module] = []
    if expand_ratio != 1:
        layers.append(conv_norm_activation(inp, hidden, kernel_size=1, activation="ReLU6"))
    layers.append(conv_norm_activation(hidden, hidden, stride=stride, groups=hidden, activation="ReLU6"))
    layers.append(new("Conv2d", hidden, oup, 1, 1, 0, bias=False))
    layers.append(new("BatchNorm2d", oup))
    args: Keywords = (("inp", inp), ("oup", oup), ("stride", stride), ("expand_ratio", expand_ratio))
    return Module("", "InvertedResidual", args=args, children=(numbered("conv", layers),))


@model("mobilenet_v2", signature(kw_num_classes=1000, kw_width_mult=1.0, kw_round_nearest=8, kw_dropout=0.2))
def mobilenet_v2(a: Arguments) -> Module:
    classes, width_mult, dropout = read_num_classes(a), _width_mult(a), read_probability(a, "dropout")
    round_nearest = a.integer("round_nearest", minimum=1)
    input_channel = make_divisible(32 * width_mult, round_nearest)
    last_channel = make_divisible(1280 * max(1.0, width_mult), round_nearest)
    features = [conv_norm_activation(3, input_channel, stride=2, activation="ReLU6")]
    for expand_ratio, channels, repeats, first_stride in _MOBILENET_V2_SETTING:
        output_channel = make_divisible(channels * width_mult, round_nearest)
        for index in range(repeats):
            stride = first_stride if index == 0 else 1
            features.append(_inverted_residual_v2(input_channel, output_channel, stride, expand_ratio))
            input_channel = output_channel
    features.append(conv_norm_activation(input_channel, last_channel, kernel_size=1, activation="ReLU6"))
    classifier = numbered("classifier", [new("Dropout", p=dropout), new("Linear", last_channel, classes)])
    return Module("", "MobileNetV2", children=(numbered("features", features), classifier))


# --- MobileNet V3 --------------------------------------------------------------------------------------------

# input channels, kernel, expanded channels, output channels, squeeze-excitation, hard-swish, stride, tail:
# torchvision/models/mobilenetv3.py _mobilenet_v3_conf; "tail" rows are the C4 stage, whose widths
# reduced_tail halves (except the first row's input) and whose dilation dilated sets to 2.
_V3Row = tuple[int, int, int, int, bool, bool, int, bool]
_MOBILENET_V3_LARGE: Final[tuple[_V3Row, ...]] = (
    (16, 3, 16, 16, False, False, 1, False),
    (16, 3, 64, 24, False, False, 2, False),
    (24, 3, 72, 24, False, False, 1, False),
    (24, 5, 72, 40, True, False, 2, False),
    (40, 5, 120, 40, True, False, 1, False),
    (40, 5, 120, 40, True, False, 1, False),
    (40, 3, 240, 80, False, True, 2, False),
    (80, 3, 200, 80, False, True, 1, False),
    (80, 3, 184, 80, False, True, 1, False),
    (80, 3, 184, 80, False, True, 1, False),
    (80, 3, 480, 112, True, True, 1, False),
    (112, 3, 672, 112, True, True, 1, False),
    (112, 5, 672, 160, True, True, 2, True),
    (160, 5, 960, 160, True, True, 1, True),
    (160, 5, 960, 160, True, True, 1, True),
)
_MOBILENET_V3_SMALL: Final[tuple[_V3Row, ...]] = (
    (16, 3, 16, 16, True, False, 2, False),
    (16, 3, 72, 24, False, False, 2, False),
    (24, 3, 88, 24, False, False, 1, False),
    (24, 5, 96, 40, True, True, 2, False),
    (40, 5, 240, 40, True, True, 1, False),
    (40, 5, 240, 40, True, True, 1, False),
    (40, 5, 120, 48, True, True, 1, False),
    (48, 5, 144, 48, True, True, 1, False),
    (48, 5, 288, 96, True, True, 2, True),
    (96, 5, 576, 96, True, True, 1, True),
    (96, 5, 576, 96, True, True, 1, True),
)


def _inverted_residual_v3(
    input_channels: int,
    kernel: int,
    expanded: int,
    out_channels: int,
    use_se: bool,
    use_hs: bool,
    stride: int,
    dilation: int,
) -> Module:
    """MobileNetV3's ``InvertedResidual``: its ``block`` Sequential holds an optional 1×1 expansion, the
    depthwise convolution, an optional ``SqueezeExcitation`` (hard sigmoid gate) and the linear projection."""
    activation = "Hardswish" if use_hs else "ReLU"
    layers: list[Module] = []
    if expanded != input_channels:
        layers.append(
            conv_norm_activation(input_channels, expanded, kernel_size=1, norm=BATCH_NORM_TF, activation=activation)
        )
    layers.append(
        conv_norm_activation(
            expanded,
            expanded,
            kernel_size=kernel,
            stride=1 if dilation > 1 else stride,
            dilation=dilation,
            groups=expanded,
            norm=BATCH_NORM_TF,
            activation=activation,
        )
    )
    if use_se:
        squeeze = make_divisible(expanded // 4, 8)
        layers.append(squeeze_excitation(expanded, squeeze, new("ReLU"), new("Hardsigmoid")))
    layers.append(conv_norm_activation(expanded, out_channels, kernel_size=1, norm=BATCH_NORM_TF, activation=None))
    args: Keywords = (
        ("input_channels", input_channels),
        ("kernel", kernel),
        ("expanded_channels", expanded),
        ("out_channels", out_channels),
        ("use_se", use_se),
        ("use_hs", use_hs),
        ("stride", stride),
        ("dilation", dilation),
    )
    return Module("", "InvertedResidual", args=args, children=(numbered("block", layers),))


def _mobilenet_v3(a: Arguments, setting: tuple[_V3Row, ...], last: int) -> Module:
    """torchvision's ``MobileNetV3`` for ``setting`` and the penultimate width ``last`` (before scaling)."""
    classes, width_mult, dropout = read_num_classes(a), _width_mult(a), read_probability(a, "dropout")
    divider = 2 if a.flag("reduced_tail") else 1
    dilation = 2 if a.flag("dilated") else 1

    def adjust(channels: int) -> int:
        return make_divisible(channels * width_mult, 8)

    blocks: list[Module] = []
    last_in = 0
    for index, (inp, kernel, expanded, out, use_se, use_hs, stride, tail) in enumerate(setting):
        if index > 0 and setting[index - 1][7]:  # inside the tail: its input and expansion are reduced too
            inp, expanded = inp // divider, expanded // divider
        if tail:
            out //= divider
        last_in = adjust(out)
        blocks.append(
            _inverted_residual_v3(
                adjust(inp), kernel, adjust(expanded), last_in, use_se, use_hs, stride, dilation if tail else 1
            )
        )
    first_channels = adjust(setting[0][0])
    last_out = 6 * last_in
    last_channel = adjust(last // divider)
    features = [
        conv_norm_activation(3, first_channels, stride=2, norm=BATCH_NORM_TF, activation="Hardswish"),
        *blocks,
        conv_norm_activation(last_in, last_out, kernel_size=1, norm=BATCH_NORM_TF, activation="Hardswish"),
    ]
    classifier = numbered(
        "classifier",
        [
            new("Linear", last_out, last_channel),
            new("Hardswish", inplace=True),
            new("Dropout", p=dropout, inplace=True),
            new("Linear", last_channel, classes),
        ],
    )
    avgpool = layer("avgpool", "AdaptiveAvgPool2d", 1)
    return Module("", "MobileNetV3", children=(numbered("features", features), avgpool, classifier))


_MOBILENET_V3_SIGNATURE: Final = signature(
    kw_width_mult=1.0, kw_reduced_tail=False, kw_dilated=False, kw_num_classes=1000, kw_dropout=0.2
)


@model("mobilenet_v3_large", _MOBILENET_V3_SIGNATURE)
def mobilenet_v3_large(a: Arguments) -> Module:
    return _mobilenet_v3(a, _MOBILENET_V3_LARGE, 1280)


@model("mobilenet_v3_small", _MOBILENET_V3_SIGNATURE)
def mobilenet_v3_small(a: Arguments) -> Module:
    return _mobilenet_v3(a, _MOBILENET_V3_SMALL, 1024)


# --- EfficientNet B0–B7 --------------------------------------------------------------------------------------

_EFFICIENTNET_STAGES: Final = (
    # expand ratio, kernel, stride, input channels, output channels, layers (before width/depth scaling):
    # torchvision/models/efficientnet.py _efficientnet_conf, Table 1 of the EfficientNet paper.
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
)


@lru_cache(maxsize=256)
def _mbconv_layers(
    expand_ratio: int, kernel: int, stride: int, input_channels: int, out_channels: int, norm: Keywords
) -> Module:
    """``MBConv.block``: optional 1×1 expansion, depthwise convolution, ``SqueezeExcitation`` with a SiLU,
    linear projection. Shared by the blocks of a stage after its first."""
    expanded = make_divisible(input_channels * expand_ratio, 8)
    layers: list[Module] = []
    if expanded != input_channels:
        layers.append(conv_norm_activation(input_channels, expanded, kernel_size=1, norm=norm, activation="SiLU"))
    layers.append(
        conv_norm_activation(
            expanded, expanded, kernel_size=kernel, stride=stride, groups=expanded, norm=norm, activation="SiLU"
        )
    )
    squeeze = max(1, input_channels // 4)
    layers.append(squeeze_excitation(expanded, squeeze, new("SiLU", inplace=True), new("Sigmoid")))
    layers.append(conv_norm_activation(expanded, out_channels, kernel_size=1, norm=norm, activation=None))
    return numbered("block", layers)


def _fused_mbconv_layers(
    expand_ratio: int, kernel: int, stride: int, input_channels: int, out_channels: int, norm: Keywords
) -> Module:
    """``FusedMBConv.block`` (EfficientNet V2): a full convolution that expands (then a linear 1×1 projection),
    or, with expand ratio 1, one convolution straight to the output width."""
    expanded = make_divisible(input_channels * expand_ratio, 8)
    if expanded == input_channels:
        layers = [conv_norm_activation(input_channels, out_channels, kernel_size=kernel, stride=stride, norm=norm,
                                       activation="SiLU")]  # fmt: skip
    else:
        layers = [
            conv_norm_activation(input_channels, expanded, kernel_size=kernel, stride=stride, norm=norm,
                                 activation="SiLU"),
            conv_norm_activation(expanded, out_channels, kernel_size=1, norm=norm, activation=None),
        ]  # fmt: skip
    return numbered("block", layers)


def _mbconv(
    kind: str,
    expand_ratio: int,
    kernel: int,
    stride: int,
    input_channels: int,
    out_channels: int,
    stochastic_depth_prob: float,
    norm: Keywords,
) -> Module:
    """``MBConv`` or ``FusedMBConv``: its ``block`` Sequential and its ``stochastic_depth``, whose probability
    makes every block of the network distinct."""
    stochastic_depth = Module(
        "stochastic_depth", "StochasticDepth", args=(("p", stochastic_depth_prob), ("mode", "row"))
    )
    args: Keywords = (
        ("expand_ratio", expand_ratio),
        ("kernel", kernel),
        ("stride", stride),
        ("input_channels", input_channels),
        ("out_channels", out_channels),
        ("stochastic_depth_prob", stochastic_depth_prob),
    )
    layers = _mbconv_layers if kind == "MBConv" else _fused_mbconv_layers
    block = layers(expand_ratio, kernel, stride, input_channels, out_channels, norm)
    return Module("", kind, args=args, children=(block, stochastic_depth))


_Stage = tuple[str, int, int, int, int, int, int]
"""Block kind, expand ratio, kernel, stride, input channels, output channels, layers."""


def _efficientnet_from(a: Arguments, stages: list[_Stage], last_channel: int, norm: Keywords) -> Module:
    """torchvision's ``EfficientNet`` for its stage settings (``_efficientnet_conf``), the penultimate width
    and the batch norm."""
    classes, dropout = read_num_classes(a), read_probability(a, "dropout")
    stochastic_depth_prob = read_probability(a, "stochastic_depth_prob")
    total_blocks = sum(stage[6] for stage in stages)
    features = [conv_norm_activation(3, stages[0][4], stride=2, norm=norm, activation="SiLU")]
    block_id = 0
    for kind, expand, kernel, stride, inp, out, layers in stages:
        blocks = []
        for index in range(layers):
            probability = stochastic_depth_prob * float(block_id) / total_blocks
            first = index == 0
            blocks.append(
                _mbconv(kind, expand, kernel, stride if first else 1, inp if first else out, out, probability, norm)
            )
            block_id += 1
        features.append(numbered("", blocks))
    last_in = stages[-1][5]
    features.append(conv_norm_activation(last_in, last_channel, kernel_size=1, norm=norm, activation="SiLU"))
    classifier = numbered("classifier", [new("Dropout", p=dropout, inplace=True), new("Linear", last_channel, classes)])
    avgpool = layer("avgpool", "AdaptiveAvgPool2d", 1)
    return Module("", "EfficientNet", children=(numbered("features", features), avgpool, classifier))


def _efficientnet(a: Arguments, width_mult: float, depth_mult: float, norm: Keywords) -> Module:
    """torchvision's ``EfficientNet`` (B0–B7) from its width and depth multipliers."""

    def adjust(channels: int) -> int:
        return make_divisible(channels * width_mult, 8)

    stages = [
        ("MBConv", expand, kernel, stride, adjust(inp), adjust(out), math.ceil(layers * depth_mult))
        for expand, kernel, stride, inp, out, layers in _EFFICIENTNET_STAGES
    ]
    return _efficientnet_from(a, stages, 4 * stages[-1][5], norm)


_EFFICIENTNETS: Final[tuple[tuple[str, float, float, float, Keywords], ...]] = (
    # name, width_mult, depth_mult, default dropout, norm layer (torchvision/models/efficientnet.py builders)
    ("efficientnet_b0", 1.0, 1.0, 0.2, BATCH_NORM),
    ("efficientnet_b1", 1.0, 1.1, 0.2, BATCH_NORM),
    ("efficientnet_b2", 1.1, 1.2, 0.3, BATCH_NORM),
    ("efficientnet_b3", 1.2, 1.4, 0.3, BATCH_NORM),
    ("efficientnet_b4", 1.4, 1.8, 0.4, BATCH_NORM),
    ("efficientnet_b5", 1.6, 2.2, 0.4, BATCH_NORM_TF),
    ("efficientnet_b6", 1.8, 2.6, 0.5, BATCH_NORM_TF),
    ("efficientnet_b7", 2.0, 3.1, 0.5, BATCH_NORM_TF),
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.zoo.models._blocks import Keywords


def _register_efficientnet(name: str, width_mult: float, depth_mult: float, dropout: float, norm: Keywords) -> None:
    def builder(a: Arguments) -> Module:
        return _efficientnet(a, width_mult, depth_mult, norm)

    sig: Signature = signature(kw_num_classes=1000, kw_dropout=dropout, kw_stochastic_depth_prob=0.2)
    model(name, sig)(builder)


for _name, _width_mult_b, _depth_mult_b, _dropout_b, _norm_b in _EFFICIENTNETS:
    _register_efficientnet(_name, _width_mult_b, _depth_mult_b, _dropout_b, _norm_b)


# --- EfficientNet V2 -----------------------------------------------------------------------------------------

_F, _M = "FusedMBConv", "MBConv"
_EFFICIENTNET_V2: Final[dict[str, tuple[float, tuple[_Stage, ...]]]] = {
    # name: default dropout, stages (torchvision/models/efficientnet.py _efficientnet_conf, Table 4 of the
    # EfficientNetV2 paper); the penultimate width is 1280 and the batch norm has eps 0.001 for all three.
    "efficientnet_v2_s": (0.2, ((_F, 1, 3, 1, 24, 24, 2), (_F, 4, 3, 2, 24, 48, 4), (_F, 4, 3, 2, 48, 64, 4),
                                (_M, 4, 3, 2, 64, 128, 6), (_M, 6, 3, 1, 128, 160, 9), (_M, 6, 3, 2, 160, 256, 15))),
    "efficientnet_v2_m": (0.3, ((_F, 1, 3, 1, 24, 24, 3), (_F, 4, 3, 2, 24, 48, 5), (_F, 4, 3, 2, 48, 80, 5),
                                (_M, 4, 3, 2, 80, 160, 7), (_M, 6, 3, 1, 160, 176, 14), (_M, 6, 3, 2, 176, 304, 18),
                                (_M, 6, 3, 1, 304, 512, 5))),
    "efficientnet_v2_l": (0.4, ((_F, 1, 3, 1, 32, 32, 4), (_F, 4, 3, 2, 32, 64, 7), (_F, 4, 3, 2, 64, 96, 7),
                                (_M, 4, 3, 2, 96, 192, 10), (_M, 6, 3, 1, 192, 224, 19), (_M, 6, 3, 2, 224, 384, 25),
                                (_M, 6, 3, 1, 384, 640, 7))),
}  # fmt: skip
_BATCH_NORM_V2: Final[Keywords] = (("eps", 0.001),)


def _register_efficientnet_v2(name: str, dropout: float, stages: tuple[_Stage, ...]) -> None:
    def builder(a: Arguments) -> Module:
        return _efficientnet_from(a, list(stages), 1280, _BATCH_NORM_V2)

    sig: Signature = signature(kw_num_classes=1000, kw_dropout=dropout, kw_stochastic_depth_prob=0.2)
    model(name, sig)(builder)


for _name, (_dropout_v2, _stages_v2) in _EFFICIENTNET_V2.items():
    _register_efficientnet_v2(_name, _dropout_v2, _stages_v2)

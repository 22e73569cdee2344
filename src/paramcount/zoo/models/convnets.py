"""Convolutional networks of torchvision: AlexNet, VGG, ResNet/ResNeXt/Wide-ResNet, DenseNet, MobileNet V2/V3
and EfficientNet B0–B7.

Module and tensor names are torchvision's (``torchvision/models/alexnet.py``, ``vgg.py``, ``resnet.py``,
``densenet.py``, ``mobilenetv2.py``, ``mobilenetv3.py``, ``efficientnet.py``, ``torchvision/ops/misc.py``),
so ``iter_params`` gives what ``named_parameters()`` gives: ``layer4.2.bn3.weight``,
``features.denseblock4.denselayer16.conv2.weight``, ``features.4.block.2.fc1.bias``.

torchvision's own module classes (``Bottleneck``, ``_DenseLayer``, ``InvertedResidual``, ``MBConv``,
``SqueezeExcitation``, ``Conv2dNormActivation`` …) are tree nodes of that kind whose children are catalog
layers. Equal neighbours inside a numbered container (the blocks of a ResNet stage after the first) are
stored once with ``repeat``. EfficientNet's blocks are never equal: each holds a ``StochasticDepth`` whose
probability grows with the block's depth, as in torchvision.

Catalog layers, ``Conv2dNormActivation`` blocks and MBConv bodies are built through small LRU caches (pure
functions of immutable arguments), so a configuration used by many blocks (every ``_DenseLayer``'s 3×3
convolution) is bound and validated once and shared as one frozen node.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Final

from paramcount.layers._registry import Arguments, Signature, build, short_repr, signature
from paramcount.tree import Module, Value
from paramcount.zoo._registry import model

__all__: list[str] = []

Keywords = tuple[tuple[str, Value], ...]

_VISION: Final = "vision"
_MAX_WIDTH_MULT: Final = 64.0
"""Largest width multiplier accepted (torchvision has no cap; beyond this a model is a typo, not a model)."""


# --- building blocks ---------------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _cached(kind: str, positional: tuple[Value, ...], keywords: Keywords) -> Module:
    # Callers pass values of one type per argument (floats as floats), so equal keys (1 == 1.0 == True)
    # never stand for different layers.
    return build(kind, positional, keywords)


def _new(kind: str, *positional: Value, **keywords: Value) -> Module:
    """The catalog's ``torch.nn.<kind>(*positional, **keywords)``, unnamed (a container names it)."""
    return _cached(kind, positional, tuple(keywords.items()))


def _layer(name: str, kind: str, *positional: Value, **keywords: Value) -> Module:
    """The catalog's ``torch.nn.<kind>(*positional, **keywords)`` adopted under ``name``."""
    return _new(kind, *positional, **keywords).renamed(name)


def _numbered(name: str, children: Sequence[Module], kind: str = "Sequential", args: Keywords = ()) -> Module:
    """A ``Sequential`` (or a torchvision subclass of it) whose children are named ``"0"``, ``"1"`` …; equal
    neighbours are stored once with ``repeat``, as the catalog's Sequential stores them. The children are
    distinct objects in torch (no ties), so no tie bookkeeping is needed."""
    members: list[Module] = []
    previous: Module | None = None
    for index, child in enumerate(children):
        if previous is not None and child == previous:
            members[-1] = replace(members[-1], repeat=members[-1].repeat + 1)
        else:
            members.append(child.renamed(str(index)))
            previous = child
    return Module(name, kind, args=args, children=tuple(members))


def _classes(a: Arguments) -> int:
    return a.integer("num_classes", minimum=0)  # torchvision accepts 0 (a Linear with no outputs)


def _probability(a: Arguments, name: str) -> float:
    value = a.real(name)
    if not 0 <= value <= 1:
        raise a.fail(f"{name} must be between 0 and 1, got {short_repr(value)}", name)
    return float(value)


def _width_mult(a: Arguments) -> float:
    value = a.real("width_mult")
    if not 0 < value <= _MAX_WIDTH_MULT:
        raise a.fail(f"width_mult must be > 0 and <= {_MAX_WIDTH_MULT:g}, got {short_repr(value)}", "width_mult")
    return float(value)


def _make_divisible(value: float, divisor: int, min_value: int | None = None) -> int:
    """torchvision's ``_make_divisible`` (``torchvision/models/_utils.py``): round to a multiple of ``divisor``,
    never more than 10% down."""
    minimum = divisor if min_value is None else min_value
    result = max(minimum, int(value + divisor / 2) // divisor * divisor)
    if result < 0.9 * value:
        result += divisor
    return result


_BATCH_NORM: Final[Keywords] = ()
"""``nn.BatchNorm2d`` with torch's defaults."""
_BATCH_NORM_TF: Final[Keywords] = (("eps", 0.001), ("momentum", 0.01))
"""``partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)``: MobileNetV3, EfficientNet B5–B7."""


@lru_cache(maxsize=1024)
def _conv_norm_activation(
    in_channels: int,
    out_channels: int,
    *,
    kernel_size: int = 3,
    stride: int = 1,
    groups: int = 1,
    dilation: int = 1,
    norm: Keywords = _BATCH_NORM,
    activation: str | None = "ReLU",
) -> Module:
    """torchvision's ``Conv2dNormActivation`` (an ``nn.Sequential``): a bias-free convolution padded to keep
    the size, a batch norm, and the activation (built with ``inplace=True``) unless it is None."""
    padding = (kernel_size - 1) // 2 * dilation
    children = [
        _new(
            "Conv2d",
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation=dilation,
            groups=groups,
            bias=False,
        ),
        _cached("BatchNorm2d", (out_channels,), norm),
    ]
    if activation is not None:
        children.append(_new(activation, inplace=True))
    args: Keywords = (
        ("in_channels", in_channels),
        ("out_channels", out_channels),
        ("kernel_size", kernel_size),
        ("stride", stride),
        ("groups", groups),
        ("dilation", dilation),
    )
    return _numbered("", children, "Conv2dNormActivation", args)


def _squeeze_excitation(
    input_channels: int, squeeze_channels: int, activation: Module, scale_activation: Module
) -> Module:
    """``torchvision.ops.SqueezeExcitation``: avgpool, fc1, fc2 (1×1 convolutions with bias), activation,
    scale_activation."""
    return Module(
        "",
        "SqueezeExcitation",
        args=(("input_channels", input_channels), ("squeeze_channels", squeeze_channels)),
        children=(
            _layer("avgpool", "AdaptiveAvgPool2d", 1),
            _layer("fc1", "Conv2d", input_channels, squeeze_channels, 1),
            _layer("fc2", "Conv2d", squeeze_channels, input_channels, 1),
            activation.renamed("activation"),
            scale_activation.renamed("scale_activation"),
        ),
    )


# --- AlexNet -------------------------------------------------------------------------------------------------


@model(
    "alexnet",
    signature(kw_num_classes=1000, kw_dropout=0.5),
    family=_VISION,
    reference="torchvision.models.alexnet",
)
def alexnet(a: Arguments) -> Module:
    classes, dropout = _classes(a), _probability(a, "dropout")
    relu, pool = _new("ReLU", inplace=True), _new("MaxPool2d", kernel_size=3, stride=2)
    features = _numbered(
        "features",
        [
            _new("Conv2d", 3, 64, kernel_size=11, stride=4, padding=2),
            relu,
            pool,
            _new("Conv2d", 64, 192, kernel_size=5, padding=2),
            relu,
            pool,
            _new("Conv2d", 192, 384, kernel_size=3, padding=1),
            relu,
            _new("Conv2d", 384, 256, kernel_size=3, padding=1),
            relu,
            _new("Conv2d", 256, 256, kernel_size=3, padding=1),
            relu,
            pool,
        ],
    )
    classifier = _numbered(
        "classifier",
        [
            _new("Dropout", p=dropout),
            _new("Linear", 256 * 6 * 6, 4096),
            relu,
            _new("Dropout", p=dropout),
            _new("Linear", 4096, 4096),
            relu,
            _new("Linear", 4096, classes),
        ],
    )
    avgpool = _layer("avgpool", "AdaptiveAvgPool2d", (6, 6))
    return Module("", "AlexNet", children=(features, avgpool, classifier))


# --- VGG -----------------------------------------------------------------------------------------------------

_MAX_POOL: Final = "M"
_VGG_CONFIGS: Final[dict[str, tuple[int | str, ...]]] = {
    # torchvision/models/vgg.py cfgs: the number of 3×3 convolutions of each width, "M" a 2×2 max pool.
    "A": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "B": (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "D": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    "E": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
}


def _vgg(a: Arguments, config: str, batch_norm: bool) -> Module:
    classes, dropout = _classes(a), _probability(a, "dropout")
    relu = _new("ReLU", inplace=True)
    layers: list[Module] = []
    in_channels = 3
    for item in _VGG_CONFIGS[config]:
        if isinstance(item, str):
            layers.append(_new("MaxPool2d", kernel_size=2, stride=2))
            continue
        layers.append(_new("Conv2d", in_channels, item, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(_new("BatchNorm2d", item))
        layers.append(relu)
        in_channels = item
    classifier = _numbered(
        "classifier",
        [
            _new("Linear", 512 * 7 * 7, 4096),
            relu,
            _new("Dropout", p=dropout),
            _new("Linear", 4096, 4096),
            relu,
            _new("Dropout", p=dropout),
            _new("Linear", 4096, classes),
        ],
    )
    avgpool = _layer("avgpool", "AdaptiveAvgPool2d", (7, 7))
    return Module("", "VGG", children=(_numbered("features", layers), avgpool, classifier))


_VGG_SIGNATURE: Final = signature(kw_num_classes=1000, kw_dropout=0.5)


def _register_vgg(name: str, config: str, batch_norm: bool) -> None:
    def builder(a: Arguments) -> Module:
        return _vgg(a, config, batch_norm)

    model(name, _VGG_SIGNATURE, family=_VISION, reference=f"torchvision.models.{name}")(builder)


for _depth, _config in ((11, "A"), (13, "B"), (16, "D"), (19, "E")):
    _register_vgg(f"vgg{_depth}", _config, batch_norm=False)
    _register_vgg(f"vgg{_depth}_bn", _config, batch_norm=True)


# --- ResNet, ResNeXt, Wide ResNet ----------------------------------------------------------------------------


def _resnet_block(
    kind: str, inplanes: int, planes: int, stride: int, downsample: Module | None, groups: int, base_width: int
) -> Module:
    """``BasicBlock`` (two 3×3 convolutions) or ``Bottleneck`` (1×1, grouped 3×3, 1×1 with ×4 expansion)."""
    relu = _layer("relu", "ReLU", inplace=True)
    if kind == "BasicBlock":
        children = [
            _layer("conv1", "Conv2d", inplanes, planes, kernel_size=3, stride=stride, padding=1, bias=False),
            _layer("bn1", "BatchNorm2d", planes),
            relu,
            _layer("conv2", "Conv2d", planes, planes, kernel_size=3, stride=1, padding=1, bias=False),
            _layer("bn2", "BatchNorm2d", planes),
        ]
    else:
        width = int(planes * (base_width / 64.0)) * groups
        children = [
            _layer("conv1", "Conv2d", inplanes, width, kernel_size=1, stride=1, bias=False),
            _layer("bn1", "BatchNorm2d", width),
            _layer("conv2", "Conv2d", width, width, kernel_size=3, stride=stride, padding=1, groups=groups, bias=False),
            _layer("bn2", "BatchNorm2d", width),
            _layer("conv3", "Conv2d", width, planes * 4, kernel_size=1, stride=1, bias=False),
            _layer("bn3", "BatchNorm2d", planes * 4),
            relu,
        ]
    if downsample is not None:
        children.append(downsample)
    args: Keywords = (
        ("inplanes", inplanes),
        ("planes", planes),
        ("stride", stride),
        ("groups", groups),
        ("base_width", base_width),
    )
    return Module("", kind, args=args, children=tuple(children))


def _resnet(a: Arguments, block: str, layers: tuple[int, int, int, int], groups: int, width_per_group: int) -> Module:
    """torchvision's ``ResNet``: stem, four stages of blocks (the first of a stage may downsample), fc."""
    classes = _classes(a)
    expansion = 1 if block == "BasicBlock" else 4
    inplanes = 64
    stages: list[Module] = []
    for index, (planes, count) in enumerate(zip((64, 128, 256, 512), layers, strict=True)):
        stride = 1 if index == 0 else 2
        downsample = None
        if stride != 1 or inplanes != planes * expansion:
            downsample = _numbered(
                "downsample",
                [
                    _new("Conv2d", inplanes, planes * expansion, kernel_size=1, stride=stride, bias=False),
                    _new("BatchNorm2d", planes * expansion),
                ],
            )
        first = _resnet_block(block, inplanes, planes, stride, downsample, groups, width_per_group)
        inplanes = planes * expansion
        rest = _resnet_block(block, inplanes, planes, 1, None, groups, width_per_group)
        stages.append(_numbered(f"layer{index + 1}", [first] + [rest] * (count - 1)))
    return Module(
        "",
        "ResNet",
        children=(
            _layer("conv1", "Conv2d", 3, 64, kernel_size=7, stride=2, padding=3, bias=False),
            _layer("bn1", "BatchNorm2d", 64),
            _layer("relu", "ReLU", inplace=True),
            _layer("maxpool", "MaxPool2d", kernel_size=3, stride=2, padding=1),
            *stages,
            _layer("avgpool", "AdaptiveAvgPool2d", (1, 1)),
            _layer("fc", "Linear", 512 * expansion, classes),
        ),
    )


_RESNET_SIGNATURE: Final = signature(kw_num_classes=1000)
_RESNETS: Final[tuple[tuple[str, str, tuple[int, int, int, int], int, int], ...]] = (
    # name, block, blocks per stage, groups, width_per_group (torchvision/models/resnet.py builders)
    ("resnet18", "BasicBlock", (2, 2, 2, 2), 1, 64),
    ("resnet34", "BasicBlock", (3, 4, 6, 3), 1, 64),
    ("resnet50", "Bottleneck", (3, 4, 6, 3), 1, 64),
    ("resnet101", "Bottleneck", (3, 4, 23, 3), 1, 64),
    ("resnet152", "Bottleneck", (3, 8, 36, 3), 1, 64),
    ("resnext50_32x4d", "Bottleneck", (3, 4, 6, 3), 32, 4),
    ("resnext101_32x8d", "Bottleneck", (3, 4, 23, 3), 32, 8),
    ("resnext101_64x4d", "Bottleneck", (3, 4, 23, 3), 64, 4),
    ("wide_resnet50_2", "Bottleneck", (3, 4, 6, 3), 1, 128),
    ("wide_resnet101_2", "Bottleneck", (3, 4, 23, 3), 1, 128),
)


def _register_resnet(name: str, block: str, layers: tuple[int, int, int, int], groups: int, width: int) -> None:
    def builder(a: Arguments) -> Module:
        return _resnet(a, block, layers, groups, width)

    model(name, _RESNET_SIGNATURE, family=_VISION, reference=f"torchvision.models.{name}")(builder)


for _name, _block, _layers, _groups, _width in _RESNETS:
    _register_resnet(_name, _block, _layers, _groups, _width)


# --- DenseNet ------------------------------------------------------------------------------------------------


def _dense_layer(name: str, in_features: int, growth_rate: int, bn_size: int, drop_rate: float) -> Module:
    """``_DenseLayer``: BN-ReLU-1×1 conv to ``bn_size·growth_rate``, BN-ReLU-3×3 conv to ``growth_rate``."""
    bottleneck = bn_size * growth_rate
    return Module(
        name,
        "_DenseLayer",
        args=(
            ("num_input_features", in_features),
            ("growth_rate", growth_rate),
            ("bn_size", bn_size),
            ("drop_rate", drop_rate),
        ),
        children=(
            _layer("norm1", "BatchNorm2d", in_features),
            _layer("relu1", "ReLU", inplace=True),
            _layer("conv1", "Conv2d", in_features, bottleneck, kernel_size=1, stride=1, bias=False),
            _layer("norm2", "BatchNorm2d", bottleneck),
            _layer("relu2", "ReLU", inplace=True),
            _layer("conv2", "Conv2d", bottleneck, growth_rate, kernel_size=3, stride=1, padding=1, bias=False),
        ),
    )


def _transition(name: str, in_features: int, out_features: int) -> Module:
    """``_Transition`` (an ``nn.Sequential`` with named children): BN-ReLU-1×1 conv, 2×2 average pool."""
    return Module(
        name,
        "_Transition",
        args=(("num_input_features", in_features), ("num_output_features", out_features)),
        children=(
            _layer("norm", "BatchNorm2d", in_features),
            _layer("relu", "ReLU", inplace=True),
            _layer("conv", "Conv2d", in_features, out_features, kernel_size=1, stride=1, bias=False),
            _layer("pool", "AvgPool2d", kernel_size=2, stride=2),
        ),
    )


def _densenet(a: Arguments, growth_rate: int, block_config: tuple[int, ...], num_init_features: int) -> Module:
    """torchvision's ``DenseNet``: every layer of a dense block sees all earlier outputs, so each has its own
    input width and none repeats."""
    classes = _classes(a)
    bn_size = a.integer("bn_size", minimum=1)
    drop_rate = float(a.real("drop_rate"))
    features: list[Module] = [
        _layer("conv0", "Conv2d", 3, num_init_features, kernel_size=7, stride=2, padding=3, bias=False),
        _layer("norm0", "BatchNorm2d", num_init_features),
        _layer("relu0", "ReLU", inplace=True),
        _layer("pool0", "MaxPool2d", kernel_size=3, stride=2, padding=1),
    ]
    num_features = num_init_features
    for index, num_layers in enumerate(block_config):
        layers = tuple(
            _dense_layer(f"denselayer{j + 1}", num_features + j * growth_rate, growth_rate, bn_size, drop_rate)
            for j in range(num_layers)
        )
        block_args: Keywords = (("num_layers", num_layers), ("num_input_features", num_features))
        features.append(Module(f"denseblock{index + 1}", "_DenseBlock", args=block_args, children=layers))
        num_features += num_layers * growth_rate
        if index != len(block_config) - 1:
            features.append(_transition(f"transition{index + 1}", num_features, num_features // 2))
            num_features //= 2
    features.append(_layer("norm5", "BatchNorm2d", num_features))
    return Module(
        "",
        "DenseNet",
        children=(
            Module("features", "Sequential", children=tuple(features)),
            _layer("classifier", "Linear", num_features, classes),
        ),
    )


_DENSENET_SIGNATURE: Final = signature(kw_bn_size=4, kw_drop_rate=0.0, kw_num_classes=1000)
_DENSENETS: Final[tuple[tuple[str, int, tuple[int, ...], int], ...]] = (
    # name, growth_rate, block_config, num_init_features (torchvision/models/densenet.py builders)
    ("densenet121", 32, (6, 12, 24, 16), 64),
    ("densenet161", 48, (6, 12, 36, 24), 96),
    ("densenet169", 32, (6, 12, 32, 32), 64),
    ("densenet201", 32, (6, 12, 48, 32), 64),
)


def _register_densenet(name: str, growth_rate: int, block_config: tuple[int, ...], num_init_features: int) -> None:
    def builder(a: Arguments) -> Module:
        return _densenet(a, growth_rate, block_config, num_init_features)

    model(name, _DENSENET_SIGNATURE, family=_VISION, reference=f"torchvision.models.{name}")(builder)


for _name, _growth, _blocks, _init in _DENSENETS:
    _register_densenet(_name, _growth, _blocks, _init)


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
        layers.append(_conv_norm_activation(inp, hidden, kernel_size=1, activation="ReLU6"))
    layers.append(_conv_norm_activation(hidden, hidden, stride=stride, groups=hidden, activation="ReLU6"))
    layers.append(_new("Conv2d", hidden, oup, 1, 1, 0, bias=False))
    layers.append(_new("BatchNorm2d", oup))
    args: Keywords = (("inp", inp), ("oup", oup), ("stride", stride), ("expand_ratio", expand_ratio))
    return Module("", "InvertedResidual", args=args, children=(_numbered("conv", layers),))


@model(
    "mobilenet_v2",
    signature(kw_num_classes=1000, kw_width_mult=1.0, kw_round_nearest=8, kw_dropout=0.2),
    family=_VISION,
    reference="torchvision.models.mobilenet_v2",
)
def mobilenet_v2(a: Arguments) -> Module:
    classes, width_mult, dropout = _classes(a), _width_mult(a), _probability(a, "dropout")
    round_nearest = a.integer("round_nearest", minimum=1)
    input_channel = _make_divisible(32 * width_mult, round_nearest)
    last_channel = _make_divisible(1280 * max(1.0, width_mult), round_nearest)
    features = [_conv_norm_activation(3, input_channel, stride=2, activation="ReLU6")]
    for expand_ratio, channels, repeats, first_stride in _MOBILENET_V2_SETTING:
        output_channel = _make_divisible(channels * width_mult, round_nearest)
        for index in range(repeats):
            stride = first_stride if index == 0 else 1
            features.append(_inverted_residual_v2(input_channel, output_channel, stride, expand_ratio))
            input_channel = output_channel
    features.append(_conv_norm_activation(input_channel, last_channel, kernel_size=1, activation="ReLU6"))
    classifier = _numbered("classifier", [_new("Dropout", p=dropout), _new("Linear", last_channel, classes)])
    return Module("", "MobileNetV2", children=(_numbered("features", features), classifier))


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
            _conv_norm_activation(input_channels, expanded, kernel_size=1, norm=_BATCH_NORM_TF, activation=activation)
        )
    layers.append(
        _conv_norm_activation(
            expanded,
            expanded,
            kernel_size=kernel,
            stride=1 if dilation > 1 else stride,
            dilation=dilation,
            groups=expanded,
            norm=_BATCH_NORM_TF,
            activation=activation,
        )
    )
    if use_se:
        squeeze = _make_divisible(expanded // 4, 8)
        layers.append(_squeeze_excitation(expanded, squeeze, _new("ReLU"), _new("Hardsigmoid")))
    layers.append(_conv_norm_activation(expanded, out_channels, kernel_size=1, norm=_BATCH_NORM_TF, activation=None))
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
    return Module("", "InvertedResidual", args=args, children=(_numbered("block", layers),))


def _mobilenet_v3(a: Arguments, setting: tuple[_V3Row, ...], last: int) -> Module:
    """torchvision's ``MobileNetV3`` for ``setting`` and the penultimate width ``last`` (before scaling)."""
    classes, width_mult, dropout = _classes(a), _width_mult(a), _probability(a, "dropout")
    divider = 2 if a.flag("reduced_tail") else 1
    dilation = 2 if a.flag("dilated") else 1

    def adjust(channels: int) -> int:
        return _make_divisible(channels * width_mult, 8)

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
        _conv_norm_activation(3, first_channels, stride=2, norm=_BATCH_NORM_TF, activation="Hardswish"),
        *blocks,
        _conv_norm_activation(last_in, last_out, kernel_size=1, norm=_BATCH_NORM_TF, activation="Hardswish"),
    ]
    classifier = _numbered(
        "classifier",
        [
            _new("Linear", last_out, last_channel),
            _new("Hardswish", inplace=True),
            _new("Dropout", p=dropout, inplace=True),
            _new("Linear", last_channel, classes),
        ],
    )
    avgpool = _layer("avgpool", "AdaptiveAvgPool2d", 1)
    return Module("", "MobileNetV3", children=(_numbered("features", features), avgpool, classifier))


_MOBILENET_V3_SIGNATURE: Final = signature(
    kw_width_mult=1.0, kw_reduced_tail=False, kw_dilated=False, kw_num_classes=1000, kw_dropout=0.2
)


@model(
    "mobilenet_v3_large",
    _MOBILENET_V3_SIGNATURE,
    family=_VISION,
    reference="torchvision.models.mobilenet_v3_large",
)
def mobilenet_v3_large(a: Arguments) -> Module:
    return _mobilenet_v3(a, _MOBILENET_V3_LARGE, 1280)


@model(
    "mobilenet_v3_small",
    _MOBILENET_V3_SIGNATURE,
    family=_VISION,
    reference="torchvision.models.mobilenet_v3_small",
)
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
    expanded = _make_divisible(input_channels * expand_ratio, 8)
    layers: list[Module] = []
    if expanded != input_channels:
        layers.append(_conv_norm_activation(input_channels, expanded, kernel_size=1, norm=norm, activation="SiLU"))
    layers.append(
        _conv_norm_activation(
            expanded, expanded, kernel_size=kernel, stride=stride, groups=expanded, norm=norm, activation="SiLU"
        )
    )
    squeeze = max(1, input_channels // 4)
    layers.append(_squeeze_excitation(expanded, squeeze, _new("SiLU", inplace=True), _new("Sigmoid")))
    layers.append(_conv_norm_activation(expanded, out_channels, kernel_size=1, norm=norm, activation=None))
    return _numbered("block", layers)


def _mbconv(
    expand_ratio: int,
    kernel: int,
    stride: int,
    input_channels: int,
    out_channels: int,
    stochastic_depth_prob: float,
    norm: Keywords,
) -> Module:
    """``MBConv``: its ``block`` Sequential and its ``stochastic_depth``, whose probability makes every block
    of the network distinct."""
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
    block = _mbconv_layers(expand_ratio, kernel, stride, input_channels, out_channels, norm)
    return Module("", "MBConv", args=args, children=(block, stochastic_depth))


def _efficientnet(a: Arguments, width_mult: float, depth_mult: float, norm: Keywords) -> Module:
    """torchvision's ``EfficientNet`` (B0–B7) from its width and depth multipliers."""
    classes, dropout = _classes(a), _probability(a, "dropout")
    stochastic_depth_prob = _probability(a, "stochastic_depth_prob")

    def adjust(channels: int) -> int:
        return _make_divisible(channels * width_mult, 8)

    stages = [
        (expand, kernel, stride, adjust(inp), adjust(out), math.ceil(layers * depth_mult))
        for expand, kernel, stride, inp, out, layers in _EFFICIENTNET_STAGES
    ]
    total_blocks = sum(stage[5] for stage in stages)
    features = [_conv_norm_activation(3, stages[0][3], stride=2, norm=norm, activation="SiLU")]
    block_id = 0
    for expand, kernel, stride, inp, out, layers in stages:
        blocks = []
        for index in range(layers):
            probability = stochastic_depth_prob * float(block_id) / total_blocks
            first = index == 0
            blocks.append(
                _mbconv(expand, kernel, stride if first else 1, inp if first else out, out, probability, norm)
            )
            block_id += 1
        features.append(_numbered("", blocks))
    last_in = stages[-1][4]
    features.append(_conv_norm_activation(last_in, 4 * last_in, kernel_size=1, norm=norm, activation="SiLU"))
    classifier = _numbered(
        "classifier", [_new("Dropout", p=dropout, inplace=True), _new("Linear", 4 * last_in, classes)]
    )
    avgpool = _layer("avgpool", "AdaptiveAvgPool2d", 1)
    return Module("", "EfficientNet", children=(_numbered("features", features), avgpool, classifier))


_EFFICIENTNETS: Final[tuple[tuple[str, float, float, float, Keywords], ...]] = (
    # name, width_mult, depth_mult, default dropout, norm layer (torchvision/models/efficientnet.py builders)
    ("efficientnet_b0", 1.0, 1.0, 0.2, _BATCH_NORM),
    ("efficientnet_b1", 1.0, 1.1, 0.2, _BATCH_NORM),
    ("efficientnet_b2", 1.1, 1.2, 0.3, _BATCH_NORM),
    ("efficientnet_b3", 1.2, 1.4, 0.3, _BATCH_NORM),
    ("efficientnet_b4", 1.4, 1.8, 0.4, _BATCH_NORM),
    ("efficientnet_b5", 1.6, 2.2, 0.4, _BATCH_NORM_TF),
    ("efficientnet_b6", 1.8, 2.6, 0.5, _BATCH_NORM_TF),
    ("efficientnet_b7", 2.0, 3.1, 0.5, _BATCH_NORM_TF),
)


def _register_efficientnet(name: str, width_mult: float, depth_mult: float, dropout: float, norm: Keywords) -> None:
    def builder(a: Arguments) -> Module:
        return _efficientnet(a, width_mult, depth_mult, norm)

    sig: Signature = signature(kw_num_classes=1000, kw_dropout=dropout, kw_stochastic_depth_prob=0.2)
    model(name, sig, family=_VISION, reference=f"torchvision.models.{name}")(builder)


for _name, _width_mult_b, _depth_mult_b, _dropout_b, _norm_b in _EFFICIENTNETS:
    _register_efficientnet(_name, _width_mult_b, _depth_mult_b, _dropout_b, _norm_b)

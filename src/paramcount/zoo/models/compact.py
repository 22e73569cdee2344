"""The compact convolutional networks of torchvision: ShuffleNet V2 (×0.5, ×1.0, ×1.5, ×2.0), SqueezeNet 1.0
and 1.1, and MNASNet (0.5, 0.75, 1.0, 1.3).

Module and tensor names are torchvision's (``torchvision/models/shufflenetv2.py``, ``squeezenet.py``,
``mnasnet.py``), so ``iter_params`` gives what ``named_parameters()`` gives: ``stage2.0.branch1.0.weight``,
``features.3.expand3x3.bias``, ``layers.8.0.layers.3.weight``. ShuffleNet's ``InvertedResidual`` (torchvision
reuses the class name; its children ``branch1``/``branch2`` tell it from MobileNet's), ``Fire`` and MNASNet's
``_InvertedResidual`` are tree nodes of that kind whose children are catalog layers.
"""

from __future__ import annotations

from paramcount.layers._arguments import Arguments
from paramcount.layers._signature import signature
from paramcount.tree import Module
from paramcount.zoo._registry import model
from paramcount.zoo.models._blocks import layer, make_divisible, new, numbered, read_num_classes, read_probability

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.zoo.models._blocks import Keywords

__all__: list[str] = []

# --- ShuffleNet V2 -------------------------------------------------------------------------------------------


def _shuffle_unit(inp: int, oup: int, stride: int) -> Module:
    """ShuffleNet V2's ``InvertedResidual``: with stride > 1 both ``branch1`` (depthwise 3×3, 1×1) and
    ``branch2`` (1×1, depthwise 3×3, 1×1) read the input; with stride 1 ``branch1`` is an empty ``Sequential``
    and ``branch2`` reads half the channels."""
    branch = oup // 2
    relu = new("ReLU", inplace=True)
    if stride > 1:
        branch1 = [
            new("Conv2d", inp, inp, 3, stride, 1, bias=False, groups=inp),
            new("BatchNorm2d", inp),
            new("Conv2d", inp, branch, kernel_size=1, stride=1, padding=0, bias=False),
            new("BatchNorm2d", branch),
            relu,
        ]
    else:
        branch1 = []
    branch2 = [
        new("Conv2d", inp if stride > 1 else branch, branch, kernel_size=1, stride=1, padding=0, bias=False),
        new("BatchNorm2d", branch),
        relu,
        new("Conv2d", branch, branch, 3, stride, 1, bias=False, groups=branch),
        new("BatchNorm2d", branch),
        new("Conv2d", branch, branch, kernel_size=1, stride=1, padding=0, bias=False),
        new("BatchNorm2d", branch),
        relu,
    ]
    args: Keywords = (("inp", inp), ("oup", oup), ("stride", stride))
    return Module(
        "", "InvertedResidual", args=args, children=(numbered("branch1", branch1), numbered("branch2", branch2))
    )


def _shufflenet_v2(a: Arguments, repeats: tuple[int, int, int], channels: tuple[int, int, int, int, int]) -> Module:
    """torchvision's ``ShuffleNetV2``: stem, three stages (the first unit of each halves the resolution),
    ``conv5``, global mean, ``fc``."""
    classes = read_num_classes(a)
    relu = new("ReLU", inplace=True)
    stem = numbered(
        "conv1", [new("Conv2d", 3, channels[0], 3, 2, 1, bias=False), new("BatchNorm2d", channels[0]), relu]
    )
    stages: list[Module] = []
    inp = channels[0]
    for index, (count, oup) in enumerate(zip(repeats, channels[1:4], strict=True)):
        units = [_shuffle_unit(inp, oup, 2)] + [_shuffle_unit(oup, oup, 1)] * (count - 1)
        stages.append(numbered(f"stage{index + 2}", units))
        inp = oup
    last = channels[4]
    conv5 = numbered("conv5", [new("Conv2d", inp, last, 1, 1, 0, bias=False), new("BatchNorm2d", last), relu])
    return Module(
        "",
        "ShuffleNetV2",
        children=(
            stem,
            layer("maxpool", "MaxPool2d", kernel_size=3, stride=2, padding=1),
            *stages,
            conv5,
            layer("fc", "Linear", last, classes),
        ),
    )


_SHUFFLENETS: Final[tuple[tuple[str, tuple[int, int, int, int, int]], ...]] = (
    # name, stages_out_channels (torchvision/models/shufflenetv2.py builders; stages_repeats is [4, 8, 4])
    ("shufflenet_v2_x0_5", (24, 48, 96, 192, 1024)),
    ("shufflenet_v2_x1_0", (24, 116, 232, 464, 1024)),
    ("shufflenet_v2_x1_5", (24, 176, 352, 704, 1024)),
    ("shufflenet_v2_x2_0", (24, 244, 488, 976, 2048)),
)


def _register_shufflenet(name: str, channels: tuple[int, int, int, int, int]) -> None:
    def builder(a: Arguments) -> Module:
        return _shufflenet_v2(a, (4, 8, 4), channels)

    model(name, signature(kw_num_classes=1000))(builder)


for _name, _channels in _SHUFFLENETS:
    _register_shufflenet(_name, _channels)


# --- SqueezeNet ----------------------------------------------------------------------------------------------


def _fire(inplanes: int, squeeze: int, expand1x1: int, expand3x3: int) -> Module:
    """``Fire``: a 1×1 squeeze, then 1×1 and 3×3 expansions whose outputs are concatenated."""
    relu = new("ReLU", inplace=True)
    args: Keywords = (
        ("inplanes", inplanes),
        ("squeeze_planes", squeeze),
        ("expand1x1_planes", expand1x1),
        ("expand3x3_planes", expand3x3),
    )
    return Module(
        "",
        "Fire",
        args=args,
        children=(
            layer("squeeze", "Conv2d", inplanes, squeeze, kernel_size=1),
            relu.renamed("squeeze_activation"),
            layer("expand1x1", "Conv2d", squeeze, expand1x1, kernel_size=1),
            relu.renamed("expand1x1_activation"),
            layer("expand3x3", "Conv2d", squeeze, expand3x3, kernel_size=3, padding=1),
            relu.renamed("expand3x3_activation"),
        ),
    )


_POOL: Final = "M"
_SQUEEZENET_FEATURES: Final[dict[str, tuple[tuple[int, int, int] | str, ...]]] = {
    # After the stem convolution, its ReLU and a max pool: Fire(inplanes, squeeze, expand) with equal 1×1 and
    # 3×3 expansions, "M" a ceil-mode 3×3 max pool of stride 2 (torchvision/models/squeezenet.py).
    "1_0": ((96, 16, 64), (128, 16, 64), (128, 32, 128), _POOL, (256, 32, 128), (256, 48, 192), (384, 48, 192),
            (384, 64, 256), _POOL, (512, 64, 256)),
    "1_1": ((64, 16, 64), (128, 16, 64), _POOL, (128, 32, 128), (256, 32, 128), _POOL, (256, 48, 192),
            (384, 48, 192), (384, 64, 256), (512, 64, 256)),
}  # fmt: skip


def _squeezenet(a: Arguments, version: str) -> Module:
    classes, dropout = read_num_classes(a), read_probability(a, "dropout")
    pool = new("MaxPool2d", kernel_size=3, stride=2, ceil_mode=True)
    stem = new("Conv2d", 3, 96, kernel_size=7, stride=2) if version == "1_0" else new("Conv2d", 3, 64, 3, stride=2)
    features = [stem, new("ReLU", inplace=True), pool]
    for item in _SQUEEZENET_FEATURES[version]:
        features.append(pool if isinstance(item, str) else _fire(item[0], item[1], item[2], item[2]))
    classifier = numbered(
        "classifier",
        [
            new("Dropout", p=dropout),
            new("Conv2d", 512, classes, kernel_size=1),
            new("ReLU", inplace=True),
            new("AdaptiveAvgPool2d", (1, 1)),
        ],
    )
    return Module("", "SqueezeNet", children=(numbered("features", features), classifier))


def _register_squeezenet(version: str) -> None:
    def builder(a: Arguments) -> Module:
        return _squeezenet(a, version)

    name = f"squeezenet{version}"
    sig = signature(kw_num_classes=1000, kw_dropout=0.5)
    model(name, sig)(builder)


for _version in ("1_0", "1_1"):
    _register_squeezenet(_version)


# --- MNASNet -------------------------------------------------------------------------------------------------

_BN_MOMENTUM: Final = 1 - 0.9997
"""MNASNet's batch-norm momentum (``torchvision/models/mnasnet.py``), computed as torchvision computes it."""

_MNASNET_STACKS: Final = (
    # kernel, first stride, expansion, repeats of each _stack after the stem (torchvision's MNASNet.__init__)
    (3, 2, 3, 3),
    (5, 2, 3, 3),
    (5, 2, 6, 3),
    (3, 1, 6, 2),
    (5, 2, 6, 4),
    (3, 1, 6, 1),
)


def _mnasnet_block(in_ch: int, out_ch: int, kernel: int, stride: int, expansion: int) -> Module:
    """MNASNet's ``_InvertedResidual``: 1×1 expansion, depthwise convolution, linear 1×1 projection."""
    mid = in_ch * expansion
    relu = new("ReLU", inplace=True)
    body = [
        new("Conv2d", in_ch, mid, 1, bias=False),
        new("BatchNorm2d", mid, momentum=_BN_MOMENTUM),
        relu,
        new("Conv2d", mid, mid, kernel, padding=kernel // 2, stride=stride, groups=mid, bias=False),
        new("BatchNorm2d", mid, momentum=_BN_MOMENTUM),
        relu,
        new("Conv2d", mid, out_ch, 1, bias=False),
        new("BatchNorm2d", out_ch, momentum=_BN_MOMENTUM),
    ]
    args: Keywords = (
        ("in_ch", in_ch),
        ("out_ch", out_ch),
        ("kernel_size", kernel),
        ("stride", stride),
        ("expansion_factor", expansion),
    )
    return Module("", "_InvertedResidual", args=args, children=(numbered("layers", body),))


def _mnasnet(a: Arguments, alpha: float) -> Module:
    classes, dropout = read_num_classes(a), read_probability(a, "dropout")
    depths = [make_divisible(depth * alpha, 8) for depth in (32, 16, 24, 40, 80, 96, 192, 320)]
    relu = new("ReLU", inplace=True)
    layers = [
        new("Conv2d", 3, depths[0], 3, padding=1, stride=2, bias=False),
        new("BatchNorm2d", depths[0], momentum=_BN_MOMENTUM),
        relu,
        new("Conv2d", depths[0], depths[0], 3, padding=1, stride=1, groups=depths[0], bias=False),
        new("BatchNorm2d", depths[0], momentum=_BN_MOMENTUM),
        relu,
        new("Conv2d", depths[0], depths[1], 1, padding=0, stride=1, bias=False),
        new("BatchNorm2d", depths[1], momentum=_BN_MOMENTUM),
    ]
    for index, (kernel, stride, expansion, repeats) in enumerate(_MNASNET_STACKS):
        inp, out = depths[index + 1], depths[index + 2]
        first = _mnasnet_block(inp, out, kernel, stride, expansion)
        layers.append(numbered("", [first] + [_mnasnet_block(out, out, kernel, 1, expansion)] * (repeats - 1)))
    layers += [
        new("Conv2d", depths[7], 1280, 1, padding=0, stride=1, bias=False),
        new("BatchNorm2d", 1280, momentum=_BN_MOMENTUM),
        relu,
    ]
    classifier = numbered("classifier", [new("Dropout", p=dropout, inplace=True), new("Linear", 1280, classes)])
    return Module("", "MNASNet", args=(("alpha", alpha),), children=(numbered("layers", layers), classifier))


def _register_mnasnet(name: str, alpha: float) -> None:
    def builder(a: Arguments) -> Module:
        return _mnasnet(a, alpha)

    sig = signature(kw_num_classes=1000, kw_dropout=0.2)
    model(name, sig)(builder)


for _name, _alpha in (("mnasnet0_5", 0.5), ("mnasnet0_75", 0.75), ("mnasnet1_0", 1.0), ("mnasnet1_3", 1.3)):
    _register_mnasnet(_name, _alpha)

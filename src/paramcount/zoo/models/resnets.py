"""ResNet, ResNeXt and Wide ResNet of torchvision (``torchvision/models/resnet.py``).

Module and tensor names are torchvision's, so ``iter_params`` gives what ``named_parameters()`` gives:
``layer4.2.bn3.weight``. ``BasicBlock`` and ``Bottleneck`` are tree nodes of that kind whose children are catalog
layers; the blocks of a stage after the first are equal and stored once with ``repeat``.
"""

from __future__ import annotations

from paramcount.layers._arguments import Arguments
from paramcount.layers._signature import signature
from paramcount.tree import Module
from paramcount.zoo._registry import model
from paramcount.zoo.models._blocks import layer, new, numbered, read_num_classes

__all__: list[str] = []


def _resnet_block(
    kind: str, inplanes: int, planes: int, stride: int, downsample: Module | None, groups: int, base_width: int
) -> Module:
    """``BasicBlock`` (two 3×3 convolutions) or ``Bottleneck`` (1×1, grouped 3×3, 1×1 with ×4 expansion)."""
    relu = layer("relu", "ReLU", inplace=True)
    if kind == "BasicBlock":
        children = [
            layer("conv1", "Conv2d", inplanes, planes, kernel_size=3, stride=stride, padding=1, bias=False),
            layer("bn1", "BatchNorm2d", planes),
            relu,
            layer("conv2", "Conv2d", planes, planes, kernel_size=3, stride=1, padding=1, bias=False),
            layer("bn2", "BatchNorm2d", planes),
        ]
    else:
        width = int(planes * (base_width / 64.0)) * groups
        children = [
            layer("conv1", "Conv2d", inplanes, width, kernel_size=1, stride=1, bias=False),
            layer("bn1", "BatchNorm2d", width),
            layer("conv2", "Conv2d", width, width, kernel_size=3, stride=stride, padding=1, groups=groups, bias=False),
            layer("bn2", "BatchNorm2d", width),
            layer("conv3", "Conv2d", width, planes * 4, kernel_size=1, stride=1, bias=False),
            layer("bn3", "BatchNorm2d", planes * 4),
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
    classes = read_num_classes(a)
    expansion = 1 if block == "BasicBlock" else 4
    inplanes = 64
    stages: list[Module] = []
    for index, (planes, count) in enumerate(zip((64, 128, 256, 512), layers, strict=True)):
        stride = 1 if index == 0 else 2
        downsample = None
        if stride != 1 or inplanes != planes * expansion:
            downsample = numbered(
                "downsample",
                [
                    new("Conv2d", inplanes, planes * expansion, kernel_size=1, stride=stride, bias=False),
                    new("BatchNorm2d", planes * expansion),
                ],
            )
        first = _resnet_block(block, inplanes, planes, stride, downsample, groups, width_per_group)
        inplanes = planes * expansion
        rest = _resnet_block(block, inplanes, planes, 1, None, groups, width_per_group)
        stages.append(numbered(f"layer{index + 1}", [first] + [rest] * (count - 1)))
    return Module(
        "",
        "ResNet",
        children=(
            layer("conv1", "Conv2d", 3, 64, kernel_size=7, stride=2, padding=3, bias=False),
            layer("bn1", "BatchNorm2d", 64),
            layer("relu", "ReLU", inplace=True),
            layer("maxpool", "MaxPool2d", kernel_size=3, stride=2, padding=1),
            *stages,
            layer("avgpool", "AdaptiveAvgPool2d", (1, 1)),
            layer("fc", "Linear", 512 * expansion, classes),
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

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.zoo.models._blocks import Keywords


def _register_resnet(name: str, block: str, layers: tuple[int, int, int, int], groups: int, width: int) -> None:
    def builder(a: Arguments) -> Module:
        return _resnet(a, block, layers, groups, width)

    model(name, _RESNET_SIGNATURE)(builder)


for _name, _block, _layers, _groups, _width in _RESNETS:
    _register_resnet(_name, _block, _layers, _groups, _width)

"""RegNet X and Y of torchvision (``torchvision/models/regnet.py``).

Module and tensor names are torchvision's, so ``iter_params`` gives what ``named_parameters()`` gives:
``trunk_output.block2.block2-0.f.se.fc1.weight``. ``SimpleStemIN``, ``AnyStage``, ``ResBottleneckBlock`` and
``BottleneckTransform`` are tree nodes of that kind; the blocks of a stage after its first are one shared node
(their names, ``block3-1`` …, are not integers, so they are not stored with ``repeat``).

Each builder's stage depths and widths are torchvision's ``BlockParams.from_init_params(depth, w_0, w_a, w_m,
group_width, se_ratio)``, which quantises the widths in float32 with torch; they are tabulated here as that
function returns them for each builder's settings (``tests/zoo/test_more_convnets.py`` checks every tensor of
every RegNet against torchvision's model).
"""

from __future__ import annotations

from paramcount._record import replace
from paramcount.layers._arguments import Arguments
from paramcount.layers._signature import signature
from paramcount.tree import Module
from paramcount.zoo._registry import model
from paramcount.zoo.models._blocks import (
    conv_norm_activation,
    layer,
    new,
    read_num_classes,
    squeeze_excitation,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.zoo.models._blocks import Keywords

__all__: list[str] = []

_Stages = tuple[int, int, int, int]
_REGNETS: Final[tuple[tuple[str, _Stages, _Stages, int, float | None], ...]] = (
    # name, blocks per stage, stage widths, group width, squeeze-excitation ratio (Y only); every stride 2 and
    # bottleneck multiplier 1.0. A stage's group width is min(group width, stage width), as
    # BlockParams._adjust_widths_groups_compatibilty makes it (regnet_x_8gf's first stage: 80).
    ("regnet_y_400mf", (1, 3, 6, 6), (48, 104, 208, 440), 8, 0.25),
    ("regnet_y_800mf", (1, 3, 8, 2), (64, 144, 320, 784), 16, 0.25),
    ("regnet_y_1_6gf", (2, 6, 17, 2), (48, 120, 336, 888), 24, 0.25),
    ("regnet_y_3_2gf", (2, 5, 13, 1), (72, 216, 576, 1512), 24, 0.25),
    ("regnet_y_8gf", (2, 4, 10, 1), (224, 448, 896, 2016), 56, 0.25),
    ("regnet_y_16gf", (2, 4, 11, 1), (224, 448, 1232, 3024), 112, 0.25),
    ("regnet_y_32gf", (2, 5, 12, 1), (232, 696, 1392, 3712), 232, 0.25),
    ("regnet_y_128gf", (2, 7, 17, 1), (528, 1056, 2904, 7392), 264, 0.25),
    ("regnet_x_400mf", (1, 2, 7, 12), (32, 64, 160, 400), 16, None),
    ("regnet_x_800mf", (1, 3, 7, 5), (64, 128, 288, 672), 16, None),
    ("regnet_x_1_6gf", (2, 4, 10, 2), (72, 168, 408, 912), 24, None),
    ("regnet_x_3_2gf", (2, 6, 15, 2), (96, 192, 432, 1008), 48, None),
    ("regnet_x_8gf", (2, 5, 15, 1), (80, 240, 720, 1920), 120, None),
    ("regnet_x_16gf", (2, 6, 13, 1), (256, 512, 896, 2048), 128, None),
    ("regnet_x_32gf", (2, 7, 13, 1), (336, 672, 1344, 2520), 168, None),
)


def _res_bottleneck(width_in: int, width_out: int, stride: int, group_width: int, se_ratio: float | None) -> Module:
    """``ResBottleneckBlock``: ``proj`` (a 1×1 convolution and batch norm, where the width or the stride
    changes), ``f`` (``BottleneckTransform``: 1×1 ``a``, grouped 3×3 ``b``, optional ``se``, 1×1 ``c``) and the
    activation after the residual sum."""
    groups = width_out // group_width
    transform = [
        conv_norm_activation(width_in, width_out, kernel_size=1).renamed("a"),
        conv_norm_activation(width_out, width_out, stride=stride, groups=groups).renamed("b"),
    ]
    if se_ratio:
        squeeze = round(se_ratio * width_in)
        transform.append(squeeze_excitation(width_out, squeeze, new("ReLU"), new("Sigmoid")).renamed("se"))
    transform.append(conv_norm_activation(width_out, width_out, kernel_size=1, activation=None).renamed("c"))
    children: list[Module] = []
    if width_in != width_out or stride != 1:
        children.append(conv_norm_activation(width_in, width_out, kernel_size=1, stride=stride, activation=None)
                        .renamed("proj"))  # fmt: skip
    children.append(Module("f", "BottleneckTransform", children=tuple(transform)))
    children.append(layer("activation", "ReLU", inplace=True))
    args: Keywords = (("width_in", width_in), ("width_out", width_out), ("stride", stride),
                      ("group_width", group_width))  # fmt: skip
    return Module("", "ResBottleneckBlock", args=args, children=tuple(children))


def _regnet(a: Arguments, depths: _Stages, widths: _Stages, group_width: int, se_ratio: float | None) -> Module:
    classes, stem_width = read_num_classes(a), a.integer("stem_width", minimum=1)
    stem = replace(conv_norm_activation(3, stem_width, stride=2), name="stem", kind="SimpleStemIN")
    stages: list[Module] = []
    width_in = stem_width
    for index, (depth, width) in enumerate(zip(depths, widths, strict=True), start=1):
        group = min(group_width, width)
        first = _res_bottleneck(width_in, width, 2, group, se_ratio).renamed(f"block{index}-0")
        rest = _res_bottleneck(width, width, 1, group, se_ratio)  # one frozen node, under each block's name
        members = [first, *(rest.renamed(f"block{index}-{number}") for number in range(1, depth))]
        stages.append(Module(f"block{index}", "AnyStage", children=tuple(members)))
        width_in = width
    return Module(
        "",
        "RegNet",
        children=(
            stem,
            Module("trunk_output", "Sequential", children=tuple(stages)),
            layer("avgpool", "AdaptiveAvgPool2d", (1, 1)),
            layer("fc", "Linear", width_in, classes),
        ),
    )


def _register_regnet(name: str, depths: _Stages, widths: _Stages, group_width: int, se_ratio: float | None) -> None:
    def builder(a: Arguments) -> Module:
        return _regnet(a, depths, widths, group_width, se_ratio)

    sig = signature(kw_num_classes=1000, kw_stem_width=32)
    model(name, sig)(builder)


for _name, _depths, _widths, _group_width, _se_ratio in _REGNETS:
    _register_regnet(_name, _depths, _widths, _group_width, _se_ratio)

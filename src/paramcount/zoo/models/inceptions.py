"""GoogLeNet and Inception v3 of torchvision (``torchvision/models/googlenet.py``, ``inception.py``).

Module and tensor names are torchvision's, so ``iter_params`` gives what ``named_parameters()`` gives:
``inception4a.branch2.1.conv.weight``, ``Mixed_6e.branch7x7dbl_5.bn.running_var``. ``BasicConv2d``, the
``Inception*`` blocks and ``InceptionAux`` are tree nodes of that kind whose children are catalog layers.

``aux_logits`` adds the auxiliary classifiers (``aux1``/``aux2``, ``AuxLogits``), which hold parameters but
run only in training mode; ``transform_input`` rescales the input channels (no tensors) and ``init_weights``
chooses an initialisation: neither changes a count.
"""

from __future__ import annotations

from functools import lru_cache

from paramcount.layers._arguments import Arguments
from paramcount.layers._signature import signature
from paramcount.tree import Module
from paramcount.zoo._registry import model
from paramcount.zoo.models._blocks import layer, new, numbered, read_num_classes, read_probability

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.tree import Value
    from paramcount.zoo.models._blocks import Keywords

__all__: list[str] = []


@lru_cache(maxsize=256)
def _basic_conv(in_channels: int, out_channels: int, kernel: int | tuple[int, int], stride: int = 1,
                padding: int | tuple[int, int] = 0) -> Module:  # fmt: skip
    """``BasicConv2d``: a bias-free convolution and a batch norm (eps 0.001); ``forward`` applies ``F.relu``."""
    keywords: dict[str, Value] = {"kernel_size": kernel}
    if stride != 1:
        keywords["stride"] = stride
    if padding != 0:
        keywords["padding"] = padding
    return Module(
        "",
        "BasicConv2d",
        args=(("in_channels", in_channels), ("out_channels", out_channels), *keywords.items()),
        children=(
            layer("conv", "Conv2d", in_channels, out_channels, bias=False, **keywords),
            layer("bn", "BatchNorm2d", out_channels, eps=0.001),
        ),
    )


def _block(kind: str, args: Keywords, children: dict[str, Module]) -> Module:
    return Module("", kind, args=args, children=tuple(child.renamed(name) for name, child in children.items()))


def _read_init_weights(a: Arguments) -> None:
    if not a.is_none("init_weights"):
        a.flag("init_weights")


# --- GoogLeNet -----------------------------------------------------------------------------------------------


def _googlenet_inception(
    in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int, pool_proj: int
) -> Module:
    """GoogLeNet's ``Inception``: four branches (1×1; 1×1 then 3×3; 1×1 then 3×3; 3×3 max pool then 1×1)
    concatenated along the channels."""
    args: Keywords = (
        ("in_channels", in_channels),
        ("ch1x1", ch1x1),
        ("ch3x3red", ch3x3red),
        ("ch3x3", ch3x3),
        ("ch5x5red", ch5x5red),
        ("ch5x5", ch5x5),
        ("pool_proj", pool_proj),
    )
    return _block(
        "Inception",
        args,
        {
            "branch1": _basic_conv(in_channels, ch1x1, 1),
            "branch2": numbered("", [_basic_conv(in_channels, ch3x3red, 1), _basic_conv(ch3x3red, ch3x3, 3, 1, 1)]),
            "branch3": numbered("", [_basic_conv(in_channels, ch5x5red, 1), _basic_conv(ch5x5red, ch5x5, 3, 1, 1)]),
            "branch4": numbered(
                "",
                [
                    new("MaxPool2d", kernel_size=3, stride=1, padding=1, ceil_mode=True),
                    _basic_conv(in_channels, pool_proj, 1),
                ],
            ),
        },
    )


_GOOGLENET_INCEPTIONS: Final = (
    # name, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj (GoogLeNet.__init__); a max pool
    # follows 3b and 4e
    ("inception3a", 192, 64, 96, 128, 16, 32, 32),
    ("inception3b", 256, 128, 128, 192, 32, 96, 64),
    ("inception4a", 480, 192, 96, 208, 16, 48, 64),
    ("inception4b", 512, 160, 112, 224, 24, 64, 64),
    ("inception4c", 512, 128, 128, 256, 24, 64, 64),
    ("inception4d", 512, 112, 144, 288, 32, 64, 64),
    ("inception4e", 528, 256, 160, 320, 32, 128, 128),
    ("inception5a", 832, 256, 160, 320, 32, 128, 128),
    ("inception5b", 832, 384, 192, 384, 48, 128, 128),
)


def _googlenet_aux(in_channels: int, classes: int, dropout: float) -> Module:
    """GoogLeNet's ``InceptionAux``: 4×4 adaptive pool, 1×1 ``conv`` to 128, ``fc1`` 2048 → 1024, ``fc2``."""
    return _block(
        "InceptionAux",
        (("in_channels", in_channels), ("num_classes", classes)),
        {
            "conv": _basic_conv(in_channels, 128, 1),
            "fc1": new("Linear", 2048, 1024),
            "fc2": new("Linear", 1024, classes),
            "dropout": new("Dropout", p=dropout),
        },
    )


@model(
    "googlenet",
    signature(
        kw_num_classes=1000,
        kw_aux_logits=True,
        kw_transform_input=False,
        kw_init_weights=None,
        kw_dropout=0.2,
        kw_dropout_aux=0.7,
    ),
)
def googlenet(a: Arguments) -> Module:
    classes, dropout = read_num_classes(a), read_probability(a, "dropout")
    dropout_aux, aux_logits, transform_input = (
        read_probability(a, "dropout_aux"),
        a.flag("aux_logits"),
        a.flag("transform_input"),
    )
    _read_init_weights(a)
    children: dict[str, Module] = {
        "conv1": _basic_conv(3, 64, 7, 2, 3),
        "maxpool1": new("MaxPool2d", 3, stride=2, ceil_mode=True),
        "conv2": _basic_conv(64, 64, 1),
        "conv3": _basic_conv(64, 192, 3, 1, 1),
        "maxpool2": new("MaxPool2d", 3, stride=2, ceil_mode=True),
    }
    for name, *channels in _GOOGLENET_INCEPTIONS:
        children[name] = _googlenet_inception(*channels)
        if name == "inception3b":
            children["maxpool3"] = new("MaxPool2d", 3, stride=2, ceil_mode=True)
        if name == "inception4e":
            children["maxpool4"] = new("MaxPool2d", 2, stride=2, ceil_mode=True)
    if aux_logits:
        children["aux1"] = _googlenet_aux(512, classes, dropout_aux)
        children["aux2"] = _googlenet_aux(528, classes, dropout_aux)
    children["avgpool"] = new("AdaptiveAvgPool2d", (1, 1))
    children["dropout"] = new("Dropout", p=dropout)
    children["fc"] = new("Linear", 1024, classes)
    args: Keywords = (("aux_logits", aux_logits), ("transform_input", transform_input))
    return _block("GoogLeNet", args, children)


# --- Inception v3 --------------------------------------------------------------------------------------------


def _inception_a(in_channels: int, pool_features: int) -> Module:
    return _block(
        "InceptionA",
        (("in_channels", in_channels), ("pool_features", pool_features)),
        {
            "branch1x1": _basic_conv(in_channels, 64, 1),
            "branch5x5_1": _basic_conv(in_channels, 48, 1),
            "branch5x5_2": _basic_conv(48, 64, 5, 1, 2),
            "branch3x3dbl_1": _basic_conv(in_channels, 64, 1),
            "branch3x3dbl_2": _basic_conv(64, 96, 3, 1, 1),
            "branch3x3dbl_3": _basic_conv(96, 96, 3, 1, 1),
            "branch_pool": _basic_conv(in_channels, pool_features, 1),
        },
    )


def _inception_b(in_channels: int) -> Module:
    return _block(
        "InceptionB",
        (("in_channels", in_channels),),
        {
            "branch3x3": _basic_conv(in_channels, 384, 3, 2),
            "branch3x3dbl_1": _basic_conv(in_channels, 64, 1),
            "branch3x3dbl_2": _basic_conv(64, 96, 3, 1, 1),
            "branch3x3dbl_3": _basic_conv(96, 96, 3, 2),
        },
    )


def _inception_c(in_channels: int, c7: int) -> Module:
    row, column = ((1, 7), (0, 3)), ((7, 1), (3, 0))
    return _block(
        "InceptionC",
        (("in_channels", in_channels), ("channels_7x7", c7)),
        {
            "branch1x1": _basic_conv(in_channels, 192, 1),
            "branch7x7_1": _basic_conv(in_channels, c7, 1),
            "branch7x7_2": _basic_conv(c7, c7, row[0], 1, row[1]),
            "branch7x7_3": _basic_conv(c7, 192, column[0], 1, column[1]),
            "branch7x7dbl_1": _basic_conv(in_channels, c7, 1),
            "branch7x7dbl_2": _basic_conv(c7, c7, column[0], 1, column[1]),
            "branch7x7dbl_3": _basic_conv(c7, c7, row[0], 1, row[1]),
            "branch7x7dbl_4": _basic_conv(c7, c7, column[0], 1, column[1]),
            "branch7x7dbl_5": _basic_conv(c7, 192, row[0], 1, row[1]),
            "branch_pool": _basic_conv(in_channels, 192, 1),
        },
    )


def _inception_d(in_channels: int) -> Module:
    return _block(
        "InceptionD",
        (("in_channels", in_channels),),
        {
            "branch3x3_1": _basic_conv(in_channels, 192, 1),
            "branch3x3_2": _basic_conv(192, 320, 3, 2),
            "branch7x7x3_1": _basic_conv(in_channels, 192, 1),
            "branch7x7x3_2": _basic_conv(192, 192, (1, 7), 1, (0, 3)),
            "branch7x7x3_3": _basic_conv(192, 192, (7, 1), 1, (3, 0)),
            "branch7x7x3_4": _basic_conv(192, 192, 3, 2),
        },
    )


def _inception_e(in_channels: int) -> Module:
    return _block(
        "InceptionE",
        (("in_channels", in_channels),),
        {
            "branch1x1": _basic_conv(in_channels, 320, 1),
            "branch3x3_1": _basic_conv(in_channels, 384, 1),
            "branch3x3_2a": _basic_conv(384, 384, (1, 3), 1, (0, 1)),
            "branch3x3_2b": _basic_conv(384, 384, (3, 1), 1, (1, 0)),
            "branch3x3dbl_1": _basic_conv(in_channels, 448, 1),
            "branch3x3dbl_2": _basic_conv(448, 384, 3, 1, 1),
            "branch3x3dbl_3a": _basic_conv(384, 384, (1, 3), 1, (0, 1)),
            "branch3x3dbl_3b": _basic_conv(384, 384, (3, 1), 1, (1, 0)),
            "branch_pool": _basic_conv(in_channels, 192, 1),
        },
    )


@model(
    "inception_v3",
    signature(kw_num_classes=1000, kw_aux_logits=True, kw_transform_input=False, kw_init_weights=None, kw_dropout=0.5),
)
def inception_v3(a: Arguments) -> Module:
    classes, dropout = read_num_classes(a), read_probability(a, "dropout")
    aux_logits, transform_input = a.flag("aux_logits"), a.flag("transform_input")
    _read_init_weights(a)
    children: dict[str, Module] = {
        "Conv2d_1a_3x3": _basic_conv(3, 32, 3, 2),
        "Conv2d_2a_3x3": _basic_conv(32, 32, 3),
        "Conv2d_2b_3x3": _basic_conv(32, 64, 3, 1, 1),
        "maxpool1": new("MaxPool2d", kernel_size=3, stride=2),
        "Conv2d_3b_1x1": _basic_conv(64, 80, 1),
        "Conv2d_4a_3x3": _basic_conv(80, 192, 3),
        "maxpool2": new("MaxPool2d", kernel_size=3, stride=2),
        "Mixed_5b": _inception_a(192, 32),
        "Mixed_5c": _inception_a(256, 64),
        "Mixed_5d": _inception_a(288, 64),
        "Mixed_6a": _inception_b(288),
        "Mixed_6b": _inception_c(768, 128),
        "Mixed_6c": _inception_c(768, 160),
        "Mixed_6d": _inception_c(768, 160),
        "Mixed_6e": _inception_c(768, 192),
    }
    if aux_logits:
        children["AuxLogits"] = _block(
            "InceptionAux",
            (("in_channels", 768), ("num_classes", classes)),
            {"conv0": _basic_conv(768, 128, 1), "conv1": _basic_conv(128, 768, 5), "fc": new("Linear", 768, classes)},
        )
    children |= {
        "Mixed_7a": _inception_d(768),
        "Mixed_7b": _inception_e(1280),
        "Mixed_7c": _inception_e(2048),
        "avgpool": new("AdaptiveAvgPool2d", (1, 1)),
        "dropout": new("Dropout", p=dropout),
        "fc": new("Linear", 2048, classes),
    }
    args: Keywords = (("aux_logits", aux_logits), ("transform_input", transform_input))
    return _block("Inception3", args, children)

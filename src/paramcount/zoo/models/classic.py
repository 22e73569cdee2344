"""The classic convolutional networks of torchvision: AlexNet and VGG 11/13/16/19, with and without batch norm.

Module and tensor names are torchvision's (``torchvision/models/alexnet.py``, ``vgg.py``), so ``iter_params``
gives what ``named_parameters()`` gives: ``features.0.weight``, ``classifier.6.bias``.
"""

from __future__ import annotations

from paramcount.layers._arguments import Arguments
from paramcount.layers._signature import signature
from paramcount.tree import Module
from paramcount.zoo._registry import model
from paramcount.zoo.models._blocks import (
    layer,
    new,
    numbered,
    read_num_classes,
    read_probability,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

__all__: list[str] = []

# --- AlexNet -------------------------------------------------------------------------------------------------


@model("alexnet", signature(kw_num_classes=1000, kw_dropout=0.5))
def alexnet(a: Arguments) -> Module:
    classes, dropout = read_num_classes(a), read_probability(a, "dropout")
    relu, pool = new("ReLU", inplace=True), new("MaxPool2d", kernel_size=3, stride=2)
    features = numbered(
        "features",
        [
            new("Conv2d", 3, 64, kernel_size=11, stride=4, padding=2),
            relu,
            pool,
            new("Conv2d", 64, 192, kernel_size=5, padding=2),
            relu,
            pool,
            new("Conv2d", 192, 384, kernel_size=3, padding=1),
            relu,
            new("Conv2d", 384, 256, kernel_size=3, padding=1),
            relu,
            new("Conv2d", 256, 256, kernel_size=3, padding=1),
            relu,
            pool,
        ],
    )
    classifier = numbered(
        "classifier",
        [
            new("Dropout", p=dropout),
            new("Linear", 256 * 6 * 6, 4096),
            relu,
            new("Dropout", p=dropout),
            new("Linear", 4096, 4096),
            relu,
            new("Linear", 4096, classes),
        ],
    )
    avgpool = layer("avgpool", "AdaptiveAvgPool2d", (6, 6))
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
    classes, dropout = read_num_classes(a), read_probability(a, "dropout")
    relu = new("ReLU", inplace=True)
    layers: list[Module] = []
    in_channels = 3
    for item in _VGG_CONFIGS[config]:
        if isinstance(item, str):
            layers.append(new("MaxPool2d", kernel_size=2, stride=2))
            continue
        layers.append(new("Conv2d", in_channels, item, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(new("BatchNorm2d", item))
        layers.append(relu)
        in_channels = item
    classifier = numbered(
        "classifier",
        [
            new("Linear", 512 * 7 * 7, 4096),
            relu,
            new("Dropout", p=dropout),
            new("Linear", 4096, 4096),
            relu,
            new("Dropout", p=dropout),
            new("Linear", 4096, classes),
        ],
    )
    avgpool = layer("avgpool", "AdaptiveAvgPool2d", (7, 7))
    return Module("", "VGG", children=(numbered("features", layers), avgpool, classifier))


_VGG_SIGNATURE: Final = signature(kw_num_classes=1000, kw_dropout=0.5)


def _register_vgg(name: str, config: str, batch_norm: bool) -> None:
    def builder(a: Arguments) -> Module:
        return _vgg(a, config, batch_norm)

    model(name, _VGG_SIGNATURE)(builder)


for _depth, _config in ((11, "A"), (13, "B"), (16, "D"), (19, "E")):
    _register_vgg(f"vgg{_depth}", _config, batch_norm=False)
    _register_vgg(f"vgg{_depth}_bn", _config, batch_norm=True)

"""DenseNet 121/161/169/201 of torchvision (``torchvision/models/densenet.py``).

Module and tensor names are torchvision's, so ``iter_params`` gives what ``named_parameters()`` gives:
``features.denseblock4.denselayer16.conv2.weight``. Every layer of a dense block has its own input width, so none
repeats; the catalog layers they share (every ``_DenseLayer``'s 3×3 convolution) are built once.
"""

from __future__ import annotations

from paramcount.layers._arguments import Arguments
from paramcount.layers._signature import signature
from paramcount.tree import Module
from paramcount.zoo._registry import model
from paramcount.zoo.models._blocks import layer, read_num_classes

__all__: list[str] = []


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
            layer("norm1", "BatchNorm2d", in_features),
            layer("relu1", "ReLU", inplace=True),
            layer("conv1", "Conv2d", in_features, bottleneck, kernel_size=1, stride=1, bias=False),
            layer("norm2", "BatchNorm2d", bottleneck),
            layer("relu2", "ReLU", inplace=True),
            layer("conv2", "Conv2d", bottleneck, growth_rate, kernel_size=3, stride=1, padding=1, bias=False),
        ),
    )


def _transition(name: str, in_features: int, out_features: int) -> Module:
    """``_Transition`` (an ``nn.Sequential`` with named children): BN-ReLU-1×1 conv, 2×2 average pool."""
    return Module(
        name,
        "_Transition",
        args=(("num_input_features", in_features), ("num_output_features", out_features)),
        children=(
            layer("norm", "BatchNorm2d", in_features),
            layer("relu", "ReLU", inplace=True),
            layer("conv", "Conv2d", in_features, out_features, kernel_size=1, stride=1, bias=False),
            layer("pool", "AvgPool2d", kernel_size=2, stride=2),
        ),
    )


def _densenet(a: Arguments, growth_rate: int, block_config: tuple[int, ...], num_init_features: int) -> Module:
    """torchvision's ``DenseNet``: every layer of a dense block sees all earlier outputs, so each has its own
    input width and none repeats."""
    classes = read_num_classes(a)
    bn_size = a.integer("bn_size", minimum=1)
    drop_rate = float(a.real("drop_rate"))
    features: list[Module] = [
        layer("conv0", "Conv2d", 3, num_init_features, kernel_size=7, stride=2, padding=3, bias=False),
        layer("norm0", "BatchNorm2d", num_init_features),
        layer("relu0", "ReLU", inplace=True),
        layer("pool0", "MaxPool2d", kernel_size=3, stride=2, padding=1),
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
    features.append(layer("norm5", "BatchNorm2d", num_features))
    return Module(
        "",
        "DenseNet",
        children=(
            Module("features", "Sequential", children=tuple(features)),
            layer("classifier", "Linear", num_features, classes),
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

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.zoo.models._blocks import Keywords


def _register_densenet(name: str, growth_rate: int, block_config: tuple[int, ...], num_init_features: int) -> None:
    def builder(a: Arguments) -> Module:
        return _densenet(a, growth_rate, block_config, num_init_features)

    model(name, _DENSENET_SIGNATURE)(builder)


for _name, _growth, _blocks, _init in _DENSENETS:
    _register_densenet(_name, _growth, _blocks, _init)

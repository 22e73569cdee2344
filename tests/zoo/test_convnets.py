"""AlexNet, VGG, ResNet, DenseNet, MobileNet and EfficientNet zoo entries against torchvision's published
counts, derivations and torchvision's module and tensor names."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from paramcount.errors import ArgumentError, UnknownNameError
from paramcount.tree import Module, iter_buffers, iter_modules, iter_params, parameter_count
from paramcount.zoo import build_model

TYPE_CHECKING = False
if TYPE_CHECKING:
    from paramcount.tree import Value

MODELS = (
    "alexnet",
    *(f"vgg{depth}{suffix}" for depth in (11, 13, 16, 19) for suffix in ("", "_bn")),
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnext50_32x4d",
    "resnext101_32x8d",
    "resnext101_64x4d",
    "wide_resnet50_2",
    "wide_resnet101_2",
    "densenet121",
    "densenet161",
    "densenet169",
    "densenet201",
    "mobilenet_v2",
    "mobilenet_v3_small",
    "mobilenet_v3_large",
    *(f"efficientnet_b{index}" for index in range(8)),
)
COUNTS = Path(__file__).parent.parent / "data" / "zoo_counts.csv"


def _published() -> list[tuple[str, int, str]]:
    with COUNTS.open(newline="", encoding="utf-8") as handle:
        rows = [(row["model"], int(row["num_params"]), row["source"]) for row in csv.DictReader(handle)]
    return [row for row in rows if row[0] in MODELS]


def _build(name: str, **keywords: Value) -> Module:
    return build_model(name, (), tuple(keywords.items()))


def _shapes(tree: Module) -> dict[str, tuple[int, ...]]:
    """``{name: shape}`` of parameters and buffers, as ``named_parameters()`` and ``named_buffers()`` give."""
    tensors = [*iter_params(tree), *iter_buffers(tree)]
    return {name: tensor.sizes for name, tensor in tensors}


def test_every_model_has_a_published_count() -> None:
    assert sorted(name for name, _, _ in _published()) == sorted(MODELS)


@pytest.mark.parametrize(("name", "expected", "source"), _published(), ids=lambda value: str(value)[:20])
def test_count_matches_published(name: str, expected: int, source: str) -> None:
    assert parameter_count(_build(name)) == expected, f"{name}: published by {source}"


# The classifier's input width, from each architecture's last stage:
#   alexnet, vgg: Linear(4096, num_classes) after two 4096-wide layers;
#   resnet18/34: 512 channels (BasicBlock, expansion 1); resnet50 and up: 512·4 = 2048 (Bottleneck);
#   densenet121: 64 → +6·32 = 256 → /2 → +12·32 = 512 → /2 → +24·32 = 1024 → /2 → +16·32 = 1024;
#   densenet161: 96 → +6·48 = 384 → 192 → +12·48 = 768 → 384 → +36·48 = 2112 → 1056 → +24·48 = 2208;
#   mobilenet_v2: last_channel 1280; mobilenet_v3_large/small: last_channel 1280/1024;
#   efficientnet_b0: 4·320 = 1280; efficientnet_b7: 4·_make_divisible(320·2.0, 8) = 4·640 = 2560.
CLASSIFIERS = (
    ("alexnet", "classifier.6", 4096),
    ("vgg16_bn", "classifier.6", 4096),
    ("resnet18", "fc", 512),
    ("resnet50", "fc", 2048),
    ("resnext101_64x4d", "fc", 2048),
    ("wide_resnet101_2", "fc", 2048),
    ("densenet121", "classifier", 1024),
    ("densenet161", "classifier", 2208),
    ("mobilenet_v2", "classifier.1", 1280),
    ("mobilenet_v3_large", "classifier.3", 1280),
    ("mobilenet_v3_small", "classifier.3", 1024),
    ("efficientnet_b0", "classifier.1", 1280),
    ("efficientnet_b7", "classifier.1", 2560),
)


@pytest.mark.parametrize(("name", "classifier", "features"), CLASSIFIERS)
def test_num_classes_by_derivation(name: str, classifier: str, features: int) -> None:
    # Only the last Linear(features, num_classes) depends on num_classes: features·num_classes weights plus
    # num_classes biases, so going from 1000 classes to 10 removes 990·(features + 1) parameters.
    tree = _build(name, num_classes=10)
    assert parameter_count(tree) == parameter_count(_build(name)) - 990 * (features + 1)
    shapes = _shapes(tree)
    assert shapes[f"{classifier}.weight"] == (10, features)
    assert shapes[f"{classifier}.bias"] == (10,)


def test_densenet_bn_size_by_derivation() -> None:
    # bn_size sets the bottleneck width b = bn_size·32 of every _DenseLayer (growth rate 32) whose input has
    # c channels: conv1 (b, c, 1, 1), norm2 weight and bias (b each), conv2 (32, b, 3, 3): b·(c + 2 + 32·9).
    # densenet121's blocks start at 64, 128, 256, 512 channels (each transition halves) and hold
    # 6, 12, 24, 16 layers; layer j of a block sees start + 32·j channels.
    inputs = [start + 32 * j for start, layers in ((64, 6), (128, 12), (256, 24), (512, 16)) for j in range(layers)]
    per_unit_of_bn_size = 32 * sum(c + 2 + 32 * 9 for c in inputs)
    difference = parameter_count(_build("densenet121")) - parameter_count(_build("densenet121", bn_size=2))
    assert difference == (4 - 2) * per_unit_of_bn_size


@pytest.mark.parametrize(
    ("name", "keywords"),
    [
        ("alexnet", {"dropout": 0.1}),
        ("vgg11", {"dropout": 0.0}),
        ("densenet121", {"drop_rate": 0.2}),
        ("mobilenet_v3_large", {"dilated": True}),
        ("efficientnet_b3", {"dropout": 0.1, "stochastic_depth_prob": 0.5}),
    ],
)
def test_arguments_that_change_no_count(name: str, keywords: dict[str, Value]) -> None:
    # Dropout and stochastic-depth probabilities hold no tensors; dilation changes padding, not shapes.
    assert parameter_count(_build(name, **keywords)) == parameter_count(_build(name))


# A few names per family, spelled as torchvision's named_parameters()/named_buffers() spell them.
NAMES = (
    ("alexnet", "features.0.weight", (64, 3, 11, 11)),
    ("alexnet", "classifier.1.weight", (4096, 9216)),
    ("vgg16_bn", "features.1.running_mean", (64,)),
    ("vgg16_bn", "features.41.weight", (512,)),
    ("vgg16", "features.28.weight", (512, 512, 3, 3)),
    ("resnet18", "layer2.0.downsample.1.num_batches_tracked", ()),
    ("resnet50", "layer4.2.bn3.running_var", (2048,)),
    ("resnet50", "layer1.0.downsample.0.weight", (256, 64, 1, 1)),
    ("resnet50", "fc.weight", (1000, 2048)),
    ("resnet152", "layer3.35.conv2.weight", (256, 256, 3, 3)),
    ("resnext50_32x4d", "layer1.0.conv2.weight", (128, 4, 3, 3)),
    ("wide_resnet50_2", "layer1.0.conv2.weight", (128, 128, 3, 3)),
    ("densenet121", "features.denseblock4.denselayer16.conv2.weight", (32, 128, 3, 3)),
    ("densenet121", "features.transition3.conv.weight", (512, 1024, 1, 1)),
    ("densenet121", "features.norm5.running_var", (1024,)),
    ("mobilenet_v2", "features.1.conv.0.0.weight", (32, 1, 3, 3)),
    ("mobilenet_v2", "features.17.conv.2.weight", (320, 960, 1, 1)),
    ("mobilenet_v2", "features.18.1.running_var", (1280,)),
    ("mobilenet_v3_large", "features.4.block.2.fc1.weight", (24, 72, 1, 1)),
    ("mobilenet_v3_small", "features.12.0.weight", (576, 96, 1, 1)),
    ("efficientnet_b0", "features.1.0.block.1.fc2.bias", (32,)),
    ("efficientnet_b0", "features.6.3.block.0.0.weight", (1152, 192, 1, 1)),
    ("efficientnet_b7", "features.8.0.weight", (2560, 640, 1, 1)),
)


@pytest.mark.parametrize(("name", "tensor", "shape"), NAMES)
def test_names_follow_torchvision(name: str, tensor: str, shape: tuple[int, ...]) -> None:
    assert _shapes(_build(name))[tensor] == shape


def test_resnet50_order_matches_named_parameters() -> None:
    names = [name for name, _ in iter_params(_build("resnet50"))]
    assert names[:3] == ["conv1.weight", "bn1.weight", "bn1.bias"]
    assert names[3:6] == ["layer1.0.conv1.weight", "layer1.0.bn1.weight", "layer1.0.bn1.bias"]
    assert names[-2:] == ["fc.weight", "fc.bias"]
    assert len(names) == 161  # len(list(torchvision.models.resnet50().parameters()))


@pytest.mark.parametrize(
    ("name", "path", "kind"),
    [
        ("resnet18", "layer1.0", "BasicBlock"),
        ("resnet50", "layer1.0", "Bottleneck"),
        ("densenet121", "features.denseblock1", "_DenseBlock"),
        ("densenet121", "features.denseblock1.denselayer1", "_DenseLayer"),
        ("densenet121", "features.transition1", "_Transition"),
        ("mobilenet_v2", "features.0", "Conv2dNormActivation"),
        ("mobilenet_v2", "features.2", "InvertedResidual"),
        ("mobilenet_v3_small", "features.1.block.1", "SqueezeExcitation"),
        ("efficientnet_b0", "features.2.1", "MBConv"),
        ("efficientnet_b0", "features.2.1.stochastic_depth", "StochasticDepth"),
    ],
)
def test_block_kinds_are_torchvision_classes(name: str, path: str, kind: str) -> None:
    assert dict(iter_modules(_build(name)))[path].kind == kind


def test_identical_blocks_are_stored_once() -> None:
    # resnet152's layer3 is one downsampling Bottleneck then 35 identical ones: two stored children.
    layer3 = next(child for child in _build("resnet152").children if child.name == "layer3")
    assert [(child.name, child.repeat) for child in layer3.children] == [("0", 1), ("1", 35)]


def test_efficientnet_stochastic_depth_grows_with_depth() -> None:
    # torchvision: p = stochastic_depth_prob · block_id / total_blocks; efficientnet_b0 has
    # 1 + 2 + 2 + 3 + 3 + 4 + 1 = 16 blocks and features.7.0 is block 15: 0.2 · 15/16.
    modules = dict(iter_modules(_build("efficientnet_b0")))
    assert modules["features.1.0.stochastic_depth"].arg("p") == 0.0
    assert modules["features.7.0.stochastic_depth"].arg("p") == 0.2 * 15.0 / 16


def test_unknown_name_suggests_close_names() -> None:
    with pytest.raises(UnknownNameError, match="did you mean") as caught:
        build_model("resnet5")
    assert "resnet50" in caught.value.suggestions


@pytest.mark.parametrize(
    ("name", "positional", "keywords", "message"),
    [
        ("resnet50", (), (("num_classes", -1),), "resnet50: num_classes must be non-negative, got -1"),
        ("vgg16", (), (("dropout", 1.5),), "vgg16: dropout must be between 0 and 1, got 1.5"),
        ("mobilenet_v2", (), (("width_mult", 0),), "mobilenet_v2: width_mult must be > 0 and <= 64, got 0"),
        ("densenet121", (), (("bn_size", 0),), "densenet121: bn_size must be positive, got 0"),
        ("resnet18", (), (("groups", 2),), "resnet18: unexpected keyword argument 'groups'; allowed: num_classes"),
        ("alexnet", (10,), (), "alexnet: takes at most 0 positional arguments (1 given)"),
    ],
)
def test_bad_arguments(
    name: str, positional: tuple[Value, ...], keywords: tuple[tuple[str, Value], ...], message: str
) -> None:
    with pytest.raises(ArgumentError) as caught:
        build_model(name, positional, keywords)
    assert str(caught.value) == message

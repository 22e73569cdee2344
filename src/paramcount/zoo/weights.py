"""torchvision's pretrained-weights keywords on zoo models: ``weights=``, the legacy ``pretrained=`` and
``progress=``, so pasted torchvision code counts.

Weights never change a count by themselves: only where torchvision's builder overwrites a constructor
argument from the weights' metadata (``_ovewrite_named_param``), and we follow it exactly:

- every builder sets ``num_classes`` to ``len(weights.meta["categories"])`` (1,000 for every ImageNet
  weights; VGG16's ``IMAGENET1K_FEATURES`` has no categories and sets nothing);
- ``maxvit_t`` also sets ``input_size`` to ``weights.meta["min_size"]``, (224, 224);
- the ViT builders also set ``image_size`` to ``weights.meta["min_size"][0]`` (384, 512 or 518 for the
  ``SWAG_E2E`` weights, 224 for the others), which sizes the position embedding;
- GoogLeNet and Inception v3 also set ``transform_input=True`` unless it is given, and ``aux_logits=True`` and
  ``init_weights=False``; after loading, the builder removes the auxiliary classifiers unless ``aux_logits``
  was given (``kwargs.get("aux_logits", default)``: googlenet defaults to False there, inception_v3 to True);
- an argument given explicitly that differs from the overwritten value is refused, as torchvision refuses
  it ("The parameter 'num_classes' expected value 1000 but got 10 instead").

A weights value is accepted as torchvision's ``WeightsEnum.verify`` accepts it: None, a member name as a
string (``"IMAGENET1K_V2"``, ``"DEFAULT"``), the same prefixed with the enum's name
(``"ResNet50_Weights.IMAGENET1K_V2"``), or the enum member itself (``ResNet50_Weights.IMAGENET1K_V2``).
``pretrained=True`` means the weights torchvision's ``handle_legacy_interface`` names for the model
(IMAGENET1K_V1 everywhere; ``vit_h_14`` has none, so torchvision refuses ``pretrained=True`` there).

The table is torchvision 0.28's (torchvision/models/*.py: each ``*_Weights`` enum, its ``DEFAULT`` alias, its
``meta["categories"]`` and ``meta["min_size"]``, and each builder's ``handle_legacy_interface``).
"""

from __future__ import annotations

from paramcount.errors import ArgumentError, UnknownNameError
from paramcount.tree import Ref

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Final

    from paramcount.tree import Value

__all__ = ["WEIGHTS", "weights_enum_of", "with_weights"]

_V1: Final = ("IMAGENET1K_V1",)
_V1_V2: Final = ("IMAGENET1K_V1", "IMAGENET1K_V2")
_VIT: Final = ("IMAGENET1K_V1", "IMAGENET1K_SWAG_E2E_V1", "IMAGENET1K_SWAG_LINEAR_V1")
_REGNET_SWAG: Final = ("IMAGENET1K_V1", "IMAGENET1K_V2", "IMAGENET1K_SWAG_E2E_V1", "IMAGENET1K_SWAG_LINEAR_V1")

WEIGHTS: Final[dict[str, tuple[str, tuple[str, ...], str]]] = {
    "alexnet": ("AlexNet_Weights", _V1, "IMAGENET1K_V1"),
    "convnext_base": ("ConvNeXt_Base_Weights", _V1, "IMAGENET1K_V1"),
    "convnext_large": ("ConvNeXt_Large_Weights", _V1, "IMAGENET1K_V1"),
    "convnext_small": ("ConvNeXt_Small_Weights", _V1, "IMAGENET1K_V1"),
    "convnext_tiny": ("ConvNeXt_Tiny_Weights", _V1, "IMAGENET1K_V1"),
    "densenet121": ("DenseNet121_Weights", _V1, "IMAGENET1K_V1"),
    "densenet161": ("DenseNet161_Weights", _V1, "IMAGENET1K_V1"),
    "densenet169": ("DenseNet169_Weights", _V1, "IMAGENET1K_V1"),
    "densenet201": ("DenseNet201_Weights", _V1, "IMAGENET1K_V1"),
    "efficientnet_b0": ("EfficientNet_B0_Weights", _V1, "IMAGENET1K_V1"),
    "efficientnet_b1": ("EfficientNet_B1_Weights", _V1_V2, "IMAGENET1K_V2"),
    "efficientnet_b2": ("EfficientNet_B2_Weights", _V1, "IMAGENET1K_V1"),
    "efficientnet_b3": ("EfficientNet_B3_Weights", _V1, "IMAGENET1K_V1"),
    "efficientnet_b4": ("EfficientNet_B4_Weights", _V1, "IMAGENET1K_V1"),
    "efficientnet_b5": ("EfficientNet_B5_Weights", _V1, "IMAGENET1K_V1"),
    "efficientnet_b6": ("EfficientNet_B6_Weights", _V1, "IMAGENET1K_V1"),
    "efficientnet_b7": ("EfficientNet_B7_Weights", _V1, "IMAGENET1K_V1"),
    "efficientnet_v2_s": ("EfficientNet_V2_S_Weights", _V1, "IMAGENET1K_V1"),
    "efficientnet_v2_m": ("EfficientNet_V2_M_Weights", _V1, "IMAGENET1K_V1"),
    "efficientnet_v2_l": ("EfficientNet_V2_L_Weights", _V1, "IMAGENET1K_V1"),
    "googlenet": ("GoogLeNet_Weights", _V1, "IMAGENET1K_V1"),
    "inception_v3": ("Inception_V3_Weights", _V1, "IMAGENET1K_V1"),
    "maxvit_t": ("MaxVit_T_Weights", _V1, "IMAGENET1K_V1"),
    "mnasnet0_5": ("MNASNet0_5_Weights", _V1, "IMAGENET1K_V1"),
    "mnasnet0_75": ("MNASNet0_75_Weights", _V1, "IMAGENET1K_V1"),
    "mnasnet1_0": ("MNASNet1_0_Weights", _V1, "IMAGENET1K_V1"),
    "mnasnet1_3": ("MNASNet1_3_Weights", _V1, "IMAGENET1K_V1"),
    "mobilenet_v2": ("MobileNet_V2_Weights", _V1_V2, "IMAGENET1K_V2"),
    "mobilenet_v3_large": ("MobileNet_V3_Large_Weights", _V1_V2, "IMAGENET1K_V2"),
    "mobilenet_v3_small": ("MobileNet_V3_Small_Weights", _V1, "IMAGENET1K_V1"),
    "regnet_x_16gf": ("RegNet_X_16GF_Weights", _V1_V2, "IMAGENET1K_V2"),
    "regnet_x_1_6gf": ("RegNet_X_1_6GF_Weights", _V1_V2, "IMAGENET1K_V2"),
    "regnet_x_32gf": ("RegNet_X_32GF_Weights", _V1_V2, "IMAGENET1K_V2"),
    "regnet_x_3_2gf": ("RegNet_X_3_2GF_Weights", _V1_V2, "IMAGENET1K_V2"),
    "regnet_x_400mf": ("RegNet_X_400MF_Weights", _V1_V2, "IMAGENET1K_V2"),
    "regnet_x_800mf": ("RegNet_X_800MF_Weights", _V1_V2, "IMAGENET1K_V2"),
    "regnet_x_8gf": ("RegNet_X_8GF_Weights", _V1_V2, "IMAGENET1K_V2"),
    "regnet_y_400mf": ("RegNet_Y_400MF_Weights", _V1_V2, "IMAGENET1K_V2"),
    "regnet_y_800mf": ("RegNet_Y_800MF_Weights", _V1_V2, "IMAGENET1K_V2"),
    "regnet_y_1_6gf": ("RegNet_Y_1_6GF_Weights", _V1_V2, "IMAGENET1K_V2"),
    "regnet_y_3_2gf": ("RegNet_Y_3_2GF_Weights", _V1_V2, "IMAGENET1K_V2"),
    "regnet_y_8gf": ("RegNet_Y_8GF_Weights", _V1_V2, "IMAGENET1K_V2"),
    "regnet_y_16gf": ("RegNet_Y_16GF_Weights", _REGNET_SWAG, "IMAGENET1K_V2"),
    "regnet_y_32gf": ("RegNet_Y_32GF_Weights", _REGNET_SWAG, "IMAGENET1K_V2"),
    "regnet_y_128gf": ("RegNet_Y_128GF_Weights", _REGNET_SWAG[2:], "IMAGENET1K_SWAG_E2E_V1"),
    "resnet18": ("ResNet18_Weights", _V1, "IMAGENET1K_V1"),
    "resnet34": ("ResNet34_Weights", _V1, "IMAGENET1K_V1"),
    "resnet50": ("ResNet50_Weights", _V1_V2, "IMAGENET1K_V2"),
    "resnet101": ("ResNet101_Weights", _V1_V2, "IMAGENET1K_V2"),
    "resnet152": ("ResNet152_Weights", _V1_V2, "IMAGENET1K_V2"),
    "resnext50_32x4d": ("ResNeXt50_32X4D_Weights", _V1_V2, "IMAGENET1K_V2"),
    "resnext101_32x8d": ("ResNeXt101_32X8D_Weights", _V1_V2, "IMAGENET1K_V2"),
    "resnext101_64x4d": ("ResNeXt101_64X4D_Weights", _V1, "IMAGENET1K_V1"),
    "shufflenet_v2_x0_5": ("ShuffleNet_V2_X0_5_Weights", _V1, "IMAGENET1K_V1"),
    "shufflenet_v2_x1_0": ("ShuffleNet_V2_X1_0_Weights", _V1, "IMAGENET1K_V1"),
    "shufflenet_v2_x1_5": ("ShuffleNet_V2_X1_5_Weights", _V1, "IMAGENET1K_V1"),
    "shufflenet_v2_x2_0": ("ShuffleNet_V2_X2_0_Weights", _V1, "IMAGENET1K_V1"),
    "squeezenet1_0": ("SqueezeNet1_0_Weights", _V1, "IMAGENET1K_V1"),
    "squeezenet1_1": ("SqueezeNet1_1_Weights", _V1, "IMAGENET1K_V1"),
    "swin_b": ("Swin_B_Weights", _V1, "IMAGENET1K_V1"),
    "swin_s": ("Swin_S_Weights", _V1, "IMAGENET1K_V1"),
    "swin_t": ("Swin_T_Weights", _V1, "IMAGENET1K_V1"),
    "swin_v2_b": ("Swin_V2_B_Weights", _V1, "IMAGENET1K_V1"),
    "swin_v2_s": ("Swin_V2_S_Weights", _V1, "IMAGENET1K_V1"),
    "swin_v2_t": ("Swin_V2_T_Weights", _V1, "IMAGENET1K_V1"),
    "vgg11": ("VGG11_Weights", _V1, "IMAGENET1K_V1"),
    "vgg11_bn": ("VGG11_BN_Weights", _V1, "IMAGENET1K_V1"),
    "vgg13": ("VGG13_Weights", _V1, "IMAGENET1K_V1"),
    "vgg13_bn": ("VGG13_BN_Weights", _V1, "IMAGENET1K_V1"),
    "vgg16": ("VGG16_Weights", ("IMAGENET1K_V1", "IMAGENET1K_FEATURES"), "IMAGENET1K_V1"),
    "vgg16_bn": ("VGG16_BN_Weights", _V1, "IMAGENET1K_V1"),
    "vgg19": ("VGG19_Weights", _V1, "IMAGENET1K_V1"),
    "vgg19_bn": ("VGG19_BN_Weights", _V1, "IMAGENET1K_V1"),
    "vit_b_16": ("ViT_B_16_Weights", _VIT, "IMAGENET1K_V1"),
    "vit_b_32": ("ViT_B_32_Weights", _V1, "IMAGENET1K_V1"),
    "vit_h_14": ("ViT_H_14_Weights", _VIT[1:], "IMAGENET1K_SWAG_E2E_V1"),
    "vit_l_16": ("ViT_L_16_Weights", _VIT, "IMAGENET1K_V1"),
    "vit_l_32": ("ViT_L_32_Weights", _V1, "IMAGENET1K_V1"),
    "wide_resnet50_2": ("Wide_ResNet50_2_Weights", _V1_V2, "IMAGENET1K_V2"),
    "wide_resnet101_2": ("Wide_ResNet101_2_Weights", _V1_V2, "IMAGENET1K_V2"),
}
"""Zoo model → (torchvision weights enum, its members, the member ``DEFAULT`` stands for)."""

_NO_CATEGORIES: Final = frozenset({("vgg16", "IMAGENET1K_FEATURES")})
"""Weights whose ``meta["categories"]`` is None: the builder leaves ``num_classes`` alone."""

_SWAG_E2E_SIZES: Final = {"vit_b_16": 384, "vit_l_16": 512, "vit_h_14": 518}
"""``meta["min_size"][0]`` of each ViT's IMAGENET1K_SWAG_E2E_V1 weights; every other ViT weights have 224."""

_NO_LEGACY_WEIGHTS: Final = frozenset({"vit_h_14", "regnet_y_128gf"})
"""Models whose ``handle_legacy_interface`` default is None: ``pretrained=True`` is refused."""

_AUX_AFTER_LOADING: Final = {"googlenet": False, "inception_v3": True}
"""Whether the builder keeps the auxiliary classifiers after loading weights when ``aux_logits`` is not given."""

_KEYWORDS: Final = ("weights", "pretrained", "progress")


def weights_enum_of(name: str) -> tuple[str, ...] | None:
    """The members of the torchvision weights enum called ``name`` (``"ResNet50_Weights"``), ``DEFAULT``
    included; None if no zoo model has it."""
    for enum, members, _ in WEIGHTS.values():
        if enum == name:
            return (*members, "DEFAULT")
    return None


def with_weights(model: str, keywords: Sequence[tuple[str, Value]]) -> tuple[list[tuple[str, Value]], str | None]:
    """``keywords`` without torchvision's weights keywords, plus the arguments the weights imply (as the
    builder overwrites them), and the weights chosen as ``"Enum.MEMBER"`` (None when no weights)."""
    given = dict(keywords)
    rest = [(key, value) for key, value in keywords if key not in _KEYWORDS]
    if not any(key in given for key in _KEYWORDS):
        return rest, None
    progress = given.get("progress", True)
    if not isinstance(progress, bool):
        raise ArgumentError(model, f"progress must be True or False, got {progress!r}", "progress")
    member = _member(model, given)
    if member is None:
        return rest, None
    enum = WEIGHTS[model][0]
    for key, value in _implied(model, member):
        if key in given and given[key] != value and key != "transform_input":  # set only when not given
            raise ArgumentError(
                model, f"{key}={given[key]!r} conflicts with weights {enum}.{member}, which set {key}={value}", key
            )
        if key not in given:
            rest.append((key, _AUX_AFTER_LOADING[model] if key == "aux_logits" else value))
    return rest, f"{enum}.{member}"


def _member(model: str, given: dict[str, Value]) -> str | None:
    """The weights member named by ``weights=`` or ``pretrained=`` (``DEFAULT`` resolved), or None."""
    if "weights" in given and "pretrained" in given:
        raise ArgumentError(model, "give weights= or the older pretrained=, not both", "pretrained")
    if "pretrained" in given:
        pretrained = given["pretrained"]
        if not isinstance(pretrained, bool):
            raise ArgumentError(model, f"pretrained must be True or False, got {pretrained!r}", "pretrained")
        if pretrained and model in _NO_LEGACY_WEIGHTS:
            raise ArgumentError(model, f"no weights for pretrained=True; use weights={WEIGHTS[model][0]}.DEFAULT")
        return "IMAGENET1K_V1" if pretrained else None
    value = given.get("weights")
    if value is None:
        return None
    enum, members, default = WEIGHTS[model]
    if isinstance(value, Ref):
        owner, _, name = value.path.rpartition(".")
        if owner.rpartition(".")[2] != enum:
            raise ArgumentError(model, f"weights must be a {enum} member, got {owner.rpartition('.')[2]}", "weights")
    elif isinstance(value, str):
        name = value.removeprefix(f"{enum}.")
    else:
        raise ArgumentError(model, f"weights must be None, a {enum} member or its name, got {value!r}", "weights")
    if name == "DEFAULT":
        return default
    if name not in members:
        import difflib  # error path only

        allowed = (*members, "DEFAULT")
        suggestions = tuple(difflib.get_close_matches(name, allowed, n=1))
        message = f"{model}: unknown weights {name!r}; {enum} has {', '.join(allowed)} (or weights=None)"
        raise UnknownNameError(message, name, suggestions)
    return name


def _implied(model: str, member: str) -> list[tuple[str, Value]]:
    """The constructor arguments the builder overwrites for these weights, in torchvision's order."""
    implied: list[tuple[str, Value]] = []
    if model in _AUX_AFTER_LOADING:
        implied += [("transform_input", True), ("aux_logits", True), ("init_weights", False)]
    if (model, member) not in _NO_CATEGORIES:
        implied.append(("num_classes", 1_000))  # len(meta["categories"]): every torchvision ImageNet-1k weights
    if model == "maxvit_t":
        implied.append(("input_size", (224, 224)))  # meta["min_size"]
    if model.startswith("vit_"):
        implied.append(("image_size", _SWAG_E2E_SIZES[model] if member == "IMAGENET1K_SWAG_E2E_V1" else 224))
    return implied

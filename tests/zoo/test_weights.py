"""torchvision's weights keywords on zoo models: every spelling torchvision accepts, the counts its weights
imply, and its refusals."""

from __future__ import annotations

import pytest

import paramcount
from paramcount.errors import ArgumentError, ExpressionError, ParamcountError, UnknownNameError
from paramcount.provenance import FromZoo
from paramcount.render.code import expression_text
from paramcount.zoo.weights import WEIGHTS

# torchvision 0.28 publishes each weights' count as meta["num_params"]. Only the ViT SWAG_E2E weights
# differ from the model without weights: they set image_size, which sizes the position embedding
# (1, (image_size/patch)² + 1, hidden). vit_b_16 at 384: (24² + 1)·768 = 443,136 instead of
# (14² + 1)·768 = 151,296, so 86,567,656 + 291,840 = 86,859,496; vit_l_16 at 512: (32² + 1)·1024 = 1,049,600
# instead of 201,728, so 304,326,632 + 847,872 = 305,174,504; vit_h_14 at 518: (37² + 1)·1280 = 1,753,600
# instead of (16² + 1)·1280 = 328,960, so 632,045,800 + 1,424,640 = 633,470,440.
SWAG_E2E = {"vit_b_16": 86_859_496, "vit_l_16": 305_174_504, "vit_h_14": 633_470_440}


@pytest.mark.parametrize(
    ("model", "member"),
    [(model, member) for model, (_, members, _) in WEIGHTS.items() for member in (*members, "DEFAULT")],
)
def test_weights_keep_the_count_unless_torchvision_resizes(model: str, member: str) -> None:
    resolved = WEIGHTS[model][2] if member == "DEFAULT" else member
    if model in SWAG_E2E and resolved == "IMAGENET1K_SWAG_E2E_V1":
        expected = SWAG_E2E[model]
    elif model == "googlenet":  # the builder removes the auxiliary classifiers after loading the weights
        expected = paramcount.count("googlenet(aux_logits=False)").total
    else:
        expected = paramcount.count(model).total
    result = paramcount.count(f"{model}(weights={member!r})")
    assert result.total == expected
    assert result.provenance == FromZoo(model, f"{WEIGHTS[model][0]}.{resolved}")


@pytest.mark.parametrize(
    "query",
    [
        "resnet50(weights=None)",
        "resnet50(pretrained=False)",
        "resnet50(pretrained=True)",
        "resnet50(pretrained=True, progress=False)",
        "resnet50(weights='IMAGENET1K_V2')",
        "resnet50(weights='ResNet50_Weights.IMAGENET1K_V2')",
        "resnet50(weights=ResNet50_Weights.IMAGENET1K_V2)",
        "resnet50(weights=ResNet50_Weights.DEFAULT)",
        "resnet50(weights=models.ResNet50_Weights.IMAGENET1K_V1)",
        "resnet50(weights=torchvision.models.ResNet50_Weights.IMAGENET1K_V1, num_classes=1000)",
    ],
)
def test_torchvision_spellings_count_resnet50(query: str) -> None:
    assert paramcount.count(query).total == 25_557_032  # ResNet50_Weights meta["num_params"]


def test_vit_weights_enum_sets_image_size() -> None:
    result = paramcount.count("vit_h_14(weights=ViT_H_14_Weights.DEFAULT)")
    assert result.total == SWAG_E2E["vit_h_14"]
    assert (
        expression_text(result.report().expression) == "vit_h_14(image_size=518)"
    )  # what torchvision builds, without downloading


def test_weights_without_categories_leave_num_classes() -> None:
    # VGG16_Weights.IMAGENET1K_FEATURES has meta["categories"] None: torchvision keeps num_classes=10, so the
    # last Linear is 4096·10 + 10 = 40,970 instead of 4,097,000: 138,357,544 - 4,056,030 = 134,301,514.
    assert paramcount.count("vgg16(weights='IMAGENET1K_FEATURES', num_classes=10)").total == 134_301_514


@pytest.mark.parametrize(
    ("query", "error", "message"),
    [
        (
            "resnet50(weights='IMAGENET1K_V3')",
            UnknownNameError,
            "resnet50: unknown weights 'IMAGENET1K_V3'; ResNet50_Weights has IMAGENET1K_V1, IMAGENET1K_V2, DEFAULT"
            " (or weights=None)",
        ),
        (
            "resnet50(weights='ResNet18_Weights.IMAGENET1K_V1')",
            UnknownNameError,
            "resnet50: unknown weights 'ResNet18_Weights.IMAGENET1K_V1'; ResNet50_Weights has IMAGENET1K_V1,"
            " IMAGENET1K_V2, DEFAULT (or weights=None)",
        ),
        (
            "resnet50(weights=ResNet18_Weights.DEFAULT)",
            ArgumentError,
            "resnet50: weights must be a ResNet50_Weights member, got ResNet18_Weights",
        ),
        (
            "resnet50(weights=ResNet50_Weights.V9)",
            UnknownNameError,
            "column 35: ResNet50_Weights has no 'V9'; it has IMAGENET1K_V1, IMAGENET1K_V2, DEFAULT",
        ),
        (
            "resnet50(weights=ResNet51_Weights.DEFAULT)",
            UnknownNameError,
            "column 18: unknown torchvision weights 'ResNet51_Weights'; did you mean 'ResNet50_Weights',"
            " 'ResNet18_Weights' or 'ResNet152_Weights'?",
        ),
        (
            "resnet50(weights='DEFAULT', num_classes=10)",
            ArgumentError,
            "resnet50: num_classes=10 conflicts with weights ResNet50_Weights.IMAGENET1K_V2, which set"
            " num_classes=1000",
        ),
        (
            "vit_b_16(weights='IMAGENET1K_V1', image_size=384)",
            ArgumentError,
            "vit_b_16: image_size=384 conflicts with weights ViT_B_16_Weights.IMAGENET1K_V1, which set image_size=224",
        ),
        (
            "vit_h_14(pretrained=True)",
            ArgumentError,
            "vit_h_14: no weights for pretrained=True; use weights=ViT_H_14_Weights.DEFAULT",
        ),
        (
            "resnet50(weights=None, pretrained=False)",
            ArgumentError,
            "resnet50: give weights= or the older pretrained=, not both",
        ),
        ("resnet50(pretrained='yes')", ArgumentError, "resnet50: pretrained must be True or False, got 'yes'"),
        ("resnet50(progress=2)", ArgumentError, "resnet50: progress must be True or False, got 2"),
        (
            "resnet50(weights=3)",
            ArgumentError,
            "resnet50: weights must be None, a ResNet50_Weights member or its name, got 3",
        ),
        ("resnet50(weights=os.ResNet50_Weights.DEFAULT)", ExpressionError, "column 18: attribute access"),
    ],
)
def test_weights_refusals_are_exact(query: str, error: type[ParamcountError], message: str) -> None:
    with pytest.raises(error) as info:
        paramcount.count(query)
    assert type(info.value) is error
    assert str(info.value).startswith(message)
    if error is not ExpressionError:
        assert str(info.value) == message


def test_table_is_torchvisions() -> None:
    torchvision = pytest.importorskip("torchvision")
    for model, (enum, members, default) in WEIGHTS.items():
        weights = torchvision.models.get_model_weights(model)
        assert weights.__name__ == enum
        assert tuple(name for name in weights.__members__ if name != "DEFAULT") == members
        assert weights.DEFAULT.name == default

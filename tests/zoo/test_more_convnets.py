"""The zoo's ShuffleNet V2, SqueezeNet, MNASNet, GoogLeNet, Inception v3, RegNet, EfficientNet V2, Swin V2 and
MaxViT entries: every parameter and buffer, by name, shape and order, equals torchvision's model built on the
meta device with the same builder keywords, and the default counts equal torchvision's published ones."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import paramcount
from paramcount.errors import ArgumentError
from paramcount.tree import iter_buffers, iter_params, parameter_count
from paramcount.zoo import build_model
from vision_oracle import torchvision_model

TYPE_CHECKING = False
if TYPE_CHECKING:
    from paramcount.tree import Value

MODELS = (
    "shufflenet_v2_x0_5",
    "shufflenet_v2_x1_0",
    "shufflenet_v2_x1_5",
    "shufflenet_v2_x2_0",
    "squeezenet1_0",
    "squeezenet1_1",
    "mnasnet0_5",
    "mnasnet0_75",
    "mnasnet1_0",
    "mnasnet1_3",
    "googlenet",
    "inception_v3",
    *(f"regnet_y_{size}" for size in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf", "128gf")),
    *(f"regnet_x_{size}" for size in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf")),
    "efficientnet_v2_s",
    "efficientnet_v2_m",
    "efficientnet_v2_l",
    "swin_v2_t",
    "swin_v2_s",
    "swin_v2_b",
    "maxvit_t",
)
COUNTS = Path(__file__).parent.parent / "data" / "zoo_counts.csv"


def _published() -> list[tuple[str, int, str]]:
    with COUNTS.open(newline="", encoding="utf-8") as handle:
        rows = [(row["model"], int(row["num_params"]), row["source"]) for row in csv.DictReader(handle)]
    return [row for row in rows if row[0] in MODELS]


def test_every_model_has_a_published_count() -> None:
    assert sorted(name for name, _, _ in _published()) == sorted(MODELS)


@pytest.mark.parametrize(("name", "expected", "source"), _published(), ids=lambda value: str(value)[:20])
def test_count_matches_published(name: str, expected: int, source: str) -> None:
    # The published count is the weights' model: googlenet's builder removes its auxiliary classifiers after
    # loading them (unless aux_logits=True is given), so weights count 6,624,904 where googlenet() counts
    # 13,004,888 (derived in test_googlenet_aux_classifiers_by_derivation).
    assert paramcount.count(f"{name}(weights='DEFAULT')").total == expected, f"{name}: published by {source}"


# Builder calls: every model with its defaults, and the keywords that change a shape.
CALLS: tuple[tuple[str, dict[str, Value]], ...] = (
    *((name, {}) for name in MODELS),
    ("shufflenet_v2_x1_0", {"num_classes": 10}),
    ("squeezenet1_1", {"num_classes": 10, "dropout": 0.1}),
    ("mnasnet0_75", {"num_classes": 7}),
    ("googlenet", {"aux_logits": False, "transform_input": True, "init_weights": False}),
    ("googlenet", {"num_classes": 10, "dropout_aux": 0.5}),
    ("inception_v3", {"aux_logits": False, "num_classes": 10}),
    ("regnet_y_400mf", {"num_classes": 10, "stem_width": 24}),
    ("regnet_x_8gf", {"stem_width": 64}),
    ("efficientnet_v2_s", {"num_classes": 10, "dropout": 0.1, "stochastic_depth_prob": 0.5}),
    ("swin_v2_t", {"num_classes": 10, "mlp_ratio": 2.0}),
    ("maxvit_t", {"num_classes": 10, "input_size": (448, 448), "expansion_ratio": 2, "mlp_ratio": 2}),
)


def test_googlenet_aux_classifiers_by_derivation() -> None:
    # Each InceptionAux: a 1×1 BasicConv2d to 128 channels (weight 128·C, batch norm 2·128) and two Linear
    # layers, 2048 → 1024 and 1024 → 1000, with biases; C is 512 for aux1 and 528 for aux2.
    heads = sum(128 * c + 2 * 128 + 2048 * 1024 + 1024 + 1024 * 1000 + 1000 for c in (512, 528))
    assert heads == 6_379_984
    with_aux, without = build_model("googlenet"), build_model("googlenet", (), (("aux_logits", False),))
    assert parameter_count(with_aux) - parameter_count(without) == heads


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("googlenet(weights='DEFAULT')", 6_624_904),  # heads removed after loading
        ("googlenet(weights='DEFAULT', aux_logits=True)", 13_004_888),  # kept when asked for
        ("googlenet(pretrained=True, transform_input=False)", 6_624_904),  # torchvision sets it only if absent
        ("inception_v3(weights='DEFAULT')", 27_161_264),
    ],
)
def test_weights_keep_or_remove_aux_classifiers_as_torchvision(query: str, expected: int) -> None:
    assert paramcount.count(query).total == expected


@pytest.mark.parametrize("model", ["googlenet", "inception_v3"])
def test_weights_refuse_aux_logits_false_as_torchvision(model: str) -> None:
    # torchvision: ValueError "The parameter 'aux_logits' expected value True but got False instead."
    with pytest.raises(ArgumentError, match="aux_logits=False conflicts with weights"):
        paramcount.count(f"{model}(weights='DEFAULT', aux_logits=False)")


@pytest.mark.parametrize(("name", "keywords"), CALLS, ids=lambda value: str(value))
def test_tensors_equal_torchvision(name: str, keywords: dict[str, Value]) -> None:
    tree = build_model(name, (), tuple(keywords.items()))
    ours = [(path, tensor.sizes) for path, tensor in (*iter_params(tree), *iter_buffers(tree))]
    reference = torchvision_model(name, **keywords)
    tensors = (*reference.named_parameters(), *reference.named_buffers())
    assert ours == [(path, tuple(tensor.shape)) for path, tensor in tensors]


def test_regnet_y_128gf_has_no_legacy_weights() -> None:
    # torchvision: @handle_legacy_interface(weights=("pretrained", None)) — pretrained=True names no weights.
    with pytest.raises(ArgumentError, match="no weights for pretrained=True; use weights=RegNet_Y_128GF_Weights"):
        paramcount.count("regnet_y_128gf(pretrained=True)")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        # torchvision: _ovewrite_named_param(kwargs, "input_size", weights.meta["min_size"]), (224, 224)
        (
            "maxvit_t(weights='DEFAULT', input_size=(448, 448))",
            "maxvit_t: input_size=(448, 448) conflicts with weights",
        ),
        # torchvision: "Input size (25, 25) of block 0 is not divisible by partition size 7."
        (
            "maxvit_t(input_size=(100, 100))",
            "maxvit_t: input_size (100, 100): block 0's input (25, 25) is not divisible",
        ),
    ],
)
def test_maxvit_input_size_refusals(query: str, message: str) -> None:
    with pytest.raises(ArgumentError) as caught:
        paramcount.count(query)
    assert str(caught.value).startswith(message)

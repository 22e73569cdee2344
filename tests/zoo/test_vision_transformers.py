"""ViT, Swin and ConvNeXt zoo entries against torchvision's published counts, derivations and names."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from paramcount.errors import ArgumentError
from paramcount.tree import Module, iter_buffers, iter_params, parameter_count
from paramcount.zoo import build_model

TYPE_CHECKING = False
if TYPE_CHECKING:
    from paramcount.tree import Value

MODELS = (
    "vit_b_16",
    "vit_b_32",
    "vit_l_16",
    "vit_l_32",
    "vit_h_14",
    "swin_t",
    "swin_s",
    "swin_b",
    "convnext_tiny",
    "convnext_small",
    "convnext_base",
    "convnext_large",
)
COUNTS = Path(__file__).parent.parent / "data" / "zoo_counts.csv"


def _published() -> list[tuple[str, int, str]]:
    with COUNTS.open(newline="", encoding="utf-8") as handle:
        rows = [(row["model"], int(row["num_params"]), row["source"]) for row in csv.DictReader(handle)]
    return [row for row in rows if row[0] in MODELS]


def _build(name: str, **keywords: Value) -> Module:
    return build_model(name, (), tuple(keywords.items()))


def test_every_model_has_a_published_count() -> None:
    assert sorted(name for name, _, _ in _published()) == sorted(MODELS)


@pytest.mark.parametrize(("name", "expected", "source"), _published(), ids=lambda value: str(value)[:20])
def test_count_matches_published(name: str, expected: int, source: str) -> None:
    assert parameter_count(_build(name)) == expected, f"{name}: published by {source}"


# torchvision also publishes weights trained at larger image sizes; the ViT count grows with the
# position embedding only (torchvision/models/vision_transformer.py, each enum's meta "num_params").
@pytest.mark.parametrize(
    ("name", "image_size", "expected", "source"),
    [
        ("vit_b_16", 384, 86_859_496, "ViT_B_16_Weights.IMAGENET1K_SWAG_E2E_V1 (min_size 384)"),
        ("vit_l_16", 512, 305_174_504, "ViT_L_16_Weights.IMAGENET1K_SWAG_E2E_V1 (min_size 512)"),
        ("vit_h_14", 518, 633_470_440, "ViT_H_14_Weights.IMAGENET1K_SWAG_E2E_V1 (min_size 518)"),
    ],
)
def test_vit_count_at_published_image_size(name: str, image_size: int, expected: int, source: str) -> None:
    assert parameter_count(_build(name, image_size=image_size)) == expected, f"{name}: published by {source}"


def test_vit_b_16_image_size_384_by_derivation() -> None:
    # Only encoder.pos_embedding (1, seq_length, 768) depends on image_size, seq_length = (image_size/16)² + 1:
    # 224 → 14² + 1 = 197 rows, 384 → 24² + 1 = 577 rows; 380 more rows of 768 = 291,840 parameters.
    base = parameter_count(_build("vit_b_16"))
    assert parameter_count(_build("vit_b_16", image_size=384)) == base + (577 - 197) * 768
    shapes = {name: param.sizes for name, param in iter_params(_build("vit_b_16", image_size=384))}
    assert shapes["encoder.pos_embedding"] == (1, 577, 768)


@pytest.mark.parametrize(
    ("name", "features"),
    [("vit_b_16", 768), ("vit_h_14", 1280), ("swin_t", 768), ("swin_b", 1024), ("convnext_large", 1536)],
)
def test_num_classes_by_derivation(name: str, features: int) -> None:
    # Only the final Linear(features, num_classes) depends on num_classes: (features + 1) per class, so
    # going from 1000 classes to 10 removes 990 · (features + 1).
    base = parameter_count(_build(name))
    assert parameter_count(_build(name, num_classes=10)) == base - 990 * (features + 1)


def test_vit_representation_size_adds_pre_logits() -> None:
    # heads = Sequential(pre_logits=Linear(768, 512), act=Tanh(), head=Linear(512, 1000)) instead of
    # Linear(768, 1000): 768·512 + 512 + 512·1000 + 1000 against 768·1000 + 1000.
    base = parameter_count(_build("vit_b_16"))
    tree = _build("vit_b_16", representation_size=512)
    assert parameter_count(tree) == base - (768 * 1000 + 1000) + (768 * 512 + 512) + (512 * 1000 + 1000)
    assert [name for name, _ in iter_params(tree)][-4:] == [
        "heads.pre_logits.weight",
        "heads.pre_logits.bias",
        "heads.head.weight",
        "heads.head.bias",
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "vit_b_16",
            {
                "class_token": (1, 1, 768),
                "conv_proj.weight": (768, 3, 16, 16),
                "encoder.pos_embedding": (1, 197, 768),
                "encoder.layers.encoder_layer_0.ln_1.weight": (768,),
                "encoder.layers.encoder_layer_11.self_attention.in_proj_weight": (2304, 768),
                "encoder.layers.encoder_layer_11.self_attention.out_proj.weight": (768, 768),
                "encoder.layers.encoder_layer_11.mlp.0.weight": (3072, 768),
                "encoder.layers.encoder_layer_11.mlp.3.bias": (768,),
                "encoder.ln.bias": (768,),
                "heads.head.weight": (1000, 768),
            },
        ),
        (
            "swin_t",
            {
                "features.0.0.weight": (96, 3, 4, 4),
                "features.0.2.weight": (96,),
                "features.1.0.attn.relative_position_bias_table": (169, 3),
                "features.1.0.attn.qkv.weight": (288, 96),
                "features.1.1.mlp.3.weight": (96, 384),
                "features.2.reduction.weight": (192, 384),
                "features.2.norm.weight": (384,),
                "features.5.5.attn.relative_position_bias_table": (169, 12),
                "norm.weight": (768,),
                "head.weight": (1000, 768),
            },
        ),
        (
            "convnext_tiny",
            {
                "features.0.0.weight": (96, 3, 4, 4),
                "features.0.1.weight": (96,),
                "features.1.0.layer_scale": (96, 1, 1),
                "features.1.0.block.0.weight": (96, 1, 7, 7),
                "features.1.0.block.3.weight": (384, 96),
                "features.2.1.weight": (192, 96, 2, 2),
                "features.5.8.layer_scale": (384, 1, 1),
                "classifier.0.weight": (768,),
                "classifier.2.weight": (1000, 768),
            },
        ),
    ],
)
def test_names_and_shapes(name: str, expected: dict[str, tuple[int, ...]]) -> None:
    shapes = {path: param.sizes for path, param in iter_params(_build(name))}
    assert {path: shapes.get(path) for path in expected} == expected


def test_parameter_order_starts_like_torchvision() -> None:
    names = [name for name, _ in iter_params(_build("vit_b_16"))]
    assert names[:4] == ["class_token", "conv_proj.weight", "conv_proj.bias", "encoder.pos_embedding"]
    assert len(names) == 4 + 12 * 12 + 2 + 2  # 12 tensors per encoder layer, encoder.ln, heads.head


def test_swin_relative_position_index_buffers() -> None:
    buffers = dict(iter_buffers(_build("swin_b")))
    # One int64 buffer per block (2 + 2 + 18 + 2 blocks): an index for each pair of the 7·7 window's tokens.
    assert len(buffers) == 24
    index = buffers["features.5.17.attn.relative_position_index"]
    assert (index.sizes, index.dtype) == ((7 * 7 * 7 * 7,), "int64")
    assert "features.7.1.attn.relative_position_index" in buffers
    assert parameter_count(_build("swin_b")) == 87_768_224  # buffers are not parameters


def test_convnext_blocks_differ_only_in_stochastic_depth() -> None:
    tree = _build("convnext_tiny")
    stage = tree.children[0].children[1]
    probabilities = [dict(block.args)["stochastic_depth_prob"] for block in stage.children]
    assert probabilities == [0.1 * index / 17 for index in range(3)]  # block_id / (total_blocks - 1)
    # Without stochastic depth the blocks are identical and stored once.
    flat = _build("convnext_tiny", stochastic_depth_prob=0.0).children[0].children[1]
    assert [(block.name, block.repeat) for block in flat.children] == [("0", 3)]
    assert parameter_count(flat) == parameter_count(stage)


@pytest.mark.parametrize(
    ("name", "keywords", "message"),
    [
        (
            "vit_b_16",
            {"image_size": 225},
            "vit_b_16: image_size must be divisible by the patch size (image_size=225, patch_size=16)",
        ),
        (
            "vit_h_14",
            {"image_size": 224 + 16},
            "vit_h_14: image_size must be divisible by the patch size (image_size=240, patch_size=14)",
        ),
        ("vit_b_32", {"image_size": 0}, "vit_b_32: image_size must be positive, got 0"),
        ("vit_l_16", {"image_size": "224"}, "vit_l_16: image_size must be an integer, got '224'"),
        ("vit_b_16", {"num_classes": -1}, "vit_b_16: num_classes must be non-negative, got -1"),
        ("vit_b_16", {"dropout": 1.5}, "vit_b_16: dropout must be between 0 and 1, got 1.5"),
        ("swin_t", {"mlp_ratio": -1.0}, "swin_t: mlp_ratio must be a non-negative number, got -1.0"),
        (
            "convnext_base",
            {"stochastic_depth_prob": 2},
            "convnext_base: stochastic_depth_prob must be between 0 and 1, got 2",
        ),
        ("swin_s", {"patch_size": 4}, "swin_s: unexpected keyword argument 'patch_size'; allowed: "),
    ],
)
def test_bad_arguments(name: str, keywords: dict[str, Value], message: str) -> None:
    with pytest.raises(ArgumentError) as caught:
        _build(name, **keywords)
    assert str(caught.value).startswith(message)
    assert caught.value.layer == name


def test_bad_image_size_names_the_argument() -> None:
    with pytest.raises(ArgumentError) as caught:
        _build("vit_b_16", image_size=225)
    assert (
        str(caught.value) == "vit_b_16: image_size must be divisible by the patch size (image_size=225, patch_size=16)"
    )
    assert caught.value.argument == "image_size"


def test_keyword_only() -> None:
    with pytest.raises(ArgumentError, match=r"^vit_b_16: takes at most 0 positional arguments \(1 given\)$"):
        build_model("vit_b_16", (384,))

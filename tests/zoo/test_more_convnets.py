"""The zoo's ShuffleNet V2, SqueezeNet, MNASNet, GoogLeNet, Inception v3, RegNet, EfficientNet V2, Swin V2 and
MaxViT entries: every parameter and buffer, by name, shape and order, equals torchvision's model built on the
meta device with the same builder keywords, and the default counts equal torchvision's published ones."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

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
    assert parameter_count(build_model(name)) == expected, f"{name}: published by {source}"


# Builder calls: every model with its defaults, and the keywords that change a shape.
CALLS: tuple[tuple[str, dict[str, Value]], ...] = (
    *((name, {}) for name in MODELS),
    ("shufflenet_v2_x1_0", {"num_classes": 10}),
    ("squeezenet1_1", {"num_classes": 10, "dropout": 0.1}),
    ("mnasnet0_75", {"num_classes": 7}),
)


@pytest.mark.parametrize(("name", "keywords"), CALLS, ids=lambda value: str(value))
def test_tensors_equal_torchvision(name: str, keywords: dict[str, Value]) -> None:
    tree = build_model(name, (), tuple(keywords.items()))
    ours = [(path, tensor.sizes) for path, tensor in (*iter_params(tree), *iter_buffers(tree))]
    reference = torchvision_model(name, **keywords)
    tensors = (*reference.named_parameters(), *reference.named_buffers())
    assert ours == [(path, tuple(tensor.shape)) for path, tensor in tensors]

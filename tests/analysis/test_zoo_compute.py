"""Shapes and FLOPs of every zoo model against torchvision's own model under FlopCounterMode.

The reference models are built on the meta device (``vision_oracle.torchvision_model``): a forward pass on
meta tensors runs every shape check and every operator FlopCounterMode counts, allocating nothing. Attention
runs with the math backend of ``scaled_dot_product_attention`` so its two products are ``bmm``s that
FlopCounterMode counts (its CPU flash kernel is counted as 0; see ``paramcount.analysis.flops``).
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from paramcount.analysis.shapes.propagate import propagate
from paramcount.analysis.shapes.types import MODELLED, NOT_CALLED, ShapeReport
from paramcount.errors import ShapeError
from paramcount.tree import iter_modules
from paramcount.zoo import known_models
from paramcount.zoo._registry import build_model
from shape_oracle import expanded_paths, flat_shapes, grouped_weight_gradient_extra
from vision_oracle import torchvision_model

IMAGE = (1, 3, 224, 224)


def counted(model: torch.nn.Module, shape: tuple[int, ...], *, backward: bool = False) -> tuple[int, tuple[int, ...]]:
    """FlopCounterMode's total for one forward pass (and the backward of ``output.sum()``) on meta tensors."""
    model.train(backward)
    image = torch.empty(shape, device="meta")
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        output = model(image)
        if backward:
            output.sum().backward()
    total: int = counter.get_total_flops()
    return total, tuple(output.shape)


@pytest.mark.parametrize("name", known_models())
def test_every_module_of_every_zoo_model_is_modelled(name: str) -> None:
    report = propagate(build_model(name), IMAGE)
    assert report.is_complete
    assert {row.status for row in report.modules} <= {MODELLED, NOT_CALLED}
    walked = {path for row in report.modules for path in expanded_paths(row.path)}
    assert walked == {path for path, _ in iter_modules(build_model(name))}


@pytest.mark.parametrize("name", known_models())
def test_zoo_forward_flops_equal_flop_counter_mode(name: str) -> None:
    report = propagate(build_model(name), IMAGE)
    theirs, output = counted(torchvision_model(name), IMAGE)
    assert (report.total_flops, report.output_shape) == (theirs, output)


def _torch_shapes(model: torch.nn.Module, shape: tuple[int, ...]) -> dict[str, list[tuple[int, ...]]]:
    """Each submodule's output shapes at its first call (ResNet blocks call their ``relu`` three times)."""
    recorded: dict[str, list[tuple[int, ...]]] = {}
    for path, submodule in model.named_modules():

        def hook(module: torch.nn.Module, args: Any, output: Any, path: str = path) -> None:
            recorded.setdefault(path, flat_shapes(output))

        submodule.register_forward_hook(hook)
    with sdpa_kernel(SDPBackend.MATH):
        model(torch.empty(shape, device="meta"))
    return recorded


def _our_shapes(report: ShapeReport) -> dict[str, list[tuple[int, ...]]]:
    shapes: dict[str, list[tuple[int, ...]]] = {}
    for row in report.modules:
        if row.status == NOT_CALLED:
            continue
        assert row.output_shape is not None
        for path in expanded_paths(row.path):
            shapes.setdefault(path, [row.output_shape, *(shape for _, shape in row.other_outputs)])
    return shapes


@pytest.mark.parametrize(
    "name",
    ["resnet50", "densenet121", "mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0", "vit_b_16", "swin_t",
     "convnext_tiny", "alexnet", "shufflenet_v2_x0_5", "squeezenet1_0", "mnasnet0_5", "googlenet", "inception_v3",
     "regnet_y_400mf", "swin_v2_t", "maxvit_t"],
)  # fmt: skip
def test_zoo_module_output_shapes_equal_torchvision(name: str) -> None:
    shape = (2, 3, 224, 224)
    ours = _our_shapes(propagate(build_model(name), shape))
    theirs = _torch_shapes(torchvision_model(name), shape)
    assert {path: ours[path] for path in theirs} == theirs
    # Layers whose weights the parent applies with F.linear (no forward call, so no hook sees them):
    # MultiheadAttention's out_proj, Swin's qkv and proj; and MaxViT's ModuleLists (blocks, layers), which
    # forward iterates without calling.
    extra = {path.rsplit(".", 1)[-1] for path in set(ours) - set(theirs)}
    assert extra <= {"out_proj", "qkv", "proj", "blocks", "layers"}


@pytest.mark.parametrize(
    "name", ["resnet18", "vgg11", "densenet121", "vit_b_32", "swin_t", "mobilenet_v2", "resnext50_32x4d"]
)
def test_zoo_training_flops_equal_flop_counter_mode(name: str) -> None:
    # Backward: each product's gradient with respect to each operand that needs one; the image needs none, so
    # the first convolution computes its weight gradient only.
    tree = build_model(name)
    report = propagate(tree, IMAGE)
    theirs, _ = counted(torchvision_model(name), IMAGE, backward=True)
    ours = 2 * (report.total_macs + report.total_backward_macs)
    assert ours + grouped_weight_gradient_extra(tree, report) == theirs


@settings(max_examples=12)
@given(
    name=st.sampled_from(["resnet18", "densenet121", "mobilenet_v3_small", "efficientnet_b0", "swin_t", "alexnet"]),
    batch=st.integers(1, 3),
    height=st.integers(8, 260),
    width=st.integers(8, 260),
)
def test_zoo_flops_at_any_image_size_equal_flop_counter_mode(name: str, batch: int, height: int, width: int) -> None:
    shape = (batch, 3, height, width)
    try:
        theirs: int | None = counted(torchvision_model(name), shape)[0]
    except RuntimeError:
        theirs = None  # torch refuses the size (a pooling or convolution output would be empty)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ours: int | None = propagate(build_model(name), shape).total_flops
        except ShapeError:
            ours = None
    assert ours == theirs


def test_vit_at_another_image_size() -> None:
    tree = build_model("vit_b_16", keywords=(("image_size", 384),))
    report = propagate(tree, (1, 3, 384, 384))
    rows = {row.path: row for row in report.modules}
    assert rows["encoder"].input_shape == (1, 577, 768)  # (384/16)² patches and the class token
    # torchvision's _process_input asserts the size before the patches are made; the answer says the same.
    with pytest.raises(AssertionError, match=r"^Wrong image height! Expected 384 but got 224!$"):
        counted(torchvision_model("vit_b_16", image_size=384), (1, 3, 224, 224))
    with pytest.raises(ShapeError, match=r"^VisionTransformer reads 384×384 images \(image_size=384\), got 224×224$"):
        propagate(tree, (1, 3, 224, 224))
    with pytest.raises(ShapeError, match=r"^VisionTransformer reads 384×384 images \(image_size=384\), got 384×320$"):
        propagate(tree, (1, 3, 384, 320))

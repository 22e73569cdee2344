"""Activation memory of torchvision's models against what autograd saves (CPU, float32).

``vision_oracle.saved_bytes`` runs one training forward of the real model with the cross-entropy loss under
``torch.autograd.graph.saved_tensors_hooks`` and adds up each distinct storage packed (parameters and buffers
aside); ours is ``module_activations`` on the zoo's tree with ``kernels="cpu"`` (batch-norm statistics and
dropout masks in the input's dtype, as the CPU kernels keep them).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paramcount import api
from paramcount.analysis.memory import Assumption
from paramcount.analysis.planner.module_activations import ModuleActivations, module_activations
from vision_oracle import saved_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from paramcount.analysis.planner.activations import Kernels

EXACT = [
    "resnet18", "resnet50", "vgg11_bn", "alexnet", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0",
    "densenet121", "convnext_tiny", "swin_t",
]  # fmt: skip


def _ours(name: str, shape: tuple[int, ...], dtype: str = "float32") -> ModuleActivations:
    found = module_activations(api.count(name).tree, shape, dtype, kernels="cpu")
    assert isinstance(found, ModuleActivations), f"{name}: not modelled: {found}"
    return found


@pytest.mark.parametrize("name", EXACT)
def test_saved_bytes_equal_autograd(name: str) -> None:
    shape = (2, 3, 64, 64)
    assert _ours(name, shape).saved_bytes == saved_bytes(name, shape)


def test_vit_saved_bytes_equal_autograd() -> None:
    """ViT-B/16 at its only image size: nn.MultiheadAttention (need_weights=False, no dropout) on the CPU's SDPA
    flash kernel, and the head reading x[:, 0], a view that keeps the encoder's whole output."""
    shape = (2, 3, 224, 224)
    ours = _ours("vit_b_16", shape)
    assert ours.saved_bytes == saved_bytes("vit_b_16", shape)
    tensors = {tensor.key: tensor for tensor in ours.tensors}
    assert tensors["encoder.layers.encoder_layer_0.self_attention.logsumexp"].bytes == 2 * 12 * 197 * 4
    assert tensors["encoder.layers.encoder_layer_0.self_attention.qkv"].elements == 3 * 2 * 197 * 768
    assert sum(key.endswith(".logsumexp") for key in tensors) == 12
    assert tensors["heads.head.input"].elements == 2 * 197 * 768


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small", "convnext_tiny"])
def test_saved_bytes_equal_autograd_in_bfloat16(name: str) -> None:
    """bfloat16 on the CPU: batch-norm and layer-norm statistics and dropout masks in bfloat16 too."""
    shape = (2, 3, 64, 64)
    assert _ours(name, shape, "bfloat16").saved_bytes == saved_bytes(name, shape, half=True)


@settings(max_examples=6, deadline=None)
@given(
    name=st.sampled_from(["resnet18", "mobilenet_v2", "vgg11_bn", "swin_t"]),
    batch=st.integers(2, 3),  # batch norm in training refuses one value per channel (batch 1 at 1×1)
    size=st.integers(32, 80),
)
def test_saved_bytes_equal_autograd_for_any_batch_and_image(name: str, batch: int, size: int) -> None:
    shape = (batch, 3, size, size)
    assert _ours(name, shape).saved_bytes == saved_bytes(name, shape)


def test_resnet18_items_as_torch_keeps_them() -> None:
    """The stem of resnet18 on 2×3×64×64, by hand: conv1 keeps the image (2·3·64·64 floats), bn1 its input
    (2·64·32·32) and two statistics of 64, relu (in place) bn1's output, maxpool the same storage (counted
    once) and its int64 indices (2·64·16·16)."""
    tensors = {tensor.key: tensor for tensor in _ours("resnet18", (2, 3, 64, 64)).tensors}
    assert tensors["conv1.input"].bytes == 2 * 3 * 64 * 64 * 4
    assert tensors["bn1.input"].bytes == 2 * 64 * 32 * 32 * 4
    assert tensors["bn1.save_mean"].bytes == tensors["bn1.save_invstd"].bytes == 64 * 4
    assert tensors["relu.result"].bytes == 2 * 64 * 32 * 32 * 4
    assert "maxpool.input" not in tensors
    assert tensors["maxpool.indices"].dtype == "int64"
    assert tensors["maxpool.indices"].bytes == 2 * 64 * 16 * 16 * 8
    assert tensors["loss.log_softmax"].bytes == 2 * 1000 * 4


def test_cuda_kernels_keep_float32_statistics_and_bool_masks() -> None:
    cpu = _ours("vgg11_bn", (1, 3, 32, 32), "bfloat16")
    cuda = module_activations(api.count("vgg11_bn").tree, (1, 3, 32, 32), "bfloat16")
    assert isinstance(cuda, ModuleActivations)
    dtypes = {tensor.key: tensor.dtype for tensor in cuda.tensors}
    assert dtypes["features.1.save_mean"] == "float32"
    assert dtypes["classifier.2.mask"] == "bool"
    assert {tensor.key: tensor.dtype for tensor in cpu.tensors}["classifier.2.mask"] == "bfloat16"


def test_training_plan_itemises_the_saved_tensors() -> None:
    """``--input`` with ``--optimizer``: the activation lines add up to the saved tensors (CUDA kernels: the
    float32 statistics of resnet18's batch norms are as the CPU keeps them in float32), and the JSON lists each."""
    from paramcount.analysis.planner import PlanOptions
    from paramcount.report import Report

    shape = (2, 3, 64, 64)
    report = api.build_report(api.count("resnet18"), PlanOptions(optimizer="adamw"), shape)
    assert report.plan is not None
    found = report.plan.module_activations
    assert found is not None
    lines = [item for item in report.plan.items if item.category == "activations"]
    assert sum(item.bytes for item in lines) == found.saved_bytes == saved_bytes("resnet18", shape)
    assert all(item.exact for item in lines)
    assert "activations: MaxPool indices (int64, 1 tensor)" in {item.label for item in lines}
    plan = Report.to_dict(report)["memory"]["plan"]
    assert plan["module_activations"]["saved_bytes"] == found.saved_bytes
    assert plan["module_activations"]["tensors"][0]["key"] == "conv1.input"


def test_unmodelled_kinds_keep_the_estimate_and_say_which() -> None:
    from paramcount.analysis.planner import PlanOptions

    report = api.build_report(
        api.count("nn.Sequential(nn.Linear(4, 4), nn.PReLU())"), PlanOptions(optimizer="sgd"), (2, 4)
    )
    assert report.plan is not None
    assert report.plan.module_activations is None
    assert Assumption.of("per-operation-unmodelled", kinds=("PReLU",)) in report.plan.assumptions
    assert not report.plan.exact


def test_a_module_without_an_argument_a_rule_reads_is_not_modelled() -> None:
    """A door that could not recover Dropout's ``p`` (here removed by hand): named, not guessed."""
    from paramcount._record import replace
    from paramcount.tree import Module

    def without_p(module: Module) -> Module:
        args = tuple(arg for arg in module.args if not (module.kind == "Dropout" and arg[0] == "p"))
        return replace(module, args=args, children=tuple(without_p(child) for child in module.children))

    tree = without_p(api.count("alexnet").tree)
    assert module_activations(tree, (2, 3, 64, 64), "float32") == ("Dropout",)


@pytest.mark.parametrize("kernels", ["cpu", "cuda"])
def test_the_assumption_names_the_input_dtype_and_kernels(kernels: Kernels) -> None:
    from paramcount.render.assumptions import assumption_text

    found = module_activations(api.count("resnet18").tree, (2, 3, 64, 64), "bfloat16", kernels=kernels)
    assert isinstance(found, ModuleActivations)
    assert found.assumptions == (
        Assumption.of("activations-per-operation", input_shape=(2, 3, 64, 64), dtype="bfloat16", kernels=kernels),
    )
    kept = {
        "cpu": "statistics and dropout masks in the input's dtype (CPU kernels)",
        "cuda": "batch-norm and layer-norm statistics in float32 and dropout masks as bool (CUDA kernels)",
    }[kernels]
    assert assumption_text(found.assumptions[0]) == (
        "activations: the tensors autograd keeps in one training forward on input (2, 3, 64, 64), per operation, each "
        f"storage once, in bfloat16; {kept} (derived per operation from torch's autograd formulas and checked against "
        "torch.autograd.graph.saved_tensors_hooks)"
    )

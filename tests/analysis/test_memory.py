"""Training memory against the real thing: the bytes torch actually holds after one optimizer step."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

import paramcount
from paramcount.analysis.memory import training_plans


def _held_bytes(module: torch.nn.Module, optimizer: torch.optim.Optimizer) -> int:
    parameters = sum(p.numel() * p.element_size() for p in module.parameters())
    gradients = sum(p.grad.numel() * p.grad.element_size() for p in module.parameters() if p.grad is not None)
    states = sum(
        value.numel() * value.element_size()
        for state in optimizer.state.values()
        for value in state.values()
        if isinstance(value, torch.Tensor)
    )
    buffers = sum(b.numel() * b.element_size() for b in module.buffers())
    return parameters + gradients + states + buffers


Factory = Callable[[], torch.nn.Module]

CASES: list[tuple[str, Factory]] = [
    # (our expression, the same module in torch, plan name, optimizer factory)
    ("Conv2d(8, 16, 3)", lambda: torch.nn.Conv2d(8, 16, 3)),
    (
        "Sequential(Linear(12, 7), BatchNorm1d(7), Linear(7, 3, bias=False))",
        lambda: torch.nn.Sequential(torch.nn.Linear(12, 7), torch.nn.BatchNorm1d(7), torch.nn.Linear(7, 3, bias=False)),
    ),
    (
        "Sequential(Linear(12, 7).requires_grad_(False), Linear(7, 3))",
        lambda: torch.nn.Sequential(torch.nn.Linear(12, 7).requires_grad_(False), torch.nn.Linear(7, 3)),
    ),
]
OPTIMIZERS: dict[str, Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer]] = {
    "Adam / AdamW, float32": lambda params: torch.optim.AdamW(params, lr=1e-3),
    "SGD with momentum, float32": lambda params: torch.optim.SGD(params, lr=1e-3, momentum=0.9),
    "SGD, float32": lambda params: torch.optim.SGD(params, lr=1e-3),
}


@pytest.mark.parametrize(("expression", "factory"), CASES)
@pytest.mark.parametrize("plan_name", list(OPTIMIZERS))
def test_training_bytes_equal_what_torch_holds_after_one_step(
    expression: str, factory: Factory, plan_name: str
) -> None:
    torch.manual_seed(0)
    module = factory()
    trainable = [p for p in module.parameters() if p.requires_grad]
    optimizer = OPTIMIZERS[plan_name](trainable)
    inputs = torch.randn(4, 8, 10, 10) if expression.startswith("Conv") else torch.randn(4, 12)
    module(inputs).sum().backward()
    optimizer.step()

    plans = {plan.name: plan for plan in training_plans(paramcount.count(expression).counts)}
    assert plans[plan_name].bytes == _held_bytes(module, optimizer)


def test_adam_is_sixteen_bytes_per_parameter_plus_step_counts() -> None:
    # Conv2d(256, 512, 3): 1,180,160 parameters in 2 tensors → 16 · 1,180,160 + 4 · 2 = 18,882,568 bytes.
    plans = training_plans(paramcount.count("Conv2d(256, 512, 3)").counts)
    adam = next(plan for plan in plans if plan.name == "Adam / AdamW, float32")
    assert adam.bytes == 16 * 1_180_160 + 4 * 2
    mixed = next(plan for plan in plans if plan.name.startswith("Adam / AdamW, mixed"))
    assert [item.bits for item in mixed.items[:5]] == [16, 16, 32, 32, 32]

"""Training memory against the real thing: the bytes torch actually holds after one optimizer step."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

import paramcount
from paramcount._record import replace
from paramcount.analysis import planner
from paramcount.analysis.memory import Assumption
from paramcount.analysis.planner import EXCLUDED_OPTIMIZERS, MemoryPlan, PlanOptions, plan_memory, training_plans
from paramcount.api import from_config_text
from paramcount.errors import ArgumentError


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
    "AdamW, float32": lambda params: torch.optim.AdamW(params, lr=1e-3),
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

    plans = {plan.name: plan for plan in training_plans(paramcount.count(expression).tree)}
    assert plans[plan_name].bytes == _held_bytes(module, optimizer)


def test_adam_is_sixteen_bytes_per_parameter_plus_step_counts() -> None:
    # Conv2d(256, 512, 3): 1,180,160 parameters in 2 tensors → 16 · 1,180,160 + 4 · 2 = 18,882,568 bytes.
    plans = training_plans(paramcount.count("Conv2d(256, 512, 3)").tree)
    adam = next(plan for plan in plans if plan.name == "AdamW, float32")
    assert adam.bytes == 16 * 1_180_160 + 4 * 2
    mixed = next(plan for plan in plans if plan.name.startswith("AdamW, mixed"))
    assert [item.bits for item in mixed.items[:5]] == [16, 16, 32, 32, 32]


# --- the planner against the real thing -------------------------------------------------------------------------

OptimizerFactory = Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer]

TORCH_OPTIMIZERS: dict[str, OptimizerFactory] = {
    # planner name → the torch call holding exactly the states OPTIMIZERS lists (its torch_class)
    "sgd": lambda params: torch.optim.SGD(params, lr=1e-3),
    "sgd-momentum": lambda params: torch.optim.SGD(params, lr=1e-3, momentum=0.9),
    "adam": lambda params: torch.optim.Adam(params),
    "adamw": lambda params: torch.optim.AdamW(params),
    "adam-amsgrad": lambda params: torch.optim.Adam(params, amsgrad=True),
    "adamw-amsgrad": lambda params: torch.optim.AdamW(params, amsgrad=True),
    "adamax": lambda params: torch.optim.Adamax(params),
    "nadam": lambda params: torch.optim.NAdam(params),
    "radam": lambda params: torch.optim.RAdam(params),
    "adagrad": lambda params: torch.optim.Adagrad(params),
    "adadelta": lambda params: torch.optim.Adadelta(params),
    "rmsprop": lambda params: torch.optim.RMSprop(params),
    "rmsprop-momentum": lambda params: torch.optim.RMSprop(params, momentum=0.9),
    "rmsprop-centered": lambda params: torch.optim.RMSprop(params, centered=True),
    "rmsprop-centered-momentum": lambda params: torch.optim.RMSprop(params, momentum=0.9, centered=True),
    "rprop": lambda params: torch.optim.Rprop(params),
    "asgd": lambda params: torch.optim.ASGD(params),
    "adafactor": lambda params: torch.optim.Adafactor(params),
    "muon": lambda params: torch.optim.Muon(params),
}

MODELS: list[tuple[str, Factory, Callable[[], torch.Tensor]]] = [
    # (our expression, the same module in torch, an input): a 4-d, 2-d and 1-d parameters, buffers, frozen parts
    (
        "Sequential(Conv2d(3, 4, 3), Flatten(), Linear(64, 5), BatchNorm1d(5))",
        lambda: torch.nn.Sequential(
            torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(), torch.nn.Linear(64, 5), torch.nn.BatchNorm1d(5)
        ),
        lambda: torch.randn(4, 3, 6, 6),
    ),
    (
        "Sequential(Linear(12, 7).requires_grad_(False), Linear(7, 3))",
        lambda: torch.nn.Sequential(torch.nn.Linear(12, 7).requires_grad_(False), torch.nn.Linear(7, 3)),
        lambda: torch.randn(4, 12),
    ),
]


def _torch_bytes(module: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, int]:
    """What torch holds after one step, by the planner's categories."""

    def size(tensor: torch.Tensor) -> int:
        return tensor.numel() * tensor.element_size()

    return {
        "weights": sum(size(p) for p in module.parameters()),
        "gradients": sum(size(p.grad) for p in module.parameters() if p.grad is not None),
        "optimizer": sum(
            size(value)
            for state in optimizer.state.values()
            for value in state.values()
            if isinstance(value, torch.Tensor)
        ),
        "buffers": sum(size(b) for b in module.buffers()),
    }


def _planned_bytes(plan: MemoryPlan) -> dict[str, int]:
    found = {"weights": 0, "gradients": 0, "optimizer": 0, "buffers": 0}
    for item in plan.items:
        found[item.category] += item.bytes
    return found


@pytest.mark.parametrize(("expression", "factory", "inputs"), MODELS)
@pytest.mark.parametrize("name", list(TORCH_OPTIMIZERS))
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_every_torch_optimizer_matches_the_plan(
    expression: str, factory: Factory, inputs: Callable[[], torch.Tensor], name: str, dtype: str
) -> None:
    torch.manual_seed(0)
    module = factory().to(getattr(torch, dtype))
    trainable = [p for p in module.parameters() if p.requires_grad]
    if name == "muon":  # torch.optim.Muon takes 2-d parameters only; the planner gives the others no state
        trainable = [p for p in trainable if p.dim() == 2]
    optimizer = TORCH_OPTIMIZERS[name](trainable)
    module(inputs().to(getattr(torch, dtype))).float().sum().backward()
    optimizer.step()

    result = paramcount.count(expression)
    plan = plan_memory(result.tree, result.counts, PlanOptions(dtype=dtype, optimizer=name))
    held = _torch_bytes(module, optimizer)
    if name == "muon":  # gradients of the parameters Muon does not own exist but belong to another optimizer
        held["gradients"] = sum(
            p.grad.numel() * p.grad.element_size() for p in module.parameters() if p.grad is not None
        )
    assert _planned_bytes(plan) == held


class _MixedDtypes(torch.nn.Module):
    """A model in three dtypes, as a checkpoint may store one: a float16 Linear, a float32 LayerNorm (with a
    BatchNorm buffer), a bfloat16 Linear; each runs in its own dtype."""

    def __init__(self) -> None:
        super().__init__()
        self.up = torch.nn.Linear(6, 8, dtype=torch.float16)
        self.norm = torch.nn.LayerNorm(8)
        self.batch = torch.nn.BatchNorm1d(8)
        self.down = torch.nn.Linear(8, 3, dtype=torch.bfloat16)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        hidden: torch.Tensor = self.batch(self.norm(self.up(inputs.half()).float()))
        output: torch.Tensor = self.down(hidden.bfloat16())
        return output.float()


@pytest.mark.parametrize("name", ["adamw", "sgd-momentum", "adafactor", "rmsprop-centered", "sgd"])
def test_a_checkpoint_in_several_dtypes_trains_each_tensor_in_its_own(tmp_path: Path, name: str) -> None:
    """Loaded as stored and trained, each parameter keeps its dtype, and so do its gradient (p.grad) and its
    optimizer's full states (torch.zeros_like(p)): one step of the real optimizer is the oracle. The plan held
    every tensor in float16, the dtype of most parameters: weights, gradients and AdamW states of 230, 230 and
    492 B where torch holds 294, 294 and 620 B."""
    torch.manual_seed(0)
    module = _MixedDtypes()
    path = tmp_path / "mixed.pt"
    torch.save(module.state_dict(), path)
    optimizer = TORCH_OPTIMIZERS[name](list(module.parameters()))
    module(torch.randn(4, 6)).sum().backward()
    optimizer.step()

    result = paramcount.count(str(path))
    plan = plan_memory(result.tree, result.counts, PlanOptions(optimizer=name))
    assert _planned_bytes(plan) == _torch_bytes(module, optimizer)
    assert [item.label for item in plan.items[:2]] == [
        "weights as stored (bfloat16, float16, float32)",
        "gradients (bfloat16, float16, float32)",
    ]
    given = plan_memory(result.tree, result.counts, PlanOptions(optimizer=name, dtype="float32"))
    assert given.items[1] == replace(given.items[1], label="gradients (float32)", bits=32)


def test_every_torch_optimizer_is_planned_or_excluded_with_a_reason() -> None:
    classes = {
        name.lower()
        for name, value in vars(torch.optim).items()
        if isinstance(value, type) and issubclass(value, torch.optim.Optimizer) and value is not torch.optim.Optimizer
    }
    planned = {spec.torch_class.split("(")[0].lower() for spec in planner.OPTIMIZERS if spec.torch_class}
    assert classes == planned | set(EXCLUDED_OPTIMIZERS)
    assert {spec.name for spec in planner.OPTIMIZERS if spec.torch_class} == set(TORCH_OPTIMIZERS)


def test_mixed_precision_adam_is_sixteen_bytes_per_parameter() -> None:
    # bf16 weights 2 + bf16 gradients 2 + float32 master 4 + exp_avg 4 + exp_avg_sq 4 = 16 bytes per parameter,
    # plus a float32 step per tensor: Conv2d(256, 512, 3) has 1,180,160 parameters in 2 tensors.
    result = paramcount.count("Conv2d(256, 512, 3)")
    plan = plan_memory(result.tree, result.counts, PlanOptions(optimizer="adamw", mixed_precision="bf16"))
    assert [(item.category, item.bits) for item in plan.items] == [
        ("weights", 16),
        ("gradients", 16),
        ("optimizer", 32),  # master weights
        ("optimizer", 32),  # step
        ("optimizer", 32),
        ("optimizer", 32),
    ]
    assert plan.total_bytes == 16 * 1_180_160 + 4 * 2


def _fsdp2_rank(
    rank: int,
    devices: int,
    model: torch.nn.Module,
    optimizer: Callable[..., torch.optim.Optimizer],
    *,
    fails: bool = False,
    each_child: bool = False,
) -> dict[str, list[torch.Tensor]]:
    """One rank of torch's FSDP2 (fully_shard) over ``devices``, run as a rank of a fake process group (its
    collectives do nothing), after one step of ``optimizer``: the tensors the rank holds by what they are
    ("weights", "gradients", each state's key), its shards as local tensors. ``fails``: the step raises after
    making its states. ``each_child``: each child is sharded as a group of its own first (FSDP2 wants one dtype
    per group)."""
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard
    from torch.distributed.tensor import DTensor
    from torch.testing._internal.distributed.fake_pg import FakeStore

    def local(tensor: torch.Tensor) -> torch.Tensor:
        return tensor.to_local() if isinstance(tensor, DTensor) else tensor

    dist.init_process_group("fake", store=FakeStore(), rank=rank, world_size=devices)
    try:
        mesh = init_device_mesh("cpu", (devices,))
        for child in model.children() if each_child else ():
            fully_shard(child, mesh=mesh)
        fully_shard(model, mesh=mesh)
        stepper = optimizer(model.parameters())
        model(torch.randn(3, next(model.parameters()).shape[-1])).sum().backward()
        with pytest.raises(RuntimeError) if fails else contextlib.nullcontext():
            stepper.step()
        held: dict[str, list[torch.Tensor]] = {"weights": [], "gradients": []}
        for parameter in model.parameters():
            held["weights"].append(local(parameter))
            assert parameter.grad is not None
            held["gradients"].append(local(parameter.grad))
            for key, value in stepper.state[parameter].items():
                held.setdefault(key, []).append(local(value))
    finally:
        dist.destroy_process_group()
    return held


def _bytes(tensors: list[torch.Tensor]) -> int:
    return sum(tensor.numel() * tensor.element_size() for tensor in tensors)


def _per_device(expression: str, options: PlanOptions) -> tuple[dict[str, planner.MemoryItem], dict[str, Assumption]]:
    """The plan's per-device lines by label and its assumptions by kind."""
    result = paramcount.count(expression)
    plan = plan_memory(result.tree, result.counts, options)
    return {item.label: item for item in plan.per_device}, {note.kind: note for note in plan.assumptions}


@pytest.mark.parametrize("rank", [0, 3])
def test_zero_keeps_every_step_counter_whole_on_every_device_as_fsdp2_does(rank: int) -> None:
    # Every rank gets a gradient for every parameter, an empty shard too (Linear(20, 5)'s 5 rows split 2, 2, 1, 0:
    # rank 3 holds none of them), so AdamW keeps a 0-d float32 step for each of the 4 tensors on every rank:
    # 4 × 4 = 16 bytes per device, not 16 / 4. The plan keeps them whole at every ZeRO stage.
    model = torch.nn.Sequential(torch.nn.Linear(10, 20), torch.nn.Linear(20, 5))
    steps = _fsdp2_rank(rank, 4, model, torch.optim.AdamW)["step"]
    assert all(step.dim() == 0 and step.dtype == torch.float32 for step in steps)
    held = _bytes(steps)
    assert (len(steps), held) == (4, 16)
    result = paramcount.count("Sequential(Linear(10, 20), Linear(20, 5))")
    for zero in (1, 2, 3):
        plan = plan_memory(result.tree, result.counts, PlanOptions(optimizer="adamw", zero=zero, gpus=4))
        step = next(item for item in plan.per_device if item.label.startswith("optimizer state step"))
        assert (step.count, step.bytes, step.exact) == (4, held, True)
        assert [note.values for note in plan.assumptions if note.kind == "zero-scalars"] == [(("count", 4),)]


def test_zero_per_device_is_the_largest_fsdp2_shard_exactly() -> None:
    # FSDP2 splits each parameter on dim 0 into 4 chunks of ⌈rows / 4⌉ rows (torch.chunk): Linear(10, 7)'s 7 rows
    # go 2, 2, 2, 1, Linear(7, 5)'s and the LayerNorm's 5 go 2, 2, 1, 0. Device 0 holds the most: 2 rows of each
    # tensor, (2·10 + 2 + 2·7 + 2 + 2 + 2) · 4 = 168 bytes of weights, of gradients and of each AdamW moment, not
    # ⌈127 · 4 / 4⌉ = 127. Each ZeRO stage takes it for what it shards (the rest whole: the ranks' sum).
    def model() -> torch.nn.Module:
        return torch.nn.Sequential(torch.nn.Linear(10, 7), torch.nn.Linear(7, 5), torch.nn.LayerNorm(5))

    ranks = [_fsdp2_rank(rank, 4, model(), torch.optim.AdamW) for rank in range(4)]
    kinds = ("weights", "gradients", "exp_avg", "exp_avg_sq")
    held = [{kind: _bytes(tensors[kind]) for kind in kinds} for tensors in ranks]
    assert [sizes["weights"] for sizes in held] == [168, 168, 128, 44]
    largest = {kind: max(sizes[kind] for sizes in held) for kind in kinds}
    labels = {
        "weights": "weights (float32)",
        "gradients": "gradients (float32)",
        "exp_avg": "optimizer state exp_avg",
        "exp_avg_sq": "optimizer state exp_avg_sq",
    }
    expression = "Sequential(Linear(10, 7), Linear(7, 5), LayerNorm(5))"
    for zero, sharded in ((1, kinds[2:]), (2, kinds[1:]), (3, kinds)):
        found, _ = _per_device(expression, PlanOptions(optimizer="adamw", zero=zero, gpus=4))
        for kind in kinds:
            expected = largest[kind] if kind in sharded else sum(sizes[kind] for sizes in held)
            assert (found[labels[kind]].bytes, found[labels[kind]].exact) == (expected, True)
    _, notes = _per_device(expression, PlanOptions(optimizer="adamw", zero=3, gpus=8))  # 7 and 5 rows over 8
    assert notes["zero-short"] == Assumption.of("zero-short", count=6, data_parallel=8)


def test_zero_shards_each_tensor_of_a_checkpoint_in_several_dtypes_in_its_own(tmp_path: Path) -> None:
    # FSDP2 cuts every parameter on dim 0 whatever its dtype (one fully_shard group per dtype: it wants one per
    # group), and p.grad and AdamW's zeros_like(p) take p's: over 4 devices the float16 Linear's 8 rows go 2 to each,
    # the float32 norms' 8 too, the bfloat16 Linear's 3 go 1, 1, 1, 0. Device 0 holds 24 + 4 + 16 + 16 + 16 + 2 = 78
    # bytes of weights, not ⌈294 / 4⌉ = 74: the plan split these lines evenly, as estimates.
    torch.save(_MixedDtypes().state_dict(), tmp_path / "mixed.pt")
    ranks = [_fsdp2_rank(rank, 4, _MixedDtypes(), torch.optim.AdamW, each_child=True) for rank in range(4)]
    kinds = ("weights", "gradients", "exp_avg", "exp_avg_sq")
    held = [{kind: _bytes(tensors[kind]) for kind in kinds} for tensors in ranks]
    assert [sizes["weights"] for sizes in held] == [78, 78, 78, 60]
    largest = {kind: max(sizes[kind] for sizes in held) for kind in kinds}
    dtypes = "(bfloat16, float16, float32)"
    labels = {
        "weights": f"weights as stored {dtypes}",
        "gradients": f"gradients {dtypes}",
        "exp_avg": "optimizer state exp_avg",
        "exp_avg_sq": "optimizer state exp_avg_sq",
    }
    result = paramcount.count(str(tmp_path / "mixed.pt"))
    for zero, sharded in ((1, kinds[2:]), (2, kinds[1:]), (3, kinds)):
        plan = plan_memory(result.tree, result.counts, PlanOptions(optimizer="adamw", zero=zero, gpus=4))
        found = {item.label: item for item in plan.per_device}
        for kind in kinds:
            expected = largest[kind] if kind in sharded else sum(sizes[kind] for sizes in held)
            assert (found[labels[kind]].bytes, found[labels[kind]].exact) == (expected, True)


@pytest.mark.parametrize("rank", [0, 3])
def test_zero_keeps_adafactors_factored_moments_whole_on_every_device_as_fsdp2_does(rank: int) -> None:
    # torch.optim.Adafactor on FSDP2's sharded parameters makes row_var (rows × 1) and col_var (1 × columns) with
    # p.grad.new_zeros, which DTensor replicates: every rank holds 7 + 5 row and 10 + 7 column values in float32
    # (48 + 68 bytes), however few rows of the weights it holds. (torch 2.13's step then fails on them.)
    model = torch.nn.Sequential(torch.nn.Linear(10, 7), torch.nn.Linear(7, 5))
    held = _fsdp2_rank(rank, 4, model, torch.optim.Adafactor, fails=True)
    measured = (_bytes(held["row_var"]), _bytes(held["col_var"]))
    assert measured == (4 * (7 + 5), 4 * (10 + 7))
    found, notes = _per_device(
        "Sequential(Linear(10, 7), Linear(7, 5))", PlanOptions(optimizer="adafactor", zero=1, gpus=4)
    )
    planned = (found["optimizer state row_var"], found["optimizer state col_var"])
    assert [(item.bytes, item.exact) for item in planned] == [(measured[0], True), (measured[1], True)]
    assert notes["zero-factored"] == Assumption.of("zero-factored", count=7 + 5 + 10 + 7)
    if rank == 0:  # the biases' 1-d variance is sharded as they are: device 0 holds 2 + 2 of their 7 + 5 values
        assert found["optimizer state variance"].bytes == _bytes(held["variance"]) == 4 * (2 + 2)


class _EightBitStates(torch.optim.Optimizer):
    """The states bitsandbytes 0.50.2's AdamW8bit makes for each parameter on its first step, made by the same
    calls (bitsandbytes/optim/optimizer.py, Optimizer2State.init_state, lines 502-529, and get_state_buffer, line
    382): float32 state1 and state2 when ``p.numel() < min_8bit_size`` (4,096), else uint8 ones, each
    ``torch.zeros_like(p, dtype=...)``, and per state an absmax ``torch.zeros((blocks,), dtype=torch.float32)``
    with ``blocksize = 256; n = p.numel(); blocks = (n // blocksize) + bool(n % blocksize)``. Its real step then
    raises on FSDP2's parameters ("optimizer_update_8bit_blockwise got mixed torch.Tensor and DTensor"); run with
    bitsandbytes 0.50.2 on this fake process group it left the same states on the first parameter as this does."""

    def __init__(self, params: Iterator[torch.nn.Parameter]) -> None:
        super().__init__(params, {})

    @torch.no_grad()
    def step(self, closure: None = None) -> None:  # type: ignore[override]
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                dtype = torch.float32 if p.numel() < 4096 else torch.uint8
                state["state1"] = torch.zeros_like(p, dtype=dtype, device=p.device)
                state["state2"] = torch.zeros_like(p, dtype=dtype, device=p.device)
                if dtype == torch.uint8:
                    blocksize = 256
                    n = p.numel()
                    blocks = (n // blocksize) + bool(n % blocksize)
                    state["absmax1"] = torch.zeros((blocks,), dtype=torch.float32, device=p.device)
                    state["absmax2"] = torch.zeros((blocks,), dtype=torch.float32, device=p.device)


def test_zero_shards_eight_bit_states_like_their_parameters_and_keeps_each_absmax_whole() -> None:
    # On FSDP2's parameters p.numel() is the whole tensor's: Linear(100, 70)'s 7,000-element weight gets uint8
    # states sharded as it is (70 rows over 4 devices: 18, 18, 18, 16) and two absmax of ⌈7,000 / 256⌉ = 28 float32
    # values, whole on every device; its bias and Linear(70, 50) (3,500 elements) get float32 states sharded as
    # they are. Device 0 holds 1,800 B of each uint8 state, not ⌈7,000 / 4⌉, and 112 B of each absmax, not 28.
    def model() -> torch.nn.Module:
        return torch.nn.Sequential(torch.nn.Linear(100, 70), torch.nn.Linear(70, 50))

    ranks = [_fsdp2_rank(rank, 4, model(), _EightBitStates) for rank in range(4)]
    kinds = {
        "state1 (uint8)": ("state1", torch.uint8),
        "state1 absmax (float32 per 256)": ("absmax1", torch.float32),
        "state1 (float32: under 4,096 elements)": ("state1", torch.float32),
        "state2 (uint8)": ("state2", torch.uint8),
        "state2 absmax (float32 per 256)": ("absmax2", torch.float32),
        "state2 (float32: under 4,096 elements)": ("state2", torch.float32),
    }
    largest = {
        label: max(_bytes([tensor for tensor in held[key] if tensor.dtype == dtype]) for held in ranks)
        for label, (key, dtype) in kinds.items()
    }
    assert [largest[label] for label in list(kinds)[:3]] == [1_800, 112, 4 * (18 + 13 * 70 + 13)]
    found, notes = _per_device(
        "Sequential(Linear(100, 70), Linear(70, 50))", PlanOptions(optimizer="adamw-8bit", zero=1, gpus=4)
    )
    for label, expected in largest.items():
        assert (found[f"optimizer state {label}"].bytes, found[f"optimizer state {label}"].exact) == (expected, True)
    assert notes["zero-absmax"] == Assumption.of("zero-absmax", count=2 * 28)
    assert "zero-factored" not in notes


def test_every_device_keeps_its_own_eight_bit_quantisation_maps() -> None:
    # bitsandbytes' Optimizer8bit builds its two 256-entry float32 maps (fill_qmap) in each process's optimizer:
    # 2 × 256 × 4 = 2,048 bytes on every device, whatever ZeRO, tensor or pipeline parallelism split.
    maps = "8-bit quantisation maps (2 × 256 float32, shared)"
    for zero, tp, pp, gpus in ((1, 1, 1, 4), (0, 2, 1, 2), (0, 1, 2, 2), (3, 2, 2, 8)):
        options = PlanOptions(optimizer="adamw-8bit", zero=zero, tp=tp, pp=pp, gpus=gpus)
        found, notes = _per_device("Linear(4096, 4096)", options)
        assert (found[maps].bytes, found[maps].exact) == (2 * 256 * 4, True)
        assert "per-process-maps" in notes


@pytest.mark.parametrize("rank", [0, 1])
def test_tensor_parallelism_keeps_every_step_counter_on_every_device(rank: int) -> None:
    # Megatron-style tensor parallelism over 2 devices, one rank's modules built as plain tensors: Linear(10, 6)
    # column-parallel (its weight's and bias's rows split 3 + 3), Linear(6, 4) row-parallel (its weight's columns
    # split, the bias whole on each). torch.optim on a rank's slices keeps a 0-d float32 step for each of the 4
    # tensors it is given: 16 bytes on every device, not 16 / 2. A pipeline stage holds its layers' tensors only.
    column = torch.nn.Linear(10, 6)
    row = torch.nn.Linear(6, 4)
    with torch.no_grad():
        sliced = [
            column.weight.chunk(2, dim=0)[rank],
            column.bias.chunk(2)[rank],
            row.weight.chunk(2, dim=1)[rank],
            row.bias,
        ]
    parameters = [torch.nn.Parameter(tensor.clone()) for tensor in sliced]
    optimizer = torch.optim.AdamW(parameters)
    for parameter in parameters:
        parameter.grad = torch.ones_like(parameter)
    optimizer.step()
    steps = [state["step"] for state in optimizer.state.values()]
    held = sum(step.numel() * step.element_size() for step in steps if step.dim() == 0)
    assert (len(steps), held) == (4, 16)
    result = paramcount.count("Sequential(Linear(10, 6), Linear(6, 4))")
    for zero in (0, 3):
        plan = plan_memory(result.tree, result.counts, PlanOptions(optimizer="adamw", tp=2, zero=zero, gpus=4))
        step = next(item for item in plan.per_device if item.label.startswith("optimizer state step"))
        assert (step.bytes, step.exact) == (held, True)
        assert [note.values for note in plan.assumptions if note.kind == "tp-scalars"] == [(("count", 4),)]
    plan = plan_memory(result.tree, result.counts, PlanOptions(optimizer="adamw", tp=2, pp=2))
    step = next(item for item in plan.per_device if item.label.startswith("optimizer state step"))
    assert (step.bytes, step.exact) == (held // 2, False)  # each stage its layers' steps: an even estimate


def test_lion_and_eight_bit_adam_by_derivation() -> None:
    # Linear(4096, 4096): weight 16,777,216 elements, bias 4,096 (exactly min_8bit_size, so 8-bit too).
    result = paramcount.count("Linear(4096, 4096)")
    lion = plan_memory(result.tree, result.counts, PlanOptions(optimizer="lion"))
    assert sum(i.bytes for i in lion.items if i.category == "optimizer") == 4 * (16_777_216 + 4_096)
    adam8 = plan_memory(result.tree, result.counts, PlanOptions(optimizer="adamw-8bit"))
    # Two uint8 states (1 byte each) + two float32 absmax per 256 elements + the shared maps (2 · 256 · 4).
    elements = 16_777_216 + 4_096
    blocks = 16_777_216 // 256 + 4_096 // 256
    expected = 2 * elements + 2 * 4 * blocks + 2_048
    assert sum(i.bytes for i in adam8.items if i.category == "optimizer") == expected
    small = paramcount.count("Linear(10, 10)")
    plan = plan_memory(small.tree, small.counts, PlanOptions(optimizer="adamw-8bit"))
    # under 4,096 elements bitsandbytes keeps two float32 states: 2 · 4 · 110 bytes
    assert sum(i.bytes for i in plan.items if i.category == "optimizer") == 2 * 4 * 110


class _LoraLinear(torch.nn.Module):
    """A hand-built LoRA layer (peft's structure): the frozen base plus A (r × in) and B (out × r), float32."""

    def __init__(self, base: torch.nn.Linear, rank: int) -> None:
        super().__init__()
        self.base = base.requires_grad_(False)
        self.lora_A = torch.nn.Linear(base.in_features, rank, bias=False)
        self.lora_B = torch.nn.Linear(rank, base.out_features, bias=False)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.base(inputs) + self.lora_B(self.lora_A(inputs))
        return result


def test_lora_adapters_and_their_training_state_match_torch() -> None:
    torch.manual_seed(0)
    rank = 4
    expression = "TransformerEncoder(TransformerEncoderLayer(32, 4, dim_feedforward=64), 2, enable_nested_tensor=False)"
    model = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(32, 4, dim_feedforward=64), 2, enable_nested_tensor=False
    )
    for layer in model.layers:
        layer.linear1 = _LoraLinear(layer.linear1, rank)
        layer.linear2 = _LoraLinear(layer.linear2, rank)
    for name, parameter in model.named_parameters():
        parameter.requires_grad_("lora_" in name)
    adapters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(adapters)
    model(torch.randn(5, 2, 32)).sum().backward()
    optimizer.step()

    result = paramcount.count(expression)
    options = PlanOptions(optimizer="adamw", lora_rank=rank, lora_targets="linear1,linear2")
    plan = plan_memory(result.tree, result.counts, options)
    adapter_bytes = sum(p.numel() * p.element_size() for p in adapters)
    # r·(in + out) per adapted Linear: 2 layers × (4·(32 + 64) + 4·(64 + 32)) = 1,536 parameters
    assert adapter_bytes == 4 * 1_536
    planned = {item.label.split(" ")[0]: item for item in plan.items}
    assert planned["LoRA"].count == 1_536
    held = _torch_bytes(model, optimizer)
    assert held["gradients"] == adapter_bytes
    assert _planned_bytes(plan) == {**held, "buffers": 0}


def test_qlora_nf4_base_by_derivation() -> None:
    # Linear(4096, 4096) as the base of QLoRA r=8: NF4 weight 16,777,216/2 + 4·262,144 bytes (absmax per 64),
    # the float32 bias stays (4 · 4,096), adapters 8·(4096 + 4096) float32 with gradients and AdamW states.
    result = paramcount.count("Sequential(Linear(4096, 4096))")
    options = PlanOptions(optimizer="adamw", lora_rank=8, quantization="nf4")
    plan = plan_memory(result.tree, result.counts, options)
    weights = [item for item in plan.items if item.category == "weights"]
    assert [item.bytes for item in weights] == [8_388_608 + 4 * 262_144, 4 * 4_096, 4 * 65_536]
    assert sum(i.bytes for i in plan.items if i.category == "gradients") == 4 * 65_536
    # AdamW: exp_avg and exp_avg_sq of the adapters + a float32 step for A and B
    assert sum(i.bytes for i in plan.items if i.category == "optimizer") == 2 * 4 * 65_536 + 2 * 4


TINY_MIXTRAL = {
    "model_type": "mixtral",
    "architectures": ["MixtralForCausalLM"],
    "hidden_size": 256,
    "intermediate_size": 384,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "num_local_experts": 4,
    "num_experts_per_tok": 2,
    "vocab_size": 1000,
}


def _quantised_linears(model: torch.nn.Module) -> list[tuple[int, int]]:
    """(out, in) of every Linear weight GPTQ/AWQ quantise in ``model``'s decoder layers, as their checkpoints
    store them: the attention's nn.Linear layers, and per expert of transformers 5's fused tensors the
    Linear layers of the unfused model (gate and up from ``gate_up_proj (E, 2i, h)``, down from ``down_proj
    (E, h, i)``)."""
    found = []
    for name, module in model.named_modules():
        if ".layers." not in name:
            continue
        if type(module) is torch.nn.Linear:
            found.append((module.out_features, module.in_features))
        elif type(module).__name__ == "MixtralExperts":
            experts, double_width, hidden = module.gate_up_proj.shape
            found += [(double_width // 2, hidden)] * (2 * experts)
            experts, hidden, width = module.down_proj.shape
            found += [(hidden, width)] * experts
    return found


@pytest.mark.parametrize("fmt", ["gptq-g128", "awq-g128"])
def test_gptq_and_awq_quantise_every_expert_as_a_linear_layer(fmt: str) -> None:
    # AutoGPTQ QuantLinear / AutoAWQ WQLinear_GEMM per Linear (out, in), g = 128: qweight in·out/8 bytes, qzeros
    # (int32, 8 per word) ⌈in/g⌉·out/2 bytes, scales (float16) 2·⌈in/g⌉·out bytes; GPTQ's g_idx 4·in bytes.
    import json

    from hf_oracle import transformers_model

    model = transformers_model(TINY_MIXTRAL, "MixtralForCausalLM")
    linears = _quantised_linears(model)
    assert len(linears) == 2 * (4 + 3 * 4)  # per layer: q, k, v, o and three Linear layers per expert
    values = sum(o * i // 2 + -(-i // 128) * o // 2 + 2 * -(-i // 128) * o for o, i in linears)
    total = sum(p.numel() for p in model.parameters())
    result = from_config_text(json.dumps(TINY_MIXTRAL))
    assert result.total == total
    plan = plan_memory(result.tree, result.counts, PlanOptions(quantization=fmt))
    weights = [item for item in plan.items if item.category == "weights"]
    other = 4 * (total - sum(o * i for o, i in linears))  # embeddings, norms, routers and the head in float32
    g_idx = [4 * sum(i for _, i in linears)] if fmt.startswith("gptq") else []
    assert [item.bytes for item in weights] == [values, *g_idx, other]
    assert not any(a.kind == "format-experts" for a in plan.assumptions)


def test_bitsandbytes_leaves_fused_experts_unquantised_and_says_so() -> None:
    # bitsandbytes replaces nn.Linear layers only; transformers 5 keeps the experts as 3-d nn.Parameters
    # (MixtralExperts.gate_up_proj, down_proj), which stay in the model's dtype (bitsandbytes issue #1849).
    import json

    from hf_oracle import transformers_model

    model = transformers_model(TINY_MIXTRAL, "MixtralForCausalLM")
    in_experts = sum(p.numel() for name, p in model.named_parameters() if ".experts." in name)
    linear = sum(m.weight.numel() for n, m in model.named_modules() if type(m) is torch.nn.Linear and n != "lm_head")
    result = from_config_text(json.dumps(TINY_MIXTRAL))
    plan = plan_memory(result.tree, result.counts, PlanOptions(quantization="nf4"))
    values, other = (item for item in plan.items if item.category == "weights")
    assert (values.count, other.count) == (linear, result.total - linear)
    assert in_experts == 2 * 4 * 3 * 256 * 384
    note = next(a for a in plan.assumptions if a.kind == "format-experts")
    assert dict(note.values) == {"name": "nf4", "parameters": in_experts, "dtype": "float32"}


# --- A config's quantization_config: the checkpoint's quantised layout, against transformers' own quantizers ---

TINY_DEEPSEEK_V3_FP8 = {
    "model_type": "deepseek_v3",
    "architectures": ["DeepseekV3ForCausalLM"],
    "hidden_size": 320,  # not a multiple of 128: the partial tiles are counted
    "intermediate_size": 600,
    "moe_intermediate_size": 256,  # a multiple of 128: see test_fp8_block128_is_fine_grained_fp8_to_the_byte
    "num_hidden_layers": 3,
    "first_k_dense_replace": 1,
    "n_routed_experts": 4,
    "n_shared_experts": 1,
    "num_experts_per_tok": 2,
    "n_group": 2,
    "topk_group": 1,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "q_lora_rank": 200,
    "kv_lora_rank": 100,
    "qk_nope_head_dim": 32,
    "qk_rope_head_dim": 16,
    "v_head_dim": 40,
    "vocab_size": 1000,
    "torch_dtype": "bfloat16",
    "quantization_config": {
        "quant_method": "fp8",
        "fmt": "e4m3",
        "weight_block_size": [128, 128],
        "activation_scheme": "dynamic",
    },
}


def _held(model: torch.nn.Module) -> int:
    """Bytes of every parameter and buffer of ``model`` (on meta: nothing allocated)."""
    tensors = [*model.parameters(), *model.buffers()]
    return sum(tensor.numel() * tensor.element_size() for tensor in tensors)


def _stored(config: dict[str, object]) -> tuple[int, paramcount.Report]:
    import json

    report = from_config_text(json.dumps(config)).report(sections=())
    return report.stored_parameter_bytes + report.stored_buffer_bytes, report


def test_fp8_block128_is_fine_grained_fp8_to_the_byte() -> None:
    # transformers' own FineGrainedFP8HfQuantizer, as from_pretrained runs it on a pre-quantised checkpoint: the
    # model in the config's bfloat16, then every nn.Linear but the head (get_keys_to_not_convert) replaced by
    # FP8Linear (float8 weight, float32 weight_scale_inv per 128 × 128 tile) and the fused experts by FP8Experts.
    # FP8Experts scales gate_up_proj as one (2i × h) matrix, max(⌈2i/128⌉, 2) tile rows, where the checkpoint stores
    # gate and up as Linear layers of ⌈i/128⌉ each: the same when i is a multiple of 128, as in every FP8 release.
    from transformers import FineGrainedFP8Config
    from transformers.quantizers.quantizer_finegrained_fp8 import FineGrainedFP8HfQuantizer

    from hf_oracle import transformers_model

    model = transformers_model(TINY_DEEPSEEK_V3_FP8, "DeepseekV3ForCausalLM").to(torch.bfloat16)
    settings = FineGrainedFP8Config(weight_block_size=(128, 128), activation_scheme="dynamic")
    quantizer = FineGrainedFP8HfQuantizer(settings, pre_quantized=True)
    quantizer._process_model_before_weight_loading(model)  # type: ignore[arg-type]  # a PreTrainedModel
    dtypes = {p.dtype for name, p in model.named_parameters() if name.startswith("model.layers.1.mlp.experts.")}
    assert dtypes == {torch.float8_e4m3fn, torch.float32}
    stored, report = _stored(TINY_DEEPSEEK_V3_FP8)
    assert stored == _held(model)
    assert report.stored_dtype.quantization == "fp8-block128"
    assert (report.stored_dtype.dtype, report.stored_dtype.rule) == ("bfloat16", "config-quantised")


def _tiny_gpt_oss() -> dict[str, object]:
    """gpt-oss-20b's shipped config (its MXFP4 quantization_config included), small."""
    from hf_oracle import shipped

    config = {key: value for key, value in shipped("openai--gpt-oss-20b.json").items() if key != "layer_types"}
    small = {"hidden_size": 320, "intermediate_size": 192, "head_dim": 32, "num_attention_heads": 4}
    return {**config, **small, "num_key_value_heads": 2, "num_hidden_layers": 2, "num_local_experts": 4}


def _mxfp4_checkpoint_bytes(model: torch.nn.Module) -> int:
    """The bytes of a gpt-oss MXFP4 checkpoint of ``model`` (transformers' Mxfp4GptOssExperts in place): the
    experts' packed values as the module holds them (uint8, two e2m1 values a byte) plus their e8m0 scales, one
    uint8 per 32 values, which transformers keeps outside the module (quantizer_mxfp4.py ``serialized_names``
    ``*_blocks`` and ``*_scales``; Mxfp4ReverseDeserialize: blocks ``(*scales.shape, 16)``); every other tensor
    in bfloat16, what ``dtype="auto"`` reads from the checkpoint (the module itself declares its biases float32)."""
    total = 0
    for parameter in [*model.parameters(), *model.buffers()]:
        if parameter.dtype == torch.uint8:
            total += parameter.numel() + parameter.numel() // 16  # 32 values in 16 bytes share one scale byte
        else:
            total += 2 * parameter.numel()
    return total


def test_mxfp4_is_gpt_oss_s_checkpoint_to_the_byte(monkeypatch: pytest.MonkeyPatch) -> None:
    # transformers' own replace_with_mxfp4_linear, which swaps each GptOssMLP's experts for Mxfp4GptOssExperts;
    # it fetches Triton kernels from the hub first (hub_kernels.get_kernel), which the meta build never calls.
    from transformers.integrations import hub_kernels, mxfp4
    from transformers.utils.quantization_config import Mxfp4Config

    from hf_oracle import transformers_model

    monkeypatch.setattr(hub_kernels, "get_kernel", lambda *args, **kwargs: None)
    config = _tiny_gpt_oss()
    model = transformers_model(config, "GptOssForCausalLM").to(torch.bfloat16)
    skipped = ["model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"]
    assert config["quantization_config"] == {"modules_to_not_convert": skipped, "quant_method": "mxfp4"}
    mxfp4.replace_with_mxfp4_linear(model, Mxfp4Config(modules_to_not_convert=skipped), skipped)
    experts = [type(module).__name__ for name, module in model.named_modules() if name.endswith(".experts")]
    assert experts == ["Mxfp4GptOssExperts"] * 2
    stored, report = _stored(config)
    assert stored == _mxfp4_checkpoint_bytes(model)
    assert report.stored_dtype.quantization == "mxfp4"
    assert (report.stored_dtype.dtype, report.stored_dtype.rule) == ("bfloat16", "checkpoint-quantised")


def test_training_plans_keep_the_dtype_of_a_quantised_config() -> None:
    # A config's quantised layout is how its checkpoint ships; training plans keep the dtype (the config's
    # bfloat16 here), as they did before the layout was read.
    import json

    result = from_config_text(json.dumps(TINY_DEEPSEEK_V3_FP8))
    plan = plan_memory(result.tree, result.counts, PlanOptions(optimizer="adamw"))
    assert (plan.dtype_choice.dtype, plan.dtype_choice.rule, plan.dtype_choice.quantization) == (
        "bfloat16",
        "config",
        None,
    )
    weights = [item for item in plan.items if item.category == "weights"]
    assert [item.bytes for item in weights] == [2 * result.total]


# --- LoRA adapters against peft's get_peft_model ----------------------------------------------------------------

LORA_CONFIGS = [
    # (shipped hub id, target_modules as passed to LoraConfig: None is peft's default for the model type)
    ("meta-llama/Llama-3.2-1B", None),
    ("meta-llama/Llama-3.2-1B", "all-linear"),
    ("openai-community/gpt2", None),  # c_attn, a transformers Conv1D
    ("openai-community/gpt2", "all-linear"),
    ("facebook/opt-125m", None),
    ("google-t5/t5-small", None),  # q, v in encoder, decoder self- and cross-attention
    ("google-t5/t5-small", "all-linear"),
    ("bert-base-uncased", None),  # query, value
    ("bert-base-uncased", "all-linear"),  # the tied MLM decoder is the output embedding: excluded
    ("microsoft/phi-2", None),  # q_proj, v_proj, fc1, fc2
    ("microsoft/Phi-3-mini-4k-instruct", "all-linear"),  # phi3: no peft default, ours is all-linear
]


def _peft_adapter_parameters(hub_id: str, targets: str | None) -> int:
    import json

    import peft

    from hf_oracle import default_architecture, transformers_model
    from paramcount.sources.hf.hub import hub_config_path

    config = json.loads(Path(str(hub_config_path(hub_id))).read_text(encoding="utf-8"))
    model = transformers_model(config, default_architecture(config, ""))
    adapted = peft.get_peft_model(model, peft.LoraConfig(r=16, target_modules=targets))
    return sum(p.numel() for name, p in adapted.named_parameters() if "lora_" in name)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize(("hub_id", "targets"), LORA_CONFIGS)
def test_lora_adapters_match_peft(hub_id: str, targets: str | None) -> None:
    ours = plan_memory(
        paramcount.count(hub_id).tree, None, PlanOptions(optimizer="adamw", lora_rank=16, lora_targets=targets)
    )
    adapters = next(item for item in ours.items if item.label.startswith("LoRA"))
    assert adapters.count == _peft_adapter_parameters(hub_id, targets)


def test_peft_default_targets_are_peft_s_own() -> None:
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as theirs

    listed = {key: tuple(value) for key, value in theirs.items() if not isinstance(value, str)}
    assert listed == planner.weights.PEFT_DEFAULT_TARGETS


def test_lora_without_a_linear_layer_says_so() -> None:
    with pytest.raises(ArgumentError, match=r"^lora_rank: LoRA adapts Linear layers and this model has none \("):
        plan_memory(paramcount.count("Conv2d(3, 64, 3)").tree, None, PlanOptions(optimizer="adamw", lora_rank=8))

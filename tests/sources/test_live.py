"""The live-module door agrees with torch: names, shapes, trainability, ties counted once."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import torch

import paramcount
from oracle import our_tensors, torch_tensors
from paramcount.errors import ArgumentError
from paramcount.sources.live import from_module
from paramcount.tree import iter_buffers, iter_modules_collapsed, iter_params, parameter_count

if TYPE_CHECKING:
    from collections.abc import Iterator

    from paramcount.tree import Module


def test_shared_module_is_counted_once_like_torch() -> None:
    with torch.device("meta"):
        shared = torch.nn.Linear(8, 8)
        other = torch.nn.Linear(8, 8)
        other.weight = shared.weight  # a tied tensor: torch lists it once
        model = torch.nn.Sequential(shared, torch.nn.BatchNorm1d(8), shared, other, torch.nn.Linear(8, 2))
        model[4].requires_grad_(False)
    tree = from_module(model)
    params = {name: (p.sizes, p.trainable) for name, p in iter_params(tree)}
    buffers = {name: (b.sizes, b.dtype) for name, b in iter_buffers(tree)}
    assert (params, buffers) == torch_tensors(model)
    # 0: 64 + 8; 1: 8 + 8; 2 is module 0 again (torch skips it); 3: its own bias 8; 4: 16 + 2 → 114.
    assert parameter_count(tree) == sum(p.numel() for p in model.parameters()) == 114
    # Module 2 is module 0 again: listed where torch calls it, its tensors tied to their first owner.
    assert [(name, p.tied_to) for name, p in iter_params(tree, include_tied=True) if p.tied_to] == [
        ("2.weight", "0.weight"),
        ("2.bias", "0.bias"),
        ("3.weight", "0.weight"),
    ]


def test_public_from_module_reports() -> None:
    with torch.device("meta"):
        model = torch.nn.TransformerEncoderLayer(32, 4, 64)
    result = paramcount.from_module(model)
    assert result.total == sum(p.numel() for p in model.parameters())
    report = result.report()
    assert report.kind == "TransformerEncoderLayer"
    assert report.program is None  # nothing to rebuild a live module from


def test_catalog_classes_carry_their_real_arguments() -> None:
    from paramcount.layers import build

    with torch.device("meta"):
        model = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, (3, 5), stride=2, padding=1, bias=False),
            torch.nn.LayerNorm(8, eps=1e-6, bias=False),
            torch.nn.LSTM(8, 16, num_layers=2, bidirectional=True, proj_size=4),
            torch.nn.TransformerEncoderLayer(8, 2, 32, activation="gelu", norm_first=True),
            torch.nn.MultiheadAttention(8, 2, bias=False, add_bias_kv=True, kdim=6, vdim=5),
        )
    tree = from_module(model)
    expected = [
        build(
            "Conv2d", (3, 8, (3, 5)), (("stride", (2, 2)), ("padding", (1, 1)), ("dilation", (1, 1)), ("bias", False))
        ),
        build("LayerNorm", ((8,),), (("eps", 1e-6), ("bias", False))),
        build("LSTM", (8, 16), (("num_layers", 2), ("bidirectional", True), ("proj_size", 4))),
        build("TransformerEncoderLayer", (8, 2, 32), (("activation", "gelu"), ("norm_first", True))),
        build("MultiheadAttention", (8, 2), (("bias", False), ("add_bias_kv", True), ("kdim", 6), ("vdim", 5))),
    ]
    assert [child.args for child in tree.children] == [module.args for module in expected]
    explanation = paramcount.from_module(model).report().explanation
    assert explanation is not None
    assert explanation.total == sum(p.numel() for p in model.parameters())


def test_decoder_layers_and_the_whole_transformer_get_their_formulas() -> None:
    # TransformerDecoderLayer keeps only its activation function (no activation_relu_or_gelu, which the encoder
    # layer has): reading that flag raised an AttributeError for nn.Transformer and every decoder.
    with torch.device("meta"):
        model = torch.nn.Transformer(16, 2, 1, 2, 32, activation="gelu", batch_first=True)
        layer = torch.nn.TransformerDecoderLayer(16, 2, 32, activation=torch.nn.functional.relu)
    report = paramcount.from_module(model).report()
    # encoder layer: attention 3·16·16 + 48 + 16·16 + 16 = 1,088, feed-forward 544 + 528, 2 norms 64 → 2,224;
    # decoder layer: 2 attentions 2,176 + 1,072 + 3 norms 96 = 3,344; 2,224 + 2 × 3,344 + 2 final norms 64.
    assert report.counts.total == sum(p.numel() for p in model.parameters()) == 8_976
    assert report.raw_shapes == ()  # every module the catalog's, the activation read
    decoder = from_module(layer)
    assert decoder.args == from_module(torch.nn.TransformerDecoderLayer(16, 2, 32, device="meta")).args
    assert parameter_count(decoder) == sum(p.numel() for p in layer.parameters())


def test_other_classes_keep_raw_shapes_and_say_why() -> None:
    class Scale(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gain = torch.nn.Parameter(torch.ones(4))

    class Linear(torch.nn.Module):  # a user class named like a catalog class is never taken for it
        def __init__(self) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(torch.ones(2, 4))

    linear = torch.nn.Linear(4, 3)
    linear.weight = torch.nn.Parameter(torch.ones(3, 5))  # no longer what its arguments build
    report = paramcount.from_module(torch.nn.Sequential(Scale(), Linear(), linear)).report()
    assert [(raw.path, raw.kind, raw.reason) for raw in report.raw_shapes] == [
        ("0", "Scale", "not a torch.nn catalog class: shapes as the module holds them"),
        ("1", f"{__name__}.test_other_classes_keep_raw_shapes_and_say_why.<locals>.Linear",
         "not a torch.nn catalog class: shapes as the module holds them"),
        ("2", "torch.nn.modules.linear.Linear", "weight is (3, 5) on the module, (3, 4) from its arguments"),
    ]  # fmt: skip
    assert report.counts.total == 4 + 8 + 15 + 3
    assert "Modules with raw shapes" in str(report)


@pytest.mark.filterwarnings(
    "ignore:`torch.jit.script_method` is deprecated:DeprecationWarning"
)  # torch.compile's import
def test_identical_blocks_collapse_and_wrappers_unwrap() -> None:
    model = torch.nn.Sequential(*(torch.nn.Linear(8, 8) for _ in range(6)), torch.nn.Linear(8, 2))
    tree = from_module(torch.compile(model))
    assert [(child.name, child.kind, child.repeat) for child in tree.children] == [
        ("0", "Linear", 6),
        ("6", "Linear", 1),
    ]
    assert from_module(torch.nn.DataParallel(model)) == tree
    # the JSON's query and the provenance name the model, as the text's title does: it said OptimizedModule
    for wrapped in (torch.compile(model), torch.nn.DataParallel(model)):
        result = paramcount.from_module(wrapped)
        assert (result.query, result.report().to_dict()["query"]) == ("Sequential", "Sequential")
        assert result.provenance == paramcount.from_module(model).provenance


def test_distributed_data_parallel_is_unwrapped() -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:29531", rank=0, world_size=1)
    try:
        model = torch.nn.Linear(4, 2)
        assert from_module(torch.nn.parallel.DistributedDataParallel(model)) == from_module(model)
    finally:
        dist.destroy_process_group()


def test_hugging_face_models_use_their_config() -> None:
    import transformers

    config = transformers.GPT2Config(n_layer=3, n_embd=32, n_head=4, vocab_size=100, n_positions=16)
    with torch.device("meta"):
        model = transformers.GPT2LMHeadModel(config)
    model.transformer.h[0].requires_grad_(False)
    tree = from_module(model)
    facts = dict(tree.attributes)
    assert (tree.kind, facts["model_type"], facts["counted_by"]) == ("GPT2LMHeadModel", "gpt2", "config")
    params = {name: (p.sizes, p.trainable) for name, p in iter_params(tree)}
    assert params == {name: (tuple(p.shape), p.requires_grad) for name, p in model.named_parameters()}
    layers = next(child for child in tree.children[0].children if child.name == "h")
    assert [(block.name, block.repeat) for block in layers.children] == [("0", 1), ("1", 2)]  # block 0 is frozen


@pytest.fixture
def gloo_group() -> Iterator[None]:
    """A one-process gloo group on a free port, as FSDP needs one; destroyed after the test."""
    import socket

    import torch.distributed as dist

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


def _sharded_model() -> torch.nn.Sequential:
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.LayerNorm(8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    model[1].requires_grad_(False)
    return model


def _facts(tree: Module) -> tuple[object, ...]:
    return (parameter_count(tree), [(child.name, child.kind) for child in tree.children])


@pytest.mark.usefixtures("gloo_group")
@pytest.mark.filterwarnings("ignore:FSDP is switching to use `NO_SHARD`:UserWarning")  # world size 1
def test_fsdp1_with_original_params_is_unwrapped() -> None:
    from torch.distributed.fsdp import FullyShardedDataParallel

    model = _sharded_model()
    oracle = torch_tensors(model)
    wrapped = FullyShardedDataParallel(model, device_id=torch.device("cpu"), use_orig_params=True)
    tree = from_module(wrapped)
    assert our_tensors(tree) == oracle
    assert _facts(tree) == (
        4 * 8 + 8 + 8 + 8 + 8 * 3 + 3,
        [("0", "Linear"), ("1", "LayerNorm"), ("2", "ReLU"), ("3", "Linear")],
    )


@pytest.mark.usefixtures("gloo_group")
@pytest.mark.filterwarnings("ignore:FSDP is switching to use `NO_SHARD`:UserWarning")  # world size 1
def test_fsdp1_flat_parameters_are_refused_not_counted_as_zero() -> None:
    from torch.distributed.fsdp import FullyShardedDataParallel

    model = _sharded_model().requires_grad_(True)  # one flat parameter needs one requires_grad
    wrapped = FullyShardedDataParallel(model, device_id=torch.device("cpu"), use_orig_params=False)
    assert [name for name, _ in wrapped.module.named_parameters()] == ["_flat_param"]  # all there is to count
    with pytest.raises(ArgumentError, match="use_orig_params=True"):
        from_module(wrapped)


@pytest.mark.usefixtures("gloo_group")
def test_fsdp2_sharded_modules_keep_their_kind_and_shapes() -> None:
    from torch.distributed.fsdp import fully_shard

    model = _sharded_model()
    oracle = torch_tensors(model)
    plain = from_module(_sharded_model())
    fully_shard(model[0])
    fully_shard(model)  # in place: model[0] is now an FSDPLinear, its parameters DTensors of the global shape
    assert type(model[0]).__name__ == "FSDPLinear"
    tree = from_module(model)
    assert our_tensors(tree) == oracle
    assert tree == plain
    assert _facts(tree) == (
        4 * 8 + 8 + 8 + 8 + 8 * 3 + 3,
        [("0", "Linear"), ("1", "LayerNorm"), ("2", "ReLU"), ("3", "Linear")],
    )


# --- Fused experts: marked as the config door marks them, so quantisation formats reach them --------------------

SIZES: dict[str, object] = {
    "hidden_size": 256,  # h; every expert's width i is 200, not a multiple of 128: partial groups and tiles count
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 1000,
}
TINY_MOE: dict[str, dict[str, object]] = {
    "MixtralForCausalLM": {"model_type": "mixtral", "intermediate_size": 200, "num_local_experts": 4},
    "Qwen3MoeForCausalLM": {"model_type": "qwen3_moe", "moe_intermediate_size": 200, "num_experts": 4, "head_dim": 64},
    # experts stored (E, h, 2i) and (E, i, h), with biases
    "GptOssForCausalLM": {"model_type": "gpt_oss", "intermediate_size": 200, "num_local_experts": 4, "head_dim": 64},
}
"""Tiny MoE configs with 4 experts, 2 of them per token (with ``SIZES``)."""
FORMATS = ("gptq-g128", "awq-g128", "fp8-block128", "fp8", "int4", "nf4", "mxfp4")


def _tiny_moe(architecture: str) -> dict[str, object]:
    return {**SIZES, **TINY_MOE[architecture], "num_experts_per_tok": 2}


def _moe_model(architecture: str) -> torch.nn.Module:
    from hf_oracle import transformers_model

    return transformers_model(_tiny_moe(architecture), architecture)


def _weights(result: paramcount.Result, fmt: str) -> tuple[tuple[tuple[str, int, int], ...], tuple[object, ...]]:
    """The plan's weight lines in ``fmt`` (label, parameters, bytes) and its notes on the format."""
    from paramcount.analysis.planner import PlanOptions, plan_memory

    plan = plan_memory(result.tree, result.counts, PlanOptions(quantization=fmt))
    items = tuple((item.label, item.count, item.bytes) for item in plan.items if item.category == "weights")
    return items, tuple((a.kind, a.values) for a in plan.assumptions if a.kind.startswith("format"))


def _gptq_awq_bytes(model: torch.nn.Module, experts: int, hidden: int, width: int, fmt: str) -> list[int]:
    """The weight lines of ``fmt`` derived from the buffers AutoGPTQ's QuantLinear / AutoAWQ's WQLinear_GEMM store
    per Linear (out o, in n), g = 128: qweight o·n/2 bytes, qzeros (int32, 8 per word) ⌈n/g⌉·o/2, scales
    (float16) 2·⌈n/g⌉·o; GPTQ's g_idx (int32) 4·n on a line of its own; every other parameter in float32.
    The quantised Linear layers: the nn.Linear layers of the decoder layers (not the head), and per layer and
    expert the three Linear layers of the unfused model, gate and up (out i, in h) and down (out h, in i)."""
    linears = [
        (module.out_features, module.in_features)
        for name, module in model.named_modules()
        if ".layers." in name and type(module) is torch.nn.Linear
    ]
    layers = sum(1 for name, _ in model.named_modules() if name.endswith(".experts"))
    linears += [(width, hidden), (width, hidden), (hidden, width)] * experts * layers
    values = sum(o * n // 2 + -(-n // 128) * o // 2 + 2 * -(-n // 128) * o for o, n in linears)
    g_idx = [4 * sum(n for _, n in linears)] if fmt.startswith("gptq") else []
    other = 4 * (sum(p.numel() for p in model.parameters()) - sum(o * n for o, n in linears))
    return [values, *g_idx, other]


def _expert_marks(tree: Module) -> list[dict[str, object]]:
    """The attributes of every module marked as experts, less the raw-shapes reason."""
    return [
        {key: value for key, value in module.attributes if key != "raw_shapes"}
        for _, module, _ in iter_modules_collapsed(tree)
        if "num_experts" in dict(module.attributes)
    ]


@pytest.mark.parametrize("walked", [False, True], ids=["as-built", "walked"])
@pytest.mark.parametrize("architecture", list(TINY_MOE))
def test_fused_experts_of_a_live_model_are_quantised_as_the_config_door_quantises_them(
    architecture: str, walked: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "walked": the tree the walk gives a model the config door cannot build (another model type, a peft model,
    # a changed module), which marks the experts from the module itself (num_experts, config, is_transposed).
    import json

    from paramcount.sources import live

    if walked:
        monkeypatch.setattr(live, "_from_hf_config", lambda module: None)
    model = _moe_model(architecture)
    config = _tiny_moe(architecture)
    result = paramcount.from_module(model)
    assert not walked or "counted_by" not in dict(result.provenance.facts())
    from_config = paramcount.from_config_text(json.dumps({**config, "architectures": [architecture]}))
    assert result.total == from_config.total == sum(p.numel() for p in model.parameters())
    in_experts = sum(p.numel() for name, p in model.named_parameters() if ".experts." in name)
    assert result.active == from_config.active == result.total - in_experts // 2  # 2 of the 4 experts run
    for fmt in FORMATS:
        assert _weights(result, fmt) == _weights(from_config, fmt), fmt
    for fmt in ("gptq-g128", "awq-g128"):
        items = _weights(result, fmt)[0]
        assert [item[2] for item in items] == _gptq_awq_bytes(model, 4, 256, 200, fmt)


def test_experts_stored_transposed_are_quantised_per_expert_in_their_layout() -> None:
    # Aria (no config-door builder: the walk) stores its experts (E, h, 2i) and (E, i, h), which transformers'
    # use_experts_implementation(is_transposed=True) says; Aria's config names no num_experts_per_tok.
    from hf_oracle import transformers_model

    config = {**SIZES, "model_type": "aria_text", "intermediate_size": 200, "moe_num_experts": 4, "moe_topk": 2}
    model = transformers_model(config, "AriaTextForCausalLM")
    result = paramcount.from_module(model)
    assert _expert_marks(result.tree) == [{"num_experts": 4, "experts_transposed": True}]
    assert result.active is None  # no experts_per_token: the active count is not guessed
    for fmt in ("gptq-g128", "awq-g128"):
        items = _weights(result, fmt)[0]
        assert [item[2] for item in items] == _gptq_awq_bytes(model, 4, 256, 200, fmt)


def test_modules_without_fused_experts_are_not_marked(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from hf_oracle import transformers_model
    from paramcount.sources import live

    class Heads(torch.nn.Module):  # a 3-d parameter, but no experts
        def __init__(self) -> None:
            super().__init__()
            self.num_experts = 3  # not the leading size of its 3-d parameter
            self.weight = torch.nn.Parameter(torch.ones(4, 8, 8))

    tree = from_module(Heads())
    assert tree.attributes == (("raw_shapes", "not a torch.nn catalog class: shapes as the module holds them"),
                               ("dtypes_stated", True))  # fmt: skip
    monkeypatch.setattr(live, "_from_hf_config", lambda module: None)
    config = {**SIZES, "model_type": "llama", "intermediate_size": 200}
    result = paramcount.from_module(transformers_model(config, "LlamaForCausalLM"))
    assert _expert_marks(result.tree) == []
    from_config = paramcount.from_config_text(json.dumps(config))
    assert result.active is from_config.active is None
    for fmt in FORMATS:
        assert _weights(result, fmt) == _weights(from_config, fmt), fmt

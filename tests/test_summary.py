"""``paramcount.summary`` against torchinfo 1.8 on the same models, and its activation measurement against the
tensors one real training step saves on the CPU.

torchinfo's rules, as its source states them (torchinfo/layer_info.py, ``calculate_macs``; model_statistics.py):
a leaf layer's MACs are ``output[0] × params`` ("weight"/"bias"), ``params × prod(output[:1] + output[2:])`` for
classes whose name contains "Conv", and ``prod(output[:2]) × params`` for RNN tensors (``weight_ih_l0`` …); its
totals add the leaf layers only. Ours are FlopCounterMode's FLOPs / 2. Where both are right they differ only
by torchinfo's bias term (one MAC per bias element per output position), which each test writes out.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from typing import Any

import pytest
import torch
import torch.nn.functional as F
import torchinfo
from torch import nn

import paramcount
from paramcount.errors import ArgumentError, ShapeError
from paramcount.report import Report


def torchinfo_leaves(model: nn.Module, **options: Any) -> tuple[Any, list[Any]]:
    stats = torchinfo.summary(model, verbose=0, mode="train", device="cpu", **options)
    return stats, [layer for layer in stats.summary_list if layer.is_leaf_layer and layer.executed]


def our_leaves(report: Report, model: nn.Module) -> list[tuple[str, str, tuple[int, ...], int]]:
    """(path, kind, output shape, MACs) per call of a leaf module, repeated rows expanded."""
    assert report.shapes is not None
    leaves = {path for path, module in model.named_modules() if next(module.children(), None) is None}
    labels = _collapsed_paths(report)
    rows = []
    for row in report.shapes.modules:
        paths = labels.get(row.path, [row.path])
        for path in paths:  # a row of a repeated block stands for the calls of all its copies
            if path in leaves:
                assert row.output_shape is not None
                assert row.macs is not None
                rows.extend(
                    [(path, row.kind.rsplit(".", 1)[-1], row.output_shape, row.macs)] * (row.times // len(paths))
                )
    return rows


def _collapsed_paths(report: Report) -> dict[str, list[str]]:
    """``layers.0-1.linear1`` → its copies' paths (repeated rows stand for several modules)."""
    assert report.shapes is not None
    found: dict[str, list[str]] = {}
    for row in report.shapes.modules:
        paths = [""]
        for part in row.path.split(".") if row.path else []:
            first, _, last = part.partition("-")
            options = [str(n) for n in range(int(first), int(last) + 1)] if last.isdigit() else [part]
            paths = [f"{p}.{o}" if p else o for p in paths for o in options]
        found[row.path] = paths
    return found


def by_module(model: nn.Module, leaves: list[Any]) -> Counter[tuple[str, tuple[int, ...]]]:
    names = {id(module): path for path, module in model.named_modules()}
    return Counter((names[id(layer.module)], tuple(layer.output_size)) for layer in leaves)


def bias_macs(module: nn.Module, output: tuple[int, ...]) -> int:
    """torchinfo's extra MACs: every bias element once per output position (batch × spatial, or batch)."""
    bias = getattr(module, "bias", None)
    if not isinstance(bias, torch.Tensor):
        return 0
    positions = math.prod(output[:1] + output[2:]) if "Conv" in type(module).__name__ else output[0]
    return bias.numel() * positions


class CNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.classifier(torch.flatten(self.features(x), 1))
        return result


def _double_conv(inputs: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(inputs, outputs, 3, padding=1), nn.ReLU(), nn.Conv2d(outputs, outputs, 3, padding=1))


class UNet(nn.Module):
    """Two levels, skip connections joined by torch.cat, a transposed convolution to go up."""

    def __init__(self) -> None:
        super().__init__()
        self.down1, self.down2 = _double_conv(3, 8), _double_conv(8, 16)
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ConvTranspose2d(16, 8, 2, stride=2)
        self.merge = _double_conv(16, 8)
        self.head = nn.Conv2d(8, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.down1(x)
        deep = self.down2(self.pool(skip))
        result: torch.Tensor = self.head(self.merge(torch.cat([skip, self.up(deep)], dim=1)))
        return result


class Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.encoder(x)
        return result


class Tagger(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(50, 16)
        self.lstm = nn.LSTM(16, 24, num_layers=2, batch_first=True)
        self.head = nn.Linear(24, 5)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        output, _ = self.lstm(self.embedding(tokens))
        result: torch.Tensor = self.head(output[:, -1])
        return result


class Block(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, width = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(width, dim=2)
        q, k, v = (t.view(batch, tokens, self.heads, -1).transpose(1, 2) for t in (q, k, v))
        attended = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(attended.transpose(1, 2).reshape(batch, tokens, width))
        result: torch.Tensor = x + self.mlp(self.norm2(x))
        return result


class GPT(nn.Module):
    def __init__(self, vocab: int = 64, width: int = 32, heads: int = 4, layers: int = 2) -> None:
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, width), nn.Embedding(16, width)
        self.blocks = nn.ModuleList(Block(width, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(width)
        self.lm_head = nn.Linear(width, vocab, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.wte(tokens) + self.wpe(torch.arange(tokens.shape[1], device=tokens.device))
        for block in self.blocks:
            x = block(x)
        result: torch.Tensor = self.lm_head(self.norm(x))
        return result


def test_cnn_agrees_with_torchinfo() -> None:
    model = CNN()
    report = paramcount.summary(model, input_size=(2, 3, 16, 16))
    stats, leaves = torchinfo_leaves(model, input_size=(2, 3, 16, 16))
    assert (report.counts.total, report.counts.trainable) == (stats.total_params, stats.trainable_params)
    ours = our_leaves(report, model)
    assert Counter((path, shape) for path, _, shape, _ in ours) == by_module(model, leaves)
    modules = dict(model.named_modules())
    for layer in leaves:
        path = next(p for p, m in modules.items() if m is layer.module)
        macs = next(m for p, _, _, m in ours if p == path)
        if isinstance(layer.module, nn.Conv2d | nn.Linear):  # matmul layers: torchinfo adds its bias term
            assert layer.macs == macs + bias_macs(layer.module, tuple(layer.output_size)), path
        else:  # torchinfo counts batch × parameters for a BatchNorm; it multiplies nothing
            assert macs == 0, path
    # conv1: 16·3·3·3 MACs at 2·16·16 positions; conv2: 32·16·3·3 at 2·8·8; the head: 2·32·10.
    assert report.shapes is not None
    assert report.shapes.total_macs == 16 * 27 * 2 * 256 + 32 * 144 * 2 * 64 + 2 * 320


def test_unet_skip_connections_and_transposed_convolution() -> None:
    model = UNet()
    report = paramcount.summary(model, input_size=(1, 3, 32, 32))
    stats, leaves = torchinfo_leaves(model, input_size=(1, 3, 32, 32))
    assert report.counts.total == stats.total_params
    ours = our_leaves(report, model)
    assert Counter((path, shape) for path, _, shape, _ in ours) == by_module(model, leaves)
    up = next(layer for layer in leaves if layer.module is model.up)
    # torchinfo multiplies the weight by the *output* positions (32·32 = 4·16·16): 4× the real work of a
    # stride-2 transposed convolution, whose every input position (16·16) multiplies the 16·8·2·2 weight once.
    assert up.macs == (16 * 8 * 2 * 2 + 8) * 32 * 32
    assert next(m for p, _, _, m in ours if p == "up") == 16 * 8 * 2 * 2 * 16 * 16
    assert report.shapes is not None
    assert report.shapes.output_shape == (1, 2, 32, 32)


def test_transformer_encoder_counts_attention_torchinfo_misses() -> None:
    model = Encoder()
    report = paramcount.summary(model, input_size=(2, 10, 32))
    stats, leaves = torchinfo_leaves(model, input_size=(2, 10, 32))
    assert report.counts.total == stats.total_params == sum(p.numel() for p in model.parameters())
    ours = our_leaves(report, model)
    assert Counter((path, shape) for path, _, shape, _ in ours) == by_module(model, leaves)
    # Per layer: the input projection (20 tokens × 32 × 96), attention (2 × 4 heads × 10 × 10 × 8, for QKᵀ
    # and for the weighted values), the output projection (20 × 32 × 32) and the feed-forward (2 × 20 × 32 × 64).
    per_layer = 20 * 32 * 96 + 2 * 2 * 4 * 10 * 10 * 8 + 20 * 32 * 32 + 2 * 20 * 32 * 64
    assert report.shapes is not None
    assert report.shapes.total_macs == 2 * per_layer
    # torchinfo adds leaf layers only: self_attn holds out_proj, which its forward never calls, so attention
    # is not a leaf and is missing; a Linear's MACs are batch × parameters, whatever the sequence length.
    linear = 2 * (32 * 64 + 64) + 2 * (64 * 32 + 32)
    assert stats.total_mult_adds == 2 * (linear + 2 * (2 * 64))  # + two LayerNorms' batch × parameters


def test_lstm_agrees_with_torchinfo_but_for_biases() -> None:
    model = Tagger()
    report = paramcount.summary(model, input_size=(3, 7), dtypes=[torch.long])
    stats, leaves = torchinfo_leaves(model, input_size=(3, 7), dtypes=[torch.long])
    assert report.counts.total == stats.total_params
    ours = {path: macs for path, _, _, macs in our_leaves(report, model)}
    lstm = next(layer for layer in leaves if layer.module is model.lstm)
    biases = sum(p.numel() for name, p in model.lstm.named_parameters() if name.startswith("bias"))
    # Per step of each of 3 × 7 positions: 4·24·(16 + 24) + 4·24·(24 + 24) multiply-adds.
    assert ours["lstm"] == 21 * (4 * 24 * 40 + 4 * 24 * 48)
    assert lstm.macs == ours["lstm"] + 21 * biases
    assert ours["embedding"] == 0  # a lookup; torchinfo counts batch × the whole table
    assert report.shapes is not None
    assert report.shapes.output_shape == (3, 5)


def test_gpt_with_tied_embeddings() -> None:
    model = GPT()
    report = paramcount.summary(model, input_size=(2, 12), dtypes=[torch.long])
    stats, _ = torchinfo_leaves(model, input_size=(2, 12), dtypes=[torch.long])
    untied = sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False))
    assert report.counts.total == sum(p.numel() for p in model.parameters()) == untied - 64 * 32
    assert [(t.name, t.tied_to) for t in report.counts.tied_tensors] == [("lm_head.weight", "wte.weight")]
    assert stats.total_params == untied  # torchinfo counts the shared table twice
    # Per block: qkv 24·32·96, proj 24·32·32, mlp 2·24·32·128, attention 2·(2·4·12·12·8) (causal: torch's
    # SDPA still multiplies the whole 12×12 matrix); the head 24·32·64.
    block = 24 * 32 * 96 + 24 * 32 * 32 + 2 * 24 * 32 * 128 + 2 * 2 * 4 * 12 * 12 * 8
    assert report.shapes is not None
    assert report.shapes.total_macs == 2 * block + 24 * 32 * 64
    attention = [row for row in report.shapes.modules if row.path == "blocks.0-1"]
    assert attention[0].times == 2
    assert attention[0].macs == block


def test_frozen_layers_plan_gradients_for_the_trainable_only() -> None:
    model = CNN()
    model.features.requires_grad_(False)
    report = paramcount.summary(model, input_size=(2, 3, 16, 16))
    stats, _ = torchinfo_leaves(model, input_size=(2, 3, 16, 16))
    assert (report.counts.trainable, report.counts.non_trainable) == (
        stats.trainable_params,
        stats.total_params - stats.trainable_params,
    )
    assert report.plan is not None
    gradients = [item for item in report.plan.items if item.category == "gradients"]
    assert sum(item.bytes for item in gradients) == 4 * (32 * 10 + 10)


def test_module_reused_twice_counted_once_run_twice() -> None:
    shared = nn.Linear(8, 8)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    report = paramcount.summary(model, input_size=(4, 8))
    stats, _leaves = torchinfo_leaves(model, input_size=(4, 8))
    assert report.counts.total == stats.total_params == 72
    assert report.shapes is not None
    (row,) = [row for row in report.shapes.modules if row.path == "0"]
    assert (row.times, row.macs) == (2, 4 * 8 * 8)
    assert stats.total_mult_adds == 2 * (4 * 8 * 8 + 4 * 8)  # both calls, each with its bias term
    assert [(t.name, t.tied_to) for t in report.counts.tied_tensors] == [("2.weight", "0.weight"), ("2.bias", "0.bias")]


def test_peft_lora_adapters_and_trainable_subset(capsys: pytest.CaptureFixture[str]) -> None:
    import peft

    base = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
    model = peft.get_peft_model(base, peft.LoraConfig(r=2, target_modules=["0", "2"]))
    report = paramcount.summary(model, input_size=(3, 16))
    model.print_trainable_parameters()
    printed = capsys.readouterr().out
    expected = (
        f"trainable params: {report.counts.trainable:,} || all params: {report.counts.total:,} || "
        f"trainable%: {100 * report.counts.trainable / report.counts.total:.4f}"
    )
    assert printed.strip() == expected
    # LoRA r=2 on Linear(16, 32): A 2×16 and B 32×2; on Linear(32, 4): A 2×32 and B 4×2.
    facts = dict(report.provenance.facts())
    assert facts["adapter_parameters"] == str(2 * 16 + 32 * 2 + 2 * 32 + 4 * 2) == str(report.counts.trainable)
    assert facts["base_parameters"] == str(16 * 32 + 32 + 32 * 4 + 4)
    stats, _ = torchinfo_leaves(model, input_size=(3, 16))
    assert (report.counts.total, report.counts.trainable) == (stats.total_params, stats.trainable_params)
    assert "peft LORA: 168 adapter + 676 base parameters" in str(report)


def _real_saved_bytes(model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> int:
    """One real training step on the CPU: the distinct storages autograd saves, parameters excluded."""
    parameters = {t.untyped_storage().data_ptr() for t in (*model.parameters(), *model.buffers())}
    saved: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameters:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        output = model(*inputs)
    output.float().sum().backward()
    return sum(saved.values())


@pytest.mark.parametrize(
    ("build", "inputs"),
    [
        (CNN, (torch.randn(2, 3, 16, 16),)),
        (UNet, (torch.randn(1, 3, 32, 32),)),
        (Encoder, (torch.randn(2, 10, 32),)),
    ],
)
def test_meta_activations_equal_a_real_training_step(build: type[nn.Module], inputs: tuple[torch.Tensor, ...]) -> None:
    torch.manual_seed(0)
    model = build()
    report = paramcount.summary(model, input_data=inputs)
    assert report.activations is not None
    assert report.activations.device == "meta"
    assert report.activations.saved_bytes == _real_saved_bytes(model, inputs)


@pytest.mark.filterwarnings("ignore:TF32 acceleration on top of oneDNN:UserWarning")
def test_lstm_activations_are_the_reference_kernels() -> None:
    """Meta runs torch's reference LSTM; on the CPU oneDNN's fused kernel keeps a workspace of its own."""
    model, inputs = Tagger(), (torch.randint(0, 50, (3, 7)),)
    report = paramcount.summary(model, input_data=inputs)
    assert report.activations is not None
    with torch.backends.mkldnn.flags(enabled=False):
        assert report.activations.saved_bytes == _real_saved_bytes(model, inputs)
    assert _real_saved_bytes(model, inputs) > report.activations.saved_bytes


def test_attention_activations_are_the_math_kernel() -> None:
    """Meta runs F.scaled_dot_product_attention as its math backend does, keeping the attention probabilities
    (batch × heads × T × T); CPU's flash kernel keeps their log-sum-exp (batch × heads × T) instead."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    model, inputs = GPT(), (torch.randint(0, 64, (2, 12)),)
    report = paramcount.summary(model, input_data=inputs)
    assert report.activations is not None
    with sdpa_kernel([SDPBackend.MATH]):
        assert report.activations.saved_bytes == _real_saved_bytes(model, inputs)
    per_block = 4 * (2 * 4 * 12 * 12 - 2 * 4 * 12)  # float32 probabilities minus the log-sum-exp
    assert report.activations.saved_bytes - _real_saved_bytes(model, inputs) == 2 * per_block


def test_one_tensor_given_as_several_inputs_stays_one() -> None:
    """``mha(x, x, x)``: torch sees query is key is value and projects x once with the packed in_proj weight;
    the meta copies of the inputs keep that identity (three copies took the three-projection path: 2,640 B)."""

    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attention = nn.MultiheadAttention(8, 2, batch_first=True)

        def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
            output: torch.Tensor = self.attention(query, key, value)[0]
            return output

    torch.manual_seed(0)
    model, x = Attention(), torch.randn(2, 5, 8)
    report = paramcount.summary(model, input_data=(x, x, x))
    assert report.activations is not None
    assert report.activations.saved_bytes == _real_saved_bytes(model, (x, x, x)) == 2_320
    assert report.activations.input_bytes == 2 * 5 * 8 * 4  # one float32 tensor, not three


def test_summary_never_moves_or_changes_the_model() -> None:
    model = CNN().eval()
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    paramcount.summary(model, input_size=(1, 3, 8, 8))
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert not model.training
    assert not any(m.training for m in model.modules())
    assert all(torch.equal(before[name], tensor) for name, tensor in model.state_dict().items())
    assert all(not hook for m in model.modules() for hook in (m._forward_hooks, m._forward_pre_hooks))


class ReadsValues(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        count = int(x.sum().item()) % 3 + 1  # data-dependent: meta tensors hold no values
        result: torch.Tensor = self.linear(x)[:, :count]
        return result


def test_a_data_dependent_forward_needs_the_cpu_and_says_so() -> None:
    model = ReadsValues()
    with pytest.raises(ShapeError, match=r"cannot run on the meta device \(.*\); pass device='cpu'"):
        paramcount.summary(model, input_size=(2, 4))
    report = paramcount.summary(model, input_size=(2, 4), device="cpu")
    assert report.activations is not None
    assert report.activations.device == "cpu"
    assert report.shapes is not None
    assert report.shapes.output_shape == (2, 1)
    assert report.notes[0].startswith("the forward pass could not run on the meta device")
    assert "ran on the CPU with real tensors" in str(report)


def test_summary_of_a_70b_sized_layer_stack_allocates_nothing() -> None:
    with torch.device("meta"):
        model = nn.Sequential(*(nn.Linear(8192, 8192, bias=False) for _ in range(16)))
    report = paramcount.summary(model, input_size=(1, 8192))
    assert report.counts.total == 16 * 8192 * 8192
    assert [(m.path, m.times) for m in report.modules if m.path] == [("0-15", 16)]
    assert report.shapes is not None
    assert report.shapes.total_macs == 16 * 8192 * 8192


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"input_size": 3}, ArgumentError, "input_size: must be a shape or a list of shapes, got 3"),
        ({"input_size": (2, -1)}, ArgumentError, "input_size: must hold non-negative integers, got (2, -1)"),
        ({"input_size": (2, 4), "dtypes": [torch.float32] * 2}, ArgumentError, "dtypes: gives 2 dtypes for 1 input"),
        # a float in one shape is named with its shape (the message said "got 2"), a dtype's name is refused in
        # one line (torch.zeros raised a TypeError)
        ({"depth": "3"}, ArgumentError, "depth: must be a non-negative integer, got '3'"),  # was a TypeError
        ({"input_size": (2, 4.0)}, ArgumentError, "input_size: must hold non-negative integers, got (2, 4.0)"),
        (
            {"input_size": (2, 4), "dtypes": ["float32"]},
            ArgumentError,
            "dtypes: must be torch dtypes (torch.long), got 'float32'",
        ),
        ({"input_size": (2, 4), "device": "cuda"}, ArgumentError, "device: must be 'meta' or 'cpu', got 'cuda'"),
        (
            {"optimiser": "adamw"},
            ArgumentError,
            "summary: unexpected keyword argument 'optimiser'; did you mean 'optimizer'?",
        ),
        # torchinfo's name for the shape; Result.report calls it input_shape
        (
            {"input_shape": (2, 4)},
            ArgumentError,
            "summary: unexpected keyword argument 'input_shape'; did you mean 'input_size' or 'input_data'?",
        ),
        ({"colour": 1}, ArgumentError, "summary: unexpected keyword argument 'colour'"),
        # a shape torch refuses on every device: no advice to run it on the CPU
        (
            {"input_size": (2, 5)},
            ShapeError,
            "the forward pass fails at the given input (a and b must have same reduction dim, but got [2, 5] X "
            "[4, 2].); check its shape and dtype",
        ),
    ],
)
def test_summary_rejects_bad_options(options: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as caught:
        paramcount.summary(nn.Linear(4, 2), **options)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(("model", "shown"), [("resnet50", "str 'resnet50'"), (None, "NoneType None")])
def test_summary_of_what_is_not_a_module_is_one_line(model: object, shown: str) -> None:
    """Not an AttributeError from deep inside the walk: what was given, and the door that reads text."""
    with pytest.raises(ArgumentError) as caught:
        paramcount.summary(model)
    assert str(caught.value) == (
        f"model: must be a torch.nn.Module, got {shown}; paramcount.count() reads text (a layer, a zoo model, a hub "
        "id, a config or a checkpoint)"
    )


def test_report_displays_in_terminal_notebook_and_json() -> None:
    report = paramcount.summary(CNN(), input_size=(1, 3, 8, 8), depth=1)
    text = str(report)
    shapes = text[text.index("Shapes and compute") : text.index("Activation memory (measured)")]
    assert "  features " in shapes
    assert "features.0" not in shapes
    html = report._repr_html_()
    assert html.startswith('<div class="paramcount-answer"><style>')
    assert 'id="section-activations"' in html
    data = report.to_dict()
    assert data["activations"]["torchinfo_bytes"] == 2 * data["activations"]["output_bytes"]
    import io

    from rich.console import Console

    console = Console(width=100, record=True, file=io.StringIO())
    console.print(report)
    assert console.export_text().splitlines()[0] == text.splitlines()[0]


def test_one_saved_tensor_is_singular() -> None:
    # Linear(3, 1) on (2, 3): autograd keeps only the input (2 × 3 float32 = 24 B) for the weight's gradient.
    text = str(paramcount.summary(nn.Linear(3, 1), input_size=(2, 3)))
    assert "  saved for the backward pass (1 tensor): 24 B\n" in text
    assert "activations: 1 tensor saved for the backward pass at input (2, 3)  24 B\n" in text
    # torchinfo doubles the Linear's (2, 1) float32 output: 2 × 8 B, said once (it was "16 B = 16 B")
    assert "  torchinfo's forward/backward pass size (2 × layer outputs): 16 B\n" in text


USER_MODEL = """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self, width, depth=2):
        super().__init__()
        self.layers = nn.Sequential(*(nn.Linear(width, width) for _ in range(depth)))

    def forward(self, x):
        return self.layers(x)
"""


@pytest.mark.parametrize("arguments", ["16, depth=3", "[16, 3]", '{"width": 16, "depth": 3}'])
def test_cli_builds_the_users_class_on_meta(tmp_path: Any, capsys: pytest.CaptureFixture[str], arguments: str) -> None:
    import json

    from paramcount.cli import main

    path = tmp_path / "net.py"
    path.write_text(USER_MODEL)
    assert main([f"{path}:Net", "--args", arguments, "--input", "2,16", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total"] == 3 * (16 * 16 + 16)
    assert data["shapes"]["total_macs"] == 3 * 2 * 16 * 16
    assert data["activations"]["device"] == "meta"


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["{path}:Missing"], "{path}:Missing: '{path}' defines no nn.Module subclass 'Missing'"),
        (["{path}:Net", "--args", "open('x')"], "column 1: unknown layer 'open'"),
        (["{path}:Net", "--args", "[16, NaN]"], "--args: NaN is not a JSON number"),
        (["{path}:Net", "--args", "width=-1"], "{path}:Net: Net(...) raised RuntimeError: Trying to create tensor"),
        (["Linear(2, 3)", "--args", "1"], "--args: gives the constructor's arguments of FILE.py:CLASS only"),
    ],
)
def test_cli_user_class_errors(
    tmp_path: Any, capsys: pytest.CaptureFixture[str], words: list[str], message: str
) -> None:
    from paramcount.cli import main

    path = tmp_path / "net.py"
    path.write_text(USER_MODEL)
    assert main([word.format(path=path) for word in words]) == 2
    assert capsys.readouterr().err.startswith(f"paramcount: error: {message.format(path=path)}")


def test_cli_user_class_without_torch_is_one_line(
    tmp_path: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pip install -e .` installs no torch: FILE.py:CLASS then says so in one line (it was a traceback)."""
    from paramcount.cli import main

    path = tmp_path / "net.py"
    path.write_text(USER_MODEL)
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError, as without torch
    assert main([f"{path}:Net", "--args", "16"]) == 2
    message = f"{path}:Net: building it needs torch, which is not installed: pip install torch"
    assert capsys.readouterr() == ("", f"paramcount: error: {message}\n")


def test_measured_activations_replace_every_sentence_of_the_estimate() -> None:
    """A modelled transformer's plan states how its activations were estimated (layers, activation function,
    kernels, ...); measured, those sentences no longer describe the item, and only the measurement's stays."""
    import transformers

    config = transformers.GPT2Config(n_layer=2, n_embd=32, n_head=4, vocab_size=64, n_positions=16)
    model = transformers.GPT2LMHeadModel(config)
    estimated = paramcount.summary(model, seq_len=8)
    measured = paramcount.summary(model, seq_len=8, input_size=(1, 8), dtypes=[torch.long])

    def kinds(report: paramcount.Report, activations: bool) -> list[str]:
        assert report.plan is not None
        return [a.kind for a in report.plan.assumptions if a.kind.startswith("activations") == activations]

    assert {"activations-layers", "activations-function"} <= set(kinds(estimated, True))
    assert kinds(measured, True) == ["activations-measured"]
    assert kinds(measured, False) == kinds(estimated, False)

"""MACs and FLOPs against ``torch.utils.flop_counter.FlopCounterMode`` on real CPU forward passes.

Both count 2 FLOPs per multiply-accumulate of matrix products and convolutions and nothing else. Where torch's
CPU kernel is one FlopCounterMode has no formula for (oneDNN's LSTM, the CPU flash-attention kernel), the test
pins the difference and shows that the counts agree once torch runs the plain matmuls.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from paramcount.analysis.flops import (
    MATMUL_CONVENTION,
    flops,
    forward_estimate,
    forward_flops,
    training_estimate,
    training_flops,
)
from paramcount.analysis.shapes.propagate import propagate
from paramcount.errors import ParamcountError
from paramcount.expr import parse


def torch_flops(model: nn.Module, *inputs: torch.Tensor) -> int:
    """FlopCounterMode's total for one forward pass (eval mode, no grad)."""
    model.eval()
    with warnings.catch_warnings(), torch.no_grad(), FlopCounterMode(display=False) as counter:
        warnings.simplefilter("ignore")  # LSTM with proj_size: "not supported with oneDNN"
        model(*inputs)
    total: int = counter.get_total_flops()
    return total


def our_flops(expression: str, shape: tuple[int, ...]) -> int:
    report = propagate(parse(expression), shape)
    assert report.is_complete
    assert report.total_flops == 2 * report.total_macs
    return report.total_flops


@contextmanager
def without_onednn() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.backends.mkldnn.flags warns about TF32 on Intel GPUs
        with torch.backends.mkldnn.flags(enabled=False):
            yield


Factory = Callable[[], nn.Module]

SAME: list[tuple[str, Factory, tuple[int, ...]]] = [
    ("nn.Linear(16, 8)", lambda: nn.Linear(16, 8), (4, 16)),
    ("nn.Linear(16, 8, bias=False)", lambda: nn.Linear(16, 8, bias=False), (2, 3, 16)),
    ("nn.Linear(16, 8)", lambda: nn.Linear(16, 8), (16,)),
    ("nn.Conv1d(4, 6, 3, stride=2, groups=2)", lambda: nn.Conv1d(4, 6, 3, stride=2, groups=2), (2, 4, 11)),
    ("nn.Conv2d(3, 8, 3, padding=1)", lambda: nn.Conv2d(3, 8, 3, padding=1), (2, 3, 9, 9)),
    (
        "nn.Conv2d(8, 8, 3, stride=2, padding=1, dilation=2, groups=4)",
        lambda: nn.Conv2d(8, 8, 3, stride=2, padding=1, dilation=2, groups=4),
        (1, 8, 10, 12),
    ),
    ("nn.Conv2d(4, 4, 3, padding='same', groups=4)", lambda: nn.Conv2d(4, 4, 3, padding="same", groups=4), (4, 8, 8)),
    ("nn.Conv3d(2, 4, (1, 2, 3), stride=2)", lambda: nn.Conv3d(2, 4, (1, 2, 3), stride=2), (2, 2, 4, 5, 6)),
    ("nn.ConvTranspose1d(4, 6, 3, stride=2)", lambda: nn.ConvTranspose1d(4, 6, 3, stride=2), (2, 4, 5)),
    (
        "nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2, output_padding=1)",
        lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2, output_padding=1),
        (2, 4, 5, 5),
    ),
    ("nn.ConvTranspose3d(2, 2, 2, stride=2)", lambda: nn.ConvTranspose3d(2, 2, 2, stride=2), (1, 2, 3, 3, 3)),
    ("nn.RNN(4, 6)", lambda: nn.RNN(4, 6), (5, 2, 4)),
    (
        "nn.GRU(4, 6, num_layers=2, bidirectional=True, batch_first=True)",
        lambda: nn.GRU(4, 6, num_layers=2, bidirectional=True, batch_first=True),
        (2, 5, 4),
    ),
    ("nn.LSTM(4, 6, num_layers=2, proj_size=3)", lambda: nn.LSTM(4, 6, num_layers=2, proj_size=3), (5, 2, 4)),
    ("nn.RNNCell(4, 6)", lambda: nn.RNNCell(4, 6), (3, 4)),
    ("nn.GRUCell(4, 6)", lambda: nn.GRUCell(4, 6), (4,)),
    ("nn.LSTMCell(4, 6)", lambda: nn.LSTMCell(4, 6), (3, 4)),
    (
        "nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),"
        " nn.Conv2d(8, 16, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))",
        lambda: nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(16, 10),
        ),
        (2, 3, 16, 16),
    ),
    (
        "nn.Sequential(nn.Embedding(50, 8), nn.Linear(8, 8), nn.GELU(), nn.LayerNorm(8), nn.Linear(8, 50))",
        lambda: nn.Sequential(nn.Embedding(50, 8), nn.Linear(8, 8), nn.GELU(), nn.LayerNorm(8), nn.Linear(8, 50)),
        (2, 7),
    ),
]


@pytest.mark.parametrize(("expression", "factory", "shape"), SAME, ids=[f"{row[0][:50]}-{row[2]}" for row in SAME])
def test_flops_equal_flop_counter_mode(expression: str, factory: Factory, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    tensor = torch.randint(0, 50, shape) if "Embedding" in expression else torch.randn(shape)
    assert our_flops(expression, shape) == torch_flops(factory(), tensor)


def test_conv2d_flops_by_hand() -> None:
    # Conv2d(3, 64, 7, stride=2, padding=3) on 1×3×224×224 (ResNet's stem): H_out = floor((224 + 6 - 6 - 1)/2) + 1
    # = 112; MACs = N·C_out·H_out·W_out·(C_in/groups)·k·k = 1·64·112·112·3·7·7 = 118,013,952; FLOPs = 2·MACs.
    report = propagate(parse("nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)"), (1, 3, 224, 224))
    assert report.output_shape == (1, 64, 112, 112)
    assert (report.total_macs, report.total_flops) == (118_013_952, 236_027_904)
    assert report.total_flops == torch_flops(
        nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), torch.randn(1, 3, 224, 224)
    )


def test_lstm_with_onednn_is_not_counted_by_flop_counter_mode() -> None:
    # LSTM(4, 6) on (5, 2, 4): per step gates·hidden·(input + hidden) = 4·6·(4 + 6) = 240 MACs, × L·N = 10 → 2,400
    # MACs = 4,800 FLOPs. On the CPU torch runs oneDNN's mkldnn_rnn_layer, which FlopCounterMode counts as 0.
    ours = our_flops("nn.LSTM(4, 6)", (5, 2, 4))
    assert ours == 4_800
    assert torch_flops(nn.LSTM(4, 6), torch.randn(5, 2, 4)) == 0
    with without_onednn():
        assert torch_flops(nn.LSTM(4, 6), torch.randn(5, 2, 4)) == ours


def test_attention_flops_equal_flop_counter_mode() -> None:
    # MultiheadAttention(E=8, 2 heads) on L=5, N=2, with need_weights=True (the explicit bmm path):
    # q/k/v projections 3·L·N·E·E = 1,920; QKᵀ and attention·V 2·N·L·S·E = 800; out_proj L·N·E·E = 640 MACs.
    report = propagate(parse("nn.MultiheadAttention(8, 2)"), (5, 2, 8))
    assert report.total_macs == 1_920 + 800 + 640
    x = torch.randn(5, 2, 8)
    assert report.total_flops == torch_flops(nn.MultiheadAttention(8, 2), x, x, x)
    bias_kv = propagate(parse("nn.MultiheadAttention(8, 2, add_bias_kv=True, batch_first=True)"), (2, 5, 8))
    y = torch.randn(2, 5, 8)
    assert bias_kv.total_flops == torch_flops(nn.MultiheadAttention(8, 2, add_bias_kv=True, batch_first=True), y, y, y)


def test_encoder_layer_attention_products_are_missed_by_flop_counter_mode_on_cpu() -> None:
    # TransformerEncoderLayer calls scaled_dot_product_attention; its CPU kernel
    # (_scaled_dot_product_flash_attention_for_cpu) has no FlopCounterMode formula, so torch's count lacks
    # QKᵀ and attention·V (2·N·L·L·E MACs). With the math backend they appear as bmm and the counts agree.
    expression = "nn.TransformerEncoderLayer(8, 2, 16)"
    ours = our_flops(expression, (5, 2, 8))
    attention_products = 2 * (2 * 2 * 5 * 5 * 8)
    x = torch.randn(5, 2, 8)
    assert torch_flops(nn.TransformerEncoderLayer(8, 2, 16), x) == ours - attention_products
    with sdpa_kernel(SDPBackend.MATH):
        assert torch_flops(nn.TransformerEncoderLayer(8, 2, 16), x) == ours


def test_encoder_stack_flops_equal_flop_counter_mode_with_math_attention() -> None:
    expression = (
        "nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 3, norm=nn.LayerNorm(8))"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # enable_nested_tensor is True, but ... (a note about the fast path)
        model = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 3, norm=nn.LayerNorm(8))
    x = torch.randn(2, 5, 8)
    ours = our_flops(expression, (2, 5, 8))
    # In eval mode without gradients torch takes the fused fast path (_transformer_encoder_layer_fwd), which
    # FlopCounterMode counts as 0. In training mode it runs the layers' matmuls, and with math attention the
    # counts agree.
    assert torch_flops(model, x) == 0
    model.train()
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        model(x)
    assert counter.get_total_flops() == ours


def test_layers_without_matmuls_count_zero_like_flop_counter_mode() -> None:
    for expression, model, shape in [
        ("nn.Upsample(scale_factor=2, mode='bilinear')", nn.Upsample(scale_factor=2, mode="bilinear"), (1, 2, 4, 4)),
        ("nn.Embedding(10, 3)", nn.Embedding(10, 3), (2, 4)),
        ("nn.BatchNorm2d(2)", nn.BatchNorm2d(2), (2, 2, 3, 3)),
        ("nn.AvgPool2d(2)", nn.AvgPool2d(2), (1, 2, 4, 4)),
    ]:
        tensor = torch.randint(0, 10, shape) if "Embedding" in expression else torch.randn(shape)
        assert our_flops(expression, shape) == torch_flops(model, tensor) == 0


def test_flops_report_projects_the_shape_report() -> None:
    report = propagate(parse("nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))"), (3, 4))
    compute = flops(report)
    assert compute.convention == MATMUL_CONVENTION
    assert (compute.total_macs, compute.total_flops, compute.is_complete) == (3 * 4 * 8 + 3 * 8 * 2, 288, True)
    assert [(row.path, row.macs, row.flops) for row in compute.per_module] == [
        ("", 144, 288),
        ("0", 96, 192),
        ("1", 0, 0),
        ("2", 48, 96),
    ]


def test_flops_report_is_a_lower_bound_when_something_is_not_modelled() -> None:
    report = propagate(parse("nn.Sequential(nn.Linear(4, 4), nn.ModuleList([nn.Linear(4, 4)]))"), (2, 4))
    compute = flops(report)
    assert (compute.total_macs, compute.is_complete) == (32, False)
    assert [row.macs for row in compute.per_module] == [None, 32, None, None]


def test_training_flops_are_six_n_d() -> None:
    # Kaplan et al. 2020, §2.1: forward ≈ 2N FLOPs per token, backward ≈ 4N, so C ≈ 6·N·D.
    # An 8-billion-parameter dense model trained on 15 trillion tokens: 6 · 8·10⁹ · 15·10¹² = 7.2·10²³ FLOPs.
    assert training_flops(8 * 10**9, 15 * 10**12) == 720 * 10**21
    assert forward_flops(8 * 10**9, 1) == 16 * 10**9
    estimate = training_estimate(8, 3)
    assert (estimate.flops, estimate.symbolic, estimate.substituted) == (144, "6 · N · D", "6 · 8 · 3")
    assert estimate.label == "training compute ≈ 6 · N · D (estimate)"
    assert "Kaplan et al. 2020" in estimate.source
    assert forward_estimate(8, 3).flops == 48


def test_training_flops_of_a_mixture_of_experts_use_active_parameters() -> None:
    # Mixtral-8x7B-style: the caller passes the parameters active per token (two of eight experts), not all.
    total, active, tokens = 46_700_000_000, 12_900_000_000, 10**12
    assert training_flops(active, tokens) == 6 * active * tokens < training_flops(total, tokens)


@pytest.mark.parametrize(
    ("parameters", "tokens", "message"),
    [
        (-1, 5, "parameters must be a non-negative integer, got -1"),
        (5, -2, "tokens must be a non-negative integer, got -2"),
        (True, 5, "parameters must be a non-negative integer, got True"),
    ],
)
def test_training_flops_reject_bad_counts(parameters: int, tokens: int, message: str) -> None:
    with pytest.raises(ParamcountError) as caught:
        training_flops(parameters, tokens)
    assert str(caught.value) == message

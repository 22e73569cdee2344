"""The live-module door agrees with torch: names, shapes, trainability, ties counted once."""

from __future__ import annotations

import torch

import paramcount
from oracle import torch_tensors
from paramcount.sources.live import from_module
from paramcount.tree import iter_buffers, iter_params, parameter_count


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
    assert [(name, p.tied_to) for name, p in iter_params(tree, include_tied=True) if p.tied_to] == [
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

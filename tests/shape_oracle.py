"""Helpers the shape tests share: a module's output as a list of shapes, collapsed row paths expanded, and what
FlopCounterMode adds to a grouped convolution's backward."""

from __future__ import annotations

import re
from typing import Any

import torch

from paramcount.analysis.shapes.types import ShapeReport
from paramcount.tree import Module, iter_modules


def flat_shapes(output: Any) -> list[tuple[int, ...]]:
    """The tensors of a module's output in order: LSTM's ``(output, (h_n, c_n))`` → three shapes."""
    if isinstance(output, torch.Tensor):
        return [tuple(output.shape)]
    if isinstance(output, tuple | list):
        return [shape for item in output for shape in flat_shapes(item)]
    return []  # None (MultiheadAttention's weights when need_weights=False)


def expanded_paths(path: str) -> list[str]:
    """``layers.0-2.norm1`` → ``layers.0.norm1``, ``layers.1.norm1``, ``layers.2.norm1``."""
    paths = [""]
    for part in path.split(".") if path else []:
        match = re.fullmatch(r"(\d+)-(\d+)", part)
        names = [str(index) for index in range(int(match[1]), int(match[2]) + 1)] if match else [part]
        paths = [f"{prefix}.{name}" if prefix else name for prefix in paths for name in names]
    return paths


def grouped_weight_gradient_extra(tree: Module, report: ShapeReport) -> int:
    """FlopCounterMode's ``conv_backward_flop`` counts a grouped convolution's weight gradient as if it were
    not grouped: ``conv_flop_count(t(x), t(grad_out), t(grad_weight))`` multiplies by all C_in input channels
    where the convolution reads C_in/groups per output channel, i.e. ``groups`` times the forward product.
    Derived from our rows: (groups - 1) · forward MACs of each grouped convolution, 2 FLOPs each."""
    groups = {path: dict(module.args).get("groups", 1) for path, module in iter_modules(tree)}
    extra = 0
    for row in report.modules:
        count = groups.get(expanded_paths(row.path)[0], 1)
        convolution = row.kind.endswith(("Conv1d", "Conv2d", "Conv3d"))
        if convolution and isinstance(count, int) and count > 1 and row.macs is not None:
            extra += (count - 1) * row.macs * row.times
    return 2 * extra

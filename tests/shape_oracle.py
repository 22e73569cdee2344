"""Helpers the shape tests share: a module's output as a list of shapes, and collapsed row paths expanded."""

from __future__ import annotations

import re
from typing import Any

import torch


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

"""A runnable PyTorch program that builds the layer on the meta device and prints the same numbers."""

from __future__ import annotations

from paramcount.analysis.counts import Counts

__all__ = ["pytorch_snippet"]


def pytorch_snippet(expression: str, counts: Counts) -> str:
    """``expression`` is the canonical call with ``nn.`` prefixes; the comments hold our answers."""
    imports = ["import torch", "from torch import nn"]
    if "OrderedDict(" in expression:
        imports.insert(0, "from collections import OrderedDict")
    shapes = {row.name: row.shape for row in counts.parameters}
    lines = [
        *imports,
        "",
        'with torch.device("meta"):  # shapes only: nothing is allocated',
        f"    layer = {expression}",
        "",
        f"print(sum(p.numel() for p in layer.parameters()))  # {counts.total}",
        f"print(sum(p.numel() for p in layer.parameters() if p.requires_grad))  # {counts.trainable}",
        "print({name: tuple(p.shape) for name, p in layer.named_parameters()})",
        f"# {shapes}",
    ]
    if counts.buffer_tensors:
        buffers = {row.name: row.shape for row in counts.buffer_tensors}
        lines += ["print({name: tuple(b.shape) for name, b in layer.named_buffers()})", f"# {buffers}"]
    return "\n".join(lines) + "\n"

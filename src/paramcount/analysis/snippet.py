"""Runnable programs that build the same model with the reference library on the meta device and print
the numbers we report — PyTorch for expressions, torchvision for zoo models, transformers for configs."""

from __future__ import annotations

from paramcount.analysis.counts import Counts

__all__ = ["pytorch_snippet", "torchvision_snippet", "transformers_snippet"]


def _prints(counts: Counts, name: str) -> list[str]:
    return [
        f"print(sum(p.numel() for p in {name}.parameters()))  # {counts.total}",
        f"print(sum(p.numel() for p in {name}.parameters() if p.requires_grad))  # {counts.trainable}",
    ]


def pytorch_snippet(expression: str, counts: Counts, assignments: tuple[tuple[str, str], ...] = ()) -> str:
    """``expression`` is the canonical call with ``nn.`` prefixes, built from ``assignments`` (``(variable,
    call)`` for each module object used more than once, so the program shares it as the query does); the
    comments hold our answers."""
    imports = ["import torch", "from torch import nn"]
    if "OrderedDict(" in expression or any("OrderedDict(" in call for _, call in assignments):
        imports.insert(0, "from collections import OrderedDict")
    shapes = {row.name: row.shape for row in counts.parameters}
    shared = [f"    {variable} = {call}  # one object, used more than once" for variable, call in assignments]
    lines = [
        *imports,
        "",
        'with torch.device("meta"):  # shapes only: nothing is allocated',
        *shared,
        f"    layer = {expression}",
        "",
        *_prints(counts, "layer"),
        "print({name: tuple(p.shape) for name, p in layer.named_parameters()})",
        f"# {shapes}",
    ]
    if counts.buffer_tensors:
        buffers = {row.name: row.shape for row in counts.buffer_tensors}
        lines += ["print({name: tuple(b.shape) for name, b in layer.named_buffers()})", f"# {buffers}"]
    return "\n".join(lines) + "\n"


def torchvision_snippet(call: str, counts: Counts) -> str:
    """``call`` is the zoo call (``resnet50(num_classes=10)``), which is torchvision's own builder name."""
    lines = [
        "import torch",
        "import torchvision",
        "",
        'with torch.device("meta"):  # shapes only: nothing is allocated',
        f"    model = torchvision.models.{call}",
        "",
        *_prints(counts, "model"),
    ]
    return "\n".join(lines) + "\n"


def transformers_snippet(location: str, architecture: str, counts: Counts) -> str:
    """``location`` is a hub id or a folder holding config.json; only the config is read."""
    lines = [
        "import torch",
        "import transformers",
        "",
        f"config = transformers.AutoConfig.from_pretrained({location!r})",
        'with torch.device("meta"):  # shapes only: nothing is allocated',
        f"    model = transformers.{architecture}(config)",
        "",
        *_prints(counts, "model"),
    ]
    return "\n".join(lines) + "\n"

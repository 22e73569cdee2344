"""Python text: the canonical expression of a call (``Conv2d(256, 512, 3, bias=False)``) and the runnable
programs that build the same model with the reference library on the meta device and print the numbers
we report — PyTorch for expressions, torchvision for zoo models, transformers for configs.

The calls arrive as ``calls`` records (which arguments, which shared objects: the catalog's decisions);
this module only writes them.
"""

from __future__ import annotations

from paramcount._cache import per_frozen
from paramcount.calls import (
    Call,
    Container,
    Dictionary,
    Name,
    NewTensor,
    Repeated,
    TorchProgram,
    TorchvisionProgram,
    TransformersProgram,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from paramcount.analysis.counts import Counts
    from paramcount.calls import Argument
    from paramcount.report import Report

__all__ = ["call_text", "expression_text", "program_text"]


@per_frozen
def expression_text(expression: Call | Container | str) -> str:
    """A report's or a comparison's ``expression``: the call written out, or the name it is (a config's
    class, a checkpoint's file). Once per record: an answer page writes its report's call in its slug, title,
    heading and answer sentence."""
    return expression if isinstance(expression, str) else call_text(expression)


def call_text(argument: Argument, prefix: str = "") -> str:
    """``argument`` as Python; ``prefix`` goes before every layer name (``"nn."`` for runnable PyTorch)."""
    if isinstance(argument, Call):
        return _call(argument, prefix)
    if isinstance(argument, Container):
        return _container(argument, prefix)
    if isinstance(argument, Name):
        return argument.text
    if isinstance(argument, NewTensor):
        return _tensor(argument, prefix)
    if isinstance(argument, Repeated):
        return f"*[{call_text(argument.item, prefix)}] * {argument.times}"
    if isinstance(argument, Dictionary):
        if argument.ordered:
            pairs = ", ".join(f"({key!r}, {call_text(item, prefix)})" for key, item in argument.items)
            return f"OrderedDict([{pairs}])"
        return "{" + ", ".join(f"{key!r}: {call_text(item, prefix)}" for key, item in argument.items) + "}"
    if isinstance(argument, tuple):
        parts = [call_text(item, prefix) for item in argument]
        if len(argument) == 1 and isinstance(argument[0], Repeated):
            return parts[0][1:]  # the whole tuple is one object n times: [p] * n
        return f"({parts[0]},)" if len(parts) == 1 else f"({', '.join(parts)})"
    return repr(argument)


def _call(call: Call, prefix: str) -> str:
    texts = [call_text(value, prefix) for value in call.positional]
    texts += [f"{name}={call_text(value, prefix)}" for name, value in call.keywords]
    cast = f".to(torch.{call.cast})" if call.cast is not None else ""
    frozen = ".requires_grad_(False)" if call.frozen else ""
    return f"{prefix}{call.kind}({', '.join(texts)}){cast}{frozen}"


def _container(container: Container, prefix: str) -> str:
    """A part written ``*[x] * n`` stands for n numbered members (the same object ``x`` n times)."""
    names = [name for name, _ in container.members]
    parts = [call_text(member, prefix) for _, member in container.members]
    if container.kind == "ModuleDict":
        items = ", ".join(f"{name!r}: {part}" for name, part in zip(names, parts, strict=True))
        return f"{prefix}ModuleDict({{{items}}})"
    if container.kind == "ModuleList":
        if len(parts) == 1 and isinstance(container.members[0][1], Repeated):
            return f"{prefix}ModuleList({parts[0][1:]})"
        return f"{prefix}ModuleList([{', '.join(parts)}])"
    if all(name == str(index) for index, name in enumerate(names)):
        return f"{prefix}Sequential({', '.join(parts)})"
    pairs = ", ".join(f"({name!r}, {part})" for name, part in zip(names, parts, strict=True))
    return f"{prefix}Sequential(OrderedDict([{pairs}]))"


def _tensor(tensor: NewTensor, prefix: str) -> str:
    """``nn.Parameter(torch.randn(3, 4), requires_grad=False)`` for ``"nn."``."""
    options = "" if tensor.dtype == "float32" else f", dtype=torch.{tensor.dtype}"
    made = f"torch.{tensor.factory}({', '.join(map(str, tensor.sizes)) or '()'}{options})"
    if not tensor.parameter:
        return made
    return f"{prefix}Parameter({made}{'' if tensor.requires_grad else ', requires_grad=False'})"


def _prints(counts: Counts, name: str) -> list[str]:
    return [
        f"print(sum(p.numel() for p in {name}.parameters()))  # {counts.total}",
        f"print(sum(p.numel() for p in {name}.parameters() if p.requires_grad))  # {counts.trainable}",
    ]


def _pytorch(program: TorchProgram, counts: Counts) -> list[str]:
    """Each object used more than once is assigned first, so the program shares it as the query does; the
    comments hold our answers."""
    construction = program.construction
    assignments = [(variable, call_text(value, "nn.")) for variable, value in construction.assignments]
    expression = call_text(construction.call, "nn.")
    imports = ["import torch", "from torch import nn"]
    if "OrderedDict(" in expression or any("OrderedDict(" in text for _, text in assignments):
        imports.insert(0, "from collections import OrderedDict")
    shapes = {row.name: row.shape for row in counts.parameters}
    lines = [
        *imports,
        "",
        'with torch.device("meta"):  # shapes only: nothing is allocated',
        *(f"    {variable} = {text}  # one object, used more than once" for variable, text in assignments),
        f"    layer = {expression}",
        "",
        *_prints(counts, "layer"),
        "print({name: tuple(p.shape) for name, p in layer.named_parameters()})",
        f"# {shapes}",
    ]
    if counts.buffer_tensors:
        buffers = {row.name: row.shape for row in counts.buffer_tensors}
        lines += ["print({name: tuple(b.shape) for name, b in layer.named_buffers()})", f"# {buffers}"]
    return lines


def _torchvision(program: TorchvisionProgram, counts: Counts) -> list[str]:
    """The zoo call (``resnet50(num_classes=10)``) is torchvision's own builder's."""
    return [
        "import torch",
        "import torchvision",
        "",
        'with torch.device("meta"):  # shapes only: nothing is allocated',
        f"    model = {call_text(program.call, 'torchvision.models.')}",
        "",
        *_prints(counts, "model"),
    ]


def _transformers(program: TransformersProgram, counts: Counts) -> list[str]:
    """``location`` is a hub id or a folder holding config.json; only the config is read."""
    return [
        "import torch",
        "import transformers",
        "",
        f"config = transformers.AutoConfig.from_pretrained({program.location!r})",
        'with torch.device("meta"):  # shapes only: nothing is allocated',
        f"    model = transformers.{program.architecture}(config)",
        "",
        *_prints(counts, "model"),
    ]


def program_text(report: Report) -> str:
    """The verification program of ``report`` ("" when there is none: a live module, a checkpoint)."""
    program = report.program
    if isinstance(program, TorchProgram):
        lines = _pytorch(program, report.counts)
    elif isinstance(program, TorchvisionProgram):
        lines = _torchvision(program, report.counts)
    elif isinstance(program, TransformersProgram):
        lines = _transformers(program, report.counts)
    else:
        return ""
    return "\n".join(lines) + "\n"

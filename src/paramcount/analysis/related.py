"""Neighbouring configurations worth comparing: variants (bias=False, depthwise groups, …) and related
questions (sizes doubled or halved). Pure: returns argument overrides; the caller rebuilds and counts."""

from __future__ import annotations

from paramcount._record import Record
from paramcount.tree import Module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from paramcount.tree import Value

__all__ = ["Candidate", "related_candidates", "variant_candidates"]

_CONVOLUTIONS = frozenset({"Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"})
_RECURRENT = frozenset({"RNN", "LSTM", "GRU"})


class Candidate(Record):
    label: str
    overrides: tuple[tuple[str, Value], ...]
    note: str = ""


def _int(arguments: dict[str, Value], name: str) -> int | None:
    value = arguments.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def variant_candidates(module: Module) -> tuple[Candidate, ...]:
    """The obvious alternatives to this exact layer, by argument."""
    arguments = dict(module.args)
    found: list[Candidate] = []
    if arguments.get("bias") is True and module.params:
        note = "common before a BatchNorm, whose shift makes the bias redundant" if module.kind in _CONVOLUTIONS else ""
        found.append(Candidate("bias=False", (("bias", False),), note))
    if module.kind in _CONVOLUTIONS:
        channels, out, groups = (
            _int(arguments, "in_channels"),
            _int(arguments, "out_channels"),
            arguments.get("groups"),
        )
        if channels and out and groups == 1 and channels > 1 and out % channels == 0:
            found.append(
                Candidate(
                    f"groups={channels}",
                    (("groups", channels),),
                    "depthwise: each output channel sees one input channel",
                )
            )
        kernel = arguments.get("kernel_size")
        if kernel not in (1, (1,), (1, 1), (1, 1, 1)):
            found.append(Candidate("kernel_size=1", (("kernel_size", 1),), "pointwise"))
        if isinstance(kernel, int) and not isinstance(kernel, bool):
            found.append(Candidate(f"kernel_size={kernel + 2}", (("kernel_size", kernel + 2),)))
    if module.kind in _RECURRENT:
        bidirectional = arguments.get("bidirectional") is True
        found.append(Candidate(f"bidirectional={not bidirectional}", (("bidirectional", not bidirectional),)))
        layers = _int(arguments, "num_layers")
        if layers:
            found.append(Candidate(f"num_layers={layers + 1}", (("num_layers", layers + 1),)))
    if module.kind in ("LayerNorm", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d") and module.params:
        name = "elementwise_affine" if module.kind == "LayerNorm" else "affine"
        found.append(Candidate(f"{name}=False", ((name, False),), "no learned scale and shift"))
    return tuple(found)


def related_candidates(module: Module) -> tuple[Candidate, ...]:
    """Up to six neighbours: each of the first two integer size arguments doubled and halved."""
    found: list[Candidate] = []
    sizes = [
        (name, value)
        for name, value in module.args
        if isinstance(value, int) and not isinstance(value, bool) and value > 1 and name not in ("groups", "stride")
    ][:2]
    for name, value in sizes:
        found.append(Candidate(f"{name}={value * 2}", ((name, value * 2),)))
        if value % 2 == 0:
            found.append(Candidate(f"{name}={value // 2}", ((name, value // 2),)))
    return tuple(found[:6])

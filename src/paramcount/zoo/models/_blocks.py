"""Building blocks the torchvision convolutional networks share (``classic.py``, ``resnets.py``, ``densenets.py``,
``mobile.py``): catalog layers, numbered ``Sequential`` containers, ``torchvision.ops``' ``Conv2dNormActivation``
and ``SqueezeExcitation`` (``torchvision/ops/misc.py``), and the readers of the constructor arguments every zoo
family takes (``num_classes``, probabilities), which ``vision_transformers.py`` uses too.

Catalog layers and ``Conv2dNormActivation`` blocks are built through small LRU caches (pure functions of
immutable arguments), so a configuration used by many blocks (every ``_DenseLayer``'s 3×3 convolution) is bound
and validated once and shared as one frozen node.
"""

from __future__ import annotations

from functools import lru_cache

from paramcount._record import replace
from paramcount.errors import short_repr
from paramcount.layers._arguments import Arguments
from paramcount.layers._registry import build
from paramcount.tree import Module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Final, TypeAlias

    from paramcount.tree import Value

__all__ = [
    "BATCH_NORM",
    "BATCH_NORM_TF",
    "Keywords",
    "cached",
    "conv_norm_activation",
    "layer",
    "make_divisible",
    "new",
    "numbered",
    "read_num_classes",
    "read_probability",
    "squeeze_excitation",
]

if TYPE_CHECKING:
    Keywords: TypeAlias = tuple[tuple[str, Value], ...]

# --- catalog layers, containers, arguments -------------------------------------------------------------


@lru_cache(maxsize=4096)
def cached(kind: str, positional: tuple[Value, ...], keywords: Keywords) -> Module:
    # Callers pass values of one type per argument (floats as floats), so equal keys (1 == 1.0 == True)
    # never stand for different layers.
    return build(kind, positional, keywords)


def new(kind: str, *positional: Value, **keywords: Value) -> Module:
    """The catalog's ``torch.nn.<kind>(*positional, **keywords)``, unnamed (a container names it)."""
    return cached(kind, positional, tuple(keywords.items()))


def layer(name: str, kind: str, *positional: Value, **keywords: Value) -> Module:
    """The catalog's ``torch.nn.<kind>(*positional, **keywords)`` adopted under ``name``."""
    return new(kind, *positional, **keywords).renamed(name)


def numbered(name: str, children: Sequence[Module], kind: str = "Sequential", args: Keywords = ()) -> Module:
    """A ``Sequential`` (or a torchvision subclass of it) whose children are named ``"0"``, ``"1"`` …; equal
    neighbours are stored once with ``repeat``, as the catalog's Sequential stores them. The children are
    distinct objects in torch (no ties), so no tie bookkeeping is needed."""
    members: list[Module] = []
    previous: Module | None = None
    for index, child in enumerate(children):
        if previous is not None and child == previous:
            members[-1] = replace(members[-1], repeat=members[-1].repeat + 1)
        else:
            members.append(child.renamed(str(index)))
            previous = child
    return Module(name, kind, args=args, children=tuple(members))


def make_divisible(value: float, divisor: int) -> int:
    """torchvision's ``_make_divisible`` (``torchvision/models/_utils.py``; MNASNet's ``_round_to_multiple_of``
    with its default ``round_up_bias`` 0.9 is the same): round to a multiple of ``divisor``, at least
    ``divisor``, never more than 10% down."""
    result = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return result if result >= 0.9 * value else result + divisor


def read_num_classes(a: Arguments) -> int:
    return a.integer("num_classes", minimum=0)  # torchvision accepts 0 (a Linear with no outputs)


def read_probability(a: Arguments, name: str) -> float:
    value = a.real(name)
    if not 0 <= value <= 1:
        raise a.fail(f"{name} must be between 0 and 1, got {short_repr(value)}", name)
    return float(value)


# --- torchvision.ops blocks ------------------------------------------------------------------------------

BATCH_NORM: Final[Keywords] = ()
"""``nn.BatchNorm2d`` with torch's defaults."""
BATCH_NORM_TF: Final[Keywords] = (("eps", 0.001), ("momentum", 0.01))
"""``partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)``: MobileNetV3, EfficientNet B5–B7."""


@lru_cache(maxsize=1024)
def conv_norm_activation(
    in_channels: int,
    out_channels: int,
    *,
    kernel_size: int = 3,
    stride: int = 1,
    groups: int = 1,
    dilation: int = 1,
    norm: Keywords = BATCH_NORM,
    activation: str | None = "ReLU",
) -> Module:
    """torchvision's ``Conv2dNormActivation`` (an ``nn.Sequential``): a bias-free convolution padded to keep
    the size, a batch norm, and the activation (built with ``inplace=True``) unless it is None."""
    padding = (kernel_size - 1) // 2 * dilation
    children = [
        new(
            "Conv2d",
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation=dilation,
            groups=groups,
            bias=False,
        ),
        cached("BatchNorm2d", (out_channels,), norm),
    ]
    if activation is not None:
        children.append(new(activation, inplace=True))
    args: Keywords = (
        ("in_channels", in_channels),
        ("out_channels", out_channels),
        ("kernel_size", kernel_size),
        ("stride", stride),
        ("groups", groups),
        ("dilation", dilation),
    )
    return numbered("", children, "Conv2dNormActivation", args)


def squeeze_excitation(
    input_channels: int, squeeze_channels: int, activation: Module, scale_activation: Module
) -> Module:
    """``torchvision.ops.SqueezeExcitation``: avgpool, fc1, fc2 (1×1 convolutions with bias), activation,
    scale_activation."""
    return Module(
        "",
        "SqueezeExcitation",
        args=(("input_channels", input_channels), ("squeeze_channels", squeeze_channels)),
        children=(
            layer("avgpool", "AdaptiveAvgPool2d", 1),
            layer("fc1", "Conv2d", input_channels, squeeze_channels, 1),
            layer("fc2", "Conv2d", squeeze_channels, input_channels, 1),
            activation.renamed("activation"),
            scale_activation.renamed("scale_activation"),
        ),
    )

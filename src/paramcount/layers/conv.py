"""Convolution family: Conv1d/2d/3d and ConvTranspose1d/2d/3d (torch/nn/modules/conv.py, torch 2.13).

All six share ``_ConvNd.__init__``; so do ours (``_convolution``). Torch's construction-time rules are
reproduced exactly; beyond them we insist on the documented types: ``kernel_size``, ``stride``,
``padding``, ``dilation`` and ``output_padding`` are an int or a tuple of one int per spatial dimension
(torch's ``_pair`` would let ``Conv2d(3, 8, (3, 3, 3))`` build a 5-d weight that no forward accepts), and
only ``Conv*d`` takes the padding strings (``ConvTranspose2d(..., padding='same')`` is built by torch as
the tuple of characters ``('s', 'a', 'm', 'e')`` and fails at the first forward).
"""

from __future__ import annotations

from paramcount.errors import short_repr
from paramcount.layers._arguments import Arguments
from paramcount.layers._registry import Parts, layer
from paramcount.layers._signature import signature
from paramcount.tree import Dim, Param

TYPE_CHECKING = False
if TYPE_CHECKING:
    from paramcount.layers._registry import Builder

_KERNEL_SYMBOLS = {
    1: ("kernel_size",),
    2: ("kernel_h", "kernel_w"),
    3: ("kernel_d", "kernel_h", "kernel_w"),
}
_PADDING_STRINGS = ("valid", "same")
_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")

_CONV_SIGNATURE = signature(
    "in_channels",
    "out_channels",
    "kernel_size",
    stride=1,
    padding=0,
    dilation=1,
    groups=1,
    bias=True,
    padding_mode="zeros",
    device=None,
    dtype=None,
)
# ConvTranspose moves dilation after bias and adds output_padding (ConvTranspose1d.__init__).
_TRANSPOSE_SIGNATURE = signature(
    "in_channels",
    "out_channels",
    "kernel_size",
    stride=1,
    padding=0,
    output_padding=0,
    groups=1,
    bias=True,
    dilation=1,
    padding_mode="zeros",
    device=None,
    dtype=None,
)


def _check_groups(a: Arguments, channels: Dim, groups: Dim) -> None:
    # _ConvNd.__init__: "in_channels must be divisible by groups" (and the same for out_channels).
    if channels.value % groups.value != 0:
        raise a.fail(
            f"{channels.symbol} must be divisible by groups "
            f"({channels.symbol}={channels.value}, groups={groups.value})",
            "groups",
        )


def _check_padding(a: Arguments, spatial: int, stride: tuple[int, ...]) -> None:
    """Conv*d's padding: 'valid', 'same' (stride 1 only) or an int / tuple; it never shapes a tensor."""
    padding = a.raw("padding")
    if not isinstance(padding, str):
        a.ints("padding", spatial)
        return
    if padding not in _PADDING_STRINGS:
        raise a.fail(
            f"padding must be 'valid', 'same', an int or a tuple of {spatial} ints, got {short_repr(padding)}",
            "padding",
        )
    # _ConvNd.__init__ checks the already expanded stride: `any(s != 1 for s in stride)`.
    if padding == "same" and any(step != 1 for step in stride):
        raise a.fail(
            f"padding='same' is not supported for strided convolutions (stride={stride}); use stride=1",
            "padding",
        )


def _check_padding_mode(a: Arguments, transposed: bool) -> None:
    if not transposed:
        a.choice("padding_mode", _PADDING_MODES)
        return
    # _ConvTransposeNd.__init__ refuses every mode but 'zeros' before anything else.
    mode = a.raw("padding_mode")
    if mode != "zeros":
        raise a.fail(f"only padding_mode='zeros' is supported, got {short_repr(mode)}", "padding_mode")


def _convolution(a: Arguments, spatial: int, *, transposed: bool) -> Parts:
    """The parameters of ``_ConvNd``: weight (and bias), after its checks, for ``spatial`` dimensions."""
    _check_padding_mode(a, transposed)
    inp = a.dim("in_channels")  # a negative size fails in torch.empty
    out = a.dim("out_channels")
    kernel = tuple(map(Dim.of, a.ints("kernel_size", spatial, minimum=0), _KERNEL_SYMBOLS[spatial]))
    groups = a.dim("groups", minimum=1)  # "groups must be a positive integer"
    _check_groups(a, inp, groups)
    _check_groups(a, out, groups)
    # Stride, dilation and output_padding are stored, not checked: torch accepts 0 or negative values here.
    stride = a.ints("stride", spatial)
    a.ints("dilation", spatial)
    if transposed:
        a.ints("padding", spatial)
        a.ints("output_padding", spatial)
        weight = Param("weight", (inp, out // groups, *kernel))
    else:
        _check_padding(a, spatial, stride)
        weight = Param("weight", (out, inp // groups, *kernel))
    params = [weight]
    if a.flag("bias"):
        params.append(Param("bias", (out,)))
    return Parts(params=tuple(params))


def _builder(spatial: int, *, transposed: bool) -> Builder:
    def build(a: Arguments) -> Parts:
        return _convolution(a, spatial, transposed=transposed)

    return build


for _spatial in (1, 2, 3):
    layer(f"Conv{_spatial}d", _CONV_SIGNATURE)(_builder(_spatial, transposed=False))
    layer(f"ConvTranspose{_spatial}d", _TRANSPOSE_SIGNATURE)(_builder(_spatial, transposed=True))

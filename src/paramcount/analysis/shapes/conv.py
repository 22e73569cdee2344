"""Shape rules of the convolution family: Conv1d/2d/3d and ConvTranspose1d/2d/3d.

Output sizes follow torch's documented formulas (torch.nn.Conv2d and torch.nn.ConvTranspose2d docs, torch
2.13), shown step by step per spatial dimension:

- convolution: ``H_out = floor((H_in + 2·padding - dilation·(kernel_size - 1) - 1)/stride) + 1``
- transposed: ``H_out = (H_in - 1)·stride - 2·padding + dilation·(kernel_size - 1) + output_padding + 1``

The checks are the ones torch's forward makes (aten/src/ATen/native/Convolution.cpp ``check_shape_forward``
and ``ConvUtils.h``), each turned into a ``ShapeError`` at the layer: input rank, channel count, positive
kernel/stride/dilation, non-negative padding, a kernel no larger than the padded input, a positive transposed
output, ``output_padding`` smaller than stride or dilation, and, for ``padding_mode`` other than zeros, the
limits of ``F.pad`` (reflect: padding smaller than the input; circular: no larger). Torch accepts an empty
spatial dimension only when the batch or the channels are empty too; so do we. On an input with no elements
at all torch skips some of its checks (a dilation of 0 passes); we apply them all.

MACs follow FlopCounterMode's ``conv_flop_count``: ``N·out_channels·prod(out)·(in_channels/groups)·prod(k)``
for a convolution, ``N·in_channels·prod(in)·(out_channels/groups)·prod(k)`` for a transposed one (every input
element is scattered through the kernel); bias additions are not counted.
"""

from __future__ import annotations

from paramcount.analysis.flops import macs_step
from paramcount.analysis.shapes.common import (
    AXES,
    batch_of,
    int_arg,
    int_tuple_arg,
    require_rank,
)
from paramcount.analysis.shapes.types import Flow, Outcome, ShapeStep

TYPE_CHECKING = False
if TYPE_CHECKING:
    from paramcount.analysis.shapes.types import Call, Rule

__all__ = ["RULES", "kernel_fits", "window_step"]


def _indexed(name: str, spatial: int, index: int) -> str:
    return name if spatial == 1 else f"{name}[{index}]"


def _kernels(spatial: int) -> tuple[str, ...]:
    return tuple(_indexed("kernel_size", spatial, index) for index in range(spatial))


def _axis_suffix(spatial: int, index: int) -> str:
    return "" if spatial == 1 else f" in {AXES[spatial][index]}"


def kernel_fits(
    call: Call, *, size: int, before: int, after: int, kernel: int, dilation: int, axis: str, what: str = "kernel"
) -> None:
    """The (dilated) kernel fits in the padded input, or the error torch raises ("Kernel size can't be greater
    than actual input size"), worded with the numbers that make it fail."""
    padded = size + before + after
    effective = dilation * (kernel - 1) + 1
    if effective <= padded:
        return
    padding = f"2·padding {before}" if before == after else f"padding {before} + {after}"
    window = (
        f"{what} {kernel}" if dilation == 1 else f"dilated {what} {effective} (dilation {dilation}·({kernel} - 1) + 1)"
    )
    raise call.fail(f"{window} is larger than the padded input {padded} (input {size} + {padding}){axis}")


def window_step(
    *,
    spatial: int,
    index: int,
    size: int,
    padding: int,
    kernel: int,
    stride: int,
    dilation: int,
    ceil_mode: bool = False,
) -> tuple[int, tuple[ShapeStep, ...]]:
    """``floor((H_in + 2·padding - dilation·(kernel_size - 1) - 1)/stride) + 1`` for one dimension, with
    pooling's ``ceil_mode`` (aten/src/ATen/native/Pool.h ``pooling_output_shape_pad_lr``: ceil, then one less
    when the last window would start beyond the input and its left padding)."""
    axis = AXES[spatial][index]
    pad, dil, ker, step = (_indexed(name, spatial, index) for name in ("padding", "dilation", "kernel_size", "stride"))
    rounding = "ceil" if ceil_mode else "floor"
    symbolic = f"{rounding}(({axis}_in + 2·{pad} - {dil}·({ker} - 1) - 1)/{step}) + 1"
    substituted = f"{rounding}(({size} + 2·{padding} - {dilation}·({kernel} - 1) - 1)/{stride}) + 1"
    numerator = size + 2 * padding - dilation * (kernel - 1) - 1
    value = (numerator + (stride - 1 if ceil_mode else 0)) // stride + 1
    steps = [ShapeStep(symbolic, substituted, value, f"{axis}_out")]
    if ceil_mode and (value - 1) * stride >= size + padding:
        steps.append(
            ShapeStep(
                f"{axis}_out - 1 (the last window would start past the input: "
                f"({axis}_out - 1)·{step} ≥ {axis}_in + {pad})",
                f"{value} - 1 (({value} - 1)·{stride} ≥ {size} + {padding})",
                value - 1,
                f"{axis}_out",
            )
        )
        value -= 1
    return value, tuple(steps)


def _positive(call: Call, name: str, values: tuple[int, ...], *, allow_zero: bool = False) -> None:
    bad = any(value < 0 for value in values) if allow_zero else any(value <= 0 for value in values)
    if bad:
        shown = values[0] if len(set(values)) == 1 else values
        relation = "non-negative" if allow_zero else "positive"
        raise call.fail(f"{name} must be {relation} for a forward pass, got {shown}")


def _empty_input(call: Call, batch: int | None, channels: int, sizes: tuple[int, ...]) -> None:
    # Convolution.cpp: "Only zero batch or zero channel inputs are supported".
    if 0 in sizes and batch != 0 and channels != 0:
        raise call.fail(
            f"got an empty spatial input {sizes}; torch convolves empty inputs only when the batch is empty"
        )


def _channels(call: Call, flow: Flow, spatial: int) -> tuple[int | None, int, tuple[int, ...]]:
    """Rank check, then (batch or None, channels, spatial sizes) of a convolution's input."""
    require_rank(call, flow, (spatial + 1, spatial + 2))
    batch, rest = batch_of(flow.shape, spatial)
    expected = int_arg(call.module, "in_channels")
    if rest[0] != expected:
        raise call.fail(f"expects {expected} input channels, got {rest[0]}")
    return batch, rest[0], rest[1:]


def _padding_pairs(call: Call, spatial: int) -> tuple[tuple[tuple[int, int], ...], bool]:
    """Per dimension (before, after) padding, and whether it was ``'same'``. 'same' pads
    ``dilation·(kernel_size - 1)`` in total, the extra element after (``_ConvNd.__init__``)."""
    module = call.module
    padding = module.arg("padding")
    if padding == "same":
        kernel = int_tuple_arg(module, "kernel_size", spatial)
        dilation = int_tuple_arg(module, "dilation", spatial)
        totals = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
        return tuple((total // 2, total - total // 2) for total in totals), True
    if padding == "valid":
        return ((0, 0),) * spatial, False
    return tuple((p, p) for p in int_tuple_arg(module, "padding", spatial)), False


def _check_padding_mode(call: Call, sizes: tuple[int, ...], pads: tuple[tuple[int, int], ...]) -> None:
    """``F.pad`` limits for the non-zeros padding modes (torch/nn/functional.py, aten ReflectionPad.cpp)."""
    mode = call.module.arg("padding_mode")
    spatial = len(sizes)
    for index, (size, (before, after)) in enumerate(zip(sizes, pads, strict=True)):
        axis = _axis_suffix(spatial, index)
        if mode == "reflect" and max(before, after) >= size:
            raise call.fail(f"reflect padding {max(before, after)} must be smaller than the input {size}{axis}")
        if mode == "circular" and max(before, after) > size:
            raise call.fail(f"circular padding {max(before, after)} must not exceed the input {size}{axis}")
        if mode == "replicate" and size == 0:
            raise call.fail(f"replicate padding needs a non-empty input{axis}")


def _window(call: Call, spatial: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """The kernel size, stride and dilation of a convolution (plain or transposed), each checked positive."""
    found = tuple(int_tuple_arg(call.module, name, spatial) for name in ("kernel_size", "stride", "dilation"))
    for name, values in zip(("kernel_size", "stride", "dilation"), found, strict=True):
        _positive(call, name, values)
    kernel, stride, dilation = found
    return kernel, stride, dilation


def _out_channels(call: Call) -> int:
    out_channels = int_arg(call.module, "out_channels")
    if out_channels == 0:
        raise call.fail("has out_channels=0; torch's forward refuses an empty weight")
    return out_channels


def _macs(
    batch: int | None,
    channels: tuple[str, int],
    side: str,
    sizes: tuple[int, ...],
    per_group: int,
    kernel: tuple[int, ...],
) -> tuple[int, ShapeStep]:
    """``N · channels · sizes · per_group · kernel``: a convolution's products over its outputs (``side``
    ``"out"``, ``in_channels/groups`` per output) or a transposed one's over its inputs (``"in"``,
    ``out_channels/groups`` per input)."""
    spatial = len(sizes)
    other = "(in_channels/groups)" if side == "out" else "(out_channels/groups)"
    return macs_step(
        ("N", channels[0], *(f"{axis}_{side}" for axis in AXES[spatial]), other, *_kernels(spatial)),
        (1 if batch is None else batch, channels[1], *sizes, per_group, *kernel),
    )


def _convolution(spatial: int) -> Rule:
    def rule(call: Call, flow: Flow) -> Outcome:
        module = call.module
        batch, channels, sizes = _channels(call, flow, spatial)
        kernel, stride, dilation = _window(call, spatial)
        pads, same = _padding_pairs(call, spatial)
        out_channels = _out_channels(call)
        if module.arg("padding_mode") == "zeros":
            _positive(call, "padding", tuple(before for before, _ in pads), allow_zero=True)
        else:
            # F.pad does the padding and accepts negative amounts (they crop); the convolution then pads 0.
            _check_padding_mode(call, sizes, pads)
        outputs, steps = _convolution_sizes(call, sizes, pads, kernel, stride, dilation, same=same)
        _empty_input(call, batch, channels, sizes)
        groups = int_arg(module, "groups")
        shape = (*(() if batch is None else (batch,)), out_channels, *outputs)
        macs, mac_step = _macs(batch, ("out_channels", out_channels), "out", outputs, channels // groups, kernel)
        note = "padding='same' keeps each size (stride 1)" if same else ""
        return Outcome(Flow(shape), macs, (*steps, mac_step), note)

    return rule


def _convolution_sizes(
    call: Call,
    sizes: tuple[int, ...],
    pads: tuple[tuple[int, int], ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    *,
    same: bool,
) -> tuple[tuple[int, ...], tuple[ShapeStep, ...]]:
    spatial = len(sizes)
    outputs: list[int] = []
    steps: list[ShapeStep] = []
    for index, size in enumerate(sizes):
        before, after = pads[index]
        kernel_fits(
            call,
            size=size,
            before=before,
            after=after,
            kernel=kernel[index],
            dilation=dilation[index],
            axis=_axis_suffix(spatial, index),
        )
        if same:
            axis = AXES[spatial][index]
            outputs.append(size)
            steps.append(ShapeStep(f"{axis}_in (padding='same')", str(size), size, f"{axis}_out"))
            continue
        value, own = window_step(
            spatial=spatial,
            index=index,
            size=size,
            padding=before,
            kernel=kernel[index],
            stride=stride[index],
            dilation=dilation[index],
        )
        outputs.append(value)
        steps.extend(own)
    return tuple(outputs), tuple(steps)


def _transposed(spatial: int) -> Rule:
    def rule(call: Call, flow: Flow) -> Outcome:
        module = call.module
        batch, channels, sizes = _channels(call, flow, spatial)
        kernel, stride, dilation = _window(call, spatial)
        padding = int_tuple_arg(module, "padding", spatial)
        output_padding = int_tuple_arg(module, "output_padding", spatial)
        _positive(call, "padding", padding, allow_zero=True)
        _positive(call, "output_padding", output_padding, allow_zero=True)
        out_channels = _out_channels(call)
        for index in range(spatial):
            if output_padding[index] >= stride[index] and output_padding[index] >= dilation[index]:
                raise call.fail(
                    f"output_padding {output_padding[index]} must be smaller than either stride {stride[index]} or "
                    f"dilation {dilation[index]}{_axis_suffix(spatial, index)}"
                )
        outputs, steps = _transposed_sizes(call, sizes, kernel, stride, dilation, padding, output_padding)
        _empty_input(call, batch, channels, sizes)
        groups = int_arg(module, "groups")
        shape = (*(() if batch is None else (batch,)), out_channels, *outputs)
        macs, mac_step = _macs(batch, ("in_channels", channels), "in", sizes, out_channels // groups, kernel)
        return Outcome(Flow(shape), macs, (*steps, mac_step))

    return rule


def _transposed_sizes(
    call: Call,
    sizes: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    padding: tuple[int, ...],
    output_padding: tuple[int, ...],
) -> tuple[tuple[int, ...], tuple[ShapeStep, ...]]:
    spatial = len(sizes)
    outputs: list[int] = []
    steps: list[ShapeStep] = []
    for index, size in enumerate(sizes):
        axis = AXES[spatial][index]
        names = [_indexed(name, spatial, index) for name in ("stride", "padding", "dilation", "kernel_size")]
        out_pad = _indexed("output_padding", spatial, index)
        symbolic = f"({axis}_in - 1)·{names[0]} - 2·{names[1]} + {names[2]}·({names[3]} - 1) + {out_pad} + 1"
        numbers = (
            f"({size} - 1)·{stride[index]} - 2·{padding[index]} + {dilation[index]}·({kernel[index]} - 1)"
            f" + {output_padding[index]} + 1"
        )
        value = (
            (size - 1) * stride[index]
            - 2 * padding[index]
            + dilation[index] * (kernel[index] - 1)
            + output_padding[index]
            + 1
        )
        if value <= 0:
            raise call.fail(f"output size {value} is not positive{_axis_suffix(spatial, index)}: {numbers} = {value}")
        outputs.append(value)
        steps.append(ShapeStep(symbolic, numbers, value, f"{axis}_out"))
    return tuple(outputs), tuple(steps)


RULES: dict[str, Rule] = {
    **{f"Conv{n}d": _convolution(n) for n in (1, 2, 3)},
    **{f"ConvTranspose{n}d": _transposed(n) for n in (1, 2, 3)},
}

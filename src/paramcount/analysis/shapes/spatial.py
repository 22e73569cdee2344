"""Shape rules of the parameter-free spatial layers: pooling (max, average, power-average, adaptive,
fractional), Fold/Unfold, the padding modules, Upsample, PixelShuffle/PixelUnshuffle and ChannelShuffle.

Formulas are torch's documented ones (torch.nn.MaxPool2d, AvgPool2d, Unfold, Upsample docs, torch 2.13);
the checks are those of the forward kernels (aten/src/ATen/native/Pool.h ``pool2d_shape_check``,
Im2Col.cpp, ReflectionPad.cpp, torch/nn/functional.py ``interpolate`` and ``pad``). None of these layers
multiplies matrices, so all have 0 MACs under the FlopCounterMode convention.
"""

from __future__ import annotations

import math

from paramcount._record import Record
from paramcount.analysis.shapes.common import (
    AXES,
    batch_of,
    int_arg,
    int_tuple_arg,
    rank_text,
    require_rank,
)
from paramcount.analysis.shapes.conv import kernel_fits, window_step
from paramcount.analysis.shapes.types import Flow, Outcome, Shape, ShapeStep, format_shape

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.analysis.shapes.types import Call, Rule
    from paramcount.tree import Value

__all__ = ["RULES"]


def _non_empty(call: Call, flow: Flow, spatial: int) -> tuple[int | None, Shape]:
    """Rank ``spatial + 1`` or ``+ 2`` and no empty dimension except the batch (torch's pooling kernels:
    "tensor with optional 0 dim batch size")."""
    require_rank(call, flow, (spatial + 1, spatial + 2))
    batch, rest = batch_of(flow.shape, spatial)
    if 0 in rest:
        raise call.fail(f"expects non-empty channel and spatial dimensions, got {format_shape(flow.shape)}")
    return batch, rest


def _positive(call: Call, name: str, values: tuple[int, ...], *, allow_zero: bool = False) -> None:
    bad = any(value < 0 for value in values) if allow_zero else any(value <= 0 for value in values)
    if bad:
        shown = values[0] if len(set(values)) == 1 else values
        raise call.fail(f"{name} must be {'non-negative' if allow_zero else 'positive'}, got {shown}")


def _with_batch(batch: int | None, *rest: int) -> Shape:
    return (*(() if batch is None else (batch,)), *rest)


# ---------------------------------------------------------------------------------------------- pooling
class _Window(Record):
    """A pooling layer's window per spatial dimension, after torch's defaults (stride = kernel_size)."""

    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]


def _window(call: Call, spatial: int, family: str) -> _Window:
    """The window of MaxPool / AvgPool / LPPool, checked as the pooling kernels check it (Pool.h)."""
    module = call.module
    kernel = int_tuple_arg(module, "kernel_size", spatial)
    stride = kernel if module.arg("stride") is None else int_tuple_arg(module, "stride", spatial)
    padding = int_tuple_arg(module, "padding", spatial) if family != "lp" else (0,) * spatial
    dilation = int_tuple_arg(module, "dilation", spatial) if family == "max" else (1,) * spatial
    _positive(call, "kernel_size", kernel)
    _positive(call, "stride", stride)
    _positive(call, "dilation", dilation)
    _positive(call, "padding", padding, allow_zero=True)
    for index in range(spatial):
        # Pool.h: "pad should be at most half of kernel size" (kernel_size / 2, integer division).
        if padding[index] > kernel[index] // 2:
            axis = "" if spatial == 1 else f" in {AXES[spatial][index]}"
            raise call.fail(f"padding {padding[index]} must be at most half of kernel_size {kernel[index]}{axis}")
    return _Window(kernel, stride, padding, dilation)


def _pooled_sizes(
    call: Call, sizes: tuple[int, ...], window: _Window, *, ceil_mode: bool
) -> tuple[tuple[int, ...], tuple[ShapeStep, ...]]:
    spatial = len(sizes)
    outputs: list[int] = []
    steps: list[ShapeStep] = []
    for index, size in enumerate(sizes):
        kernel, padding, dilation = window.kernel[index], window.padding[index], window.dilation[index]
        value, own = window_step(
            spatial=spatial,
            index=index,
            size=size,
            padding=padding,
            kernel=kernel,
            stride=window.stride[index],
            dilation=dilation,
            ceil_mode=ceil_mode,
        )
        if value < 1:  # only when the window is larger than the padded input
            axis = "" if spatial == 1 else f" in {AXES[spatial][index]}"
            kernel_fits(call, size=size, before=padding, after=padding, kernel=kernel, dilation=dilation, axis=axis)
            raise call.fail(f"output size {value} is too small{axis}")
        outputs.append(value)
        steps.extend(own)
    return tuple(outputs), tuple(steps)


def _pooling(spatial: int, *, family: str) -> Rule:
    """MaxPool / AvgPool / LPPool: the sliding-window formula with ceil_mode (torch.nn.MaxPool2d docs)."""

    def rule(call: Call, flow: Flow) -> Outcome:
        batch, rest = _non_empty(call, flow, spatial)
        window = _window(call, spatial, family)
        if spatial == 3 and family != "max":
            _unpadded_fits(call, rest[1:], window.kernel)
        ceil_mode = bool(call.module.arg("ceil_mode"))
        outputs, steps = _pooled_sizes(call, rest[1:], window, ceil_mode=ceil_mode)
        shape = _with_batch(batch, rest[0], *outputs)
        returns_indices = family == "max" and bool(call.module.arg("return_indices"))
        return Outcome(Flow(shape, (("indices", shape),) if returns_indices else ()), 0, steps)

    return rule


def _unpadded_fits(call: Call, sizes: tuple[int, ...], kernel: tuple[int, ...]) -> None:
    # avg_pool3d checks the input before padding too (AvgPool3d.cpp: pool3d_shape_check with check_input_size):
    # "input image (T: 1 H: 1 W: 1) smaller than kernel size".
    for index, (size, extent) in enumerate(zip(sizes, kernel, strict=True)):
        if size < extent:
            axis = AXES[3][index]
            raise call.fail(f"kernel {extent} is larger than the input {size} in {axis} (checked before padding)")


def _adaptive(spatial: int, *, returns_indices: bool) -> Rule:
    def rule(call: Call, flow: Flow) -> Outcome:
        # torch 2.13's adaptive_avg_pool2d/3d with output_size=1 (an int) is a mean over the last dimensions and
        # also accepts an input without a channel dimension (undocumented, but what the forward does).
        global_mean = not returns_indices and spatial > 1 and call.module.arg("output_size") == 1
        require_rank(call, flow, ((spatial,) if global_mean else ()) + (spatial + 1, spatial + 2))
        if 0 in flow.shape[-spatial - 1 :] or (len(flow.shape) == spatial and 0 in flow.shape):
            raise call.fail(f"expects non-empty channel and spatial dimensions, got {format_shape(flow.shape)}")
        leading, sizes = flow.shape[:-spatial], flow.shape[-spatial:]
        value = call.module.arg("output_size")
        items: tuple[Value, ...] = value if isinstance(value, tuple) else (value,) * spatial
        if len(items) != spatial:
            raise call.fail(f"output_size {value!r} must have {spatial} entries")
        outputs: list[int] = []
        steps: list[ShapeStep] = []
        for index, (item, size) in enumerate(zip(items, sizes, strict=True)):
            axis = AXES[spatial][index]
            if item is None:  # None keeps the input size (AdaptiveAvgPool2d docs)
                outputs.append(size)
                steps.append(ShapeStep(f"{axis}_in (output_size entry None)", str(size), size, f"{axis}_out"))
                continue
            if isinstance(item, bool) or not isinstance(item, int) or item < 0:
                raise call.fail(f"output_size must hold non-negative integers or None, got {value!r}")
            outputs.append(item)
        shape = (*leading, *outputs)
        indices = returns_indices and bool(call.module.arg("return_indices"))
        return Outcome(Flow(shape, (("indices", shape),) if indices else ()), 0, tuple(steps))

    return rule


def _fractional(spatial: int) -> Rule:
    """FractionalMaxPool: ``output_size``, or ``int(H_in·output_ratio)`` (FractionalMaxPool2d.forward)."""

    def rule(call: Call, flow: Flow) -> Outcome:
        module = call.module
        batch, rest = _non_empty(call, flow, spatial)
        kernel = int_tuple_arg(module, "kernel_size", spatial)
        _positive(call, "kernel_size", kernel)
        outputs: list[int] = []
        steps: list[ShapeStep] = []
        ratio = module.arg("output_ratio")
        for index, size in enumerate(rest[1:]):
            axis = AXES[spatial][index]
            if ratio is None:
                value = int_tuple_arg(module, "output_size", spatial)[index]
            else:
                factor = (ratio if isinstance(ratio, tuple) else (ratio,) * spatial)[index]
                if isinstance(factor, bool) or not isinstance(factor, int | float):
                    raise call.fail(f"output_ratio must be numbers, got {ratio!r}")
                value = int(size * factor)
                steps.append(ShapeStep(f"int({axis}_in·output_ratio)", f"int({size}·{factor!r})", value, f"{axis}_out"))
            if value + kernel[index] - 1 > size:
                raise call.fail(
                    f"output size {value} + kernel_size {kernel[index]} - 1 is larger than the input {size} in {axis}"
                )
            outputs.append(value)
        shape = _with_batch(batch, rest[0], *outputs)
        indices = bool(module.arg("return_indices"))
        return Outcome(Flow(shape, (("indices", shape),) if indices else ()), 0, tuple(steps))

    return rule


# ---------------------------------------------------------------------------------------------- fold


def _block_counts(
    call: Call, sizes: tuple[int, ...], *, what: str
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[ShapeStep, ...]]:
    """Sliding blocks per dimension of Unfold/Fold (torch.nn.Unfold docs): the convolution formula."""
    module = call.module
    kernel = int_tuple_arg(module, "kernel_size", 2)
    dilation = int_tuple_arg(module, "dilation", 2)
    padding = int_tuple_arg(module, "padding", 2)
    stride = int_tuple_arg(module, "stride", 2)
    _positive(call, "kernel_size", kernel)
    _positive(call, "dilation", dilation)
    _positive(call, "padding", padding, allow_zero=True)
    _positive(call, "stride", stride)
    counts: list[int] = []
    steps: list[ShapeStep] = []
    for index, size in enumerate(sizes):
        axis = f" in {AXES[2][index]}"
        kernel_fits(
            call, size=size, before=padding[index], after=padding[index], kernel=kernel[index],
            dilation=dilation[index], axis=axis, what=what,
        )  # fmt: skip
        value, own = window_step(
            spatial=2,
            index=index,
            size=size,
            padding=padding[index],
            kernel=kernel[index],
            stride=stride[index],
            dilation=dilation[index],
        )
        counts.append(value)
        steps.extend(ShapeStep(step.symbolic, step.substituted, step.value, f"blocks_{axis[4:]}") for step in own)
    return tuple(counts), kernel, tuple(steps)


def _unfold(call: Call, flow: Flow) -> Outcome:
    batch, rest = _non_empty(call, flow, 2)
    counts, kernel, steps = _block_counts(call, rest[1:], what="kernel")
    blocks = math.prod(counts)
    shape = _with_batch(batch, rest[0] * math.prod(kernel), blocks)
    return Outcome(Flow(shape), 0, (*steps, ShapeStep("blocks_H·blocks_W", f"{counts[0]}·{counts[1]}", blocks, "L")))


def _fold(call: Call, flow: Flow) -> Outcome:
    require_rank(call, flow, (2, 3))
    batch, rest = (flow.shape[0], flow.shape[1:]) if len(flow.shape) == 3 else (None, flow.shape)
    output_size = int_tuple_arg(call.module, "output_size", 2)
    counts, kernel, steps = _block_counts(call, output_size, what="kernel")
    window = math.prod(kernel)
    if rest[0] % window:
        raise call.fail(f"expects input channels divisible by kernel_size product {window}, got {rest[0]}")
    if rest[1] != math.prod(counts):
        raise call.fail(
            f"expects {math.prod(counts)} sliding blocks ({counts[0]}·{counts[1]}) in the last dimension, got {rest[1]}"
        )
    return Outcome(Flow(_with_batch(batch, rest[0] // window, *output_size)), 0, steps)


# ---------------------------------------------------------------------------------------------- padding


def _pads(call: Call, spatial: int) -> tuple[int, ...]:
    """(left, right, top, bottom, front, back) as torch's padding modules expand an int."""
    return int_tuple_arg(call.module, "padding", 2 * spatial)


def _padding(spatial: int, mode: str) -> Rule:
    def rule(call: Call, flow: Flow) -> Outcome:
        pads = _pads(call, spatial)
        shape = flow.shape
        if mode == "constant":
            if len(shape) < spatial:  # F.pad: "Padding length should be less than or equal to two times ..."
                raise call.fail(f"pads {spatial} dimensions but the input {format_shape(shape)} has {len(shape)}")
        else:
            require_rank(call, flow, (spatial + 1, spatial + 2))
            if mode == "replicate" and 0 in batch_of(shape, spatial)[1]:
                raise call.fail(f"expects non-empty channel and spatial dimensions, got {format_shape(shape)}")
        sizes = list(shape)
        steps: list[ShapeStep] = []
        for index in range(spatial):
            position = len(shape) - 1 - index  # pads run from the last dimension backwards
            before, after = pads[2 * index], pads[2 * index + 1]
            size = shape[position]
            axis = AXES[spatial][spatial - 1 - index]
            _check_pad(call, mode, size, before, after, axis)
            sizes[position] = size + before + after
            symbolic = f"{axis}_in + pad_before + pad_after"
            steps.append(ShapeStep(symbolic, f"{size} + {before} + {after}", sizes[position], f"{axis}_out"))
        # ReflectionPad.cpp / ReplicationPadding.cpp: "input (H: 2, W: 2) is too small" when every padded
        # dimension would be empty (one empty dimension is accepted).
        if mode in ("reflect", "replicate") and all(size < 1 for size in sizes[len(shape) - spatial :]):
            raise call.fail(f"would pad the input {format_shape(shape)} to nothing: every padded size is 0")
        return Outcome(Flow(tuple(sizes)), 0, tuple(reversed(steps)))

    return rule


def _check_pad(call: Call, mode: str, size: int, before: int, after: int, axis: str) -> None:
    """The per-dimension limits of each padding mode (F.pad; ReflectionPad.cpp; _pad_circular)."""
    if mode == "reflect" and max(before, after) >= size:
        raise call.fail(f"reflect padding {max(before, after)} must be smaller than the input {size} in {axis}")
    if mode == "circular" and max(before, after) > size:
        raise call.fail(f"circular padding {max(before, after)} must not exceed the input {size} in {axis}")
    output = size + before + after
    if output < 0:
        raise call.fail(f"output size {output} ({size} + {before} + {after}) is negative in {axis}")


# ---------------------------------------------------------------------------------------------- resampling

_MODE_RANKS: Final = {
    "nearest": (3, 4, 5),
    "nearest-exact": (3, 4, 5),
    "area": (3, 4, 5),
    "linear": (3,),
    "bilinear": (4,),
    "bicubic": (4,),
    "trilinear": (5,),
}


def _upsample(mode_override: str | None) -> Rule:
    """F.interpolate's output size: ``size``, or ``floor(H_in·scale_factor)`` per spatial dimension."""

    def rule(call: Call, flow: Flow) -> Outcome:
        module = call.module
        mode = mode_override or str(module.arg("mode"))
        require_rank(call, flow, (3, 4, 5))
        ranks = _MODE_RANKS.get(mode)
        if ranks is None:
            raise call.fail(f"mode {mode!r} is not one of {', '.join(repr(name) for name in _MODE_RANKS)}")
        if len(flow.shape) not in ranks:
            raise call.fail(f"mode {mode!r} expects {rank_text(ranks)} input, got {format_shape(flow.shape)}")
        spatial = len(flow.shape) - 2
        sizes = flow.shape[2:]
        outputs, steps = _resampled(call, sizes, spatial)
        # 'area' is adaptive average pooling: an empty output is allowed there, an empty input (channels
        # included) is not; the other modes refuse both ("Input and output sizes should be greater than 0").
        if mode == "area" and (0 in flow.shape[1:] or any(output < 0 for output in outputs)):
            raise call.fail(
                f"mode 'area' needs a non-empty input and sizes >= 0, got {format_shape(flow.shape)} → {outputs}"
            )
        if mode != "area" and (0 in sizes or 0 in outputs or any(output < 0 for output in outputs)):
            raise call.fail(f"input and output sizes must be positive, got input {sizes} and output {outputs}")
        return Outcome(Flow((*flow.shape[:2], *outputs)), 0, steps)

    return rule


def _resampled(call: Call, sizes: Shape, spatial: int) -> tuple[tuple[int, ...], tuple[ShapeStep, ...]]:
    size = call.module.arg("size")
    factor = call.module.arg("scale_factor")
    if not isinstance(factor, tuple) and not factor:
        factor = None  # Upsample.__init__: ``float(scale_factor) if scale_factor else None``
    if (size is None) == (factor is None):
        raise call.fail("needs exactly one of size and scale_factor")
    if size is not None:
        outputs = size if isinstance(size, tuple) else (size,) * spatial
        if len(outputs) != spatial or any(isinstance(item, bool) or not isinstance(item, int) for item in outputs):
            raise call.fail(f"size {size!r} must give {spatial} integer sizes for a {spatial + 2}-D input")
        return tuple(item for item in outputs if isinstance(item, int)), ()
    factors = factor if isinstance(factor, tuple) else (factor,) * spatial
    if len(factors) != spatial:
        raise call.fail(f"scale_factor {factor!r} must give {spatial} factors for a {spatial + 2}-D input")
    outputs_list: list[int] = []
    steps: list[ShapeStep] = []
    for index, (input_size, scale) in enumerate(zip(sizes, factors, strict=True)):
        if isinstance(scale, bool) or not isinstance(scale, int | float):
            raise call.fail(f"scale_factor must be numbers, got {factor!r}")
        axis = AXES[spatial][index]
        value = math.floor(input_size * float(scale))  # interpolate: floor(float(input.size(i + 2)) * scale)
        outputs_list.append(value)
        steps.append(
            ShapeStep(f"floor({axis}_in·scale_factor)", f"floor({input_size}·{float(scale)!r})", value, f"{axis}_out")
        )
    return tuple(outputs_list), tuple(steps)


def _pixel_factor(call: Call, flow: Flow, name: str) -> tuple[int, tuple[int, int, int]]:
    """``name``'s factor and the input's last three sizes (C, H, W), both checked."""
    factor = int_arg(call.module, name)
    shape = flow.shape
    if len(shape) < 3:
        raise call.fail(f"expects at least 3 dimensions (*, C, H, W), got {format_shape(shape)}")
    if factor <= 0:
        raise call.fail(f"{name} must be positive, got {factor}")
    channels, height, width = shape[-3:]
    return factor, (channels, height, width)


def _pixel_shuffle(call: Call, flow: Flow) -> Outcome:
    factor, (channels, height, width) = _pixel_factor(call, flow, "upscale_factor")
    if channels % (factor * factor):
        raise call.fail(f"expects channels divisible by upscale_factor² = {factor * factor}, got {channels}")
    return Outcome(Flow((*flow.shape[:-3], channels // (factor * factor), height * factor, width * factor)))


def _pixel_unshuffle(call: Call, flow: Flow) -> Outcome:
    factor, (channels, height, width) = _pixel_factor(call, flow, "downscale_factor")
    if height % factor or width % factor:
        raise call.fail(f"expects height and width divisible by downscale_factor {factor}, got {height}×{width}")
    return Outcome(Flow((*flow.shape[:-3], channels * factor * factor, height // factor, width // factor)))


def _channel_shuffle(call: Call, flow: Flow) -> Outcome:
    groups = int_arg(call.module, "groups")
    if len(flow.shape) < 3:
        raise call.fail(f"expects more than 2 dimensions, got {format_shape(flow.shape)}")
    if groups <= 0:
        raise call.fail(f"groups must be positive, got {groups}")
    if flow.shape[1] % groups:
        raise call.fail(f"expects channels divisible by groups {groups}, got {flow.shape[1]}")
    return Outcome(Flow(flow.shape))


_PADDING_MODES: Final = {
    "Zero": "constant",
    "Constant": "constant",
    "Reflection": "reflect",
    "Replication": "replicate",
    "Circular": "circular",
}

RULES: dict[str, Rule] = {
    **{f"MaxPool{n}d": _pooling(n, family="max") for n in (1, 2, 3)},
    **{f"AvgPool{n}d": _pooling(n, family="avg") for n in (1, 2, 3)},
    **{f"LPPool{n}d": _pooling(n, family="lp") for n in (1, 2, 3)},
    **{f"AdaptiveAvgPool{n}d": _adaptive(n, returns_indices=False) for n in (1, 2, 3)},
    **{f"AdaptiveMaxPool{n}d": _adaptive(n, returns_indices=True) for n in (1, 2, 3)},
    "FractionalMaxPool2d": _fractional(2),
    "FractionalMaxPool3d": _fractional(3),
    "Unfold": _unfold,
    "Fold": _fold,
    **{f"{style}Pad{n}d": _padding(n, mode) for style, mode in _PADDING_MODES.items() for n in (1, 2, 3)},
    "Upsample": _upsample(None),
    "UpsamplingNearest2d": _upsample("nearest"),
    "UpsamplingBilinear2d": _upsample("bilinear"),
    "PixelShuffle": _pixel_shuffle,
    "PixelUnshuffle": _pixel_unshuffle,
    "ChannelShuffle": _channel_shuffle,
}

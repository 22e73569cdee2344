"""Stateless family: pooling, dropout, padding, reshaping, distances and losses; none has parameters
(torch/nn/modules/{pooling,dropout,padding,flatten,fold,pixelshuffle,channelshuffle,upsampling,distance,
loss}.py, torch 2.13)."""

from __future__ import annotations

from paramcount.errors import short_repr
from paramcount.layers._arguments import Arguments
from paramcount.layers._registry import Parts, build, layer
from paramcount.layers._signature import Signature, signature
from paramcount.tree import Module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from paramcount.tree import Value


def _no_parameters(a: Arguments) -> Parts:
    # torch stores these arguments without checking them; a bad value only fails in forward.
    return Parts()


def _tensors_absent(a: Arguments, *names: str) -> None:
    # torch registers these as buffers, which must be tensors or None; an expression cannot make a tensor.
    for name in names:
        if not a.is_none(name):
            raise a.fail(
                f"{name} must be None, got {short_repr(a.raw(name))}; tensors cannot be given in an expression",
                name,
            )


_MAX_POOL = signature("kernel_size", stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False)
_AVG_POOL_1D = signature("kernel_size", stride=None, padding=0, ceil_mode=False, count_include_pad=True)
_AVG_POOL = signature(
    "kernel_size", stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
)
_POOLING: tuple[tuple[str, Signature], ...] = (
    ("AvgPool1d", _AVG_POOL_1D),
    ("AvgPool2d", _AVG_POOL),
    ("AvgPool3d", _AVG_POOL),
    *((f"MaxPool{n}d", _MAX_POOL) for n in (1, 2, 3)),
    *((f"LPPool{n}d", signature("norm_type", "kernel_size", stride=None, ceil_mode=False)) for n in (1, 2, 3)),
    *((f"AdaptiveAvgPool{n}d", signature("output_size")) for n in (1, 2, 3)),
    *((f"AdaptiveMaxPool{n}d", signature("output_size", return_indices=False)) for n in (1, 2, 3)),
    *((f"MaxUnpool{n}d", signature("kernel_size", stride=None, padding=0)) for n in (1, 2, 3)),
)

_PADDING: tuple[tuple[str, Signature], ...] = tuple(
    (f"{style}Pad{n}d", signature("padding", "value") if style == "Constant" else signature("padding"))
    for style in ("Zero", "Constant", "Reflection", "Replication", "Circular")
    for n in (1, 2, 3)
)

_SHAPING: tuple[tuple[str, Signature], ...] = (
    ("Flatten", signature(start_dim=1, end_dim=-1)),
    ("Fold", signature("output_size", "kernel_size", dilation=1, padding=0, stride=1)),
    ("Unfold", signature("kernel_size", dilation=1, padding=0, stride=1)),
    ("PixelShuffle", signature("upscale_factor")),
    ("PixelUnshuffle", signature("downscale_factor")),
    ("ChannelShuffle", signature("groups")),
    ("CosineSimilarity", signature(dim=1, eps=1e-8)),
    ("PairwiseDistance", signature(p=2.0, eps=1e-6, keepdim=False)),
)

# The legacy size_average/reduce pair only rewrites ``reduction`` (with a warning); torch never refuses it.
_LEGACY = {"size_average": None, "reduce": None, "reduction": "mean"}
_LOSSES: tuple[tuple[str, Signature], ...] = (
    ("L1Loss", signature(**_LEGACY)),
    ("MSELoss", signature(**_LEGACY)),
    ("SoftMarginLoss", signature(**_LEGACY)),
    ("MultiLabelMarginLoss", signature(**_LEGACY)),
    ("KLDivLoss", signature(**_LEGACY, log_target=False)),
    ("SmoothL1Loss", signature(**_LEGACY, beta=1.0)),
    ("CosineEmbeddingLoss", signature(margin=0.0, **_LEGACY)),
    ("MarginRankingLoss", signature(margin=0.0, **_LEGACY)),
    ("HingeEmbeddingLoss", signature(margin=1.0, **_LEGACY)),
    ("BCELoss", signature(weight=None, **_LEGACY)),
    ("MultiLabelSoftMarginLoss", signature(weight=None, **_LEGACY)),
    ("BCEWithLogitsLoss", signature(weight=None, **_LEGACY, pos_weight=None)),
    (
        "CrossEntropyLoss",
        signature(
            weight=None,
            size_average=None,
            ignore_index=-100,
            reduce=None,
            reduction="mean",
            label_smoothing=0.0,
        ),
    ),
    ("NLLLoss", signature(weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean")),
    (
        "NLLLoss2d",
        signature(weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"),
    ),
    (
        "PoissonNLLLoss",
        signature(log_input=True, full=False, size_average=None, eps=1e-8, reduce=None, reduction="mean"),
    ),
    ("GaussianNLLLoss", signature(kw_full=False, kw_eps=1e-6, kw_reduction="mean")),
    ("CTCLoss", signature(blank=0, reduction="mean", zero_infinity=False)),
)


def _loss(a: Arguments) -> Parts:
    _tensors_absent(a, *(name for name in ("weight", "pos_weight") if name in a.values))
    return Parts()


for _kind, _sig in (*_POOLING, *_PADDING, *_SHAPING):
    layer(_kind, _sig)(_no_parameters)
for _kind, _sig in _LOSSES:
    layer(_kind, _sig)(_loss)


def _dropout(a: Arguments) -> Parts:
    p = a.real("p")
    if p < 0 or p > 1:  # torch's own test, so NaN passes as it does there
        raise a.fail(f"p must be between 0 and 1, got {short_repr(p)}", "p")
    return Parts()


for _kind in ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"):
    layer(_kind, signature(p=0.5, inplace=False))(_dropout)


def _items(value: Value, count: int) -> tuple[Value, ...]:
    """torch's ``_ntuple``: a tuple is kept as given, anything else repeated ``count`` times."""
    return value if isinstance(value, tuple) else (value,) * count


def _fractional(a: Arguments, dims: int) -> Parts:
    if dims == 3:  # only the 3-D class checks its kernel; it tests ints and tuples, nothing else
        kernel = a.raw("kernel_size")
        if isinstance(kernel, int | tuple) and not all(
            not isinstance(k, bool) and isinstance(k, int | float) and k > 0 for k in _items(kernel, 1)
        ):
            raise a.fail(f"kernel_size must be positive, got {short_repr(kernel)}", "kernel_size")
    _tensors_absent(a, "_random_samples")
    if a.is_none("output_size") and a.is_none("output_ratio"):
        raise a.fail("either output_size or output_ratio is required", "output_size")
    if not a.is_none("output_size") and not a.is_none("output_ratio"):
        raise a.fail("only one of output_size and output_ratio may be given", "output_ratio")
    if not a.is_none("output_ratio"):
        ratio = a.raw("output_ratio")
        items = _items(ratio, dims)
        # torch reads the first ``dims`` entries and ignores any more.
        if len(items) < dims or not all(
            not isinstance(r, bool) and isinstance(r, int | float) and 0 < r < 1 for r in items[:dims]
        ):
            raise a.fail(
                f"output_ratio must be a number or {dims} numbers between 0 and 1 (exclusive), got {short_repr(ratio)}",
                "output_ratio",
            )
    return Parts()


@layer(
    "FractionalMaxPool2d",
    signature("kernel_size", output_size=None, output_ratio=None, return_indices=False, _random_samples=None),
)
def fractional_max_pool_2d(a: Arguments) -> Parts:
    return _fractional(a, 2)


@layer(
    "FractionalMaxPool3d",
    signature("kernel_size", output_size=None, output_ratio=None, return_indices=False, _random_samples=None),
)
def fractional_max_pool_3d(a: Arguments) -> Parts:
    return _fractional(a, 3)


@layer("Unflatten", signature("dim", "unflattened_size"))
def unflatten(a: Arguments) -> Parts:
    size = a.raw("unflattened_size")
    # torch wants a tuple or list of ints (empty allowed); bools are refused as everywhere in the catalog.
    if not isinstance(size, tuple) or any(isinstance(n, bool) or not isinstance(n, int) for n in size):
        raise a.fail(f"unflattened_size must be a tuple of ints, got {short_repr(size)}", "unflattened_size")
    return Parts()


def _scale_factor(a: Arguments) -> None:
    # torch converts with float(): each entry of a tuple, or a single value unless it is falsy (0, None).
    value = a.raw("scale_factor")
    items: tuple[Value, ...] = value if isinstance(value, tuple) else ((value,) if value else ())
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int | float) or not _fits_float(item):
            raise a.fail(
                f"scale_factor must be a number or a tuple of numbers, got {short_repr(value)}", "scale_factor"
            )


def _fits_float(number: int | float) -> bool:
    try:
        float(number)
    except OverflowError:  # an int beyond the float range
        return False
    return True


@layer(
    "Upsample",
    signature(size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None),
)
def upsample(a: Arguments) -> Parts:
    _scale_factor(a)
    return Parts()


for _kind in ("UpsamplingNearest2d", "UpsamplingBilinear2d"):
    layer(_kind, signature(size=None, scale_factor=None))(upsample)


@layer("HuberLoss", signature(reduction="mean", delta=1.0))
def huber_loss(a: Arguments) -> Parts:
    a.real("delta")
    return Parts()


@layer("MultiMarginLoss", signature(p=1, margin=1.0, weight=None, size_average=None, reduce=None, reduction="mean"))
def multi_margin_loss(a: Arguments) -> Parts:
    _tensors_absent(a, "weight")
    p = a.raw("p")
    if isinstance(p, bool) or p not in (1, 2):
        raise a.fail(f"p must be 1 or 2, got {short_repr(p)}", "p")
    return Parts()


def _positive_margin(a: Arguments) -> None:
    margin = a.real("margin")
    if margin <= 0:  # torch's own test, so NaN passes as it does there
        raise a.fail(f"margin must be greater than 0, got {short_repr(margin)}", "margin")


@layer(
    "TripletMarginLoss",
    signature(margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None, reduce=None, reduction="mean"),
)
def triplet_margin_loss(a: Arguments) -> Parts:
    _positive_margin(a)
    return Parts()


@layer(
    "TripletMarginWithDistanceLoss",
    signature(kw_distance_function=None, kw_margin=1.0, kw_swap=False, kw_reduction="mean"),
)
def triplet_margin_with_distance_loss(a: Arguments) -> Parts:
    _positive_margin(a)
    # torch keeps the distance as an attribute: a module (its own default, PairwiseDistance(), included)
    # becomes a submodule whose parameters count; a function does not.
    function = a.raw("distance_function")
    if function is None:
        return Parts(children=(build("PairwiseDistance").renamed("distance_function"),))
    if isinstance(function, Module):
        return Parts(children=(function.renamed("distance_function"),))
    return Parts()

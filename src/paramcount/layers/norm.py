"""Normalization family: batch, instance, layer, group, RMS and local response norms (torch 2.13).

Sources: torch/nn/modules/batchnorm.py (``_NormBase``, ``SyncBatchNorm``), instancenorm.py and
normalization.py. Torch only checks a size when it allocates a tensor of that size, so a size that no
tensor uses is accepted whatever its sign (``BatchNorm1d(-1, affine=False, track_running_stats=False)``
constructs); we follow it. Sizes must still be integers: torch would store any object it never reads, but
a non-integer size is a mistake in an expression.
"""

from __future__ import annotations

from paramcount.errors import short_repr
from paramcount.layers._arguments import Arguments
from paramcount.layers._registry import Parts, layer
from paramcount.layers._signature import Signature, signature
from paramcount.tree import Buffer, Dim, Param


def _norm_base_signature(*, affine: bool, track_running_stats: bool, **extra: object) -> Signature:
    # _NormBase.__init__; the instance norms only change the two defaults, SyncBatchNorm adds process_group.
    return signature(
        "num_features",
        eps=1e-5,
        momentum=0.1,
        affine=affine,
        track_running_stats=track_running_stats,
        **extra,
        device=None,
        dtype=None,
        kw_bias=True,
    )


def _affine_params(a: Arguments, size: tuple[Dim, ...], *, flag: str) -> tuple[Param, ...]:
    """``weight`` (and ``bias`` unless ``bias=False``) of ``size`` when the ``flag`` argument is set.

    Torch reads ``bias`` only inside ``if affine:``, so it is only checked there too."""
    if not a.flag(flag):
        return ()
    if a.flag("bias"):
        return Param("weight", size), Param("bias", size)
    return (Param("weight", size),)


def _running_stats(features: Dim) -> tuple[Buffer, ...]:
    # num_batches_tracked is torch.tensor(0, dtype=torch.long): a scalar that a dtype= argument never casts.
    return (
        Buffer("running_mean", (features,)),
        Buffer("running_var", (features,)),
        Buffer("num_batches_tracked", (), dtype="int64"),
    )


def _norm_base(a: Arguments) -> Parts:
    """``_NormBase``: per-feature affine parameters and running statistics, each optional."""
    affine = a.flag("affine")
    track_running_stats = a.flag("track_running_stats")
    if not (affine or track_running_stats):
        a.integer("num_features")  # never allocated, so torch accepts any sign
        return Parts()
    features = a.dim("num_features")
    buffers = _running_stats(features) if track_running_stats else ()
    return Parts(params=_affine_params(a, (features,), flag="affine"), buffers=buffers)


_BATCH_NORM = _norm_base_signature(affine=True, track_running_stats=True)
_INSTANCE_NORM = _norm_base_signature(affine=False, track_running_stats=False)

for _kind in ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d"):
    layer(_kind, _BATCH_NORM)(_norm_base)
for _kind in ("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"):
    layer(_kind, _INSTANCE_NORM)(_norm_base)


@layer("SyncBatchNorm", _norm_base_signature(affine=True, track_running_stats=True, process_group=None))
def sync_batch_norm(a: Arguments) -> Parts:
    # SyncBatchNorm only stores process_group; its tensors are _NormBase's.
    return _norm_base(a)


def _normalized_shape(a: Arguments, *, allocated: bool) -> tuple[Dim, ...]:
    """``normalized_shape`` as Dims: an int is ``(n,)``, a tuple/list is kept, empty included (a scalar
    weight). Negative sizes fail only where torch allocates them."""
    value = a.raw("normalized_shape")
    items = value if isinstance(value, tuple) else (value,)
    if any(isinstance(item, bool) or not isinstance(item, int) for item in items):
        raise a.fail(f"normalized_shape must be an int or a tuple of ints, got {short_repr(value)}", "normalized_shape")
    sizes = [item for item in items if isinstance(item, int)]
    if allocated and any(size < 0 for size in sizes):
        raise a.fail(f"normalized_shape must be non-negative, got {short_repr(value)}", "normalized_shape")
    if not isinstance(value, tuple):
        return (Dim.of(sizes[0], "normalized_shape"),)
    return tuple(Dim.of(size, f"normalized_shape[{index}]") for index, size in enumerate(sizes))


@layer(
    "LayerNorm",
    signature("normalized_shape", eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None),
)
def layer_norm(a: Arguments) -> Parts:
    affine = a.flag("elementwise_affine")
    shape = _normalized_shape(a, allocated=affine)
    return Parts(params=_affine_params(a, shape, flag="elementwise_affine"))


@layer("RMSNorm", signature("normalized_shape", eps=None, elementwise_affine=True, device=None, dtype=None))
def rms_norm(a: Arguments) -> Parts:
    affine = a.flag("elementwise_affine")
    shape = _normalized_shape(a, allocated=affine)
    return Parts(params=(Param("weight", shape),) if affine else ())


@layer(
    "GroupNorm",
    signature("num_groups", "num_channels", eps=1e-5, affine=True, device=None, dtype=None, kw_bias=True),
)
def group_norm(a: Arguments) -> Parts:
    groups = a.integer("num_groups")
    channels = a.integer("num_channels")
    # GroupNorm.__init__ checks ``num_channels % num_groups != 0`` with Python's modulo, so a negative
    # num_groups that divides num_channels is accepted, and 0 fails with ZeroDivisionError.
    if groups == 0:
        raise a.fail("num_groups must be non-zero, got 0", "num_groups")
    if channels % groups != 0:
        raise a.fail(
            f"num_channels must be divisible by num_groups (num_channels={channels}, num_groups={groups})",
            "num_channels",
        )
    if not a.flag("affine"):
        return Parts()
    return Parts(params=_affine_params(a, (a.dim("num_channels"),), flag="affine"))


def _local_response(a: Arguments) -> Parts:
    # Parameter-free: torch only stores size, alpha, beta and k.
    a.integer("size")
    for name in ("alpha", "beta", "k"):
        a.number(name)
    return Parts()


layer("LocalResponseNorm", signature("size", alpha=1e-4, beta=0.75, k=1.0))(_local_response)
layer("CrossMapLRN2d", signature("size", alpha=1e-4, beta=0.75, k=1))(_local_response)

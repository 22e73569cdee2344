"""Shape rules of the pointwise and per-feature layers: Identity, Linear, embeddings, normalisation,
activations, dropout, Flatten and Unflatten.

Checks mirror the forward of each torch module (torch/nn/modules/{linear,sparse,batchnorm,instancenorm,
normalization,activation,dropout,flatten}.py, torch 2.13). Only Linear multiplies matrices: its MACs are
``prod(leading dims)·in_features·out_features`` (FlopCounterMode's ``addmm``/``mm``, bias not counted).

Shapes are those of one forward pass in either mode. Two refusals torch makes only in training mode depend on
how many values there are, not on the shape's validity, and are noted rather than raised: BatchNorm's
"Expected more than 1 value per channel when training" and InstanceNorm's "more than 1 spatial element".
"""

from __future__ import annotations

import math

from paramcount.analysis.flops import macs_step
from paramcount.analysis.shapes.common import (
    dimension_index,
    elements,
    int_arg,
    optional_int_arg,
    require_rank,
)
from paramcount.analysis.shapes.types import Flow, Outcome, ShapeStep, format_shape

__all__ = ["RULES"]


def _identity(call: Call, flow: Flow) -> Outcome:
    # Identity returns its input object as is: a tuple from the layer before stays a tuple.
    return Outcome(flow)


def _preserving(call: Call, flow: Flow) -> Outcome:
    return Outcome(Flow(flow.shape))


def _linear(call: Call, flow: Flow) -> Outcome:
    in_features = int_arg(call.module, "in_features")
    out_features = int_arg(call.module, "out_features")
    shape = flow.shape
    if not shape:
        raise call.fail("expects an input with at least 1 dimension, got a 0-D tensor")
    if shape[-1] != in_features:
        raise call.fail(f"expects {in_features} input features (the last dimension), got {shape[-1]}")
    rows = elements(shape[:-1])
    macs, step = macs_step(("rows", "in_features", "out_features"), (rows, in_features, out_features))
    note = "rows = product of the leading dimensions" if len(shape) > 2 else ""
    return Outcome(Flow((*shape[:-1], out_features)), macs, (step,), note)


def _embedding(call: Call, flow: Flow) -> Outcome:
    dim = int_arg(call.module, "embedding_dim")
    return Outcome(Flow((*flow.shape, dim)), 0, (), "the input holds integer indices")


def _embedding_bag(call: Call, flow: Flow) -> Outcome:
    # A 1-D input needs an offsets tensor (F.embedding_bag: "offsets has to be a 1D Tensor but got None").
    if len(flow.shape) != 2:
        raise call.fail(f"expects a 2-D (bags, indices per bag) input without offsets, got {format_shape(flow.shape)}")
    dim = int_arg(call.module, "embedding_dim")
    return Outcome(Flow((flow.shape[0], dim)), 0, (), "the input holds integer indices, one bag per row")


# ---------------------------------------------------------------------------------------------- norms

_BATCH_NORM_RANKS: Final = {"BatchNorm1d": (2, 3), "BatchNorm2d": (4,), "BatchNorm3d": (5,)}
_INSTANCE_NORM_RANKS: Final = {"InstanceNorm1d": (2, 3), "InstanceNorm2d": (3, 4), "InstanceNorm3d": (4, 5)}


def _batch_norm(call: Call, flow: Flow) -> Outcome:
    kind = call.module.kind
    ranks = _BATCH_NORM_RANKS.get(kind)
    if ranks is None:  # SyncBatchNorm: "expected at least 2D input"
        require_rank(call, flow, tuple(range(2, max(len(flow.shape), 2) + 1)))
    else:
        require_rank(call, flow, ranks)
    module = call.module
    if bool(module.arg("affine")) or bool(module.arg("track_running_stats")):
        features = int_arg(module, "num_features")
        if flow.shape[1] != features:
            raise call.fail(f"expects {features} channels (num_features) in dimension 1, got {flow.shape[1]}")
    # F.batch_norm's _verify_batch_size: a single value per channel leaves nothing to normalise. Torch checks
    # it whenever the batch statistics are used: in training mode, and always without running statistics.
    values_per_channel = flow.shape[0] * elements(flow.shape[2:])
    if values_per_channel == 1 and not bool(module.arg("track_running_stats")):
        raise call.fail(f"expects more than 1 value per channel, got {format_shape(flow.shape)}")
    note = "in training mode torch refuses a single value per channel" if values_per_channel == 1 else ""
    return Outcome(Flow(flow.shape), 0, (), note)


def _instance_norm(call: Call, flow: Flow) -> Outcome:
    ranks = _INSTANCE_NORM_RANKS[call.module.kind]
    require_rank(call, flow, ranks)
    channel_dim = 1 if len(flow.shape) == ranks[1] else 0
    module = call.module
    # _InstanceNorm.forward raises only when affine; without it a mismatch only warns.
    if bool(module.arg("affine")):
        features = int_arg(module, "num_features")
        if flow.shape[channel_dim] != features:
            raise call.fail(f"expects {features} channels (num_features), got {flow.shape[channel_dim]}")
    # F.instance_norm's _verify_spatial_size, checked whenever the input's statistics are used: in training
    # mode, and always without running statistics.
    spatial = elements(flow.shape[channel_dim + 1 :])
    if spatial == 1 and not bool(module.arg("track_running_stats")):
        raise call.fail(f"expects more than 1 spatial element, got {format_shape(flow.shape)}")
    note = "in training mode torch refuses a single spatial element" if spatial == 1 else ""
    return Outcome(Flow(flow.shape), 0, (), note)


def _normalized_shape(call: Call) -> tuple[int, ...]:
    value = call.module.arg("normalized_shape")
    items = value if isinstance(value, tuple) else (value,)
    return tuple(item for item in items if isinstance(item, int) and not isinstance(item, bool))


def _layer_norm(call: Call, flow: Flow) -> Outcome:
    normalized = _normalized_shape(call)
    shape = flow.shape
    if len(shape) < len(normalized) or shape[len(shape) - len(normalized) :] != normalized:
        expected = ", ".join(str(size) for size in normalized)
        raise call.fail(f"expects an input of shape [*, {expected}] (normalized_shape), got {format_shape(shape)}")
    return Outcome(Flow(shape))


def _group_norm(call: Call, flow: Flow) -> Outcome:
    module = call.module
    require_rank(call, flow, tuple(range(2, max(len(flow.shape), 2) + 1)))
    channels = flow.shape[1]
    groups = int_arg(module, "num_groups")
    if bool(module.arg("affine")) and channels != int_arg(module, "num_channels"):
        raise call.fail(f"expects {int_arg(module, 'num_channels')} channels (num_channels), got {channels}")
    if channels % groups:
        raise call.fail(f"expects channels divisible by num_groups {groups}, got {channels}")
    # F.group_norm's _verify_batch_size on (N·C/G, G, *spatial): one value per group leaves nothing to normalise.
    if flow.shape[0] * (channels // groups) * elements(flow.shape[2:]) == 1:
        raise call.fail(f"expects more than 1 value per group, got {format_shape(flow.shape)}")
    return Outcome(Flow(flow.shape))


def _local_response_norm(call: Call, flow: Flow) -> Outcome:
    if call.module.kind == "CrossMapLRN2d":
        require_rank(call, flow, (4,))
    elif len(flow.shape) < 3:
        raise call.fail(f"expects an input with at least 3 dimensions, got {format_shape(flow.shape)}")
    return Outcome(Flow(flow.shape))


# ---------------------------------------------------------------------------------------------- activations


def _softmax(call: Call, flow: Flow) -> Outcome:
    dim = optional_int_arg(call.module, "dim")
    if dim is None:
        # F.softmax's _get_softmax_dim: dim 0 for 0-, 1- and 3-D inputs, else 1 (with a deprecation warning).
        return Outcome(Flow(flow.shape), 0, (), "dim=None: torch picks the dimension and warns")
    dimension_index(call, dim, len(flow.shape))
    return Outcome(Flow(flow.shape))


def _softmax2d(call: Call, flow: Flow) -> Outcome:
    require_rank(call, flow, (3, 4))
    return Outcome(Flow(flow.shape))


def _glu(call: Call, flow: Flow) -> Outcome:
    shape = flow.shape
    if not shape:
        raise call.fail("expects an input with at least 1 dimension, got a 0-D tensor")
    index = dimension_index(call, int_arg(call.module, "dim"), len(shape))
    if shape[index] % 2:
        raise call.fail(f"halves dimension {index}, whose size {shape[index]} is odd")
    halved = shape[index] // 2
    step = ShapeStep("size/2", f"{shape[index]}/2", halved, f"dim {index}")
    return Outcome(Flow((*shape[:index], halved, *shape[index + 1 :])), 0, (step,))


def _prelu(call: Call, flow: Flow) -> Outcome:
    count = int_arg(call.module, "num_parameters")
    shape = flow.shape
    channels = shape[1] if len(shape) >= 2 else 1
    if count != 1 and count != channels:
        raise call.fail(f"has num_parameters={count}, which must be 1 or the channel size {channels}")
    return Outcome(Flow(shape))


def _dropout1d(call: Call, flow: Flow) -> Outcome:
    require_rank(call, flow, (2, 3))
    return Outcome(Flow(flow.shape))


# ---------------------------------------------------------------------------------------------- reshaping


def _flatten(call: Call, flow: Flow) -> Outcome:
    shape = flow.shape
    rank = len(shape)
    start = dimension_index(call, int_arg(call.module, "start_dim"), rank, argument="start_dim")
    end = dimension_index(call, int_arg(call.module, "end_dim"), rank, argument="end_dim")
    if start > end:
        raise call.fail(f"start_dim {start} comes after end_dim {end}")
    if not shape:
        return Outcome(Flow((1,)))
    merged = shape[start : end + 1]
    size = math.prod(merged)
    step = ShapeStep(
        "·".join(f"size[{index}]" for index in range(start, end + 1)),
        "·".join(str(item) for item in merged),
        size,
        f"dim {start}",
    )
    return Outcome(Flow((*shape[:start], size, *shape[end + 1 :])), 0, (step,))


def _unflatten(call: Call, flow: Flow) -> Outcome:
    shape = flow.shape
    if not shape:
        raise call.fail("expects an input with at least 1 dimension, got a 0-D tensor")
    index = dimension_index(call, int_arg(call.module, "dim"), len(shape))
    value = call.module.arg("unflattened_size")
    sizes = tuple(item for item in value if isinstance(item, int)) if isinstance(value, tuple) else ()
    if not sizes:
        raise call.fail("unflattened_size must not be empty")
    size = shape[index]
    unknown = [position for position, item in enumerate(sizes) if item == -1]
    known = math.prod(item for item in sizes if item != -1)
    if len(unknown) > 1 or any(item < -1 for item in sizes):
        raise call.fail(f"unflattened_size {sizes} may hold at most one -1 and no other negative size")
    if unknown:
        if known == 0 or size % known:
            raise call.fail(f"unflattened_size {sizes} cannot split dimension {index} of size {size}")
        sizes = tuple(size // known if item == -1 else item for item in sizes)
    elif known != size:
        raise call.fail(f"unflattened_size {sizes} multiplies to {known}, not to the size {size} of dimension {index}")
    return Outcome(Flow((*shape[:index], *sizes, *shape[index + 1 :])))


_PRESERVING: Final = (
    "ReLU", "ReLU6", "SELU", "SiLU", "Mish", "Hardswish", "Hardsigmoid", "ELU", "CELU", "LeakyReLU", "RReLU",
    "Threshold", "GELU", "Hardshrink", "Softshrink", "Softplus", "Sigmoid", "Tanh", "LogSigmoid", "Softsign",
    "Tanhshrink", "Hardtanh", "Dropout", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout",
)  # fmt: skip

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.analysis.shapes.types import Call, Rule

RULES: dict[str, Rule] = {
    "Identity": _identity,
    "Linear": _linear,
    "Embedding": _embedding,
    "EmbeddingBag": _embedding_bag,
    **{kind: _batch_norm for kind in (*_BATCH_NORM_RANKS, "SyncBatchNorm")},
    **{kind: _instance_norm for kind in _INSTANCE_NORM_RANKS},
    "LayerNorm": _layer_norm,
    "RMSNorm": _layer_norm,
    "GroupNorm": _group_norm,
    "LocalResponseNorm": _local_response_norm,
    "CrossMapLRN2d": _local_response_norm,
    **{kind: _preserving for kind in _PRESERVING},
    "Softmax": _softmax,
    "Softmin": _softmax,
    "LogSoftmax": _softmax,
    "Softmax2d": _softmax2d,
    "GLU": _glu,
    "PReLU": _prelu,
    "Dropout1d": _dropout1d,
    "Flatten": _flatten,
    "Unflatten": _unflatten,
}
